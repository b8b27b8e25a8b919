"""Replies in a handoff's thread become its recorded questions and answers.

The app runs with `process_before_response`, so Bolt acknowledges the event only after this
listener has stored the message (one small row): a failed write answers Slack with an error, and
Slack retries. Recording it as a question or an answer (team look-ups, reminders, the mirrors)
follows at once on the outbox, off Slack's clock.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App

from bot.wiring import Services

log = logging.getLogger(__name__)

# Message subtypes that are a person talking in the thread; edits, joins and bots are not.
HUMAN_SUBTYPES = {None, "thread_broadcast", "file_share"}


def register(app: App, services: Services) -> None:
    @app.event("message")
    def on_message(event: dict[str, Any]) -> None:
        thread_ts = event.get("thread_ts")
        if (
            not thread_ts
            or thread_ts == event.get("ts")
            or event.get("subtype") not in HUMAN_SUBTYPES
            or event.get("bot_id")
            or not event.get("user")
            or event.get("channel") != services.org.handoff_channel
        ):
            return
        services.handoffs.receive_thread_message(
            str(event["channel"]),
            str(thread_ts),
            str(event["ts"]),
            str(event["user"]),
            str(event.get("text") or ""),
        )
