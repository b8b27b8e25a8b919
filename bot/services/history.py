"""The deal's CRM history, fetched into the handoff by an outbox job, and drafts written from it.

- `enqueue_fetch` is called in the transaction that creates a handoff: the job reads the CRM
  later, off Slack's clock, and stores what it found (`deal_history_entries`).
- When the organisation configured `drafting`, a stored history queues a drafting job: the
  model's drafts land in `history_drafts`, or a note saying why there are none. The form only
  ever reads what is stored, so a slow or failing provider never holds it up.

Log lines carry handoff ids, source ids and counts, never an entry's title, body or email text.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.config import OrgConfig
from bot.services.outbox import Handler, JobContext
from bot.services.ports import Clock
from integrations.drafting import Drafter, DraftingFailed
from integrations.ports import Crm, HistoryEntry, HistoryQuery, VendorError
from storage.history_repo import (
    history_draft,
    history_entries,
    previous_handoff_time,
    replace_history,
    save_history_draft,
)
from storage.models import (
    DealHistoryEntry,
    Handoff,
    HandoffKind,
    HandoffStatus,
)
from storage.repositories import Repository
from storage.uow import UnitOfWorkFactory

log = logging.getLogger(__name__)

FETCH_HISTORY = "crm.history"  # read the deal's engagements into the handoff
DRAFT_FIELDS = "history.draft"  # draft the essay fields from the stored history

# The sales -> delivery form's essay fields, and what a draft of each should say.
DRAFT_PROMPTS: dict[str, str] = {
    "why_they_bought": "Why the client bought: their problem and goals, in their words.",
    "success_criteria": "Measurable success criteria for the first 90 days.",
    "month_one": "What month one must feel like: reporting format and cadence, meeting rhythm.",
    "promises_made": "Promises our side made during the sale.",
    "out_of_scope": "What was agreed to be explicitly out of scope.",
    "risks": "Risks, sensitivities and concerns raised.",
}


# The history read is best-effort: after this many tries it gives up (the ops record, which
# waits for it, must not wait a day of retries for a CRM outage).
FETCH_TRIES = 3


def fetch_key(handoff_id: int) -> str:
    """The key of a handoff's history read: what its ops record waits for."""
    return f"history:{handoff_id}"


def enqueue_fetch(repo: Repository, handoff: Handoff) -> None:
    """Queue the history read for a new handoff (nothing to read without a deal)."""
    if handoff.deal_id:
        repo.enqueue(handoff, FETCH_HISTORY, fetch_key(handoff.id), {"deal_id": handoff.deal_id})


def as_entry(row: DealHistoryEntry) -> HistoryEntry:
    return HistoryEntry(
        kind=row.kind,  # only HistoryKind values are ever stored
        source_id=row.source_id,
        occurred_at=row.occurred_at,
        author=row.author,
        title=row.title,
        body=row.body,
        url=row.url,
    )


def load_history(uow: UnitOfWorkFactory, handoff_id: int) -> tuple[HistoryEntry, ...]:
    """The stored history of a handoff, newest first."""
    with uow() as unit:
        return tuple(as_entry(row) for row in history_entries(unit.session, handoff_id))


@dataclass(frozen=True)
class Drafts:
    """What the form needs from the drafting job: the drafts, or a note saying why none."""

    fields: Mapping[str, str]
    note: str | None


def load_drafts(uow: UnitOfWorkFactory, handoff_id: int, *, configured: bool) -> Drafts:
    """Drafts for the form; a note when drafting is configured but has nothing to give (yet)."""
    if not configured:
        return Drafts({}, None)
    with uow() as unit:
        draft = history_draft(unit.session, handoff_id)
        if draft is None:
            has_history = bool(history_entries(unit.session, handoff_id))
            note = (
                "Drafts from the CRM history are still being written: the fields are empty "
                "for now. Close and reopen the form in a minute to see them."
                if has_history
                else None
            )
            return Drafts({}, note)
        fields = {k: str(v) for k, v in (draft.fields or {}).items() if v}
        return Drafts(fields, draft.note)


class HistoryService:
    """Outbox handlers for reading the history and drafting from it."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        org: OrgConfig,
        clock: Clock,
        crm: Crm | None,
        drafter: Drafter | None = None,
    ) -> None:
        self.uow = uow
        self.org = org
        self.clock = clock
        self.crm = crm
        self.drafter = drafter

    def handlers(self) -> dict[str, Handler]:
        return {FETCH_HISTORY: self.fetch, DRAFT_FIELDS: self.draft}

    # --- fetching -------------------------------------------------------------------------------

    def fetch(self, ctx: JobContext) -> dict[str, Any]:
        """Read the deal's engagements and store them with the handoff (replacing any earlier)."""
        settings = self.org.hubspot.history
        kinds = settings.kinds()
        if self.crm is None or not kinds:
            return {"skipped": "no CRM" if self.crm is None else "history switched off"}
        with self.uow() as uow:
            handoff = uow.repo.handoff(ctx.handoff_id or 0)
            if handoff is None or not handoff.deal_id:
                return {"skipped": "no deal"}
            # A later handoff of the account carries what happened since the previous one.
            since = (
                previous_handoff_time(uow.session, handoff)
                if handoff.kind != HandoffKind.SALES_TO_DELIVERY
                else None
            )
            deal_id = handoff.deal_id
        query = HistoryQuery(
            kinds=kinds,
            since=since,
            max_entries=settings.max_entries,
            body_cap=settings.body_cap,
        )
        try:
            entries = self.crm.deal_history(deal_id, query)
        except VendorError as exc:
            if not exc.retryable or ctx.attempt >= FETCH_TRIES:
                log.warning("history_unavailable handoff=%s error=%s", ctx.handoff_id, exc)
                return {"skipped": f"CRM history unavailable: {exc}"}
            raise
        now = self.clock()
        with self.uow() as uow:
            handoff = uow.repo.handoff(ctx.handoff_id or 0)
            if handoff is None:
                return {"skipped": "handoff gone"}
            replace_history(uow.session, handoff.id, [_row(e, now) for e in entries])
            uow.repo.audit(handoff, "system", "history_fetched", entries=len(entries))
            if self._wants_drafts(handoff, entries):
                uow.repo.enqueue(handoff, DRAFT_FIELDS, f"draft:{handoff.id}")
            uow.commit()
        log.info(
            "history_stored handoff=%s entries=%d sources=%s",
            ctx.handoff_id,
            len(entries),
            ",".join(e.source_id for e in entries[:20]),
        )
        return {"entries": len(entries)}

    def _wants_drafts(self, handoff: Handoff, entries: Sequence[HistoryEntry]) -> bool:
        return (
            self.drafter is not None
            and bool(entries)
            and handoff.kind == HandoffKind.SALES_TO_DELIVERY
            and handoff.status == HandoffStatus.AWAITING_FORM
        )

    # --- drafting -------------------------------------------------------------------------------

    def draft(self, ctx: JobContext) -> dict[str, Any]:
        """Ask the organisation's model for drafts; any failure becomes a note, never a retry."""
        if self.drafter is None:
            return {"skipped": "drafting not configured"}
        handoff_id = ctx.handoff_id or 0
        entries = load_history(self.uow, handoff_id)
        fields: dict[str, str] = {}
        citations: dict[str, list[str]] = {}
        note: str | None = None
        try:
            drafts = self.drafter.draft(entries, DRAFT_PROMPTS)
        except DraftingFailed as exc:
            note = f"No drafts this time: {exc}. Fill in the fields yourself."
            log.warning("drafting_failed handoff=%s reason=%s", handoff_id, exc)
        else:
            for name, found in drafts.items():
                fields[name] = found.text
                citations[name] = [entries[n - 1].source_id for n in found.cited]
            if not fields:
                note = "The CRM history did not say enough to draft any answer."
        with self.uow() as uow:
            handoff = uow.repo.handoff(handoff_id)
            if handoff is None:
                return {"skipped": "handoff gone"}
            save_history_draft(
                uow.session,
                handoff_id,
                status="failed" if note and not fields else "ready",
                fields=fields,
                citations=citations,
                note=note,
                now=self.clock(),
            )
            uow.repo.audit(handoff, "system", "drafts_prepared", fields=sorted(fields))
            uow.commit()
        return {"fields": sorted(fields)}


def _row(entry: HistoryEntry, now: datetime) -> DealHistoryEntry:
    return DealHistoryEntry(
        kind=entry.kind,
        source_id=entry.source_id,
        occurred_at=entry.occurred_at,
        author=(entry.author or None) and entry.author[:255],
        title=entry.title[:255],
        body=entry.body,
        url=entry.url,
        fetched_at=now,
    )
