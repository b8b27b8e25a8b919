"""The real process (`python -m bot serve`, gunicorn + scheduler) against local stand-ins.

This is how a newcomer runs the app; here Slack and HubSpot are played on 127.0.0.1, and the test
talks to the app over HTTP as Slack and HubSpot would.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
import yaml

from tests.bot.conftest import HUBSPOT_SECRET, SELLER, SIGNING_SECRET, org_dict, won_event
from tests.support.fake_hubspot import FakeHubSpot
from tests.support.fake_slack import FakeSlack

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(check: Callable[[], bool], seconds: float = 30.0) -> bool:
    """Poll until `check()` holds (the app works in the background); False if it never does."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def app_process(tmp_path: Path) -> Iterator[tuple[str, FakeSlack, FakeHubSpot]]:
    slack = FakeSlack(users_by_email={"sam@seller.example": SELLER})
    hubspot = FakeHubSpot()
    port = free_port()
    (tmp_path / "org.yml").write_text(yaml.safe_dump(org_dict()))
    with slack.serving(), hubspot.serving():
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "HUBSPOT_"))}
        env.update(
            PYTHONPATH=str(ROOT),
            PORT=str(port),
            ORG_CONFIG=str(tmp_path / "org.yml"),
            DATABASE_URL=f"sqlite:///{tmp_path / 'app.sqlite3'}",
            SLACK_BOT_TOKEN="xoxb-test",
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_URL=slack.url,
            HUBSPOT_TOKEN="pat-test",
            HUBSPOT_CLIENT_SECRET=HUBSPOT_SECRET,
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
        base = f"http://127.0.0.1:{port}"
        try:
            assert wait_for(lambda: _healthy(base)), _output(process)
            yield base, slack, hubspot
        finally:
            process.terminate()
            process.wait(timeout=20)


def _healthy(base: str) -> bool:
    try:
        return requests.get(f"{base}/healthz", timeout=1).status_code == 200
    except requests.ConnectionError:
        return False


def _output(process: subprocess.Popen[str]) -> str:
    process.terminate()
    out, _ = process.communicate(timeout=20)
    return out


def test_process_serves_hubspot_webhook_and_dms_the_owner(
    app_process: tuple[str, FakeSlack, FakeHubSpot],
) -> None:
    base, slack, hubspot = app_process
    hubspot.add_deal("901", name="Acme rollout")
    url = f"{base}/webhooks/hubspot"
    body = json.dumps([won_event("901", 1)]).encode()
    timestamp = str(int(time.time() * 1000))
    digest = hmac.new(
        HUBSPOT_SECRET.encode(), b"POST" + url.encode() + body + timestamp.encode(), hashlib.sha256
    ).digest()

    response = requests.post(
        url,
        data=body,
        timeout=10,
        headers={
            "Content-Type": "application/json",
            "X-HubSpot-Signature-v3": base64.b64encode(digest).decode(),
            "X-HubSpot-Request-Timestamp": timestamp,
        },
    )

    assert response.status_code == 200
    assert wait_for(lambda: len(slack.dms_to(SELLER)) == 1)
    assert hubspot.stage_changes == [("901", "4242")]
    assert "Acme rollout" in slack.dms_to(SELLER)[0].text


def test_process_answers_a_signed_slash_command(
    app_process: tuple[str, FakeSlack, FakeHubSpot],
) -> None:
    base, _, _ = app_process
    body = "command=%2Fhandoff&text=help&user_id=U0SELLER&team_id=T111&trigger_id=t"
    timestamp = str(int(time.time()))
    signature = (
        "v0="
        + hmac.new(
            SIGNING_SECRET.encode(), f"v0:{timestamp}:{body}".encode(), hashlib.sha256
        ).hexdigest()
    )

    response = requests.post(
        f"{base}/slack/events",
        data=body,
        timeout=10,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Signature": signature,
            "X-Slack-Request-Timestamp": timestamp,
        },
    )

    assert response.status_code == 200
    assert "/handoff stats" in response.text
