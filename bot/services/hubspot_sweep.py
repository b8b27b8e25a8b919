"""The HubSpot sweep: find deals won since the last look and feed them to the gate.

A webhook needs a public URL (none in Socket Mode) and HubSpot gives up on one after its retries,
so a periodic CRM search is what guarantees a won deal is seen: the trigger in Socket Mode, the
safety net behind the webhook over HTTP. Both paths go through `HandoffService.deals_won`, which
gates a deal's won stage once whichever path reports it first (see `WonEvent`).

HubSpot's search limits (https://developers.hubspot.com/docs/api/crm/search, "Limitations"):
200 results per page, 10,000 results per query, and a search-only rate limit of a few requests
per second per account; the sweep pages oldest-first, re-anchors the query before the 10,000 cap
and spaces its requests to stay under the rate limit (integrations.hubspot.SEARCH_* constants).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from bot.config import OrgConfig
from bot.services.handoffs import GateOutcome, WonEvent
from bot.services.ports import Clock
from integrations.hubspot import SEARCH_PAGE_LIMIT, SEARCH_REQUESTS_PER_SECOND, SEARCH_RESULT_CAP
from integrations.ports import DealInStage, DealSearch
from storage.models import SweepWatermark
from storage.uow import UnitOfWorkFactory

log = logging.getLogger(__name__)

WATERMARK = "hubspot_deals_won"
SOURCE = "hubspot_sweep"
# HubSpot's search index trails writes by a few seconds: every query reaches back this far before
# the watermark, so a deal indexed late is still found (the gate dedupes what is seen twice).
OVERLAP = timedelta(minutes=2)


class Gate(Protocol):
    """The webhook's gate (`HandoffService.deals_won`): the sweep never has its own."""

    def deals_won(self, events: Sequence[WonEvent], *, source: str) -> list[GateOutcome]: ...


@dataclass
class SweepReport:
    """What one run saw and did, for logs and tests."""

    pages: int = 0
    seen: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    missed_by_webhook: list[str] = field(default_factory=list)


class HubSpotSweep:
    """`run()` once per `hubspot.sweep_seconds`; safe in several processes (the gate dedupes)."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        crm: DealSearch,
        gate: Gate,
        clock: Clock,
        org: OrgConfig,
        *,
        webhook_expected: bool,
        sleep: Callable[[float], None] = time.sleep,
        result_cap: int = SEARCH_RESULT_CAP,
    ) -> None:
        self.uow = uow
        self.crm = crm
        self.gate = gate
        self.clock = clock
        self.org = org
        self.webhook_expected = webhook_expected  # HTTP mode: a deal found here was missed
        self.sleep = sleep
        self.result_cap = result_cap

    def run(self) -> SweepReport:
        """Search for deals in the won stage modified since the watermark; gate each one."""
        report = SweepReport()
        watermark = self._watermark()
        since = watermark - OVERLAP
        newest = watermark
        after: str | None = None
        fetched = 0  # results read under the current query (HubSpot stops paging at 10,000)
        hubspot = self.org.hubspot
        while True:
            if report.pages:
                self.sleep(1 / SEARCH_REQUESTS_PER_SECOND)
            page = self.crm.deals_in_stage(
                hubspot.pipeline_id, hubspot.won_stage, since, after=after
            )
            report.pages += 1
            report.seen += len(page.deals)
            fetched += len(page.deals)
            self._gate(page.deals, report)
            if page.deals:
                newest = max(newest, *(d.last_modified for d in page.deals))
            if page.next_after is None:
                break
            if fetched + SEARCH_PAGE_LIMIT > self.result_cap:
                # Results are oldest first: start a new query from the newest modification seen.
                if newest - OVERLAP <= since:
                    log.error("hubspot_sweep_cap_stuck since=%s", since.isoformat())
                    break
                since, after, fetched = newest - OVERLAP, None, 0
                continue
            after = page.next_after
        self._save(newest)
        log.info(
            "hubspot_sweep pages=%s seen=%s outcomes=%s watermark=%s",
            report.pages,
            report.seen,
            report.outcomes,
            newest.isoformat(),
        )
        return report

    def _gate(self, deals: tuple[DealInStage, ...], report: SweepReport) -> None:
        won = [d for d in deals if d.stage == self.org.hubspot.won_stage]
        if not won:
            return
        events = []
        for deal in won:
            won_at = deal.entered_stage_at or deal.last_modified
            # One event id per deal, stage and time of entering it: every later sweep that
            # sees the same won stage is a duplicate; a deal moved back to won is new.
            event_id = f"{deal.deal_id}:{deal.stage}:{int(won_at.timestamp() * 1000)}"
            events.append(WonEvent(deal.deal_id, event_id, won_at))
        outcomes = self.gate.deals_won(events, source=SOURCE)
        for event, outcome in zip(events, outcomes, strict=True):
            report.outcomes[outcome.action] = report.outcomes.get(outcome.action, 0) + 1
            if outcome.action == "created" and self.webhook_expected:
                report.missed_by_webhook.append(event.deal_id)
                log.warning(
                    "hubspot_sweep_caught_missed_webhook deal=%s handoff=%s won_at=%s",
                    event.deal_id,
                    outcome.handoff_id,
                    event.won_at.isoformat() if event.won_at else None,
                )

    def _watermark(self) -> datetime:
        with self.uow() as uow:
            row = uow.session.get(SweepWatermark, WATERMARK)
            if row is not None:
                return row.modified_after
        # First run: look back one interval, so a deal won while the app was being set up is
        # caught, but history is not replayed into handoffs.
        seconds = self.org.hubspot.sweep_seconds or 120
        return self.clock() - timedelta(seconds=seconds)

    def _save(self, newest: datetime) -> None:
        with self.uow() as uow:
            row = uow.session.get(SweepWatermark, WATERMARK, with_for_update=True)
            if row is None:
                row = SweepWatermark(name=WATERMARK, modified_after=newest)
                if not uow.repo.insert_if_absent(row):  # another worker saved it first
                    row = uow.session.get(SweepWatermark, WATERMARK, with_for_update=True)
            if row is not None:
                row.modified_after = max(row.modified_after, newest)
                row.swept_at = self.clock()
            uow.commit()
