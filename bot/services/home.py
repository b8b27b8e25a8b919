"""The App Home: each person's handoffs to complete, confirm and answer, and managers' overdue.

State changes call `refresh`, which enqueues a "home.publish" outbox job per person; the job
renders the current state when it runs, so a burst of changes costs one render per job and a job
already superseded by a newer one for the same person is skipped.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from slack_sdk.errors import SlackApiError
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, selectinload

from bot.config import OrgConfig
from bot.services.calendar import describe_hours
from bot.services.home_view import (
    HomeSection,
    completed_item,
    confirm_item,
    form_item,
    home_view,
    overdue_item,
    question_item,
)
from bot.services.obligations import ObligationBook
from bot.services.outbox import Handler, JobContext
from bot.services.ports import Clock, Messenger
from bot.services.reminder_messages import is_user_id, slack_date
from bot.services.stats import TeamMonth, health_figures, stats_csv
from storage.models import Handoff, HandoffStatus, Obligation, OutboxJob, OutboxStatus
from storage.repositories import Repository
from storage.uow import UnitOfWorkFactory

log = logging.getLogger(__name__)

HOME_PUBLISH = "home.publish"
CAP_FORMS, CAP_CONFIRM, CAP_QUESTIONS, CAP_COMPLETED, CAP_OVERDUE = 12, 12, 8, 5, 12
HOME_STATS_MONTHS = 3
RECENT = timedelta(days=14)
_MORE = "see `/handoff list`"


def enqueue_home_refresh(repo: Repository, user_ids: Iterable[str], now: datetime) -> None:
    """Enqueue a Home re-render for each user, in the caller's transaction."""
    for user_id in dict.fromkeys(u for u in user_ids if is_user_id(u)):
        key = f"home:{user_id}:{now.isoformat()}"
        repo.enqueue(None, HOME_PUBLISH, key, {"user_id": user_id})


@dataclass
class HomeService:
    """Renders and publishes the App Home for one user at a time."""

    uow_factory: UnitOfWorkFactory
    org: OrgConfig
    messenger: Messenger
    clock: Clock
    group_ttl: timedelta = timedelta(minutes=5)
    book: ObligationBook = field(init=False)
    _groups: dict[str, tuple[datetime, frozenset[str]]] = field(init=False, default_factory=dict)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.book = ObligationBook(self.org)

    def refresh(self, repo: Repository, user_ids: Iterable[str], now: datetime) -> None:
        """Enqueue a Home re-render for each user (call inside the state change's transaction)."""
        enqueue_home_refresh(repo, user_ids, now)

    def publish_handler(self, ctx: JobContext) -> dict[str, Any] | None:
        """Outbox handler for "home.publish": render now and publish, unless superseded."""
        user_id = str(ctx.payload["user_id"])
        with self.uow_factory() as uow:
            newer = uow.session.scalar(
                select(OutboxJob.id)
                .where(
                    OutboxJob.action == HOME_PUBLISH,
                    OutboxJob.idempotency_key.like(f"home:{user_id}:%"),
                    OutboxJob.status == OutboxStatus.PENDING,
                    OutboxJob.id > ctx.job_id,
                )
                .limit(1)
            )
        if newer is not None:
            return {"superseded_by": newer}
        return {"blocks": self.publish(user_id)}

    def publish(self, user_id: str) -> int:
        """Render the user's Home and publish it; returns the number of blocks."""
        view = self.render(user_id)
        self.messenger.publish_home(user_id, view)
        log.info("home_published user=%s blocks=%s", user_id, len(view["blocks"]))
        return len(view["blocks"])

    def handlers(self) -> dict[str, Handler]:
        """Outbox handlers this service performs, by action name."""
        return {HOME_PUBLISH: self.publish_handler}

    def render(self, user_id: str) -> dict[str, Any]:
        """The Home view for `user_id` as of now."""
        now = self.clock()
        mine = self.teams_of(user_id)
        managed = self.managed_teams(user_id)
        with self.uow_factory() as uow:
            session = uow.session
            sections = [
                self._to_complete(session, user_id, now),
                self._to_confirm(session, mine, now),
                self._questions(session, user_id, now),
                self._completed(session, user_id, mine, now),
            ]
            if managed:
                sections.append(self._overdue(session, managed, now))
        figures = self._figures(managed, HOME_STATS_MONTHS, now) if managed else None
        return home_view(sections, updated=slack_date(now, ZoneInfo("UTC")), figures=figures)

    def figures(self, user_id: str, months: int) -> list[TeamMonth] | None:
        """Health figures the user may see (their managed teams; all for the admin), or None."""
        teams = self.managed_teams(user_id)
        if user_id == self.org.admin_user:
            teams = list(self.org.teams)
        return self._figures(teams, months, self.clock()) if teams else None

    def export_stats(self, user_id: str, months: int) -> bool:
        """Send the user the health figures they may see as a CSV file in their DM."""
        figures = self.figures(user_id, months)
        if figures is None:
            self.messenger.post(user_id, "Only team managers and the admin can export these.")
            return False
        csv_text = stats_csv(figures)
        self.messenger.upload_file(user_id, "handoff-health.csv", csv_text, "Handoff health")
        log.info("stats_exported user=%s rows=%s", user_id, len(figures))
        return True

    def _figures(self, teams: list[str], months: int, now: datetime) -> list[TeamMonth]:
        figures = health_figures(self.uow_factory, self.org, months, now)
        return [f for f in figures if f.team in teams]

    def managed_teams(self, user_id: str) -> list[str]:
        """Keys of the teams whose manager is `user_id`."""
        return [key for key, team in self.org.teams.items() if team.manager == user_id]

    def teams_of(self, user_id: str) -> list[str]:
        """Keys of the teams `user_id` belongs to (listed users or user group members)."""
        return [
            key
            for key, team in self.org.teams.items()
            if user_id in team.members.users
            or (team.members.usergroup and user_id in self._group(team.members.usergroup))
        ]

    def _group(self, group_id: str) -> frozenset[str]:
        now = self.clock()
        with self._lock:
            cached = self._groups.get(group_id)
            if cached and cached[0] > now:
                return cached[1]
        try:
            members = frozenset(self.messenger.usergroup_members(group_id))
        except SlackApiError as exc:
            # Not cached: the next render asks again instead of hiding the team for minutes.
            log.warning(
                "usergroup_lookup_failed group=%s error=%s", group_id, exc.response.get("error")
            )
            return frozenset()
        with self._lock:
            self._groups[group_id] = (now + self.group_ttl, members)
        return members

    def _zone(self, team: str | None) -> ZoneInfo:
        return self.book.calendar(team).zone

    def _to_complete(self, session: Session, user_id: str, now: datetime) -> HomeSection:
        stmt = select(Handoff).where(
            Handoff.sender_user_id == user_id, Handoff.status == HandoffStatus.AWAITING_FORM
        )
        handoffs = session.scalars(stmt.order_by(Handoff.won_at, Handoff.id).limit(CAP_FORMS)).all()
        forms = {ob.handoff_id: ob for ob in _open(session, [h.id for h in handoffs], "form")}
        items = []
        for handoff in handoffs:
            ob = forms.get(handoff.id)
            items.append(form_item(handoff, ob, now, self._zone(ob.team if ob else None)))
        return HomeSection("To complete", items, _count(session, stmt), _MORE)

    def _to_confirm(self, session: Session, teams: list[str], now: datetime) -> HomeSection:
        if not teams:
            return HomeSection("To confirm", [], 0, _MORE)
        open_statuses = (HandoffStatus.SUBMITTED, HandoffStatus.DELIVERED)
        stmt = (
            select(Handoff)
            .where(Handoff.status.in_(open_statuses))
            .options(selectinload(Handoff.receipts))
            .order_by(Handoff.submitted_at, Handoff.id)
        )
        waiting: list[tuple[Handoff, list[str]]] = []
        for handoff in session.scalars(stmt):
            pending = [
                t for t in teams if t in handoff.receiving_teams and not _confirmed(handoff, t)
            ]
            if pending:
                waiting.append((handoff, pending))
        shown = waiting[:CAP_CONFIRM]
        dues: dict[tuple[int, str], datetime] = {
            (ob.handoff_id, ob.subject): ob.due_at
            for ob in _open(session, [h.id for h, _ in shown], "confirm")
        }
        items = []
        for handoff, pending in shown:
            due = min(
                (dues[(handoff.id, t)] for t in pending if (handoff.id, t) in dues), default=None
            )
            items.append(confirm_item(handoff, pending, due, now, self._zone(pending[0])))
        return HomeSection("To confirm", items, len(waiting), _MORE)

    def _questions(self, session: Session, user_id: str, now: datetime) -> HomeSection:
        stmt = _open_with_handoff().where(
            Obligation.sla == "answer", Obligation.owner_user_id == user_id
        )
        page = stmt.order_by(Obligation.due_at).limit(CAP_QUESTIONS)
        rows = session.execute(page.options(selectinload(Handoff.messages))).all()
        items = [question_item(h, ob, now, self._zone(ob.team)) for ob, h in rows]
        return HomeSection("Questions waiting for your answer", items, _count(session, stmt), _MORE)

    def _completed(
        self, session: Session, user_id: str, teams: list[str], now: datetime
    ) -> HomeSection:
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
        items = [completed_item(h, self._zone(None)) for h in mine[:CAP_COMPLETED]]
        return HomeSection("Recently completed", items, len(mine), _MORE)

    def _overdue(self, session: Session, teams: list[str], now: datetime) -> HomeSection:
        stmt = _open_with_handoff().where(Obligation.team.in_(teams), Obligation.due_at <= now)
        rows = session.execute(stmt.order_by(Obligation.due_at).limit(CAP_OVERDUE)).all()
        items = []
        for ob, handoff in rows:
            cal = self.book.calendar(ob.team)
            overdue = describe_hours(cal.hours_between(ob.due_at, now), cal.day_hours)
            items.append(overdue_item(handoff, ob, overdue))
        return HomeSection("Overdue in your teams", items, _count(session, stmt), _MORE)


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


def _confirmed(handoff: Handoff, team: str) -> bool:
    receipt = handoff.receipt(team)
    return bool(receipt and receipt.confirmed_at)
