"""Config name -> adapter factory. Adding a vendor is one module and one line here."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from integrations.ports import Crm, FinanceTool, OpsTool, TokenStore


def _no_warning(vendor: str, message: str) -> None:
    """Default for `VendorContext.warn_admin`: callers that care pass their own."""


def _no_throttle(vendor: str, account: str) -> None:
    """Default for `VendorContext.throttle`: no shared rate limit (checks, single calls)."""


@dataclass(frozen=True)
class VendorContext:
    """What every factory may need beyond its own settings block."""

    env: Mapping[str, str]
    token_store: TokenStore
    sleep: Callable[[float], None] = time.sleep
    # Called when a connection is about to be lost (e.g. a refresh token near expiry).
    warn_admin: Callable[[str, str], None] = field(default=_no_warning)
    # Blocks until (vendor, account) may send one more request under its published rate limit.
    throttle: Callable[[str, str], None] = field(default=_no_throttle)


OpsFactory = Callable[[Mapping[str, Any], VendorContext], OpsTool]
FinanceFactory = Callable[[Mapping[str, Any], VendorContext], FinanceTool]
CrmFactory = Callable[[Mapping[str, Any], VendorContext], Crm]


def _ops_factories() -> dict[str, OpsFactory]:
    from integrations import asana, jira

    return {"asana": asana.build, "jira": jira.build}


def _finance_factories() -> dict[str, FinanceFactory]:
    from integrations import quickbooks, xero

    return {"quickbooks": quickbooks.build, "xero": xero.build}


def _crm_factories() -> dict[str, CrmFactory]:
    from integrations import hubspot

    return {"hubspot": hubspot.build}


OPS_VENDORS = ("asana", "jira")
FINANCE_VENDORS = ("quickbooks", "xero")
CRM_VENDORS = ("hubspot",)


def build_ops(vendor: str, settings: Mapping[str, Any], ctx: VendorContext) -> OpsTool:
    return _ops_factories()[vendor](settings, ctx)


def build_finance(vendor: str, settings: Mapping[str, Any], ctx: VendorContext) -> FinanceTool:
    return _finance_factories()[vendor](settings, ctx)


def build_crm(vendor: str, settings: Mapping[str, Any], ctx: VendorContext) -> Crm:
    return _crm_factories()[vendor](settings, ctx)
