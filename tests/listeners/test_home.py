"""Home tab and reminder listeners, driven through a real Bolt App: thin, they call one service."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_bolt import App, BoltRequest
from slack_sdk import WebClient

from bot.listeners import home as home_listeners
from bot.listeners import reminders as reminder_listeners
from tests.bot.conftest import InlineExecutor
from tests.support.stub_server import Recorded, Reply, StubServer


@dataclass
class FakeHome:
    published: list[tuple[str, dict[str, int] | None]] = field(default_factory=list)
    exported: list[tuple[str, int]] = field(default_factory=list)

    def publish(self, user_id: str, pages: dict[str, int] | None = None) -> int:
        self.published.append((user_id, pages))
        return 3

    def export_stats(self, user_id: str, months: int) -> bool:
        self.exported.append((user_id, months))
        return True


@dataclass
class FakeReminders:
    snoozed: list[tuple[int, str]] = field(default_factory=list)

    def snooze(self, obligation_id: int, user_id: str) -> str:
        self.snoozed.append((obligation_id, user_id))
        return "Snoozed. You'll hear about this again tomorrow."


def _slack(request: Recorded) -> Reply:
    if request.path == "/api/auth.test":
        return Reply(body={"ok": True, "team_id": "T1", "user_id": "UBOT", "bot_id": "B1"})
    return Reply(body={"ok": True})


@pytest.fixture
def slack() -> Iterator[StubServer]:
    """Stands in for Slack: the Web API (Bolt's auth.test) and the response_url hooks."""
    with StubServer(_slack) as server:
        yield server


@pytest.fixture
def services() -> SimpleNamespace:
    return SimpleNamespace(
        home=FakeHome(),
        reminders=FakeReminders(),
        interactions=InlineExecutor(),
        background=InlineExecutor(),
    )


@pytest.fixture
def app(services: SimpleNamespace, slack: StubServer) -> App:
    app = App(
        client=WebClient(token="xoxb-test", base_url=f"{slack.url}/api/"),
        signing_secret="unused",
        request_verification_enabled=False,
        token_verification_enabled=False,
        process_before_response=True,  # run listeners inline so the test sees their effects
    )
    home_listeners.register(app, services)
    reminder_listeners.register(app, services)
    return app


def _event(app: App, event: dict[str, Any]) -> int:
    body = {"type": "event_callback", "team_id": "T1", "api_app_id": "A1", "event": event}
    request = BoltRequest(body=json.dumps(body), headers={"content-type": ["application/json"]})
    return app.dispatch(request).status


def _click(app: App, action_id: str, value: str, response_url: str | None) -> int:
    payload: dict[str, Any] = {
        "type": "block_actions",
        "team": {"id": "T1"},
        "user": {"id": "USALES1"},
        "api_app_id": "A1",
        "trigger_id": "1.2.3",
        "actions": [{"type": "button", "action_id": action_id, "value": value, "block_id": "b"}],
    }
    if response_url:
        payload["response_url"] = response_url
    body = urlencode({"payload": json.dumps(payload)})
    headers = {"content-type": ["application/x-www-form-urlencoded"]}
    return app.dispatch(BoltRequest(body=body, headers=headers)).status


def test_home_opened_publishes_the_users_home(app: App, services: SimpleNamespace) -> None:
    assert _event(app, {"type": "app_home_opened", "user": "UOPS1", "tab": "home"}) == 200
    assert _event(app, {"type": "app_home_opened", "user": "UOPS1", "tab": "messages"}) == 200
    assert services.home.published == [("UOPS1", None)]


def test_home_paging_buttons_republish_at_the_requested_page(
    app: App, services: SimpleNamespace
) -> None:
    assert _click(app, "home_page_next", "confirm:12", None) == 200
    assert _click(app, "home_page_previous", "confirm:11", None) == 200
    assert _click(app, "home_page_next", "confirm:oops", None) == 200
    assert services.home.published == [
        ("USALES1", {"confirm": 12}),
        ("USALES1", {"confirm": 11}),
        ("USALES1", {}),
    ]


def test_home_export_button_sends_the_csv(app: App, services: SimpleNamespace) -> None:
    assert _click(app, "export_stats_csv", "6", None) == 200
    assert _click(app, "export_stats_csv", "99", None) == 200
    assert services.home.exported == [("USALES1", 6), ("USALES1", 24)]


def test_reminders_snooze_button_answers_only_the_presser(
    app: App, services: SimpleNamespace, slack: StubServer
) -> None:
    assert _click(app, "snooze_reminder", "42", f"{slack.url}/hook") == 200
    assert services.reminders.snoozed == [(42, "USALES1")]
    replies: list[Recorded] = slack.calls("POST", "/hook")
    assert [r.json for r in replies] == [
        {
            "text": "Snoozed. You'll hear about this again tomorrow.",
            "response_type": "ephemeral",
            "replace_original": False,
        }
    ]


def test_reminders_snooze_with_a_bad_value_changes_nothing(
    app: App, services: SimpleNamespace, slack: StubServer
) -> None:
    _click(app, "snooze_reminder", "not-a-number", f"{slack.url}/hook")
    assert services.reminders.snoozed == []
    assert (
        slack.calls("POST", "/hook")[0].json["text"] == "This reminder button is no longer valid."
    )
