"""Outbox handlers for the Slack side of a handoff: the gate DM, the handoff thread, posts."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bot.render.form_request import form_request
from bot.render.handoff_message import HandoffMessage, render
from bot.render.mrkdwn import escape
from bot.services import actions
from bot.services.calendar import team_calendar
from bot.services.effects_base import EffectsBase, log
from bot.services.outbox import JobContext, RetryLater
from bot.services.ports import SlackUnreachableUser
from bot.services.presenter import handoff_message
from storage.models import Handoff, HandoffKind

RENDER_LEASE = timedelta(seconds=60)  # longer than one chat.update; a dead holder frees it


class SlackEffects(EffectsBase):
    """Asks the deal owner for the handoff, posts and keeps up its message, relays posts."""

    # --- the gate -------------------------------------------------------------------------------

    def notify_owner(self, ctx: JobContext) -> dict[str, Any]:
        """Find the deal owner in Slack (CRM owner -> email -> Slack user) and DM the button."""
        handoff = self._handoff(ctx.handoff_id)
        crm = self._crm()
        deal = crm.get_deal(handoff.deal_id or "")
        self.handoffs.set_deal_facts(
            handoff.id,
            account_name=deal.company_name or deal.name,
            deal_name=deal.name,
            snapshot=deal.model_dump(mode="json"),
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
                f"Deal *{escape(deal.name)}* ({escape(deal.deal_id)}) was won but its {why}, so "
                f"nobody was asked for the handoff. The deal stays on hold until someone runs "
                f"`/handoff {escape(deal.deal_id)}`.",
                handoff.id,
            )
            log.warning("gate_owner_unmatched handoff=%s deal=%s", handoff.id, deal.deal_id)
            return {"matched": False, "reason": why}
        self.handoffs.assign_sender(handoff.id, user_id)
        text, blocks = form_request(handoff.id, deal.name)
        posted = self.slack.post(user_id, text, blocks)
        with self.uow() as uow:
            stored = uow.repo.handoff(handoff.id)
            if stored is not None:
                stored.dm_channel_id, stored.dm_ts = posted.channel, posted.ts
                uow.repo.audit(stored, "system", "owner_notified", user=user_id)
                uow.commit()
        return {"matched": True, "user": user_id}

    # --- the handoff message and its thread -----------------------------------------------------

    def post_handoff_message(self, ctx: JobContext) -> dict[str, Any]:
        """Post the thread root once, then tell the receiving teams in the thread."""
        handoff = self._handoff(ctx.handoff_id)
        if handoff.thread_ts:
            self.render_handoff(ctx)
            return {"ts": handoff.thread_ts, "reused": True}
        text, blocks = render(self._message(handoff))
        posted = self.slack.post(self.org.handoff_channel, text, blocks)
        # Any Slack call happens before the transaction: none may hold the database lock.
        pointers = [t for t in handoff.receiving_teams if self.org.teams[t].channel]
        link = (self.slack.permalink(posted.channel, posted.ts) or "") if pointers else ""
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
            for team in pointers:
                uow.repo.enqueue(
                    stored,
                    actions.SLACK_POST,
                    f"team-pointer:{stored.id}:{team}",
                    {
                        "channel": self.org.teams[team].channel,
                        "text": f"New handoff for {escape(self.teams.team_name(team))}: "
                        f"*{escape(stored.account_name or stored.deal_name)}* {link}",
                    },
                )
            uow.commit()
        return {"channel": posted.channel, "ts": posted.ts}

    def render_handoff(self, ctx: JobContext) -> dict[str, Any] | None:
        """Show the handoff's current state on its message.

        Renders of one message take turns (a lease): two running at once in the Slack lane could
        otherwise reach Slack in the wrong order and leave an older state showing.
        """
        newer = self._newer_render(ctx)
        if newer is not None:
            return {"superseded_by": newer}  # it runs later and shows everything this would
        with self.leases.hold(f"render:{ctx.handoff_id}", ttl=RENDER_LEASE, wait=20):
            handoff = self._handoff(ctx.handoff_id)  # read inside the lease: the newest state
            if not (handoff.channel_id and handoff.thread_ts):
                return None  # runs after the post job: the post failed (the admin was told)
            text, blocks = render(self._message(handoff))
            self.slack.update(handoff.channel_id, handoff.thread_ts, text, blocks)
        return {"ts": handoff.thread_ts}

    def _message(self, handoff: Handoff) -> HandoffMessage:
        with self.uow() as uow:  # a sale whose delivery handoff exists offers no second one
            started = bool(handoff.deal_id) and (
                uow.repo.handoff_for_deal(HandoffKind.DELIVERY_TO_FINANCE, handoff.deal_id or "")
                is not None
            )
        return handoff_message(handoff, self.org, self._deal_url(handoff), delivery_started=started)

    def _newer_render(self, ctx: JobContext) -> int | None:
        with self.uow() as uow:
            return uow.repo.newer_pending_job(ctx.handoff_id, actions.RENDER_HANDOFF, ctx.job_id)

    def announce_complete(self, ctx: JobContext) -> dict[str, Any] | None:
        handoff = self._handoff(ctx.handoff_id)
        if not (handoff.channel_id and handoff.thread_ts):
            return None  # runs after the post job: the post itself failed (the admin was told)
        sender = f"<@{handoff.sender_user_id}> " if handoff.sender_user_id else ""
        version = int(ctx.payload.get("version") or 1)
        what = "" if version == 1 else f" the amendment (version {version})"
        again = "" if version == 1 else " again"
        posted = self.slack.post(
            handoff.channel_id,
            f":tada: {sender}every team confirmed{what}: this handoff is complete{again}.",
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

    def record_thread_message(self, ctx: JobContext) -> dict[str, Any]:
        """File a stored thread reply: a team's question, the salesperson's answer, a remark."""
        p = ctx.payload
        user = str(p["user"])
        recorded = self.handoffs.record_thread_message(
            str(p["channel"]),
            str(p["thread_ts"]),
            str(p["ts"]),
            user,
            str(p["text"]),
            receivers=self.teams.teams_of(user),
            received_at=datetime.fromisoformat(str(p["received_at"]))
            if "received_at" in p
            else None,
        )
        return {"recorded": recorded}

    # --- plain Slack posts ----------------------------------------------------------------------

    def slack_post(self, ctx: JobContext) -> dict[str, Any]:
        """Post a message; an unreachable recipient is routed to the admin, never dropped."""
        payload = ctx.payload
        self._wait_for_working_hours(ctx)
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
                f"Could not deliver this to <@{channel}> ({escape(str(exc))}); sending it to you "
                "instead:\n"
                f"{text}",
                blocks,
            )
            return {"ts": posted.ts, "rerouted_to_admin": True}
        return {"ts": posted.ts}

    def _wait_for_working_hours(self, ctx: JobContext) -> None:
        """A reminder lands only in its team's working hours, whenever its job runs.

        The sweep checked the hours when it queued the message, but the job may run later (a
        retry's backoff, a busy lane, a worker that was down): outside them, it is moved to
        the next working start (RetryLater counts no failed attempt).
        """
        hours = ctx.payload.get(actions.WORKING_HOURS)
        if not isinstance(hours, dict):
            return
        team = hours.get("team")
        calendar = team_calendar(self.org, team if team in self.org.teams else None)
        now = self.clock()
        if calendar.is_working(now):
            return
        start = calendar.next_working_instant(now)
        log.info(
            "slack_post_deferred handoff=%s key=%s team=%s until=%s",
            ctx.handoff_id,
            ctx.key,
            team,
            start.isoformat(),
        )
        raise RetryLater("outside working hours", delay=(start - now).total_seconds())
