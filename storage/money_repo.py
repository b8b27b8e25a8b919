"""Queries behind the money-leak check: which handoffs are due tonight, the claim, mismatches."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.models import (
    ExternalRecord,
    Handoff,
    HandoffKind,
    HandoffStatus,
    MoneyCheck,
    MoneyMismatch,
)

# A sale whose finance record exists: submitted (ops may still be failing), delivered, confirmed.
CHECKED = (HandoffStatus.SUBMITTED, HandoffStatus.DELIVERED, HandoffStatus.CONFIRMED)


def due(session: Session, team: str, today: str, now: datetime, limit: int) -> Sequence[int]:
    """Ids of the sales handoffs whose finance record in `team`'s tool is created and that were
    not checked on `today` (nor are being checked by another worker), oldest first."""
    stmt = (
        select(Handoff.id)
        .join(
            ExternalRecord,
            and_(
                ExternalRecord.handoff_id == Handoff.id,
                ExternalRecord.target == team,
                ExternalRecord.status == "done",
            ),
        )
        .outerjoin(MoneyCheck, MoneyCheck.handoff_id == Handoff.id)
        .where(
            Handoff.kind == HandoffKind.SALES_TO_DELIVERY,
            Handoff.status.in_(CHECKED),
            Handoff.form_payload.is_not(None),
            or_(
                MoneyCheck.handoff_id.is_(None),
                and_(
                    MoneyCheck.checked_on != today,
                    or_(MoneyCheck.claimed_until.is_(None), MoneyCheck.claimed_until < now),
                ),
            ),
        )
        .order_by(Handoff.id)
        .limit(limit)
    )
    return session.scalars(stmt).all()


def claim(
    session: Session, handoff_id: int, today: str, worker: str, now: datetime, until: datetime
) -> bool:
    """Claim tonight's check of one handoff; False when it was checked today or another worker
    holds it. One conditional UPDATE, so two workers never both win (commit to keep it)."""
    if session.get(MoneyCheck, handoff_id) is None:
        try:
            with session.begin_nested():
                session.add(MoneyCheck(handoff_id=handoff_id, checked_on=""))
        except IntegrityError:  # another worker inserted it first: the UPDATE decides
            pass
    result = session.execute(
        update(MoneyCheck)
        .where(
            MoneyCheck.handoff_id == handoff_id,
            MoneyCheck.checked_on != today,
            or_(MoneyCheck.claimed_until.is_(None), MoneyCheck.claimed_until < now),
        )
        .values(claimed_by=worker, claimed_until=until)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


def open_mismatch(session: Session, handoff_id: int) -> MoneyMismatch | None:
    """The handoff's mismatch still open, if any (at most one: a new one closes the old)."""
    stmt = select(MoneyMismatch).where(
        MoneyMismatch.handoff_id == handoff_id, MoneyMismatch.resolved_at.is_(None)
    )
    return session.scalars(stmt.order_by(MoneyMismatch.id.desc())).first()


def resolved_by_person(session: Session, handoff_id: int, fingerprint: str) -> bool:
    """Whether someone in finance marked this very mismatch resolved (it is not raised again)."""
    stmt = select(MoneyMismatch.id).where(
        MoneyMismatch.handoff_id == handoff_id,
        MoneyMismatch.fingerprint == fingerprint,
        MoneyMismatch.resolved_at.is_not(None),
        MoneyMismatch.resolved_by.not_in(("check", "changed")),
    )
    return session.scalar(stmt.limit(1)) is not None


def open_for_teams(session: Session, teams: Collection[str]) -> Sequence[MoneyMismatch]:
    """Open mismatches of these finance teams, oldest first."""
    stmt = select(MoneyMismatch).where(
        MoneyMismatch.team.in_(list(teams)), MoneyMismatch.resolved_at.is_(None)
    )
    return session.scalars(stmt.order_by(MoneyMismatch.found_at, MoneyMismatch.id)).all()
