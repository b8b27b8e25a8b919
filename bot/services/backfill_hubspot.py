"""Historic accounts from HubSpot (`backfill --from-hubspot --since DATE`): won deals by close date.

The deals are found with the CRM search API (the won stage of the organisation file, the same
the gate uses), 200 a page, oldest close first, spaced under the search API's own rate limit and
restarted from the last close date before HubSpot's 10,000-results cap. Each deal is then read
as the form's prefill reads it (contacts and their roles, line items, company, contract dates)
and mapped through the same prefill.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta

from bot.services.backfill_rows import Candidate, Problem
from bot.services.prefill import deal_values
from integrations.hubspot import SEARCH_PAGE_LIMIT, SEARCH_REQUESTS_PER_SECOND, SEARCH_RESULT_CAP
from integrations.ports import ClosedDealSearch, Crm, DealSnapshot, VendorError, add_months

log = logging.getLogger(__name__)


def won_deal_ids(
    crm: ClosedDealSearch,
    pipeline_id: str,
    stage_id: str,
    since: date,
    *,
    sleep: Callable[[float], None] = time.sleep,
    result_cap: int = SEARCH_RESULT_CAP,
) -> list[str]:
    """Ids of the deals in the won stage closed on or after `since`, oldest close first."""
    ids: dict[str, None] = {}
    after: str | None = None
    fetched = pages = 0
    while True:
        if pages:
            sleep(1 / SEARCH_REQUESTS_PER_SECOND)
        page = crm.deals_closed_since(pipeline_id, stage_id, since, after=after)
        pages += 1
        fetched += len(page.deal_ids)
        ids.update(dict.fromkeys(page.deal_ids))
        if page.next_after is None:
            break
        if fetched + SEARCH_PAGE_LIMIT > result_cap:
            # Oldest close first: a new query from the newest close date seen (ids dedupe it).
            if page.last_close is None or page.last_close <= since:
                log.error("backfill_search_cap_stuck since=%s", since.isoformat())
                break
            since, after, fetched = page.last_close, None, 0
            continue
        after = page.next_after
    log.info("backfill_hubspot_search pages=%s deals=%s", pages, len(ids))
    return list(ids)


@dataclass
class HubSpotDeals:
    """The won deals to bring in, read one at a time (each read is a few HubSpot calls)."""

    crm: Crm
    deal_ids: list[str]
    term_months: int | None = None  # the term when the CRM holds no term end
    owner_emails: dict[str, str | None] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.deal_ids)

    def __iter__(self) -> Iterator[Candidate]:
        for deal_id in self.deal_ids:
            where = f"deal {deal_id}"
            try:
                deal = self.crm.get_deal(deal_id)
                owner = self._owner_email(deal.owner_id)
            except VendorError as exc:
                log.warning("backfill_deal_unreadable deal=%s error=%s", deal_id, exc)
                yield _unreadable(where, deal_id, str(exc))
                continue
            yield self.candidate(deal, owner)

    def candidate(self, deal: DealSnapshot, owner_email: str | None) -> Candidate:
        """The deal as the form's prefill reads it, with the term defaulted if asked."""
        values = deal_values(deal)
        given = {name: str(value) for name, value in values.items() if isinstance(value, str)}
        start = deal.term_start or deal.close_date
        if "term_end" not in given and start is not None and self.term_months:
            end = add_months(start, self.term_months) - timedelta(days=1)
            given["term_end"] = end.isoformat()
        # A deal without line items was still sold as something: its name says what.
        given.setdefault("deliverables", deal.name)
        problems = []
        if "term_end" not in given:
            problems.append(
                Problem(
                    f"deal {deal.deal_id}",
                    "Term end",
                    "HubSpot holds no term end for this deal: set hubspot.term_end_property, "
                    "pass --term-months, or bring it in with --csv",
                    csv=False,
                )
            )
        return Candidate(
            source="hubspot",
            where=f"deal {deal.deal_id}",
            deal_id=deal.deal_id,
            deal_name=deal.name,
            close_date=deal.close_date,
            given=given,
            people={"sales_owner": owner_email} if owner_email else {},
            stage=deal.stage,
            problems=tuple(problems),
        )

    def _owner_email(self, owner_id: str | None) -> str | None:
        if not owner_id:
            return None
        if owner_id not in self.owner_emails:
            self.owner_emails[owner_id] = self.crm.owner_email(owner_id)
        return self.owner_emails[owner_id]


def _unreadable(where: str, deal_id: str, error: str) -> Candidate:
    return Candidate(
        source="hubspot",
        where=where,
        deal_id=deal_id,
        deal_name="",
        close_date=None,
        given={},
        problems=(Problem(where, None, f"HubSpot could not be read: {error}", csv=False),),
    )
