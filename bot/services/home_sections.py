"""The queries behind each App Home list, one page at a time."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.models.blocks import Block
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, selectinload

from bot.render.home import (
    HomeSection,
    completed_item,
    confirm_item,
    form_item,
    overdue_item,
    question_item,
)
from bot.services.calendar import describe_hours
from bot.services.obligations import ObligationBook
from storage.models import Handoff, HandoffStatus, Obligation

CAP_FORMS, CAP_CONFIRM, CAP_QUESTIONS, CAP_COMPLETED, CAP_OVERDUE = 12, 12, 8, 5, 12
RECENT = timedelta(days=14)
OPEN_STATUSES = (HandoffStatus.SUBMITTED, HandoffStatus.DELIVERED)


def page_offset(pages: Mapping[str, int], key: str, total: int, cap: int) -> int:
    """The first item to show: the requested page, kept within what exists now."""
    wanted = max(0, pages.get(key, 0))
    last_page = max(0, (total - 1) // cap * cap)
    return min(wanted - wanted % cap, last_page)


def to_complete(
    session: Session, book: ObligationBook, user_id: str, now: datetime, pages: Mapping[str, int]
) -> HomeSection:
    """Forms the user owes (drafts included), oldest win first."""
    stmt = select(Handoff).where(
        Handoff.sender_user_id == user_id, Handoff.status == HandoffStatus.AWAITING_FORM
    )
    total = _count(session, stmt)
    offset = page_offset(pages, "complete", total, CAP_FORMS)
    page = stmt.order_by(Handoff.won_at, Handoff.id).offset(offset).limit(CAP_FORMS)
    handoffs = session.scalars(page).all()
    forms = {ob.handoff_id: ob for ob in _open(session, [h.id for h in handoffs], "form")}
    items: list[Block] = []
    for handoff in handoffs:
        ob = forms.get(handoff.id)
        items.append(form_item(handoff, ob, now, book.calendar(ob.team if ob else None).zone))
    return HomeSection("complete", "To complete", items, total, offset)


def to_confirm(
    session: Session,
    book: ObligationBook,
    teams: list[str],
    now: datetime,
    pages: Mapping[str, int],
) -> HomeSection:
    """Submitted handoffs still waiting for one of the user's teams, oldest first."""
    if not teams:
        return HomeSection("confirm", "To confirm", [], 0)
    # Receiving teams live in a JSON list, so the filter runs here over the open handoffs only.
    stmt = (
        select(Handoff)
        .where(Handoff.status.in_(OPEN_STATUSES))
        .options(selectinload(Handoff.receipts))
        .order_by(Handoff.submitted_at, Handoff.id)
    )
    waiting: list[tuple[Handoff, list[str]]] = []
    for handoff in session.scalars(stmt):
        pending = [t for t in teams if t in handoff.receiving_teams and not _confirmed(handoff, t)]
        if pending:
            waiting.append((handoff, pending))
    offset = page_offset(pages, "confirm", len(waiting), CAP_CONFIRM)
    shown = waiting[offset : offset + CAP_CONFIRM]
    dues = {
        (ob.handoff_id, ob.subject): ob.due_at
        for ob in _open(session, [h.id for h, _ in shown], "confirm")
    }
    items: list[Block] = []
    for handoff, pending in shown:
        due = min((dues[(handoff.id, t)] for t in pending if (handoff.id, t) in dues), default=None)
        names = [_team_name(book, team) or team for team in pending]
        items.append(confirm_item(handoff, names, due, now, book.calendar(pending[0]).zone))
    return HomeSection("confirm", "To confirm", items, len(waiting), offset)


def questions(
    session: Session, book: ObligationBook, user_id: str, now: datetime, pages: Mapping[str, int]
) -> HomeSection:
    """Open questions in the threads of the user's handoffs, soonest due first."""
    stmt = _open_with_handoff().where(
        Obligation.sla == "answer", Obligation.owner_user_id == user_id
    )
    total = _count(session, stmt)
    offset = page_offset(pages, "questions", total, CAP_QUESTIONS)
    page = stmt.order_by(Obligation.due_at, Obligation.id).offset(offset).limit(CAP_QUESTIONS)
    rows = session.execute(page.options(selectinload(Handoff.messages))).all()
    items = [question_item(h, ob, now, book.calendar(ob.team).zone) for ob, h in rows]
    return HomeSection("questions", "Questions waiting for your answer", items, total, offset)


def completed(
    session: Session,
    book: ObligationBook,
    user_id: str,
    teams: list[str],
    now: datetime,
    pages: Mapping[str, int],
) -> HomeSection:
    """Handoffs the user sent or received that completed in the last two weeks, newest first."""
    stmt = (
        select(Handoff)
        .where(Handoff.status == HandoffStatus.CONFIRMED, Handoff.completed_at >= now - RECENT)
        .order_by(Handoff.completed_at.desc(), Handoff.id.desc())
    )
    mine = [
        h
        for h in session.scalars(stmt)
        if h.sender_user_id == user_id or any(t in h.receiving_teams for t in teams)
    ]
    offset = page_offset(pages, "completed", len(mine), CAP_COMPLETED)
    zone = book.calendar(None).zone
    items = [completed_item(h, zone) for h in mine[offset : offset + CAP_COMPLETED]]
    return HomeSection("completed", "Recently completed", items, len(mine), offset)


def overdue(
    session: Session,
    book: ObligationBook,
    teams: list[str],
    now: datetime,
    pages: Mapping[str, int],
) -> HomeSection:
    """For a manager: what their teams owe past its deadline, longest overdue first."""
    stmt = _open_with_handoff().where(Obligation.team.in_(teams), Obligation.due_at <= now)
    total = _count(session, stmt)
    offset = page_offset(pages, "overdue", total, CAP_OVERDUE)
    page = stmt.order_by(Obligation.due_at, Obligation.id).offset(offset).limit(CAP_OVERDUE)
    items: list[Block] = []
    for ob, handoff in session.execute(page).all():
        cal = book.calendar(ob.team)
        late = describe_hours(cal.hours_between(ob.due_at, now), cal.day_hours)
        items.append(overdue_item(handoff, ob, late, _team_name(book, ob.team)))
    return HomeSection("overdue", "Overdue in your teams", items, total, offset)


def _open_with_handoff() -> Select[Obligation, Handoff]:
    return (
        select(Obligation, Handoff)
        .join(Handoff, Handoff.id == Obligation.handoff_id)
        .where(Obligation.closed_at.is_(None))
    )


def _open(session: Session, handoff_ids: list[int], sla: str) -> list[Obligation]:
    if not handoff_ids:
        return []
    stmt = select(Obligation).where(
        Obligation.handoff_id.in_(handoff_ids),
        Obligation.sla == sla,
        Obligation.closed_at.is_(None),
    )
    return list(session.scalars(stmt))


def _count(session: Session, stmt: Select[*tuple[Any, ...]]) -> int:
    return session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0


def _team_name(book: ObligationBook, key: str | None) -> str | None:
    """The team's name from the organisation file (its key if it is no longer there)."""
    team = book.org.teams.get(key) if key else None
    return team.name if team else key


def _confirmed(handoff: Handoff, team: str) -> bool:
    receipt = handoff.receipt(team)
    return bool(receipt and receipt.confirmed_at)
