"""Ops tools that can say a delivery is complete (issue 9): one small port, one line per vendor."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from integrations.ports import CreatedRecord
from integrations.registry import VendorContext


class CompletionWatch(Protocol):
    """Reads, from the ops tool, whether the account's project or issue is complete."""

    vendor: str

    def is_complete(self, record: CreatedRecord) -> bool: ...


WatchFactory = Callable[[Mapping[str, Any], VendorContext], CompletionWatch]


def _factories() -> dict[str, WatchFactory]:
    from integrations import asana_webhooks, jira_webhooks

    return {"asana": asana_webhooks.build, "jira": jira_webhooks.build}


def build_watch(vendor: str, settings: Mapping[str, Any], ctx: VendorContext) -> CompletionWatch:
    return _factories()[vendor](settings, ctx)
