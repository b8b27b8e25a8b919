"""Every Slack listener, grouped by surface; each module has `register(app, services)`."""

from __future__ import annotations

from slack_bolt import App

from bot.wiring import Services


def register_listeners(app: App, services: Services) -> None:
    from bot.listeners import (
        commands,
        delivery,
        form,
        handoff_message,
        history,
        home,
        reminders,
        thread,
    )

    for module in (form, handoff_message, thread, commands, home, reminders, history, delivery):
        module.register(app, services)
