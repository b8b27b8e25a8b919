"""*Mark resolved* on a money-check mismatch, on the finance team's App Home (issue 9).

The resolution is stored before Slack gets its answer; the refreshed Home (or why not) follows,
off the acknowledging thread.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.ids import Action
from bot.listeners.offload import offload
from bot.services.money_check import MismatchError
from bot.wiring import Services
from forms.base import error_view

log = logging.getLogger(__name__)


def register(app: App, services: Services) -> None:
    @app.action(Action.RESOLVE_MISMATCH)
    def on_resolve(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        user_id = body["user"]["id"]
        value = str(body["actions"][0].get("value", ""))
        trigger_id = body["trigger_id"]
        try:
            services.money_check.resolve(int(value) if value.isdigit() else 0, user_id)
        except MismatchError as exc:
            ack()
            log.info("money_mismatch_resolve_refused mismatch=%s user=%s", value, user_id)
            view = error_view("Money check", str(exc)).to_dict()
            offload(
                services.interactions,
                "money_resolve_refused",
                lambda: client.views_open(trigger_id=trigger_id, view=view),
            )
            return
        ack()
        offload(services.interactions, "home_publish", services.home.publish, user_id)
