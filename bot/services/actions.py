"""Names of outbox actions, and the one helper every state change uses to refresh the message."""

from __future__ import annotations

import uuid

from storage.models import Handoff
from storage.repositories import Repository

NOTIFY_OWNER = "gate.notify_owner"  # find the deal owner in Slack and DM the form button
MOVE_DEAL_STAGE = "crm.move_stage"
CRM_SNAPSHOT = "crm.snapshot"  # fetch what the form needs from the CRM, ahead of the click
POST_HANDOFF_MESSAGE = "handoff.post"  # the handoff message in the channel: the thread root
RENDER_HANDOFF = "handoff.render"  # re-render the handoff message after a change
ANNOUNCE_COMPLETE = "handoff.complete"
MENTION_SENDER = "thread.mention_sender"
THREAD_RECORD = "thread.record"  # file a stored thread reply as a question or an answer
CREATE_RECORD = "record.create"
MIRROR_COMMENT = "record.mirror"
CRM_NOTE = "crm.note"
SLACK_POST = "slack.post"
# A SLACK_POST payload key: {"team": key or None}, sent only in that team's working hours.
WORKING_HOURS = "working_hours"
HOME_PUBLISH = "home.publish"
DELIVERY_CHECK = "delivery.check"  # read whether the account's project or issue is complete
DELIVERY_WATCH = "delivery.watch"  # register the webhook that says when it is (Asana)
AMEND_ANNOUNCE = "handoff.amended"  # post an amendment's field-by-field diff in the thread
AMEND_RECORD = "record.amend"  # update a team's record to an amended version, noting the change


def post_key(handoff_id: int) -> str:
    """The key of the job posting the handoff message: what thread-side jobs wait for."""
    return f"post:{handoff_id}"


def record_key(handoff_id: int, target: str) -> str:
    return f"record:{handoff_id}:{target}"


def rerender(repo: Repository, handoff: Handoff) -> None:
    """Queue a re-render of the handoff message; each change gets its own job (it shows state)."""
    repo.enqueue(
        handoff,
        RENDER_HANDOFF,
        f"render:{handoff.id}:{uuid.uuid4()}",
        after=post_key(handoff.id),
    )
