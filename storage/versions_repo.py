"""Queries and writes for a handoff's submitted versions and its amendment draft (one session)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from storage.models import AmendmentDraft, Handoff, HandoffVersion


def versions(session: Session, handoff_id: int) -> Sequence[HandoffVersion]:
    """Every stored version of the handoff, oldest first (none until its first amendment)."""
    stmt = (
        select(HandoffVersion)
        .where(HandoffVersion.handoff_id == handoff_id)
        .order_by(HandoffVersion.number)
    )
    return session.scalars(stmt).all()


def version(session: Session, handoff_id: int, number: int) -> HandoffVersion | None:
    stmt = select(HandoffVersion).where(
        HandoffVersion.handoff_id == handoff_id, HandoffVersion.number == number
    )
    return session.scalars(stmt).first()


def current_number(session: Session, handoff_id: int) -> int:
    """The number of the version the handoff shows now: 1 until it is amended."""
    stmt = select(func.max(HandoffVersion.number)).where(HandoffVersion.handoff_id == handoff_id)
    return session.scalar(stmt) or 1


def record_first(session: Session, handoff: Handoff) -> None:
    """Keep the first submission as version 1, before an amendment replaces the payload."""
    if version(session, handoff.id, 1) is not None:
        return
    session.add(
        HandoffVersion(
            handoff_id=handoff.id,
            number=1,
            payload=dict(handoff.form_payload or {}),
            schema_version=handoff.schema_version,
            submitted_by=handoff.sender_user_id,
            submitted_at=handoff.submitted_at or handoff.created_at,
            changes=[],
            teams=[],
        )
    )


def draft(session: Session, handoff_id: int) -> AmendmentDraft | None:
    return session.scalars(
        select(AmendmentDraft).where(AmendmentDraft.handoff_id == handoff_id)
    ).first()


def save_draft(
    session: Session,
    handoff_id: int,
    *,
    user_id: str,
    base_version: int,
    values: dict[str, Any],
    now: datetime,
) -> None:
    """Keep the amendment being typed (one per handoff; the newest save wins)."""
    row = draft(session, handoff_id)
    if row is None:
        row = AmendmentDraft(handoff_id=handoff_id)
        session.add(row)
    row.user_id = user_id
    row.base_version = base_version
    row.values = values
    row.updated_at = now


def drop_draft(session: Session, handoff_id: int) -> None:
    session.execute(delete(AmendmentDraft).where(AmendmentDraft.handoff_id == handoff_id))
