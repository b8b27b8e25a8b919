"""create_app(services) -> the Bolt App with every listener and one error handler."""

from __future__ import annotations

import logging
from concurrent.futures import Executor
from typing import Any

from slack_bolt import App, BoltResponse

from bot.listeners import register_listeners
from bot.wiring import Services

log = logging.getLogger(__name__)


def create_app(
    services: Services,
    *,
    listener_executor: Executor | None = None,
    token_verification_enabled: bool = True,
) -> App:
    """The Bolt app; `listener_executor` runs lazy listeners (tests pass an inline one)."""
    settings = services.settings
    app = App(
        client=services.client,
        signing_secret=settings.slack_signing_secret,
        # Each listener runs on the request's own thread and Slack gets its answer when it
        # returns: listeners store what the request carries (milliseconds), then hand Slack and
        # vendor calls to `services.interactions` / `services.background`. So an answer never
        # waits for a free thread in Bolt's small listener pool, and never precedes the write.
        process_before_response=True,
        token_verification_enabled=token_verification_enabled,
        ignoring_self_events_enabled=True,
        listener_executor=listener_executor,
    )
    register_listeners(app, services)

    @app.error
    def on_error(error: Exception, body: dict[str, Any], logger: logging.Logger) -> BoltResponse:
        kind = body.get("type") or (body.get("event") or {}).get("type") or "unknown"
        user = (body.get("user") or {}).get("id") or body.get("user_id")
        log.error(
            "listener_error type=%s user=%s error=%s: %s",
            kind,
            user,
            type(error).__name__,
            str(error)[:300],
            exc_info=error,
        )
        return BoltResponse(status=500, body="")

    return app
