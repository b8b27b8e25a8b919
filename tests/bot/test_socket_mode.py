"""The Quick start's path: `python -m bot serve` in Socket Mode, against local stand-ins.

The README sets Socket Mode up first (SLACK_APP_TOKEN set), so this runs the real process that way:
FakeSlack answers `apps.connections.open` with the URL of a local Socket Mode endpoint
(tests/support/fake_socket_mode.py), and the test plays Slack over that WebSocket — a slash
command, the form's submission, a question in the thread, a refresh of the connection and the
confirmations. It asserts only what people would see: views, messages, the acks Slack gets.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.bot.conftest import (
    FIN_MEMBER,
    HANDOFF_CHANNEL,
    OPS_MEMBER,
    SELLER,
    SIGNING_SECRET,
    load_payload,
    org_dict,
)
from tests.bot.test_handoff_flow import DEAL, VALID
from tests.bot.test_process import ROOT, wait_for
from tests.support.fake_hubspot import FakeHubSpot
from tests.support.fake_slack import FakeSlack, Posted
from tests.support.fake_socket_mode import FakeSocketMode
from tests.support.slack_state import state_from_values

APP_TOKEN = "xapp-1-A0HANDOFF-1-test"
FORM = "handoff_form."


@dataclass
class Running:
    slack: FakeSlack
    hubspot: FakeHubSpot
    link: FakeSocketMode
    process: subprocess.Popen[str]

    def output(self) -> str:
        self.process.terminate()
        out, _ = self.process.communicate(timeout=20)
        return out


@contextmanager
def serve_socket_mode(
    tmp_path: Path,
    org: dict[str, Any],
    slack: FakeSlack,
    hubspot: FakeHubSpot,
    link: FakeSocketMode,
    extra_env: dict[str, str] | None = None,
) -> Iterator[Running]:
    """`python -m bot serve` in Socket Mode with `org`, against the serving stand-ins."""
    (tmp_path / "org.yml").write_text(yaml.safe_dump(org))
    slack.socket_mode_url = link.connection_url
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "HUBSPOT_"))}
    env.update(
        extra_env or {},
        PYTHONPATH=str(ROOT),
        PORT="0",  # unused: Socket Mode serves no HTTP
        ORG_CONFIG=str(tmp_path / "org.yml"),
        DATABASE_URL=f"sqlite:///{tmp_path / 'app.sqlite3'}",
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_APP_TOKEN=APP_TOKEN,
        SLACK_API_URL=slack.url,
        HUBSPOT_TOKEN="pat-test",
        HUBSPOT_CLIENT_SECRET="hubspot-client-secret",
        HUBSPOT_BASE_URL=hubspot.url,
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield Running(slack, hubspot, link, process)
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=20)


@pytest.fixture
def socket_app(tmp_path: Path) -> Iterator[Running]:
    slack = FakeSlack(
        users_by_email={"sam@seller.example": SELLER}, usergroups={"S0OPS": [OPS_MEMBER]}
    )
    hubspot = FakeHubSpot()
    with (
        FakeSocketMode() as link,
        slack.serving(),
        hubspot.serving(),
        serve_socket_mode(tmp_path, org_dict(), slack, hubspot, link) as running,
    ):
        yield running


def command(run: Running, text: str, user: str = SELLER) -> dict[str, Any]:
    """`/handoff <text>`: a slash_commands envelope (the command's fields as its payload)."""
    fields = {k: v for k, v in load_payload("slash_command.parsed.json").items()}
    fields.update(
        command="/handoff",
        text=text,
        user_id=user,
        team_id="T111",
        channel_id=HANDOFF_CHANNEL,
        trigger_id="trig.socket",
        response_url=run.slack.response_url,
    )
    return run.link.request("slash_commands", fields, accepts_response_payload=True)


def submit(run: Running, view_id: str, view: dict[str, Any], values: dict[str, Any]) -> Any:
    payload = load_payload("view_submission.json")
    payload["user"] = {"id": SELLER, "username": SELLER, "team_id": "T111"}
    payload["view"] = {
        **payload["view"],
        **view,
        "id": view_id,
        "state": {"values": state_from_values(view, values)},
    }
    return run.link.request("interactive", payload, accepts_response_payload=True)


def click(run: Running, action_id: str, value: str, user: str) -> dict[str, Any]:
    payload = load_payload("block_actions.message_button.json")
    payload["user"] = {"id": user, "username": user, "team_id": "T111"}
    payload["channel"] = {"id": HANDOFF_CHANNEL, "name": "handoffs"}
    payload["actions"] = [
        {
            "type": "button",
            "action_id": action_id,
            "block_id": "b",
            "value": value,
            "text": {"type": "plain_text", "text": "x"},
            "action_ts": "1.2",
        }
    ]
    return run.link.request("interactive", payload, accepts_response_payload=False)


def thread_reply(run: Running, root_ts: str, user: str, text: str, ts: str) -> dict[str, Any]:
    body = load_payload("event_callback.message.thread_reply.json")
    body["event"] = {
        "type": "message",
        "channel": HANDOFF_CHANNEL,
        "user": user,
        "text": text,
        "ts": ts,
        "thread_ts": root_ts,
        "parent_user_id": "UBOT",
        "event_ts": ts,
        "channel_type": "channel",
    }
    body["event_id"] = f"Ev{ts.replace('.', '')}"
    return run.link.request("events_api", body, accepts_response_payload=False)


def form_view(slack: FakeSlack) -> tuple[str, dict[str, Any]] | None:
    """The handoff form, once a modal shows it."""
    for view_id, view in reversed(slack.views.items()):
        if str(view.get("callback_id", "")).startswith(FORM):
            return view_id, view
    return None


def root_message(slack: FakeSlack) -> Posted | None:
    """The handoff's message in the handoffs channel, as it looks now."""
    roots = [m for m in slack.in_channel(HANDOFF_CHANNEL) if m.thread_ts is None]
    return slack.latest(HANDOFF_CHANNEL, roots[0].ts) if roots else None


def shows(message: Posted | None, text: str) -> bool:
    return message is not None and text in json.dumps(message.blocks)


def test_socket_mode_runs_a_handoff_from_command_to_confirmation_across_a_refresh(
    socket_app: Running,
) -> None:
    run, slack = socket_app, socket_app.slack
    run.link.wait_connected()
    assert run.link.connections, run.output()
    hubspot_deal_contacts(run)

    # /handoff <deal>: acked at once, then the form opens (prefilled from the CRM).
    command(run, DEAL)
    assert wait_for(lambda: form_view(slack) is not None), run.output()
    found = form_view(slack)
    assert found is not None
    view_id, view = found

    # Submission, step by step: each ack carries the modal's next state back over the socket.
    for _ in range(3):
        answer = submit(run, view_id, view, VALID)
        assert answer["payload"]["response_action"] == "update", answer
        assert "errors" not in answer["payload"], answer
        view = answer["payload"]["view"]
        if not str(view.get("callback_id", "")).startswith(FORM):
            break  # the "submitted" view: the form is done
    assert not str(view.get("callback_id", "")).startswith(FORM), view

    # The handoff's message and thread appear in the channel.
    assert wait_for(lambda: shows(root_message(slack), "Confirm for Operations")), run.output()
    root = root_message(slack)
    assert root is not None

    # A question in the thread reaches the seller and shows on the message.
    thread_reply(run, root.ts, OPS_MEMBER, "Who grants VPN access?", "1700000100.000100")
    assert wait_for(lambda: shows(root_message(slack), "Who grants VPN access?")), run.output()
    assert wait_for(
        lambda: any(
            f"<@{SELLER}>" in m.text for m in slack.in_channel(HANDOFF_CHANNEL, thread_ts=root.ts)
        )
    ), run.output()

    # Slack retires the connection: the app fetches a new URL, reconnects, drops the old one.
    run.link.refresh()
    assert len(slack.calls("apps.connections.open")) >= 2  # a fresh URL for the new link
    assert run.link.wait_closed(0)

    # Both teams confirm over the new connection: the handoff is complete.
    handoff_id = handoff_id_on(root)
    click(run, "confirm_handoff:ops", f"{handoff_id}:ops", OPS_MEMBER)
    click(run, "confirm_handoff:finance", f"{handoff_id}:finance", FIN_MEMBER)
    assert wait_for(lambda: shows(root_message(slack), "Handoff complete")), run.output()

    assert run.link.problems == []
    assert slack.problems == []


def hubspot_deal_contacts(run: Running) -> None:
    run.hubspot.add_deal(
        DEAL,
        contacts=(
            {
                "firstname": "Dana",
                "lastname": "Ops",
                "email": "dana@acme.example",
                "jobtitle": "Operations Director",
            },
        ),
    )


def handoff_id_on(message: Posted) -> str:
    """The handoff id the message's Confirm buttons carry (`<id>:<team>`)."""
    for block in message.blocks:
        for element in block.get("elements", []):
            if str(element.get("action_id", "")).startswith("confirm_handoff:"):
                return str(element["value"]).split(":")[0]
    raise AssertionError("no Confirm button on the handoff message")
