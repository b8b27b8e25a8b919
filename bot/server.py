"""Runs the WSGI app under gunicorn, in-process (so `python -m bot` is the one command)."""

from __future__ import annotations

import logging
import os
from typing import Any

from gunicorn.app.base import BaseApplication

from bot.app import create_app
from bot.delivery_webhooks import DeliveryWebhooks
from bot.web import WebApp
from bot.webhooks import HubSpotWebhook
from bot.wiring import Services

log = logging.getLogger(__name__)


def build_wsgi(services: Services) -> WebApp:
    hubspot = HubSpotWebhook(
        services.settings.hubspot_client_secret, services.org, services.handoffs
    )
    from bot.connect import web_callback
    from bot.services.token_store import SqlTokenStore

    oauth = web_callback(
        services.settings, services.org, dict(os.environ), SqlTokenStore(services.uow)
    )
    delivery = DeliveryWebhooks(
        services.uow, services.delivery_hooks, services.delivery, services.kick
    )
    return WebApp(create_app(services), hubspot, services.settings.public_url, oauth, delivery)


class _Gunicorn(BaseApplication):  # type: ignore[misc]  # gunicorn ships no type hints
    def __init__(self, app: WebApp, options: dict[str, Any]) -> None:
        self._app = app
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> WebApp:
        return self._app


def serve(services: Services, *, with_worker: bool) -> None:
    """One gunicorn worker process with threads; the scheduler lives in that process."""
    app = build_wsgi(services)

    def post_fork(_server: Any, _worker: Any) -> None:
        # Connections and scheduler threads do not survive fork: make them in the worker.
        services.engine.dispose(close=False)
        if with_worker:
            from bot.worker import start_background

            start_background(services)

    port = services.settings.port
    log.info("http_starting port=%s slack_path=/slack/events hubspot_path=/webhooks/hubspot", port)
    _Gunicorn(
        app,
        {
            "bind": f"0.0.0.0:{port}",
            "workers": 1,  # the in-process scheduler must not be forked N times
            "threads": 8,
            "worker_class": "gthread",
            "timeout": 60,
            "accesslog": None,
            "post_fork": post_fork,
        },
    ).run()


def wsgi_app() -> WebApp:
    """Factory for `gunicorn 'bot.server:wsgi_app()'` (the Procfile's web process)."""
    from bot.__main__ import _settings_and_org
    from bot.logging_setup import configure_logging
    from bot.wiring import build_services

    settings, org = _settings_and_org(require_slack=True)
    configure_logging(settings.log_level)
    return build_wsgi(build_services(settings, org))
