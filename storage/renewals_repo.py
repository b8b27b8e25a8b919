"""Queries behind renewals: the terms coming due, and the handoffs an account's record holds."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session, aliased

from storage.models import AuditEvent, Handoff, HandoffKind, HandoffStatus

# A sales handoff whose form is in holds an agreed term (backfilled ones included).
RECORDED = (HandoffStatus.SUBMITTED, HandoffStatus.DELIVERED, HandoffStatus.CONFIRMED)


def agreed_term_end() -> Any:
    """The agreed term end of a sales handoff's stored form, as ISO text (JSON in both SQLite
    and PostgreSQL; ISO dates compare as text)."""
    return Handoff.form_payload["term_end"].as_string()


def terms_due(session: Session, first: date, last: date, limit: int) -> Sequence[int]:
    """Ids of the sales handoffs whose agreed term ends from `first` to `last` (inclusive) and
    whose deal has no renewal for that term yet, soonest first."""
    end = agreed_term_end()
    renewal = aliased(Handoff)
    stmt = (
        select(Handoff.id)
        .where(
            Handoff.kind == HandoffKind.SALES_TO_DELIVERY,
            Handoff.status.in_(RECORDED),
            Handoff.deal_id.is_not(None),
            end >= first.isoformat(),
            end <= last.isoformat(),
            ~exists().where(
                renewal.kind == HandoffKind.RENEWAL_TO_SALES,
                renewal.deal_id == Handoff.deal_id,
                renewal.term_key == end,
            ),
        )
        .order_by(end, Handoff.id)
        .limit(limit)
    )
    return session.scalars(stmt).all()


def record_for_deal(session: Session, deal_id: str) -> Handoff | None:
    """The deal's sales handoff holding what was agreed, if its form is in."""
    stmt = select(Handoff).where(
        Handoff.kind == HandoffKind.SALES_TO_DELIVERY,
        Handoff.deal_id == deal_id,
        Handoff.status.in_(RECORDED),
        Handoff.form_payload.is_not(None),
    )
    return session.scalars(stmt).first()


def delivery_for(session: Session, source: Handoff) -> Handoff | None:
    """The newest submitted delivery -> finance handoff of the same deal since `source`."""
    stmt = (
        select(Handoff)
        .where(
            Handoff.kind == HandoffKind.DELIVERY_TO_FINANCE,
            Handoff.deal_id == source.deal_id,
            Handoff.form_payload.is_not(None),
            Handoff.created_at >= source.created_at,
        )
        .order_by(Handoff.created_at.desc(), Handoff.id.desc())
    )
    return session.scalars(stmt).first()


def events(session: Session, handoff_id: int, names: Sequence[str]) -> Sequence[AuditEvent]:
    """The handoff's audit events of these kinds, oldest first."""
    stmt = (
        select(AuditEvent)
        .where(AuditEvent.handoff_id == handoff_id, AuditEvent.event.in_(list(names)))
        .order_by(AuditEvent.at, AuditEvent.id)
    )
    return session.scalars(stmt).all()
