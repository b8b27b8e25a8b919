"""Delivery complete -> finance, started by the delivery itself (issue 9).

Four sources start an account's delivery -> finance handoff: the ops tool's webhook (Asana project
completed, Jira issue done), the periodic check of the same, the *Delivery complete* button on
the sale's handoff message, and the same button on the App Home. Each ends in `start`, which
makes the handoff exactly once, whichever comes first or however often: the sale's handoff is
locked, (kind, deal) is unique, and the DM and the thread note are outbox jobs with fixed keys
written in the same transaction. So one handoff, one DM.

Vendor events are only cues: `check` reads the project or issue itself before starting.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session, aliased

from bot.config import OrgConfig
from bot.render.delivery import delivery_request, thread_note
from bot.services import actions
from bot.services.handoffs import HandoffError, HandoffService
from bot.services.outbox import Handler, JobContext
from bot.services.permissions import Permissions
from bot.services.ports import Clock
from integrations.delivery_watch import CompletionWatch
from integrations.ports import CreatedRecord
from storage.models import ExternalRecord, Handoff, HandoffKind, HandoffStatus
from storage.repositories import Repository
from storage.uow import UnitOfWorkFactory

log = logging.getLogger(__name__)

SALES = HandoffKind.SALES_TO_DELIVERY
DELIVERY = HandoffKind.DELIVERY_TO_FINANCE
# A sale handed over: its delivery may be marked complete.
IN_DELIVERY = (HandoffStatus.SUBMITTED, HandoffStatus.DELIVERED, HandoffStatus.CONFIRMED)


@dataclass(frozen=True)
class DeliveryStart:
    """The account's delivery -> finance handoff, and whether this call made it."""

    handoff_id: int
    created: bool
    sender_user_id: str | None


def in_delivery() -> Any:
    """Sales handoffs handed over and not yet followed by a delivery -> finance handoff."""
    later = aliased(Handoff)
    followed = exists().where(later.kind == DELIVERY, later.deal_id == Handoff.deal_id)
    return (Handoff.kind == SALES) & Handoff.status.in_(IN_DELIVERY) & ~followed


def watched_records(
    session: Session, teams: Mapping[str, str]
) -> list[tuple[int, str, str, ExternalRecord]]:
    """(origin id, team, vendor, record) of every account in delivery whose ops record exists in
    one of `teams` (team key -> vendor)."""
    if not teams:
        return []
    stmt = (
        select(Handoff.id, ExternalRecord)
        .join(ExternalRecord, ExternalRecord.handoff_id == Handoff.id)
        .where(
            in_delivery(),
            ExternalRecord.target.in_(list(teams)),
            ExternalRecord.status == "done",
            ExternalRecord.external_id.is_not(None),
        )
        .order_by(Handoff.id)
    )
    return [
        (origin_id, record.target, teams[record.target], record)
        for origin_id, record in session.execute(stmt).all()
    ]


def as_created(record: ExternalRecord) -> CreatedRecord:
    """The stored record as the vendor described it when it was made."""
    if record.detail:
        return CreatedRecord.model_validate(record.detail)
    return CreatedRecord(vendor=record.vendor, kind="record", external_id=record.external_id or "")


def check_key(origin_id: int, team: str, cue: str) -> str:
    """Outbox key of one completion read: a redelivered cue (same body, same period) adds none."""
    return f"delivery-check:{origin_id}:{team}:{cue}"


class DeliveryComplete:
    """Starts delivery -> finance handoffs, and reads the ops tools to know when."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        org: OrgConfig,
        clock: Clock,
        handoffs: HandoffService,
        permissions: Permissions,
        watches: Mapping[str, CompletionWatch],
        kick: Callable[[], None] = lambda: None,
    ) -> None:
        self.uow = uow
        self.org = org
        self.clock = clock
        self.handoffs = handoffs
        self.permissions = permissions
        self.watches = watches  # by ops team key
        self.kick = kick

    # --- starting -------------------------------------------------------------------------------

    def start(self, origin_id: int, *, source: str, actor: str | None = None) -> DeliveryStart:
        """The account's delivery is complete: its delivery -> finance handoff, made once.

        `actor` is the person who pressed the button (they get the form); automatic sources
        give it to the account's delivery lead, else whoever confirmed for ops, else the
        team's manager, else the admin.
        """
        # Who may start it and who gets the form may ask Slack for a team's members: decided
        # before the transaction, so no Slack call holds the sale's lock.
        with self.uow() as uow:
            origin = uow.repo.handoff(origin_id)
        self._refuse(origin, actor)
        assert origin is not None and origin.deal_id is not None  # _refuse checked both
        sender = actor or self._owner(origin)
        now = self.clock()
        with self.uow() as uow:
            repo = uow.repo
            # Locked: a webhook, the check and a click at the same moment take turns here.
            locked = repo.handoff(origin_id, for_update=True)
            if locked is None or locked.status not in IN_DELIVERY:
                raise HandoffError("This handoff has not been submitted yet: nothing is delivered.")
            existing = repo.handoff_for_deal(DELIVERY, origin.deal_id)
            if existing is not None:
                return DeliveryStart(existing.id, False, existing.sender_user_id)
            handoff = self.handoffs.open_follow_on(
                repo, DELIVERY, origin=locked, sender=sender, now=now
            )
            if handoff is None:  # another process made it between our read and our insert
                found = repo.handoff_for_deal(DELIVERY, origin.deal_id)
                if found is None:
                    raise HandoffError("Could not start the delivery handoff; please try again.")
                return DeliveryStart(found.id, False, found.sender_user_id)
            self._record_start(repo, locked, handoff, sender, source, actor)
            uow.commit()
        self.kick()
        log.info(
            "delivery_complete origin=%s handoff=%s source=%s sender=%s",
            origin_id,
            handoff.id,
            source,
            sender,
        )
        return DeliveryStart(handoff.id, True, sender)

    def _refuse(self, origin: Handoff | None, actor: str | None) -> None:
        if origin is None or origin.kind != SALES or not origin.deal_id:
            raise HandoffError("That is not a sales handoff, so it has no delivery to complete.")
        if origin.status not in IN_DELIVERY:
            raise HandoffError("This handoff has not been submitted yet: nothing is delivered.")
        if actor is not None:
            refusal = self.permissions.may_start(actor, DELIVERY, None, None)
            if refusal is not None:
                raise HandoffError(refusal)

    def _owner(self, origin: Handoff) -> str:
        """Who fills in the form when no one pressed the button."""
        team = self.org.routes[DELIVERY].sender
        lead = (origin.form_payload or {}).get("delivery_lead")
        if isinstance(lead, str) and self.permissions.teams.is_member(team, lead):
            return lead
        receipt = origin.receipt(team)
        if receipt is not None and receipt.confirmed_by:
            return receipt.confirmed_by
        return self.org.teams[team].manager or self.org.admin_user

    def _record_start(
        self,
        repo: Repository,
        origin: Handoff,
        handoff: Handoff,
        sender: str,
        source: str,
        actor: str | None,
    ) -> None:
        who = actor or source
        repo.audit(handoff, who, "delivery_complete", source=source, origin=origin.id)
        repo.audit(origin, who, "delivery_complete", source=source, follow_on=handoff.id)
        actions.rerender(repo, origin)  # its Delivery complete button has done its job
        account = origin.account_name or origin.deal_name
        text, blocks = delivery_request(handoff.id, account, source, actor)
        repo.enqueue(
            handoff,
            actions.SLACK_POST,
            f"delivery-request:{handoff.id}",  # one DM, whatever started it
            {"channel": sender, "text": text, "blocks": blocks},
        )
        if origin.channel_id and origin.thread_ts:
            repo.enqueue(
                origin,
                actions.SLACK_POST,
                f"delivery-note:{origin.id}",
                {
                    "channel": origin.channel_id,
                    "thread_ts": origin.thread_ts,
                    "text": thread_note(handoff.id, sender, source, actor),
                },
            )

    # --- reading the ops tools ------------------------------------------------------------------

    def enqueue_check(
        self, repo: Repository, origin_id: int, team: str, *, cue: str, via: str
    ) -> bool:
        """Queue one read of the account's project or issue; `via` is 'webhook' or 'check'."""
        origin = repo.session.get(Handoff, origin_id)  # the row only: enqueue needs its id
        job = repo.enqueue(
            origin,
            actions.DELIVERY_CHECK,
            check_key(origin_id, team, cue),
            {"team": team, "via": via},
        )
        return job is not None

    def check(self, ctx: JobContext) -> dict[str, Any]:
        """Outbox handler: read the ops record's state; complete -> start the handoff."""
        team, via = str(ctx.payload["team"]), str(ctx.payload.get("via") or "check")
        watch = self.watches.get(team)
        with self.uow() as uow:
            origin = uow.repo.handoff(ctx.handoff_id or 0)
            followed = (
                origin is not None
                and origin.deal_id is not None
                and (uow.repo.handoff_for_deal(DELIVERY, origin.deal_id) is not None)
            )
        record = origin.record(team) if origin is not None else None
        if watch is None or origin is None or record is None or not record.external_id:
            return {"skipped": "no record to read"}
        if followed or origin.status not in IN_DELIVERY:
            return {"skipped": "already started"}
        if not watch.is_complete(as_created(record)):
            return {"complete": False}
        outcome = self.start(origin.id, source=f"{watch.vendor}_{via}")
        return {"complete": True, "handoff": outcome.handoff_id, "created": outcome.created}

    def sweep(self, now: datetime | None = None) -> int:
        """The periodic check: one read per account in delivery per period (outbox jobs, so
        each vendor's lane and rate limit apply); returns how many were queued."""
        seconds = self.org.delivery.check_seconds
        if not seconds or not self.watches:
            return 0
        moment = now or self.clock()
        period = int(moment.timestamp()) // seconds
        teams = {team: watch.vendor for team, watch in self.watches.items()}
        queued = 0
        with self.uow() as uow:
            for origin_id, team, _vendor, _record in watched_records(uow.session, teams):
                queued += self.enqueue_check(
                    uow.repo, origin_id, team, cue=f"period-{period}", via="check"
                )
            uow.commit()
        if queued:
            self.kick()
        log.info("delivery_check_sweep queued=%s period=%s", queued, period)
        return queued

    def handlers(self) -> dict[str, Handler]:
        return {actions.DELIVERY_CHECK: self.check}
