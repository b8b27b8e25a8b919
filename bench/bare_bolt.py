"""The baseline for bench/responsiveness.py: a Bolt app that only acknowledges, under the same
gunicorn settings as the app (one gthread worker, 8 threads). Not part of the product."""

from __future__ import annotations

import os
from typing import Any

from slack_bolt import Ack, App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient

# The same Web API stand-in as the app: Bolt asks auth.test once, and never a real host.
client = WebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"])
app = App(
    client=client,
    signing_secret=os.environ["SLACK_SIGNING_SECRET"],
    token_verification_enabled=False,
)


@app.action("open_form")
def on_click(ack: Ack) -> None:
    ack()


@app.event("message")
def on_message(event: dict[str, Any]) -> None:
    return None


wsgi = SlackRequestHandler(app)
