"""The handoff state machine: every transition is one method that audits and enqueues its effects.

Nothing here talks to Slack or a vendor: effects are outbox jobs written in the same transaction
as the state change, performed later by `bot.services.effects`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from bot.config import OrgConfig
from bot.services import actions, history
from bot.services.obligations import ObligationBook
from bot.services.ports import Clock
from storage.models import (
    ExternalRecord,
    Handoff,
    HandoffKind,
    HandoffStatus,
    Receipt,
    ThreadMessage,
)
from storage.repositories import Repository
from storage.uow import UnitOfWorkFactory

log = logging.getLogger(__name__)


class HomeRefresher(Protocol):
    """The App Home re-render the service asks for after a change (bot.services.home)."""

    def refresh(self, repo: Repository, user_ids: Sequence[str], now: datetime) -> None: ...


class HandoffError(Exception):
    """A request the person can fix or should know about; the message is for them."""


@dataclass(frozen=True)
class GateOutcome:
    handoff_id: int | None
    action: str  # "created", "held_again", "left_won", "duplicate", "ignored"


@dataclass(frozen=True)
class ConfirmOutcome:
    handoff_id: int
    team: str
    newly_confirmed: bool
    complete: bool
    confirmed_by: str | None
    confirmed_at: datetime | None


SALES = HandoffKind.SALES_TO_DELIVERY


class HandoffService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        org: OrgConfig,
        clock: Clock,
        obligations: ObligationBook,
        home: HomeRefresher | None = None,
        kick: Callable[[], None] = lambda: None,
    ) -> None:
        self.uow = uow
        self.org = org
        self.clock = clock
        self.obligations = obligations
        self.home = home
        self.kick = kick

    # --- the gate -------------------------------------------------------------------------------

    def deal_won(self, deal_id: str, *, event_id: str, source: str = "hubspot") -> GateOutcome:
        """A deal reached the won stage: hold it until its handoff is submitted."""
        return self.deals_won([(deal_id, event_id)], source=source)[0]

    def deals_won(
        self, events: Sequence[tuple[str, str]], *, source: str = "hubspot"
    ) -> list[GateOutcome]:
        """(deal id, event id) pairs of one webhook batch, gated in one transaction."""
        with self.uow() as uow:
            outcomes = [self._gate(uow.repo, deal, event, source) for deal, event in events]
            uow.commit()
        for (deal_id, event_id), outcome in zip(events, outcomes, strict=True):
            log.info(
                "gate deal=%s event=%s handoff=%s outcome=%s",
                deal_id,
                event_id,
                outcome.handoff_id,
                outcome.action,
            )
        if any(o.action in ("created", "held_again") for o in outcomes):
            self.kick()
        return outcomes

    def _gate(self, repo: Repository, deal_id: str, event_id: str, source: str) -> GateOutcome:
        if not repo.first_delivery(source, event_id):
            return GateOutcome(None, "duplicate")
        handoff = repo.handoff_for_deal(SALES, deal_id)
        if handoff is not None and handoff.status != HandoffStatus.AWAITING_FORM:
            return GateOutcome(handoff.id, "left_won")
        if handoff is not None:
            # Someone moved the deal back to won before the form was in: hold it again.
            repo.audit(handoff, source, "deal_won_again", event_id=event_id)
            self._hold_stage(repo, handoff, event_id)
            return GateOutcome(handoff.id, "held_again")
        handoff = self._new_handoff(SALES, deal_id=deal_id, sender=None, now=self.clock())
        if not repo.insert_if_absent(handoff):  # a concurrent delivery created it first
            return GateOutcome(None, "duplicate")
        repo.audit(handoff, source, "deal_won", deal_id=deal_id, event_id=event_id)
        self._hold_stage(repo, handoff, event_id)
        repo.enqueue(handoff, actions.NOTIFY_OWNER, f"notify-owner:{handoff.id}")
        history.enqueue_fetch(repo, handoff)
        return GateOutcome(handoff.id, "created")

    def _hold_stage(self, repo: Repository, handoff: Handoff, event_id: str) -> None:
        repo.enqueue(
            handoff,
            actions.MOVE_DEAL_STAGE,
            f"hold:{handoff.id}:{event_id}",
            {"deal_id": handoff.deal_id, "stage": self.org.hubspot.pending_stage, "why": "hold"},
        )

    def start_manual(self, deal_id: str, user_id: str, *, kind: str = SALES) -> tuple[int, bool]:
        """A salesperson starts a handoff by hand; returns (handoff id, created)."""
        now = self.clock()
        with self.uow() as uow:
            repo = uow.repo
            existing = repo.handoff_for_deal(kind, deal_id)
            if existing is not None:
                if existing.sender_user_id is None:
                    self._assign_sender(repo, existing, user_id, now)
                    uow.commit()
                return existing.id, False
            handoff = self._new_handoff(kind, deal_id=deal_id, sender=user_id, now=now)
            if not repo.insert_if_absent(handoff):
                found = repo.handoff_for_deal(kind, deal_id)
                if found is None:
                    raise HandoffError("Could not start that handoff; please try again.")
                return found.id, False
            repo.audit(handoff, user_id, "started_manually", deal_id=deal_id)
            self._assign_sender(repo, handoff, user_id, now)
            history.enqueue_fetch(repo, handoff)
            uow.commit()
        self.kick()  # the history read starts now, not at the worker's next poll
        return handoff.id, True

    def assign_sender(self, handoff_id: int, user_id: str) -> None:
        """The CRM owner was matched to a Slack user: they now owe the form."""
        with self.uow() as uow:
            handoff = self._get(uow.repo, handoff_id)
            if handoff.sender_user_id != user_id:
                self._assign_sender(uow.repo, handoff, user_id, self.clock())
                uow.commit()

    def _assign_sender(
        self, repo: Repository, handoff: Handoff, user_id: str, now: datetime
    ) -> None:
        handoff.sender_user_id = user_id
        repo.audit(handoff, "system", "sender_assigned", user=user_id)
        if handoff.status == HandoffStatus.AWAITING_FORM:
            team = self.org.routes[handoff.kind].sender
            self.obligations.open(
                repo,
                handoff,
                sla="form",
                subject=user_id,
                owner_user_id=user_id,
                team=team,
                started_at=handoff.won_at,
            )
        self._refresh_home(repo, [user_id], now)

    def _new_handoff(
        self, kind: str, *, deal_id: str | None, sender: str | None, now: datetime
    ) -> Handoff:
        return Handoff(
            kind=kind,
            status=HandoffStatus.AWAITING_FORM,
            deal_id=deal_id,
            sender_user_id=sender,
            receiving_teams=list(self.org.routes[kind].receivers),
            won_at=now,
            created_at=now,
        )

    # --- the form -------------------------------------------------------------------------------

    def can_edit(self, handoff: Handoff, user_id: str, is_sender_team: bool) -> bool:
        return handoff.sender_user_id == user_id or (
            handoff.sender_user_id is None and is_sender_team
        )

    def save_draft(self, handoff_id: int, user_id: str, values: dict[str, Any]) -> None:
        """Keep what was typed so far; reopening the form restores it."""
        with self.uow() as uow:
            handoff = self._get(uow.repo, handoff_id)
            if handoff.status != HandoffStatus.AWAITING_FORM:
                return  # submitted already: the submission is the record, not a stale draft
            handoff.draft_payload = values
            uow.repo.audit(handoff, user_id, "draft_saved", fields=len(values))
            self._refresh_home(uow.repo, [user_id], self.clock())
            uow.commit()
        log.info("draft_saved handoff=%s fields=%s", handoff_id, len(values))

    def set_deal_facts(self, handoff_id: int, *, account_name: str, deal_name: str) -> None:
        with self.uow() as uow:
            handoff = self._get(uow.repo, handoff_id)
            handoff.account_name = account_name[:255]
            handoff.deal_name = deal_name[:255]
            uow.commit()

    def submit(
        self,
        handoff_id: int,
        user_id: str,
        payload: dict[str, Any],
        *,
        schema_version: int,
        account_name: str,
    ) -> Handoff:
        """Store the validated form and fan the handoff out to its receivers."""
        now = self.clock()
        with self.uow() as uow:
            repo = uow.repo
            handoff = self._get(repo, handoff_id, for_update=True)
            if handoff.status != HandoffStatus.AWAITING_FORM:
                raise HandoffError("This handoff was already submitted; nothing was changed.")
            handoff.form_payload = payload
            handoff.schema_version = schema_version
            handoff.account_name = account_name[:255] or handoff.account_name
            handoff.status = HandoffStatus.SUBMITTED
            handoff.submitted_at = now
            handoff.sender_user_id = handoff.sender_user_id or user_id
            handoff.draft_payload = None
            repo.audit(handoff, user_id, "submitted", schema_version=schema_version)
            self.obligations.close(repo, handoff.id, sla="form", at=now)
            for team in handoff.receiving_teams:
                handoff.receipts.append(Receipt(team=team))
                self.obligations.open(
                    repo,
                    handoff,
                    sla="confirm",
                    subject=team,
                    owner_user_id=None,
                    team=team,
                    started_at=now,
                )
            self._enqueue_delivery(repo, handoff)
            self._refresh_home(repo, [user_id], now)
            uow.commit()
        self.kick()
        log.info("handoff_submitted handoff=%s deal=%s", handoff.id, handoff.deal_id)
        return handoff

    def _enqueue_delivery(self, repo: Repository, handoff: Handoff) -> None:
        hid = handoff.id
        repo.enqueue(handoff, actions.POST_HANDOFF_MESSAGE, f"post:{hid}")
        if handoff.deal_id and handoff.kind == SALES:
            repo.enqueue(
                handoff,
                actions.MOVE_DEAL_STAGE,
                f"release:{hid}",
                {"deal_id": handoff.deal_id, "stage": self.org.hubspot.won_stage, "why": "release"},
            )
        for team in handoff.receiving_teams:
            tool = self.org.teams[team].tool
            if tool is None:
                continue
            # One external record per receiving team with a tool; its target is the team key.
            handoff.external_records.append(ExternalRecord(target=team, vendor=tool.vendor))
            repo.enqueue(handoff, actions.CREATE_RECORD, f"record:{hid}:{team}", {"team": team})
        if handoff.deal_id:
            repo.enqueue(handoff, actions.CRM_NOTE, f"crm-note:{hid}", {"deal_id": handoff.deal_id})

    # --- receipts -------------------------------------------------------------------------------

    def confirm(self, handoff_id: int, team: str, user_id: str) -> ConfirmOutcome:
        """A receiving team's member confirms; membership is checked by the caller."""
        now = self.clock()
        with self.uow() as uow:
            repo = uow.repo
            handoff = self._get(repo, handoff_id, for_update=True)
            receipt = handoff.receipt(team)
            if receipt is None:
                raise HandoffError(f"This handoff does not wait for {team}.")
            newly = receipt.confirmed_at is None
            if newly:
                receipt.confirmed_by = user_id
                receipt.confirmed_at = now
                repo.audit(handoff, user_id, "confirmed", team=team)
                self.obligations.close(repo, handoff.id, sla="confirm", subject=team, at=now)
                actions.rerender(repo, handoff)
            complete = all(r.confirmed_at for r in handoff.receipts)
            if newly and complete:
                handoff.status = HandoffStatus.CONFIRMED
                handoff.completed_at = now
                repo.audit(handoff, "system", "completed")
                repo.enqueue(handoff, actions.ANNOUNCE_COMPLETE, f"complete:{handoff.id}")
            self._refresh_home(repo, [user_id, handoff.sender_user_id or ""], now)
            uow.commit()
            outcome = ConfirmOutcome(
                handoff.id, team, newly, complete, receipt.confirmed_by, receipt.confirmed_at
            )
        self.kick()
        log.info(
            "handoff_confirm handoff=%s team=%s new=%s complete=%s",
            handoff_id,
            team,
            newly,
            complete,
        )
        return outcome

    # --- the thread -----------------------------------------------------------------------------

    def record_thread_message(
        self,
        channel_id: str,
        thread_ts: str,
        ts: str,
        user_id: str,
        text: str,
        *,
        receivers: Sequence[str],
    ) -> bool:
        """Record a reply in a handoff thread; `receivers` are the teams the author belongs to."""
        now = self.clock()
        with self.uow() as uow:
            repo = uow.repo
            handoff = repo.handoff_for_thread(channel_id, thread_ts)
            if handoff is None:
                return False
            is_sender = user_id == handoff.sender_user_id
            asking_teams = [t for t in receivers if t in handoff.receiving_teams]
            message = ThreadMessage(
                slack_ts=ts,
                user_id=user_id,
                text=text,
                posted_at=now,
                is_question=bool(asking_teams) and not is_sender,
            )
            message.handoff_id = handoff.id
            if not repo.insert_if_absent(message):
                return False  # Slack redelivered the event
            repo.audit(
                handoff, user_id, "question" if message.is_question else "thread_reply", ts=ts
            )
            if message.is_question:
                self.obligations.open(
                    repo,
                    handoff,
                    sla="answer",
                    subject=f"msg:{ts}",
                    owner_user_id=handoff.sender_user_id,
                    team=self.org.routes[handoff.kind].sender,
                    started_at=now,
                    detail={
                        "asked_by": user_id,
                        "team": asking_teams[0],
                        "text_preview": text[:80],
                    },
                )
                repo.enqueue(
                    handoff,
                    actions.MENTION_SENDER,
                    f"mention:{handoff.id}:{ts}",
                    {"ts": ts, "asked_by": user_id},
                )
            elif is_sender:
                self._answer_open_questions(repo, handoff, ts, now)
            for target in self._mirror_targets(handoff):
                repo.enqueue(
                    handoff,
                    actions.MIRROR_COMMENT,
                    f"mirror:{handoff.id}:{target}:{ts}",
                    {"ts": ts, "target": target},
                )
            actions.rerender(repo, handoff)
            self._refresh_home(repo, [handoff.sender_user_id or ""], now)
            uow.commit()
        self.kick()
        log.info("thread_message handoff=%s ts=%s question=%s", handoff.id, ts, message.is_question)
        return True

    def _answer_open_questions(
        self, repo: Repository, handoff: Handoff, ts: str, now: datetime
    ) -> None:
        for question in handoff.messages:
            if question.is_question and question.answered_at is None:
                question.answered_at = now
                question.answered_by_ts = ts
                self.obligations.close(
                    repo, handoff.id, sla="answer", subject=f"msg:{question.slack_ts}", at=now
                )

    def _mirror_targets(self, handoff: Handoff) -> list[str]:
        return [r.target for r in handoff.external_records if r.target != "crm_note"]

    # --- retries of failed effects --------------------------------------------------------------

    def retry_effect(self, handoff_id: int, target: str, user_id: str) -> None:
        """Re-queue a parked record creation; the adapter looks for the record before creating."""
        with self.uow() as uow:
            repo = uow.repo
            handoff = self._get(repo, handoff_id)
            record = handoff.record(target)
            if record is None or record.status != "failed":
                return  # pending jobs are still trying; done records need nothing
            record.status = "pending"
            record.last_error = None
            repo.enqueue(
                handoff,
                actions.CREATE_RECORD,
                f"record:{handoff.id}:{target}:{uuid.uuid4()}",
                {"team": target, "look_first": True},
            )
            actions.rerender(repo, handoff)
            repo.audit(handoff, user_id, "retry_requested", target=target)
            uow.commit()
        self.kick()

    # --- helpers --------------------------------------------------------------------------------

    def _get(self, repo: Repository, handoff_id: int, *, for_update: bool = False) -> Handoff:
        handoff = repo.handoff(handoff_id, for_update=for_update)
        if handoff is None:
            raise HandoffError(f"There is no handoff #{handoff_id}.")
        return handoff

    def _refresh_home(self, repo: Repository, user_ids: Sequence[str], now: datetime) -> None:
        if self.home is not None:
            self.home.refresh(repo, [u for u in user_ids if u], now)

    def get(self, handoff_id: int) -> Handoff:
        with self.uow() as uow:
            return self._get(uow.repo, handoff_id)
