"""Buttons on the handoff message: Confirm (team members only), Retry, View handoff.

A Confirm or Retry is stored before Slack gets its answer; the ephemeral replies and the view
go out afterwards, off the acknowledging thread.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.ids import Action
from bot.listeners.form import open_form
from bot.listeners.offload import offload
from bot.services.handoffs import HandoffError
from bot.wiring import Services

log = logging.getLogger(__name__)


def _channel(body: dict[str, Any]) -> str | None:
    channel = body.get("channel") or {}
    container = body.get("container") or {}
    return channel.get("id") or container.get("channel_id")


def register(app: App, services: Services) -> None:
    def tell(client: WebClient, body: dict[str, Any], text: str) -> None:
        """An ephemeral note to the person who clicked, sent after the acknowledgement."""
        channel = _channel(body)
        if channel:
            offload(
                services.interactions,
                "ephemeral",
                lambda: client.chat_postEphemeral(
                    channel=channel, user=body["user"]["id"], text=text
                ),
            )

    @app.action(re.compile(rf"^{Action.CONFIRM}:"))
    def on_confirm(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        user_id = body["user"]["id"]
        raw_id, team = body["actions"][0]["value"].split(":", 1)
        handoff_id = int(raw_id)
        try:
            outcome = services.handoffs.confirm(handoff_id, team, user_id)
        except HandoffError as exc:
            ack()
            log.info("confirm_refused handoff=%s team=%s user=%s", handoff_id, team, user_id)
            tell(client, body, str(exc))
            return
        ack()  # the confirmation is stored before Slack hears back
        if not outcome.newly_confirmed:
            tell(
                client,
                body,
                f"{services.teams.team_name(team)} had already confirmed this handoff "
                f"(<@{outcome.confirmed_by}>).",
            )

    @app.action(re.compile(rf"^{Action.RETRY_EFFECT}:"))
    def on_retry(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        user_id = body["user"]["id"]
        raw_id, target = body["actions"][0]["value"].split(":", 1)
        try:
            services.handoffs.retry_effect(int(raw_id), target, user_id)
        except HandoffError as exc:
            ack()
            tell(client, body, str(exc))
            return
        ack()

    @app.action(Action.VIEW_HANDOFF)
    @app.action(Action.OPEN_HANDOFF)
    def on_view(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        args = (services, client, body["trigger_id"], int(body["actions"][0]["value"]))
        offload(services.interactions, "handoff_view", open_form, *args, body["user"]["id"])
