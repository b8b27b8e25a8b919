"""Outbox lanes: which lane each job runs in, and each vendor's concurrency and request rate.

Defaults follow each vendor's published limits for the usual paid plan (override any of them
under `limits:` in the organisation file). Concurrency is per worker process; the request rate
is one token bucket in the database, shared by every process.

- HubSpot: 190 requests per 10 s per private app on Professional/Enterprise (100 on Free and
  Starter), https://developers.hubspot.com/changelog/increasing-our-api-limits and
  https://developers.hubspot.com/docs/api/usage-details
- Asana: 1,500 requests per minute per token on paid domains (150 on free),
  https://developers.asana.com/docs/rate-limits
- Jira Cloud: no fixed number; cost-based budgets per app and tenant. 10/s stays well clear,
  https://developer.atlassian.com/cloud/jira/platform/rate-limiting/
- QuickBooks Online: 500 requests per minute and at most 10 concurrent requests per realm and
  app, https://developer.intuit.com/app/developer/qbo/docs/learn/limits-and-throttles
- Xero: 60 calls per minute, 5 in flight at once and 5,000 a day per tenant,
  https://developer.xero.com/faq/limits
- Slack: per-method tiers, answered with 429 + Retry-After, which the Slack client honours; the
  lane's concurrency only keeps Slack posts from queueing behind anything else.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.config import VendorLimit
from bot.services import actions
from storage.uow import UnitOfWorkFactory

log = logging.getLogger(__name__)

SLACK = "slack"
DEFAULT = "default"


DEFAULT_LIMITS: dict[str, VendorLimit] = {
    SLACK: VendorLimit(concurrency=8, per_minute=6000, burst=50),
    "hubspot": VendorLimit(concurrency=10, per_minute=1140, burst=190),
    "asana": VendorLimit(concurrency=12, per_minute=1500, burst=50),  # 15 writes in flight max
    "jira": VendorLimit(concurrency=4, per_minute=600, burst=20),
    "quickbooks": VendorLimit(concurrency=8, per_minute=500, burst=10),
    "xero": VendorLimit(concurrency=4, per_minute=60, burst=5),
    DEFAULT: VendorLimit(concurrency=4, per_minute=6000, burst=50),
}

_SLACK_ACTIONS = {
    actions.NOTIFY_OWNER,
    actions.POST_HANDOFF_MESSAGE,
    actions.RENDER_HANDOFF,
    actions.ANNOUNCE_COMPLETE,
    actions.MENTION_SENDER,
    actions.THREAD_RECORD,
    actions.SLACK_POST,
    actions.HOME_PUBLISH,
    actions.AMEND_ANNOUNCE,
}
_CRM_ACTIONS = {actions.MOVE_DEAL_STAGE, actions.CRM_NOTE, actions.CRM_SNAPSHOT}
_RECORD_ACTIONS = {
    actions.CREATE_RECORD,
    actions.MIRROR_COMMENT,
    actions.DELIVERY_CHECK,
    actions.DELIVERY_WATCH,
    actions.AMEND_RECORD,
}


def merged_limits(overrides: Mapping[str, VendorLimit]) -> dict[str, VendorLimit]:
    return {**DEFAULT_LIMITS, **overrides}


@dataclass(frozen=True)
class LaneRouter:
    """Maps an outbox job to its lane: Slack, the CRM, or the vendor of the team's tool."""

    team_vendors: Mapping[str, str]

    def __call__(self, action: str, payload: dict[str, Any]) -> str:
        if action in _SLACK_ACTIONS:
            return SLACK
        if action in _CRM_ACTIONS or action.startswith("crm."):  # e.g. the history read
            return "hubspot"
        if action in _RECORD_ACTIONS:
            team = str(payload.get("team") or payload.get("target") or "")
            return self.team_vendors.get(team, DEFAULT)
        return DEFAULT


class SqlRateLimiter:
    """Blocks a vendor call until the vendor's shared token bucket allows it.

    The bucket is a database row taken for update in a short transaction, so every worker
    process draws from one budget; the wait happens outside any transaction.
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        limits: Mapping[str, VendorLimit],
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._uow = uow
        self._limits = limits
        self._sleep = sleep

    def acquire(self, vendor: str, account: str = "") -> None:
        limit = self._limits.get(vendor)
        if limit is None:
            return
        name = f"{vendor}:{account}" if account else vendor
        waited = 0.0
        while True:
            with self._uow() as uow:
                wait = uow.repo.take_token(
                    name, limit.per_minute / 60.0, limit.burst, datetime.now(UTC)
                )
                uow.commit()
            if wait <= 0:
                if waited:
                    log.info("rate_limit_waited vendor=%s seconds=%.2f", vendor, waited)
                return
            waited += wait
            self._sleep(wait)
