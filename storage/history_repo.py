"""Queries and writes for a handoff's stored CRM history and its drafts, over one session."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from storage.models import DealHistoryEntry, Handoff, HistoryDraft


def history_entries(session: Session, handoff_id: int) -> Sequence[DealHistoryEntry]:
    """The handoff's stored entries, newest first (the order their citation numbers follow)."""
    stmt = (
        select(DealHistoryEntry)
        .where(DealHistoryEntry.handoff_id == handoff_id)
        .order_by(DealHistoryEntry.occurred_at.desc(), DealHistoryEntry.source_id.desc())
    )
    return session.scalars(stmt).all()


def replace_history(session: Session, handoff_id: int, rows: Sequence[DealHistoryEntry]) -> None:
    """Store a fresh read of the history in place of any earlier one (a retried fetch)."""
    session.execute(delete(DealHistoryEntry).where(DealHistoryEntry.handoff_id == handoff_id))
    for row in rows:
        row.handoff_id = handoff_id
        session.add(row)


def history_draft(session: Session, handoff_id: int) -> HistoryDraft | None:
    stmt = select(HistoryDraft).where(HistoryDraft.handoff_id == handoff_id)
    return session.scalars(stmt).first()


def save_history_draft(
    session: Session,
    handoff_id: int,
    *,
    status: str,
    fields: dict[str, Any],
    citations: dict[str, Any],
    note: str | None,
    now: datetime,
) -> None:
    """Keep the newest drafting outcome of a handoff (one row per handoff)."""
    draft = history_draft(session, handoff_id)
    if draft is None:
        draft = HistoryDraft(handoff_id=handoff_id)
        session.add(draft)
    draft.status = status
    draft.fields = fields
    draft.citations = citations
    draft.note = note
    draft.created_at = now


def previous_handoff_time(session: Session, handoff: Handoff) -> datetime | None:
    """When the account's previous handoff (same deal, earlier) was submitted or created."""
    if not handoff.deal_id:
        return None
    stmt = (
        select(Handoff)
        .where(
            Handoff.deal_id == handoff.deal_id,
            Handoff.id != handoff.id,
            Handoff.created_at <= handoff.created_at,
        )
        .order_by(Handoff.created_at.desc(), Handoff.id.desc())
    )
    earlier = session.scalars(stmt).first()
    if earlier is None:
        return None
    return earlier.submitted_at or earlier.created_at
