"""The handoff state machine: every transition is one method that audits and enqueues its effects.

Nothing here talks to Slack or a vendor: effects are outbox jobs written in the same transaction
as the state change, performed later by `bot.services.effects`.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, Protocol

from bot.config import OrgConfig
from bot.render.form_request import form_request
from bot.services import actions, history, renewal_deal
from bot.services.account_record import RenewalTerm
from bot.services.delivery_invoice import needs_record
from bot.services.obligations import ObligationBook
from bot.services.permissions import ListedMembers, Permissions
from bot.services.ports import Clock
from integrations.ports import CreatedRecord, DealSnapshot
from integrations.registry import OPS_VENDORS
from storage import versions_repo
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
    action: str  # "created", "held_again", "left_won", "duplicate", "already_gated", "ignored"


class WonEvent(NamedTuple):
    """A deal seen in the won stage, by the webhook or the sweep.

    `event_id` dedupes redeliveries of one path; `won_at` (when the deal entered the won stage,
    by the CRM's clock) dedupes across paths: a won stage entered before the deal was last gated
    is the one already handled, whichever path reports it.
    """

    deal_id: str
    event_id: str
    won_at: datetime | None = None


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
        permissions: Permissions | None = None,
    ) -> None:
        self.uow = uow
        self.org = org
        # Without a directory only the organisation file's listed users count as members.
        self.permissions = permissions or Permissions(org, ListedMembers(org))
        self.clock = clock
        self.obligations = obligations
        self.home = home
        self.kick = kick

    # --- the gate -------------------------------------------------------------------------------

    def deal_won(self, deal_id: str, *, event_id: str, source: str = "hubspot") -> GateOutcome:
        """A deal reached the won stage: hold it until its handoff is submitted."""
        return self.deals_won([(deal_id, event_id)], source=source)[0]

    def deals_won(
        self, events: Sequence[tuple[str, str] | WonEvent], *, source: str = "hubspot"
    ) -> list[GateOutcome]:
        """Won deals of one webhook batch or sweep page, gated in one transaction."""
        won = [e if isinstance(e, WonEvent) else WonEvent(*e) for e in events]
        with self.uow() as uow:
            outcomes = [self._gate(uow.repo, event, source) for event in won]
            uow.commit()
        for event, outcome in zip(won, outcomes, strict=True):
            log.info(
                "gate source=%s deal=%s event=%s handoff=%s outcome=%s",
                source,
                event.deal_id,
                event.event_id,
                outcome.handoff_id,
                outcome.action,
            )
        if any(o.action in ("created", "held_again") for o in outcomes):
            self.kick()
        return outcomes

    def _gate(self, repo: Repository, event: WonEvent, source: str) -> GateOutcome:
        deal_id, event_id = event.deal_id, event.event_id
        if not repo.first_delivery(source, event_id):
            return GateOutcome(None, "duplicate")
        handoff = repo.handoff_for_deal(SALES, deal_id)
        if handoff is not None and handoff.status != HandoffStatus.AWAITING_FORM:
            return GateOutcome(handoff.id, "left_won")
        if handoff is not None and event.won_at is not None:
            # The same won stage seen by the other path (webhook and sweep), or by the sweep
            # through HubSpot's lagging search index after our hold: already gated. (A handoff
            # started by hand was never gated, so its deal's won stage is held as before.)
            gated_at = repo.last_audit_at(handoff.id, "deal_won", "deal_won_again")
            if gated_at is not None and event.won_at <= gated_at:
                return GateOutcome(handoff.id, "already_gated")
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
        self._fetch_snapshot(repo, handoff)
        repo.enqueue(handoff, actions.NOTIFY_OWNER, f"notify-owner:{handoff.id}")
        history.enqueue_fetch(repo, handoff)
        return GateOutcome(handoff.id, "created")

    def refresh_snapshot(self, handoff_id: int) -> None:
        """Fetch the CRM's facts again in the background (the form opened from an old copy)."""
        hour = self.clock().strftime("%Y%m%d%H")
        with self.uow() as uow:
            handoff = self._get(uow.repo, handoff_id)
            if handoff.deal_id:
                uow.repo.enqueue(
                    handoff,
                    actions.CRM_SNAPSHOT,
                    f"snapshot:{handoff.id}:{hour}",
                    {"deal_id": handoff.deal_id},
                )
                uow.commit()
        self.kick()

    def _fetch_snapshot(self, repo: Repository, handoff: Handoff) -> None:
        """Fetch what the form needs from the CRM now, so the click opens it from the database."""
        if handoff.deal_id:
            repo.enqueue(
                handoff,
                actions.CRM_SNAPSHOT,
                f"snapshot:{handoff.id}",
                {"deal_id": handoff.deal_id},
            )

    def _hold_stage(self, repo: Repository, handoff: Handoff, event_id: str) -> None:
        repo.enqueue(
            handoff,
            actions.MOVE_DEAL_STAGE,
            f"hold:{handoff.id}:{event_id}",
            {"deal_id": handoff.deal_id, "stage": self.org.hubspot.pending_stage, "why": "hold"},
        )

    def start_manual(
        self,
        deal_id: str,
        user_id: str,
        *,
        kind: str = SALES,
        deal: DealSnapshot | None = None,
        owner_user_id: str | None = None,
        term: RenewalTerm | None = None,
    ) -> tuple[int, bool]:
        """Someone starts a handoff by hand; returns (handoff id, created).

        `deal` and `owner_user_id` are what the CRM says about the deal now (the caller looks them
        up off Slack's clock); `term`, for a renewal, the record it continues. The deal's existing
        handoff (of that term) opens for whoever may edit it; one nobody is assigned to, and a
        new one, only for whoever may start it (`Permissions`).
        """
        now = self.clock()
        term_key = term.key if term is not None else ""
        with self.uow() as uow:
            repo = uow.repo
            existing = repo.handoff_for_deal(kind, deal_id, term_key)
            if existing is not None:
                if existing.status != HandoffStatus.AWAITING_FORM:
                    return existing.id, False  # a submitted handoff opens read-only
                if existing.sender_user_id is not None:
                    self._refuse(self.permissions.may_edit(user_id, existing))
                    return existing.id, False
                self._refuse(self.permissions.may_start(user_id, kind, deal, owner_user_id))
                self._assign_sender(repo, existing, user_id, now)
                uow.commit()
                return existing.id, False
            self._refuse(self.permissions.may_start(user_id, kind, deal, owner_user_id))
            handoff = self._new_handoff(kind, deal_id=deal_id, sender=user_id, now=now)
            if term is not None:
                term.apply(handoff)
            elif kind != SALES:  # a later handoff continues the sale's record, when there is one
                sale = repo.handoff_for_deal(SALES, deal_id)
                handoff.parent_id = sale.id if sale is not None else None
            if not repo.insert_if_absent(handoff):
                found = repo.handoff_for_deal(kind, deal_id, term_key)
                if found is None:
                    raise HandoffError("Could not start that handoff; please try again.")
                return found.id, False
            repo.audit(handoff, user_id, "started_manually", deal_id=deal_id)
            self._assign_sender(repo, handoff, user_id, now)
            history.enqueue_fetch(repo, handoff)
            uow.commit()
        self.kick()
        return handoff.id, True

    def open_follow_on(
        self,
        repo: Repository,
        kind: str,
        *,
        origin: Handoff,
        sender: str,
        now: datetime,
    ) -> Handoff | None:
        """A later handoff of `origin`'s account (delivery -> finance), made in the caller's
        transaction with its sender owing the form and `origin` as its parent, so the account
        keeps one record; None when the deal has one of this kind already."""
        assert origin.deal_id is not None
        handoff = self._new_handoff(kind, deal_id=origin.deal_id, sender=sender, now=now)
        handoff.account_name, handoff.deal_name = origin.account_name, origin.deal_name
        handoff.parent_id = origin.id
        if not repo.insert_if_absent(handoff):  # (kind, deal) is unique: one per account
            return None
        self._assign_sender(repo, handoff, sender, now)
        history.enqueue_fetch(repo, handoff)
        return handoff

    def reassign(self, handoff_id: int, by_user_id: str, to_user_id: str) -> Handoff:
        """The admin or the sending team's manager gives a pending handoff to another member:
        the form obligation moves to them and they get the DM with the button."""
        now = self.clock()
        with self.uow() as uow:
            repo = uow.repo
            handoff = self._get(repo, handoff_id, for_update=True)
            self._refuse(self.permissions.may_reassign(by_user_id, handoff, to_user_id))
            previous = handoff.sender_user_id
            if previous != to_user_id:
                self.obligations.close(repo, handoff.id, sla="form", at=now)
                repo.audit(handoff, by_user_id, "reassigned", previous=previous, to=to_user_id)
                self._assign_sender(repo, handoff, to_user_id, now)
                text, blocks = form_request(handoff.id, handoff.deal_name or handoff.account_name)
                repo.enqueue(
                    handoff,
                    actions.SLACK_POST,
                    f"form-request:{handoff.id}:{to_user_id}:{uuid.uuid4()}",
                    {"channel": to_user_id, "text": text, "blocks": blocks},
                )
                self._refresh_home(repo, [previous or ""], now)
                uow.commit()
        self.kick()
        log.info("handoff_reassigned handoff=%s to=%s", handoff_id, to_user_id)
        return handoff

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
                again=True,  # handed back to someone who had it before: chased again
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

    def may_edit(self, handoff: Handoff, user_id: str) -> str | None:
        """None when the person may open, save and submit the form, else why not."""
        return self.permissions.may_edit(user_id, handoff)

    def save_draft(self, handoff_id: int, user_id: str, values: dict[str, Any]) -> None:
        """Keep what was typed so far; reopening the form restores it."""
        with self.uow() as uow:
            handoff = self._get(uow.repo, handoff_id)
            if handoff.status != HandoffStatus.AWAITING_FORM:
                return  # submitted already: the submission is the record, not a stale draft
            self._refuse(self.permissions.may_edit(user_id, handoff))
            handoff.draft_payload = values
            uow.repo.audit(handoff, user_id, "draft_saved", fields=len(values))
            self._refresh_home(uow.repo, [user_id], self.clock())
            uow.commit()
        log.info("draft_saved handoff=%s fields=%s", handoff_id, len(values))

    def set_deal_facts(
        self,
        handoff_id: int,
        *,
        account_name: str,
        deal_name: str,
        snapshot: dict[str, Any] | None = None,
    ) -> None:
        """What the CRM says about the deal; the snapshot is what the form opens with."""
        with self.uow() as uow:
            handoff = self._get(uow.repo, handoff_id)
            handoff.account_name = account_name[:255]
            handoff.deal_name = deal_name[:255]
            if snapshot is not None:
                handoff.crm_snapshot = snapshot
                handoff.crm_snapshot_at = self.clock()
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
            self._refuse(self.permissions.may_edit(user_id, handoff))
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
        repo.enqueue(handoff, actions.POST_HANDOFF_MESSAGE, actions.post_key(hid))
        if handoff.deal_id and handoff.kind == SALES:
            repo.enqueue(
                handoff,
                actions.MOVE_DEAL_STAGE,
                f"release:{hid}",
                {"deal_id": handoff.deal_id, "stage": self.org.hubspot.won_stage, "why": "release"},
            )
        for team in handoff.receiving_teams:
            tool = self.org.teams[team].tool
            if tool is None or not needs_record(handoff, tool.vendor):
                continue
            # One external record per receiving team with a tool; its target is the team key.
            handoff.external_records.append(ExternalRecord(target=team, vendor=tool.vendor))
            # After the handoff message (the record links its Slack thread) and, for an ops
            # record, after the deal history is read (the record cites it).
            waits = [actions.post_key(hid)]
            if tool.vendor in OPS_VENDORS:
                waits.append(history.fetch_key(hid))
            repo.enqueue(
                handoff,
                actions.CREATE_RECORD,
                actions.record_key(hid, team),
                {"team": team},
                after=waits,
            )
        if handoff.kind == HandoffKind.RENEWAL_TO_SALES and handoff.deal_id:
            renewal_deal.enqueue(repo, handoff, self.org.crm)  # sales gets it in the CRM
        self._note_when_settled(repo, handoff)

    def _note_when_settled(self, repo: Repository, handoff: Handoff) -> None:
        """Once no team record is pending, write the summary and links onto the CRM deal.

        One job per distinct set of record statuses (the key says which), so each change is
        noted once and a redelivered one not again; each job waits for the one before, and
        reads the records when it runs, so an older state never overwrites a newer one.
        """
        records = [r for r in handoff.external_records if r.target != "crm_note"]
        if not handoff.deal_id or any(r.status == "pending" for r in records):
            return
        if handoff.backfilled:
            return  # a historic deal's CRM record is left as history wrote it
        state = ",".join(sorted(f"{r.target}={r.status}" for r in records))
        digest = hashlib.sha256(state.encode()).hexdigest()[:12]
        previous = repo.last_job_key(handoff.id, actions.CRM_NOTE)
        repo.enqueue(
            handoff,
            actions.CRM_NOTE,
            f"crm-note:{handoff.id}:{digest}",
            {"deal_id": handoff.deal_id, "state": state},
            after=[previous] if previous else [],
        )

    # --- receipts -------------------------------------------------------------------------------

    def confirm(self, handoff_id: int, team: str, user_id: str) -> ConfirmOutcome:
        """A receiving team's member confirms for the team (refused to anyone else)."""
        self._refuse(self.permissions.may_confirm(user_id, team))
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
                # Once per version: an amendment that every team confirms again is announced too.
                version = versions_repo.current_number(uow.session, handoff.id)
                repo.enqueue(
                    handoff,
                    actions.ANNOUNCE_COMPLETE,
                    f"complete:{handoff.id}" + (f":v{version}" if version > 1 else ""),
                    {"version": version},
                    after=actions.post_key(handoff.id),
                )
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

    def receive_thread_message(
        self, channel_id: str, thread_ts: str, ts: str, user_id: str, text: str
    ) -> None:
        """Store a reply posted in the handoff channel, in one small write, before Slack is
        answered; `record_thread_message` files it (question or answer) from the outbox."""
        with self.uow() as uow:
            uow.repo.enqueue(
                None,
                actions.THREAD_RECORD,
                f"thread:{channel_id}:{ts}",  # a redelivered event finds this and adds nothing
                {
                    "channel": channel_id,
                    "thread_ts": thread_ts,
                    "ts": ts,
                    "user": user_id,
                    "text": text,
                    "received_at": self.clock().isoformat(),
                },
            )
            uow.commit()
        self.kick()

    def record_thread_message(
        self,
        channel_id: str,
        thread_ts: str,
        ts: str,
        user_id: str,
        text: str,
        *,
        receivers: Sequence[str],
        received_at: datetime | None = None,
    ) -> bool:
        """Record a reply in a handoff thread; `receivers` are the teams the author belongs to,
        `received_at` when Slack delivered it (its SLA clock starts then, not when filed)."""
        now = received_at or self.clock()
        with self.uow() as uow:
            repo = uow.repo
            handoff = repo.handoff_for_thread(channel_id, thread_ts)
            if handoff is None:
                # Slack may deliver a reply between posting a handoff message and our storing
                # its ts: keep the reply, and record it again once those posts have finished.
                posting = repo.active_job_keys(actions.POST_HANDOFF_MESSAGE)
                if not posting:
                    return False  # a thread that is no handoff's
                repo.enqueue(
                    None,
                    actions.THREAD_RECORD,
                    f"replay:{channel_id}:{ts}",
                    {
                        "channel": channel_id,
                        "thread_ts": thread_ts,
                        "ts": ts,
                        "user": user_id,
                        "text": text,
                        "received_at": now.isoformat(),
                    },
                    after=posting,
                )
                uow.commit()
                self.kick()
                log.info("thread_message_deferred thread=%s ts=%s", thread_ts, ts)
                return True
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
                    after=actions.post_key(handoff.id),
                )
            elif is_sender:
                self._answer_open_questions(repo, handoff, ts, now)
            for target in self._mirror_targets(handoff):
                # After the record's creation: the comment goes onto it.
                repo.enqueue(
                    handoff,
                    actions.MIRROR_COMMENT,
                    f"mirror:{handoff.id}:{target}:{ts}",
                    {"ts": ts, "target": target},
                    after=actions.record_key(handoff.id, target),
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
        self._refuse(self.permissions.may_retry(user_id, target))
        with self.uow() as uow:
            repo = uow.repo
            handoff = self._get(repo, handoff_id, for_update=True)  # two clicks: one retry
            record = handoff.record(target)
            if record is None or record.status != "failed":
                return  # pending jobs are still trying; done records need nothing
            record.status = "pending"
            record.last_error = None
            record.retry_at = None
            repo.enqueue(
                handoff,
                actions.CREATE_RECORD,
                f"{actions.record_key(handoff.id, target)}:{uuid.uuid4()}",
                {"team": target, "look_first": True},
            )
            actions.rerender(repo, handoff)
            repo.audit(handoff, user_id, "retry_requested", target=target)
            uow.commit()
        self.kick()

    # --- external records -----------------------------------------------------------------------

    def record_created(self, handoff_id: int, target: str, created: CreatedRecord) -> None:
        """A team's record (or the CRM note) exists: the handoff is delivered once all do."""
        with self.uow() as uow:
            repo = uow.repo
            # Locked: two workers finishing the ops and finance records at once must not both
            # miss the other's record and leave the handoff short of `delivered`.
            handoff = self._get(repo, handoff_id, for_update=True)
            record = handoff.record(target)
            if record is None:
                record = ExternalRecord(target=target, vendor=created.vendor)
                handoff.external_records.append(record)
            record.status = "done"
            record.external_id = created.external_id
            record.url = created.url
            record.last_error = None
            record.retry_at = None
            record.detail = created.model_dump(mode="json")
            repo.audit(
                handoff,
                "system",
                "record_created",
                target=target,
                vendor=created.vendor,
                external_id=created.external_id,
            )
            teams = [r for r in handoff.external_records if r.target != "crm_note"]
            if handoff.status == HandoffStatus.SUBMITTED and all(r.status == "done" for r in teams):
                handoff.status = HandoffStatus.DELIVERED
                repo.audit(handoff, "system", "delivered")
            if target != "crm_note":
                self._mirror_missed(repo, handoff, target)
                self._note_when_settled(repo, handoff)
            actions.rerender(repo, handoff)
            uow.commit()
        self.kick()
        log.info(
            "record_created handoff=%s target=%s vendor=%s id=%s",
            handoff_id,
            target,
            created.vendor,
            created.external_id,
        )

    def _mirror_missed(self, repo: Repository, handoff: Handoff, target: str) -> None:
        """Thread messages that came while the record was failing go onto it now."""
        for message in handoff.messages:
            if target not in message.mirrored:
                repo.enqueue(
                    handoff,
                    actions.MIRROR_COMMENT,
                    f"mirror:{handoff.id}:{target}:{message.slack_ts}:late",
                    {"ts": message.slack_ts, "target": target},
                )

    def record_failed(self, handoff_id: int, target: str, error: str) -> Handoff | None:
        """The vendor refused, or a day of retries ran out: show it with a Retry button."""
        with self.uow() as uow:
            repo = uow.repo
            handoff = repo.handoff(handoff_id, for_update=True)
            record = handoff.record(target) if handoff else None
            if handoff is None or record is None or record.status == "done":
                return None
            record.status = "failed"
            record.last_error = error
            record.retry_at = None
            repo.audit(handoff, "system", "record_failed", target=target, error=error)
            self._note_when_settled(repo, handoff)
            actions.rerender(repo, handoff)
            uow.commit()
        self.kick()
        log.warning("record_failed handoff=%s target=%s", handoff_id, target)
        return handoff

    def record_retrying(self, handoff_id: int, target: str, error: str, at: datetime) -> None:
        """A retryable failure: the message says so, and when the next attempt is."""
        with self.uow() as uow:
            repo = uow.repo
            handoff = repo.handoff(handoff_id, for_update=True)
            record = handoff.record(target) if handoff else None
            if handoff is None or record is None or record.status != "pending":
                return
            record.last_error = error
            record.retry_at = at
            actions.rerender(repo, handoff)
            uow.commit()
        self.kick()

    # --- helpers --------------------------------------------------------------------------------

    @staticmethod
    def _refuse(refusal: str | None) -> None:
        if refusal is not None:
            raise HandoffError(refusal)

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
