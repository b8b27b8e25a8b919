"""The snooze button on reminder messages."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, Respond

from bot.ids import Action
from bot.listeners.offload import offload


def register(app: App, services: Any) -> None:
    """Map the reminder buttons to the reminder service."""

    @app.action(Action.SNOOZE)
    def on_snooze(ack: Ack, body: dict[str, Any], action: dict[str, Any], respond: Respond) -> None:
        value = str(action.get("value", ""))
        if value.isdigit():
            text = services.reminders.snooze(int(value), body["user"]["id"])
        else:
            text = "This reminder button is no longer valid."
        ack()  # the snooze is stored before Slack hears back
        # Only the person who pressed sees the answer; the reminder itself stays as it was.
        offload(
            services.interactions,
            "snooze_reply",
            lambda: respond(text=text, response_type="ephemeral", replace_original=False),
        )
