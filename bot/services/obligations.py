"""The ledger of what a person or team owes on a handoff, and when each step of chasing is due.

An obligation's `due_at` is its SLA deadline: `remind_after_hours` business hours after it
started. The reminder goes out when it falls due; the escalation when it has been overdue until
`escalate_after_hours`. Both are counted in the owning team's business calendar.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, select, update

from bot.config import Ladder, OrgConfig
from bot.services.calendar import BusinessCalendar, team_calendar
from storage.models import Handoff, Obligation, OutboxJob, OutboxStatus
from storage.repositories import Repository

log = logging.getLogger(__name__)

SLAS = ("form", "confirm", "answer")
REMIND, ESCALATE = 1, 2  # ladder steps; an obligation's `step` is the last one sent


def reminder_key(obligation_id: int, step: int) -> str:
    """Outbox idempotency key of the message for one ladder step of one obligation."""
    return f"remind:{obligation_id}:{step}"


class ObligationBook:
    """Opens and closes obligations, computing their times in the owning team's calendar."""

    def __init__(self, org: OrgConfig) -> None:
        self.org = org
        self._calendars: dict[str | None, BusinessCalendar] = {}

    def calendar(self, team: str | None) -> BusinessCalendar:
        """The business calendar of `team` (the default working week when None)."""
        if team not in self._calendars:
            self._calendars[team] = team_calendar(self.org, team)
        return self._calendars[team]

    def ladder(self, sla: str) -> Ladder:
        """The reminder/escalation ladder configured for `sla`."""
        if sla not in SLAS:
            raise ValueError(f"unknown sla {sla!r}; expected one of {', '.join(SLAS)}")
        ladder: Ladder = getattr(self.org.slas, sla)
        return ladder

    def due_at(self, sla: str, team: str | None, started_at: datetime) -> datetime:
        """The SLA deadline: when the reminder is due."""
        return self.calendar(team).add_hours(started_at, self.ladder(sla).remind_after_hours)

    def escalate_at(self, ob: Obligation) -> datetime:
        """When the escalation to the manager is due."""
        ladder = self.ladder(ob.sla)
        return self.calendar(ob.team).add_hours(ob.started_at, ladder.escalate_after_hours)

    def open(
        self,
        repo: Repository,
        handoff: Handoff,
        *,
        sla: str,
        subject: str,
        owner_user_id: str | None,
        team: str | None,
        started_at: datetime,
        detail: dict[str, Any] | None = None,
        again: bool = False,
    ) -> None:
        """Start tracking an obligation; does nothing if (handoff, sla, subject) is open already,
        nor, unless `again`, if it was met before. With `again` (a form handed back to someone
        who had it, a confirmation asked for again) the met one is kept under another subject, so
        the new one is a fresh row whose reminders are sent again (their keys are its own)."""
        if team is not None and team not in self.org.teams:
            raise ValueError(f"unknown team {team!r}")
        due = self.due_at(sla, team, started_at)
        if handoff.id is None:
            repo.session.flush()  # the obligation needs the new handoff's id
        existing = repo.session.scalars(
            select(Obligation).where(
                Obligation.handoff_id == handoff.id,
                Obligation.sla == sla,
                Obligation.subject == subject,
            )
        ).first()
        if existing is not None:
            if existing.closed_at is None or not again:
                return
            existing.subject = f"{subject}@{existing.id}"[:64]
            repo.session.flush()
        ob = Obligation(
            handoff_id=handoff.id,
            sla=sla,
            subject=subject,
            owner_user_id=owner_user_id,
            team=team,
            started_at=started_at,
            due_at=due,
            # A deadline at a window's end is chased when the next window opens.
            next_action_at=self.calendar(team).next_working_instant(due),
            step=0,
            detail=dict(detail or {}),
        )
        if repo.insert_if_absent(ob):
            log.info(
                "obligation_opened handoff=%s obligation=%s sla=%s team=%s due_at=%s",
                handoff.id,
                ob.id,
                sla,
                team,
                due.isoformat(),
            )

    def close(
        self,
        repo: Repository,
        handoff_id: int,
        *,
        sla: str,
        subject: str | None = None,
        at: datetime,
    ) -> None:
        """Close matching open obligations and cancel their reminders not yet sent."""
        stmt = select(Obligation).where(
            Obligation.handoff_id == handoff_id,
            Obligation.sla == sla,
            Obligation.closed_at.is_(None),
        )
        if subject is not None:
            stmt = stmt.where(Obligation.subject == subject)
        # The lock waits for a sweep that is handling the row, so we see its step and job.
        obligations = repo.session.scalars(stmt.with_for_update()).all()
        if not obligations:
            return
        for ob in obligations:
            ob.closed_at = at
            ob.next_action_at = None
            ob.claimed_by = ob.claimed_until = None
        repo.session.flush()
        keys = [reminder_key(ob.id, step) for ob in obligations for step in (REMIND, ESCALATE)]
        result = repo.session.execute(
            update(OutboxJob)
            .where(OutboxJob.idempotency_key.in_(keys), OutboxJob.status == OutboxStatus.PENDING)
            .values(status=OutboxStatus.DONE, finished_at=at, result={"cancelled": "work done"})
            .execution_options(synchronize_session=False)
        )
        cancelled = cast("CursorResult[Any]", result).rowcount
        for ob in obligations:
            log.info(
                "obligation_closed handoff=%s obligation=%s sla=%s step=%s",
                handoff_id,
                ob.id,
                sla,
                ob.step,
            )
        if cancelled:
            log.info("reminders_cancelled handoff=%s count=%s", handoff_id, cancelled)
