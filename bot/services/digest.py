"""The daily digest: one message per manager, at the start of their working day.

The digest lists the open obligations of the manager's teams that are overdue or fall due within
the first `AT_RISK_HOURS` business hours of the day. The set is taken as of the day's start, so a
worker that comes up late still sends the same digest, once (its outbox key holds the local
date), and a worker that was down for days sends only today's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from bot.config import OrgConfig
from bot.ids import is_user_id
from bot.render.digest import digest_line, digest_message
from bot.render.reminders import Outgoing
from bot.services.calendar import BusinessCalendar, describe_hours
from bot.services.obligations import ESCALATE, ObligationBook
from bot.services.ports import Clock
from storage.models import Handoff, Obligation, OutboxJob
from storage.uow import UnitOfWorkFactory

log = logging.getLogger(__name__)

AT_RISK_HOURS = 4


@dataclass(frozen=True)
class _Recipient:
    user_id: str
    teams: tuple[str, ...]
    note: str | None  # why the admin receives a team's digest


@dataclass
class DigestService:
    """Enqueues each manager's digest once per local working day."""

    uow_factory: UnitOfWorkFactory
    org: OrgConfig
    clock: Clock
    book: ObligationBook = field(init=False)

    def __post_init__(self) -> None:
        self.book = ObligationBook(self.org)

    def send(self, now: datetime | None = None) -> int:
        """Enqueue today's digest for every manager whose working day has begun; returns count."""
        now = now or self.clock()
        sent = 0
        for recipient in self._recipients():
            cal = self.book.calendar(recipient.teams[0])
            if cal.is_working(now) and self._send_one(recipient, cal, now):
                sent += 1
        return sent

    def _recipients(self) -> list[_Recipient]:
        """Managers and their teams; teams without a usable manager go to the admin."""
        teams: dict[str, list[str]] = {}
        orphans: list[str] = []
        for key, team in self.org.teams.items():
            if is_user_id(team.manager):
                teams.setdefault(str(team.manager), []).append(key)
            else:
                orphans.append(key)
        recipients = [_Recipient(user, tuple(keys), None) for user, keys in teams.items()]
        if orphans:
            note = (
                f"You receive this as admin for {', '.join(orphans)}: no manager with a Slack "
                "account is set for them in the organisation file."
            )
            own = teams.get(self.org.admin_user, [])
            recipients = [r for r in recipients if r.user_id != self.org.admin_user]
            recipients.append(_Recipient(self.org.admin_user, (*own, *orphans), note))
        return recipients

    def _send_one(self, recipient: _Recipient, cal: BusinessCalendar, now: datetime) -> bool:
        day = cal.local_date(now)
        key = f"digest:{recipient.user_id}:{day.isoformat()}"
        with self.uow_factory() as uow:
            if uow.session.scalar(select(OutboxJob.id).where(OutboxJob.idempotency_key == key)):
                return False
            horizon = cal.add_hours(cal.window(day)[0], AT_RISK_HOURS)
            rows = uow.session.execute(
                select(Obligation, Handoff)
                .join(Handoff, Handoff.id == Obligation.handoff_id)
                .where(
                    Obligation.closed_at.is_(None),
                    Obligation.team.in_(recipient.teams),
                    Obligation.due_at <= horizon,
                )
                .order_by(Obligation.due_at, Obligation.id)
            ).all()
            if not rows:
                return False  # nothing to say: no message
            message = self._message(recipient, [(ob, h) for ob, h in rows], now)
            uow.repo.enqueue(None, "slack.post", key, message.payload(None))
            uow.commit()
        if recipient.note:
            log.warning("digest_rerouted recipient=%s teams=%s", recipient.user_id, recipient.teams)
        log.info("digest_sent recipient=%s items=%s day=%s", recipient.user_id, len(rows), day)
        return True

    def _message(
        self, recipient: _Recipient, rows: list[tuple[Obligation, Handoff]], now: datetime
    ) -> Outgoing:
        overdue = [self._line(ob, h, now) for ob, h in rows if ob.due_at <= now]
        at_risk = [self._line(ob, h, now) for ob, h in rows if ob.due_at > now]
        return digest_message(
            recipient.user_id,
            [self._team_name(t) for t in recipient.teams],
            overdue,
            at_risk,
            at_risk_hours=AT_RISK_HOURS,
            note=recipient.note,
        )

    def _team_name(self, key: str | None) -> str:
        team = self.org.teams.get(key) if key else None
        return team.name if team else (key or "")

    def _line(self, ob: Obligation, handoff: Handoff, now: datetime) -> str:
        cal = self.book.calendar(ob.team)
        if ob.due_at <= now:
            when = f"overdue by {describe_hours(cal.hours_between(ob.due_at, now), cal.day_hours)}"
            if ob.step >= ESCALATE:
                when += ", escalated"
        else:
            when = f"due in {describe_hours(cal.hours_between(now, ob.due_at), cal.day_hours)}"
        return digest_line(ob, handoff, when, self._team_name(ob.team))
