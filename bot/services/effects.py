"""Every outbox effect of a handoff in one object: its handler map and its failure hook."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from bot.render.mrkdwn import escape
from bot.services import actions, renewal_deal
from bot.services.effects_base import Tools
from bot.services.effects_renewal import RenewalDealEffects
from bot.services.effects_slack import SlackEffects
from bot.services.effects_vendors import VendorEffects
from bot.services.outbox import Handler, JobContext
from bot.services.presenter import TOOL_LABELS

__all__ = ["Effects", "Tools"]

log = logging.getLogger(__name__)


class Effects(SlackEffects, VendorEffects, RenewalDealEffects):
    """Outbox handlers: each performs one external effect of a handoff, safely repeatable.

    A handler reads what it needs in a short transaction, calls Slack or a vendor outside any
    transaction, then records the outcome in another. Handlers raise VendorError / SlackApiError /
    RetryLater and let the outbox worker decide between retrying and parking the job. The Slack
    side lives in `effects_slack`, the vendor side in `effects_vendors`, a renewal's CRM deal in
    `effects_renewal`.
    """

    def handlers(self) -> dict[str, Handler]:
        return {
            actions.NOTIFY_OWNER: self.notify_owner,
            actions.MOVE_DEAL_STAGE: self.move_deal_stage,
            actions.CRM_SNAPSHOT: self.crm_snapshot,
            actions.POST_HANDOFF_MESSAGE: self.post_handoff_message,
            actions.RENDER_HANDOFF: self.render_handoff,
            actions.ANNOUNCE_COMPLETE: self.announce_complete,
            actions.MENTION_SENDER: self.mention_sender,
            actions.THREAD_RECORD: self.record_thread_message,
            actions.CREATE_RECORD: self.create_any_record,
            actions.MIRROR_COMMENT: self.mirror_comment,
            actions.CRM_NOTE: self.crm_note,
            actions.SLACK_POST: self.slack_post,
        }

    def create_any_record(self, ctx: JobContext) -> dict[str, Any]:
        """A team's record, or a renewal's CRM deal (one action: the same retries and Retry)."""
        if ctx.payload.get("team") == renewal_deal.TARGET:
            return self.create_renewal_deal(ctx)
        return self.create_record(ctx)

    # --- failures -------------------------------------------------------------------------------

    def on_dead(self, ctx: JobContext, error: str) -> None:
        """A job ran out of tries or was refused: show it on the handoff and tell the admin."""
        text = (
            f":warning: Handoff #{ctx.handoff_id}: `{ctx.action}` failed after {_tries(ctx)} "
            f"— {escape(error)}"
        )
        if ctx.action == actions.CREATE_RECORD and ctx.handoff_id:
            text = self._record_failed(ctx.handoff_id, str(ctx.payload["team"]), error) or text
        if ctx.action == actions.AMEND_RECORD and ctx.handoff_id:
            self._amendment_not_applied(ctx, error)
        if ctx.action == actions.SLACK_POST and ctx.payload.get("channel") == self.org.admin_user:
            return  # the admin is the one we could not reach: the log line is all we have
        try:
            self._tell_admin(text, ctx.handoff_id)
        except Exception:
            log.exception("admin_alert_failed handoff=%s action=%s", ctx.handoff_id, ctx.action)

    def _amendment_not_applied(self, ctx: JobContext, error: str) -> None:
        """The team whose record kept the earlier version hears it in the thread, with why."""
        team, version = str(ctx.payload["team"]), int(ctx.payload["version"])
        with self.uow() as uow:
            handoff = uow.repo.handoff(ctx.handoff_id or 0)
            if handoff is None:
                return
            uow.repo.audit(
                handoff, "system", "record_amend_failed", target=team, version=version, error=error
            )
            record = handoff.record(team)
            tool = TOOL_LABELS.get(record.vendor, record.vendor) + " " if record else ""
            if handoff.channel_id and handoff.thread_ts:
                uow.repo.enqueue(
                    handoff,
                    actions.SLACK_POST,
                    f"amend-failed:{handoff.id}:{team}:{version}",
                    {
                        "channel": handoff.channel_id,
                        "thread_ts": handoff.thread_ts,
                        "text": f":warning: {self.teams.mention(team)} your {tool}record could "
                        f"not be brought to version {version} of this handoff — "
                        f"{escape(error)}. It still shows the version before: please make the "
                        "change there by hand.",
                    },
                )
            uow.commit()
        log.warning(
            "record_amend_failed handoff=%s target=%s version=%s", handoff.id, team, version
        )

    def on_retry(self, ctx: JobContext, error: str, next_at: datetime) -> None:
        """A record creation failed in a way worth retrying: show when it tries again."""
        if ctx.action == actions.CREATE_RECORD and ctx.handoff_id:
            self.handoffs.record_retrying(ctx.handoff_id, str(ctx.payload["team"]), error, next_at)


def _tries(ctx: JobContext) -> str:
    return "1 try" if ctx.attempt == 1 else f"{ctx.attempt} tries"
