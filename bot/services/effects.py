"""Outbox handlers: each performs one external effect of a handoff, safely repeatable.

A handler reads what it needs in a short transaction, calls Slack or a vendor outside any
transaction, then records the outcome in another. Handlers raise VendorError / SlackApiError /
RetryLater and let the outbox worker decide between retrying and parking the job.
"""

from __future__ import annotations

import html
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.config import OrgConfig
from bot.ids import Action
from bot.render.handoff_message import render
from bot.services import actions
from bot.services.briefs import build_brief, marker_for, thread_comment
from bot.services.handoffs import HandoffService
from bot.services.outbox import Handler, JobContext, RetryLater
from bot.services.ports import Clock, Messenger, SlackUnreachableUser
from bot.services.presenter import TOOL_LABELS, handoff_message
from bot.services.teams import TeamDirectory
from integrations.ports import (
    CreatedRecord,
    Crm,
    FinanceTool,
    HandoffBrief,
    OpsTool,
    VendorError,
)
from storage.models import ExternalRecord, Handoff, HandoffStatus, OutboxStatus
from storage.uow import UnitOfWorkFactory

log = logging.getLogger(__name__)


@dataclass
class Tools:
    """The adapters each receiving team uses, by team key."""

    crm: Crm | None
    ops: Mapping[str, OpsTool]
    finance: Mapping[str, FinanceTool]


class Effects:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        org: OrgConfig,
        clock: Clock,
        messenger: Messenger,
        tools: Tools,
        handoffs: HandoffService,
        teams: TeamDirectory,
    ) -> None:
        self.uow = uow
        self.org = org
        self.clock = clock
        self.slack = messenger
        self.tools = tools
        self.handoffs = handoffs
        self.teams = teams

    def handlers(self) -> dict[str, Handler]:
        return {
            actions.NOTIFY_OWNER: self.notify_owner,
            actions.MOVE_DEAL_STAGE: self.move_deal_stage,
            actions.POST_HANDOFF_MESSAGE: self.post_handoff_message,
            actions.RENDER_HANDOFF: self.render_handoff,
            actions.ANNOUNCE_COMPLETE: self.announce_complete,
            actions.MENTION_SENDER: self.mention_sender,
            actions.CREATE_RECORD: self.create_record,
            actions.MIRROR_COMMENT: self.mirror_comment,
            actions.CRM_NOTE: self.crm_note,
            actions.SLACK_POST: self.slack_post,
        }

    # --- reading ----------------------------------------------------------------------------------

    def _handoff(self, handoff_id: int | None) -> Handoff:
        with self.uow() as uow:
            handoff = uow.repo.handoff(handoff_id or 0)
            if handoff is None:
                raise LookupError(f"handoff {handoff_id} is gone")
            return handoff

    def _deal_url(self, handoff: Handoff) -> str | None:
        if self.tools.crm is None or not handoff.deal_id:
            return None
        return self.tools.crm.deal_url(handoff.deal_id)

    # --- the gate -------------------------------------------------------------------------------

    def notify_owner(self, ctx: JobContext) -> dict[str, Any]:
        """Find the deal owner in Slack (CRM owner -> email -> Slack user) and DM the button."""
        handoff = self._handoff(ctx.handoff_id)
        crm = self._crm()
        deal = crm.get_deal(handoff.deal_id or "")
        self.handoffs.set_deal_facts(
            handoff.id, account_name=deal.company_name or deal.name, deal_name=deal.name
        )
        email = crm.owner_email(deal.owner_id) if deal.owner_id else None
        user_id = self.slack.user_id_by_email(email) if email else None
        if user_id is None:
            why = (
                "has no owner"
                if not deal.owner_id
                else (
                    "owner has no email"
                    if not email
                    else "owner has no Slack account with that email"
                )
            )
            self._audit(handoff.id, "owner_unmatched", reason=why)
            self._tell_admin(
                f"Deal *{deal.name}* ({deal.deal_id}) was won but its {why}, so nobody was asked "
                f"for the handoff. The deal stays on hold until someone runs "
                f"`/handoff {deal.deal_id}`.",
                handoff.id,
            )
            log.warning("gate_owner_unmatched handoff=%s deal=%s", handoff.id, deal.deal_id)
            return {"matched": False, "reason": why}
        self.handoffs.assign_sender(handoff.id, user_id)
        text, blocks = _form_request(handoff.id, deal.name)
        posted = self.slack.post(user_id, text, blocks)
        with self.uow() as uow:
            stored = uow.repo.handoff(handoff.id)
            if stored is not None:
                stored.dm_channel_id, stored.dm_ts = posted.channel, posted.ts
                uow.repo.audit(stored, "system", "owner_notified", user=user_id)
                uow.commit()
        return {"matched": True, "user": user_id}

    def move_deal_stage(self, ctx: JobContext) -> dict[str, Any]:
        deal_id, stage = str(ctx.payload["deal_id"]), str(ctx.payload["stage"])
        self._crm().move_deal_stage(deal_id, stage)
        if ctx.handoff_id:
            self._audit(ctx.handoff_id, "deal_stage_moved", stage=stage, why=ctx.payload.get("why"))
        return {"stage": stage}

    # --- the handoff message and its thread -----------------------------------------------------

    def post_handoff_message(self, ctx: JobContext) -> dict[str, Any]:
        """Post the thread root once, then tell the receiving teams in the thread."""
        handoff = self._handoff(ctx.handoff_id)
        if handoff.thread_ts:
            self.render_handoff(ctx)
            return {"ts": handoff.thread_ts, "reused": True}
        text, blocks = render(handoff_message(handoff, self.org, self._deal_url(handoff)))
        posted = self.slack.post(self.org.handoff_channel, text, blocks)
        with self.uow() as uow:
            stored = uow.repo.handoff(handoff.id)
            assert stored is not None
            stored.channel_id, stored.thread_ts = posted.channel, posted.ts
            uow.repo.audit(stored, "system", "posted", channel=posted.channel, ts=posted.ts)
            mentions = " ".join(self.teams.mention(t) for t in stored.receiving_teams)
            uow.repo.enqueue(
                stored,
                actions.SLACK_POST,
                f"announce:{stored.id}",
                {
                    "channel": posted.channel,
                    "thread_ts": posted.ts,
                    "text": f"{mentions} a new handoff is waiting for you: read it, ask your "
                    "questions in this thread, then press *Confirm* for your team.",
                },
            )
            for team in stored.receiving_teams:
                channel = self.org.teams[team].channel
                if channel:
                    link = self.slack.permalink(posted.channel, posted.ts) or ""
                    uow.repo.enqueue(
                        stored,
                        actions.SLACK_POST,
                        f"team-pointer:{stored.id}:{team}",
                        {
                            "channel": channel,
                            "text": f"New handoff for {self.teams.team_name(team)}: "
                            f"*{stored.account_name or stored.deal_name}* {link}",
                        },
                    )
            uow.commit()
        return {"channel": posted.channel, "ts": posted.ts}

    def render_handoff(self, ctx: JobContext) -> dict[str, Any]:
        handoff = self._handoff(ctx.handoff_id)
        if not (handoff.channel_id and handoff.thread_ts):
            raise RetryLater("handoff message not posted yet", delay=10)
        text, blocks = render(handoff_message(handoff, self.org, self._deal_url(handoff)))
        self.slack.update(handoff.channel_id, handoff.thread_ts, text, blocks)
        return {"ts": handoff.thread_ts}

    def announce_complete(self, ctx: JobContext) -> dict[str, Any]:
        handoff = self._handoff(ctx.handoff_id)
        if not (handoff.channel_id and handoff.thread_ts):
            raise RetryLater("handoff message not posted yet", delay=10)
        sender = f"<@{handoff.sender_user_id}> " if handoff.sender_user_id else ""
        posted = self.slack.post(
            handoff.channel_id,
            f":tada: {sender}every team confirmed: this handoff is complete.",
            thread_ts=handoff.thread_ts,
        )
        return {"ts": posted.ts}

    def mention_sender(self, ctx: JobContext) -> dict[str, Any] | None:
        handoff = self._handoff(ctx.handoff_id)
        if not (handoff.sender_user_id and handoff.channel_id and handoff.thread_ts):
            return None
        asked_by = ctx.payload.get("asked_by")
        posted = self.slack.post(
            handoff.channel_id,
            f"<@{handoff.sender_user_id}> <@{asked_by}> asked a question above — "
            "please answer it in this thread.",
            thread_ts=handoff.thread_ts,
        )
        return {"ts": posted.ts}

    # --- vendor records -------------------------------------------------------------------------

    def create_record(self, ctx: JobContext) -> dict[str, Any]:
        """Create the team's record in its tool; looks first after an uncertain earlier try."""
        team = str(ctx.payload["team"])
        handoff = self._handoff(ctx.handoff_id)
        existing = handoff.record(team)
        if existing is not None and existing.status == "done":
            return {"external_id": existing.external_id, "reused": True}
        wait = self._wait_reason(handoff, ctx, team)
        if wait:
            raise RetryLater(wait, delay=10)
        brief = build_brief(
            handoff,
            slack_thread_url=self._thread_url(handoff),
            crm_deal_url=self._deal_url(handoff),
            names=self.slack.user_name,
        )
        look_first = ctx.uncertain or bool(ctx.payload.get("look_first")) or ctx.attempt > 1
        # The job's own key: stable across its retries, fresh for a Retry click (a new job), since
        # a vendor replays its earlier answer, a refusal included, for a key it has seen.
        created = self._create_in_tool(team, brief, _base_key(ctx.key), look_first)
        self._record_done(handoff.id, team, created)
        return {"external_id": created.external_id, "url": created.url}

    def _create_in_tool(
        self, team: str, brief: HandoffBrief, key: str, look_first: bool
    ) -> CreatedRecord:
        try:
            if team in self.tools.ops:
                return self.tools.ops[team].create_record(brief, look_first=look_first)
            if team in self.tools.finance:
                return self.tools.finance[team].create_billing_setup(
                    brief, idempotency_key=key, look_first=look_first
                )
        except VendorError as exc:
            if exc.field and exc.field not in exc.message:
                # The handoff message and the admin see only the text: it must name the field.
                raise type(exc)(
                    exc.vendor,
                    f"{exc.message} (field {exc.field})",
                    status=exc.status,
                    field=exc.field,
                    retry_after=exc.retry_after,
                ) from exc
            raise
        raise LookupError(f"team {team!r} has no tool configured")

    def _wait_reason(self, handoff: Handoff, ctx: JobContext, team: str) -> str | None:
        """Why creating the record now would be wrong, if it would."""
        active = (OutboxStatus.PENDING, OutboxStatus.RUNNING)
        with self.uow() as uow:
            jobs = uow.repo.jobs_for(handoff.id)
        if not handoff.thread_ts and any(
            j.action == actions.POST_HANDOFF_MESSAGE and j.status in active for j in jobs
        ):
            # The record links the Slack thread, which exists once the handoff message is posted.
            return "handoff message not posted yet"
        if any(
            j.action == actions.CREATE_RECORD
            and j.payload.get("team") == team
            and j.id < ctx.job_id
            and j.status in active
            for j in jobs
        ):
            # E.g. Retry pressed twice: two creations racing could both miss the other's record.
            return f"an earlier job is still creating the {team} record"
        return None

    def _record_done(self, handoff_id: int, target: str, created: CreatedRecord) -> None:
        with self.uow() as uow:
            # Locked: two workers finishing the ops and finance records at once must not both
            # miss the other's record and leave the handoff short of `delivered`.
            handoff = uow.repo.handoff(handoff_id, for_update=True)
            assert handoff is not None
            record = handoff.record(target)
            if record is None:
                record = ExternalRecord(target=target, vendor=created.vendor)
                handoff.external_records.append(record)
            record.status = "done"
            record.external_id = created.external_id
            record.url = created.url
            record.last_error = None
            record.detail = created.model_dump(mode="json")
            uow.repo.audit(
                handoff,
                "system",
                "record_created",
                target=target,
                vendor=created.vendor,
                external_id=created.external_id,
            )
            if handoff.status == HandoffStatus.SUBMITTED and all(
                r.status == "done" for r in handoff.external_records if r.target != "crm_note"
            ):
                handoff.status = HandoffStatus.DELIVERED
                uow.repo.audit(handoff, "system", "delivered")
            actions.rerender(uow.repo, handoff)
            uow.commit()
        log.info(
            "record_created handoff=%s target=%s vendor=%s id=%s",
            handoff_id,
            target,
            created.vendor,
            created.external_id,
        )

    def mirror_comment(self, ctx: JobContext) -> dict[str, Any] | None:
        """Mirror a thread message onto the team's record, once."""
        target, ts = str(ctx.payload["target"]), str(ctx.payload["ts"])
        handoff = self._handoff(ctx.handoff_id)
        record = handoff.record(target)
        message = next((m for m in handoff.messages if m.slack_ts == ts), None)
        if record is None or message is None:
            return None
        if target in message.mirrored:
            return {"mirror_id": message.mirrored[target], "reused": True}
        if record.status != "done" or not record.external_id:
            # Mirrored once the record exists; a failed record waits for someone's Retry.
            delay = 900 if record.status == "failed" else 60
            raise RetryLater(f"{target} record not created yet", delay=delay)
        comment = thread_comment(message, self.slack.user_name)
        created = _created_record(record)
        if target in self.tools.ops:
            mirror_id: str | None = self.tools.ops[target].add_comment(
                created, comment, look_first=ctx.uncertain or ctx.attempt > 1
            )
        elif target in self.tools.finance:
            mirror_id = self.tools.finance[target].add_note(
                created, comment, idempotency_key=_base_key(ctx.key)
            )
        else:
            return None
        self._mirrored(handoff.id, ts, target, mirror_id or "unsupported")
        return {"mirror_id": mirror_id}

    def _mirrored(self, handoff_id: int, ts: str, target: str, mirror_id: str) -> None:
        with self.uow() as uow:
            # Locked: the ops and finance mirrors of one message must not overwrite each other.
            handoff = uow.repo.handoff(handoff_id, for_update=True)
            stored = uow.repo.thread_message(handoff_id, ts) if handoff else None
            if stored is not None:
                stored.mirrored = {**stored.mirrored, target: mirror_id}
                uow.commit()
        log.info("comment_mirrored handoff=%s target=%s ts=%s", handoff_id, target, ts)

    def crm_note(self, ctx: JobContext) -> dict[str, Any] | None:
        """Write the summary and links back onto the deal, once the records have settled."""
        handoff = self._handoff(ctx.handoff_id)
        if self.tools.crm is None or not handoff.deal_id:
            return None
        records = [r for r in handoff.external_records if r.target != "crm_note"]
        if any(r.status == "pending" for r in records):
            raise RetryLater("waiting for the ops and finance records", delay=30)
        thread_url = self._thread_url(handoff)
        body = _crm_note_html(handoff, records, thread_url, self.org)
        created = self.tools.crm.add_deal_note(handoff.deal_id, body, marker_for(handoff.id))
        self._record_done(handoff.id, "crm_note", created)
        return {"note_id": created.external_id}

    # --- plain Slack posts ----------------------------------------------------------------------

    def slack_post(self, ctx: JobContext) -> dict[str, Any]:
        """Post a message; an unreachable recipient is routed to the admin, never dropped."""
        payload = ctx.payload
        channel = str(payload["channel"])
        text = str(payload["text"])
        blocks = payload.get("blocks")
        try:
            posted = self.slack.post(channel, text, blocks, thread_ts=payload.get("thread_ts"))
        except SlackUnreachableUser as exc:
            if not payload.get("fallback_to_admin", True) or channel == self.org.admin_user:
                raise
            log.warning(
                "slack_recipient_unreachable handoff=%s recipient=%s error=%s",
                ctx.handoff_id,
                channel,
                exc,
            )
            posted = self.slack.post(
                self.org.admin_user,
                f"Could not deliver this to <@{channel}> ({exc}); sending it to you instead:\n"
                f"{text}",
                blocks,
            )
            return {"ts": posted.ts, "rerouted_to_admin": True}
        return {"ts": posted.ts}

    # --- failures -------------------------------------------------------------------------------

    def on_dead(self, ctx: JobContext, error: str) -> None:
        """A job ran out of tries or was refused: show it on the handoff and tell the admin."""
        text = (
            f":warning: Handoff #{ctx.handoff_id}: `{ctx.action}` failed after {_tries(ctx)} "
            f"— {error}"
        )
        if ctx.action == actions.CREATE_RECORD and ctx.handoff_id:
            text = self._record_failed(ctx.handoff_id, str(ctx.payload["team"]), error) or text
        if ctx.action == actions.SLACK_POST and ctx.payload.get("channel") == self.org.admin_user:
            return  # the admin is the one we could not reach: the log line is all we have
        try:
            self._tell_admin(text, ctx.handoff_id)
        except Exception:
            log.exception("admin_alert_failed handoff=%s action=%s", ctx.handoff_id, ctx.action)

    def _record_failed(self, handoff_id: int, team: str, error: str) -> str | None:
        """Mark the record failed (its Retry button appears); the admin's message, if so."""
        with self.uow() as uow:
            handoff = uow.repo.handoff(handoff_id, for_update=True)
            record = handoff.record(team) if handoff else None
            if handoff is None or record is None or record.status == "done":
                return None
            record.status = "failed"
            record.last_error = error
            uow.repo.audit(handoff, "system", "record_failed", target=team, error=error)
            actions.rerender(uow.repo, handoff)
            uow.commit()
        where = self._thread_url(handoff)
        name = self.teams.team_name(team)
        vendor = TOOL_LABELS.get(record.vendor, record.vendor)
        return (
            f":warning: Handoff #{handoff_id} ({handoff.account_name or handoff.deal_name}): "
            f"the {name} record in {vendor} was not created — {error}\n"
            f"Nothing captured is lost. Fix the data or the {vendor} settings, then press "
            f"*Retry* on the handoff message{f' ({where})' if where else ''}."
        )

    # --- helpers --------------------------------------------------------------------------------

    def _crm(self) -> Crm:
        if self.tools.crm is None:
            raise LookupError("no CRM configured (set HUBSPOT_TOKEN)")
        return self.tools.crm

    def _thread_url(self, handoff: Handoff) -> str | None:
        if handoff.channel_id and handoff.thread_ts:
            return self.slack.permalink(handoff.channel_id, handoff.thread_ts)
        return None

    def _audit(self, handoff_id: int, event: str, **detail: Any) -> None:
        with self.uow() as uow:
            handoff = uow.repo.handoff(handoff_id)
            if handoff is not None:
                uow.repo.audit(handoff, "system", event, **detail)
                uow.commit()

    def _tell_admin(self, text: str, handoff_id: int | None) -> None:
        self.slack.post(self.org.admin_user, text)
        log.info("admin_told handoff=%s", handoff_id)


def _tries(ctx: JobContext) -> str:
    return "1 try" if ctx.attempt == 1 else f"{ctx.attempt} tries"


def _created_record(record: ExternalRecord) -> CreatedRecord:
    """What the vendor told us when it made the record (task ids and all), as stored."""
    if record.detail:
        return CreatedRecord.model_validate(record.detail)
    return CreatedRecord(
        vendor=record.vendor,
        kind="record",
        external_id=record.external_id or "",
        url=record.url,
    )


def _base_key(key: str) -> str:
    """Vendors cap idempotency keys (QuickBooks: 50 chars); keep ours short and stable."""
    return key if len(key) <= 50 else str(uuid.uuid5(uuid.NAMESPACE_URL, key))


def _form_request(handoff_id: int, deal_name: str) -> tuple[str, list[dict[str, Any]]]:
    text = f"Deal won: {deal_name}. Please complete its handoff."
    blocks: list[dict[str, Any]] = [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": f":trophy: *{_mrkdwn(deal_name)}* is won — congratulations!\n"
                "Before it can stay won, tell ops and finance what they need to know: "
                "context, contacts, scope, billing and kickoff. It takes about ten minutes, "
                "and you can save a draft at any point.",
            },
        },
        {
            "type": "actions",
            "block_id": "form_request",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Complete handoff"},
                    "style": "primary",
                    "action_id": Action.OPEN_FORM,
                    "value": str(handoff_id),
                }
            ],
        },
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": "The deal is held at the _won (handoff pending)_ stage until you "
                    "submit.",
                }
            ],
        },
    ]
    return text, blocks


def _mrkdwn(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _crm_note_html(
    handoff: Handoff, records: list[ExternalRecord], thread_url: str | None, org: OrgConfig
) -> str:
    lines = [f"<p><strong>Handoff submitted</strong> ({marker_for(handoff.id)})</p>", "<ul>"]
    if thread_url:
        lines.append(f'<li>Slack thread: <a href="{html.escape(thread_url)}">open</a></li>')
    for record in records:
        team = org.teams.get(record.target)
        name = html.escape(team.name if team else record.target)
        if record.status == "done" and record.url:
            lines.append(
                f'<li>{name}: <a href="{html.escape(record.url)}">'
                f"{html.escape(record.vendor)} record</a></li>"
            )
        else:
            lines.append(f"<li>{name}: {html.escape(record.vendor)} record {record.status}</li>")
    lines.append("</ul>")
    return "".join(lines)
