"""The *Delivery complete* button, on the sale's handoff message and on the App Home (issue 9).

The start is stored before Slack gets its answer; the form (or why not) opens afterwards, off the
acknowledging thread, with the click's trigger.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.ids import Action
from bot.listeners.form import open_form
from bot.listeners.offload import offload
from bot.render.delivery import BUTTON_LABEL
from bot.services.handoffs import HandoffError
from bot.wiring import Services
from forms.base import error_view

log = logging.getLogger(__name__)


def register(app: App, services: Services) -> None:
    @app.action(Action.DELIVERY_COMPLETE)
    def on_delivery_complete(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        user_id = body["user"]["id"]
        origin_id = int(body["actions"][0]["value"])
        trigger_id = body["trigger_id"]
        on_home = (body.get("view") or {}).get("type") == "home"
        try:
            started = services.delivery.start(
                origin_id, source="app_home" if on_home else "button", actor=user_id
            )
        except HandoffError as exc:
            ack()
            log.info("delivery_complete_refused origin=%s user=%s", origin_id, user_id)
            view = error_view(BUTTON_LABEL, str(exc)).to_dict()
            offload(
                services.interactions,
                "delivery_refused",
                lambda: client.views_open(trigger_id=trigger_id, view=view),
            )
            return
        ack()  # the handoff exists before Slack hears back
        # The form for whoever may fill it in; anyone else sees whose it is.
        args = (services, client, trigger_id, started.handoff_id, user_id)
        offload(services.interactions, "delivery_form", open_form, *args)
