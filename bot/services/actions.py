"""Names of outbox actions and of the external-record targets they fill."""

from __future__ import annotations

NOTIFY_OWNER = "gate.notify_owner"  # find the deal owner in Slack and DM the form button
MOVE_DEAL_STAGE = "crm.move_stage"
POST_HANDOFF_MESSAGE = "handoff.post"  # the handoff message in the channel: the thread root
RENDER_HANDOFF = "handoff.render"  # re-render the handoff message after a change
ANNOUNCE_COMPLETE = "handoff.complete"
MENTION_SENDER = "thread.mention_sender"
CREATE_RECORD = "record.create"
MIRROR_COMMENT = "record.mirror"
CRM_NOTE = "crm.note"
SLACK_POST = "slack.post"
HOME_PUBLISH = "home.publish"
