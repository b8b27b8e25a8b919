"""The App Home tab: published when opened; list paging and the managers' CSV export."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from bot.listeners.offload import offload
from bot.render.home import (
    EXPORT_MONTHS,
    EXPORT_STATS,
    HOME_PAGE_NEXT,
    HOME_PAGE_PREVIOUS,
)


def register(app: App, services: Any) -> None:
    """Map the Home tab's event and buttons to the Home service."""

    @app.event("app_home_opened")
    def on_home_opened(event: dict[str, Any]) -> None:
        # The same event fires for the Messages tab. Rendering reads the database and
        # publishing calls Slack: both happen after the acknowledgement.
        if event.get("tab", "home") == "home":
            offload(services.interactions, "home_publish", services.home.publish, event["user"])

    def on_page(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        key, _, offset = str(action.get("value", "")).partition(":")
        pages = {key: int(offset)} if offset.isdigit() else {}
        offload(
            services.interactions, "home_page", services.home.publish, body["user"]["id"], pages
        )

    app.action(HOME_PAGE_NEXT)(on_page)
    app.action(HOME_PAGE_PREVIOUS)(on_page)

    @app.action(EXPORT_STATS)
    def on_export_stats(ack: Ack, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        value = str(action.get("value", ""))
        months = int(value) if value.isdigit() else EXPORT_MONTHS
        offload(
            services.background,
            "stats_export",
            services.home.export_stats,
            body["user"]["id"],
            min(max(months, 1), 24),
        )
