"""The reminder sweep: chases due obligations up their ladder, once each, in working hours.

A sweep claims due rows (a lease in `claimed_by`/`claimed_until`, taken with a guarded UPDATE and
`SKIP LOCKED` on PostgreSQL), then handles each claimed row in its own transaction: the step
advances and its "slack.post" outbox job is written together, under the key
`remind:<obligation>:<step>`, so two workers or a retried sweep can never send a step twice.
"""

from __future__ import annotations

import logging
import socket
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, and_, or_, select, update
from sqlalchemy.orm import Session

from bot.config import OrgConfig
from bot.ids import is_user_id
from bot.render.mrkdwn import slack_date
from bot.render.reminders import Outgoing, confirm_reminder, escalation, reminder
from bot.services.actions import SLACK_POST, WORKING_HOURS
from bot.services.calendar import describe_hours
from bot.services.home import enqueue_home_refresh
from bot.services.obligations import ESCALATE, REMIND, ObligationBook, reminder_key
from bot.services.permissions import ListedMembers, Permissions
from bot.services.ports import Clock
from storage.models import Handoff, HandoffStatus, Obligation
from storage.repositories import Repository
from storage.uow import UnitOfWorkFactory

log = logging.getLogger(__name__)


@dataclass
class ReminderService:
    """Sends reminders and escalations for due obligations; safe to run in several workers."""

    uow_factory: UnitOfWorkFactory
    org: OrgConfig
    book: ObligationBook
    clock: Clock
    worker_id: str = field(default_factory=lambda: f"{socket.gethostname()}-{uuid.uuid4().hex[:8]}")
    lease: timedelta = timedelta(minutes=5)
    # Who may snooze; without a directory only the organisation file's listed users count.
    permissions: Permissions | None = None

    def sweep(self, limit: int = 100) -> int:
        """Claim up to `limit` due obligations and handle each; returns how many were handled."""
        return sum(1 for ob_id in self.claim(limit) if self.handle(ob_id))

    def claim(self, limit: int = 100) -> list[int]:
        """Lease due, unclaimed obligations to this worker; returns the ids it obtained."""
        now = self.clock()
        claimable = _claimable(now)
        with self.uow_factory() as uow:
            claimed: list[int] = []
            for ob_id in self._candidates(uow.session, now, limit):
                # The WHERE repeats the claimable test, so a row another worker took after our
                # SELECT (where neither SKIP LOCKED nor BEGIN IMMEDIATE serialise us) stays theirs.
                result = uow.session.execute(
                    update(Obligation)
                    .where(Obligation.id == ob_id, claimable)
                    .values(claimed_by=self.worker_id, claimed_until=now + self.lease)
                    .execution_options(synchronize_session=False)
                )
                if cast("CursorResult[Any]", result).rowcount == 1:
                    claimed.append(ob_id)
            uow.commit()
        return claimed

    def _candidates(self, session: Session, now: datetime, limit: int) -> list[int]:
        stmt = (
            select(Obligation.id)
            .where(_claimable(now))
            .order_by(Obligation.next_action_at, Obligation.id)
            .limit(limit)
        )
        if session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        return list(session.scalars(stmt))

    def handle(self, obligation_id: int) -> bool:
        """Advance one claimed obligation; False when it is no longer ours or could not be sent."""
        now = self.clock()
        with self.uow_factory() as uow:
            handoff_id = uow.session.scalar(
                select(Obligation.handoff_id).where(Obligation.id == obligation_id)
            )
            if handoff_id is None:
                return False
            try:
                handled = self._handle(uow.repo, obligation_id, handoff_id, now)
            except Exception:
                # One broken row must not stall the sweep; its lease expires and it is retried.
                log.exception("reminder_failed handoff=%s obligation=%s", handoff_id, obligation_id)
                return False
            uow.commit()
        return handled

    def _handle(self, repo: Repository, obligation_id: int, handoff_id: int, now: datetime) -> bool:
        session = repo.session
        # Lock the handoff (key share) before the obligation: the same order as the handoff
        # service, which locks a handoff and then closes its obligations.
        session.execute(
            select(Handoff.id)
            .where(Handoff.id == handoff_id)
            .with_for_update(read=True, key_share=True)
        )
        ob = session.scalars(
            select(Obligation).where(Obligation.id == obligation_id).with_for_update()
        ).first()
        if ob is None or ob.claimed_by != self.worker_id:
            log.info("reminder_claim_lost handoff=%s obligation=%s", handoff_id, obligation_id)
            return False
        handoff = repo.handoff(handoff_id)
        if handoff is not None and self._still_due(ob, now):
            self._advance(repo, ob, handoff, now)
        ob.claimed_by = ob.claimed_until = None
        return True

    def snooze(self, obligation_id: int, user_id: str) -> str:
        """Put the obligation's next step off by one business day; returns text for the user."""
        now = self.clock()
        with self.uow_factory() as uow:
            ob = uow.session.scalars(
                select(Obligation).where(Obligation.id == obligation_id).with_for_update()
            ).first()
            if ob is None or ob.closed_at is not None:
                return "Nothing to snooze: this is already done."
            if ob.step >= ESCALATE:
                return "This has already gone to the manager, so it can no longer be snoozed."
            permissions = self.permissions or Permissions(self.org, ListedMembers(self.org))
            refusal = permissions.may_snooze(user_id, ob)
            if refusal is not None:
                log.info("snooze_refused obligation=%s user=%s", ob.id, user_id)
                return refusal
            cal = self.book.calendar(ob.team)
            if ob.detail.get("snoozed_by"):
                # One snooze per obligation, so repeated snoozing cannot keep a manager unaware.
                when = slack_date(ob.next_action_at or now, cal.zone)
                return f"This was already snoozed once; the next step is due {when}."
            until = cal.add_days(now, 1)
            ob.snoozed_until = until
            ob.next_action_at = max(ob.next_action_at or until, until)
            ob.detail = {**ob.detail, "snoozed_by": user_id, "snoozed_at": now.isoformat()}
            uow.commit()
            log.info(
                "reminder_snoozed handoff=%s obligation=%s user=%s until=%s",
                ob.handoff_id,
                ob.id,
                user_id,
                until.isoformat(),
            )
            return f"Snoozed. You'll hear about this again {slack_date(until, cal.zone)}."

    def _still_due(self, ob: Obligation, now: datetime) -> bool:
        if ob.closed_at is not None or ob.next_action_at is None or ob.next_action_at > now:
            return False
        return ob.snoozed_until is None or ob.snoozed_until <= now

    def _advance(self, repo: Repository, ob: Obligation, handoff: Handoff, now: datetime) -> None:
        if _work_done(ob, handoff):
            # The service should have closed it; the handoff's state is the truth.
            self.book.close(repo, handoff.id, sla=ob.sla, subject=ob.subject, at=now)
            log.warning("obligation_closed_stale handoff=%s obligation=%s", handoff.id, ob.id)
            return
        if ob.step >= ESCALATE:
            ob.next_action_at = None
            return
        cal = self.book.calendar(ob.team)
        if not cal.is_working(now):
            ob.next_action_at = cal.next_working_instant(now)
            log.info(
                "reminder_deferred handoff=%s obligation=%s until=%s",
                handoff.id,
                ob.id,
                ob.next_action_at.isoformat(),
            )
            return
        escalate_at = self.book.escalate_at(ob)
        # After downtime only the highest step due is sent: no reminder seconds before escalation.
        step = ESCALATE if ob.step >= REMIND or now >= escalate_at else REMIND
        message = (
            self._escalation(ob, handoff, now) if step == ESCALATE else self._reminder(ob, handoff)
        )
        # The sender checks the hours again: a retried or delayed job must not land after them.
        payload = {**message.payload(handoff.id), WORKING_HOURS: {"team": ob.team}}
        repo.enqueue(handoff, SLACK_POST, reminder_key(ob.id, step), payload)
        if is_user_id(message.channel):
            enqueue_home_refresh(repo, [message.channel], now)
        ob.step = step
        ob.next_action_at = None if step == ESCALATE else cal.next_working_instant(escalate_at)
        log.info(
            "reminder_sent handoff=%s obligation=%s sla=%s step=%s recipient=%s",
            handoff.id,
            ob.id,
            ob.sla,
            step,
            message.channel,
        )

    def _reminder(self, ob: Obligation, handoff: Handoff) -> Outgoing:
        due = slack_date(ob.due_at, self.book.calendar(ob.team).zone)
        if ob.sla == "confirm":
            team = self.org.teams[ob.team or ob.subject]
            channel, thread_ts = handoff.channel_id, handoff.thread_ts
            if channel is None or thread_ts is None:
                channel, thread_ts = team.channel or self.org.handoff_channel, None
            mention = (
                f"<!subteam^{team.members.usergroup}>"
                if team.members.usergroup
                else " ".join(f"<@{user}>" for user in team.members.users)
            )
            return confirm_reminder(
                ob,
                handoff,
                channel=channel,
                thread_ts=thread_ts,
                mention=mention,
                due=due,
                team_name=team.name,
            )
        if is_user_id(ob.owner_user_id):
            return reminder(ob, handoff, channel=str(ob.owner_user_id), due=due)
        log.warning(
            "reminder_rerouted handoff=%s obligation=%s reason=no_slack_owner", handoff.id, ob.id
        )
        note = "Sent to you as admin: nobody with a Slack account owns this."
        return reminder(ob, handoff, channel=self.org.admin_user, due=due, note=note)

    def _escalation(self, ob: Obligation, handoff: Handoff, now: datetime) -> Outgoing:
        cal = self.book.calendar(ob.team)
        overdue = describe_hours(cal.hours_between(ob.due_at, now), cal.day_hours)
        due = slack_date(ob.due_at, cal.zone)
        team_key = ob.team or self._sender_team(handoff)
        manager = self.org.teams[team_key].manager if team_key else None
        if is_user_id(manager):
            return escalation(
                ob,
                handoff,
                channel=str(manager),
                overdue=overdue,
                due=due,
                team_name=self._team_name(ob.team),
            )
        reason = "no_manager" if not manager else "manager_not_a_slack_user"
        log.warning(
            "escalation_rerouted handoff=%s obligation=%s team=%s reason=%s",
            handoff.id,
            ob.id,
            team_key,
            reason,
        )
        note = (
            f"Sent to you as admin: team {team_key or '(none)'} has no manager with a Slack "
            "account in the organisation file."
        )
        return escalation(
            ob,
            handoff,
            channel=self.org.admin_user,
            overdue=overdue,
            due=due,
            note=note,
            team_name=self._team_name(ob.team),
        )

    def _team_name(self, key: str | None) -> str | None:
        team = self.org.teams.get(key) if key else None
        return team.name if team else key

    def _sender_team(self, handoff: Handoff) -> str | None:
        route = self.org.routes.get(handoff.kind)
        return route.sender if route else None


def _claimable(now: datetime) -> ColumnElement[bool]:
    """Open, due, not snoozed, and not leased to a live worker."""
    return and_(
        Obligation.closed_at.is_(None),
        Obligation.next_action_at <= now,
        or_(Obligation.snoozed_until.is_(None), Obligation.snoozed_until <= now),
        or_(Obligation.claimed_until.is_(None), Obligation.claimed_until < now),
    )


def _work_done(ob: Obligation, handoff: Handoff) -> bool:
    """True when the handoff's own state shows the obligation is met (or moot)."""
    if handoff.status == HandoffStatus.CANCELLED:
        return True
    if ob.sla == "form":
        return handoff.submitted_at is not None
    if ob.sla == "confirm":
        receipt = handoff.receipt(ob.subject)
        return handoff.status == HandoffStatus.CONFIRMED or bool(receipt and receipt.confirmed_at)
    ts = ob.subject.removeprefix("msg:")
    message = next((m for m in handoff.messages if m.slack_ts == ts), None)
    return bool(message and message.answered_at)
