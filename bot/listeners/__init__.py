"""Every Slack listener, grouped by surface; each module has `register(app, services)`."""

from __future__ import annotations

from slack_bolt import App

from bot.wiring import Services


def register_listeners(app: App, services: Services) -> None:
    from bot.listeners import (
        amendments,
        commands,
        delivery,
        form,
        handoff_message,
        history,
        home,
        money_check,
        reminders,
        thread,
    )

    # Amendments first: inside an amendment's modal, Save draft and the schedule select are
    # theirs (Bolt runs the first listener that matches).
    for module in (
        amendments,
        form,
        handoff_message,
        thread,
        commands,
        home,
        reminders,
        history,
        delivery,
        money_check,
    ):
        module.register(app, services)
