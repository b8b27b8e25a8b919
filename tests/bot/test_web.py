"""The web process over real HTTP on 127.0.0.1: routes, the HubSpot webhook, the health check."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
import requests

from bot.server import build_wsgi
from tests.bot.conftest import HUBSPOT_SECRET, SELLER, Harness, won_event


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def served(harness: Harness) -> Iterator[tuple[Harness, str]]:
    server: WSGIServer = make_server(
        "127.0.0.1", 0, build_wsgi(harness.services), handler_class=_Quiet
    )
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    yield harness, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def _signed_post(url: str, body: bytes, secret: str = HUBSPOT_SECRET) -> requests.Response:
    timestamp = str(int(time.time() * 1000))
    source = b"POST" + url.encode() + body + timestamp.encode()
    signature = base64.b64encode(hmac.new(secret.encode(), source, hashlib.sha256).digest())
    return requests.post(
        url,
        data=body,
        timeout=10,
        headers={
            "Content-Type": "application/json",
            "X-HubSpot-Signature-v3": signature.decode(),
            "X-HubSpot-Request-Timestamp": timestamp,
        },
    )


def test_web_health_route_answers(served: tuple[Harness, str]) -> None:
    _, base = served

    response = requests.get(f"{base}/healthz", timeout=10)

    assert response.status_code == 200
    assert response.json() == {"ok": True}


def test_web_hubspot_webhook_over_http_starts_the_gate(served: tuple[Harness, str]) -> None:
    harness, base = served
    harness.hubspot.add_deal("808")
    body = json.dumps([won_event("808", 3)]).encode()

    response = _signed_post(f"{base}/webhooks/hubspot", body)

    assert response.status_code == 200
    assert response.json() == {"received": 1}
    assert harness.hubspot.stage_changes == [("808", "4242")]
    assert len(harness.slack.dms_to(SELLER)) == 1


def test_web_hubspot_webhook_with_forged_signature_is_401(served: tuple[Harness, str]) -> None:
    harness, base = served
    body = json.dumps([won_event("809", 4)]).encode()

    response = _signed_post(f"{base}/webhooks/hubspot", body, secret="forged")

    assert response.status_code == 401
    assert harness.slack.messages == []


def test_web_slack_route_refuses_unsigned_requests(served: tuple[Harness, str]) -> None:
    _, base = served

    response = requests.post(f"{base}/slack/events", data={"command": "/handoff"}, timeout=10)

    assert response.status_code == 401


def test_web_unknown_path_is_404(served: tuple[Harness, str]) -> None:
    _, base = served

    assert requests.get(f"{base}/nope", timeout=10).status_code == 404


def test_web_behind_proxies_signature_uses_first_forwarded_host_and_logs_it(
    served: tuple[Harness, str], caplog: pytest.LogCaptureFixture
) -> None:
    harness, base = served
    harness.hubspot.add_deal("810")
    body = json.dumps([won_event("810", 5)]).encode()
    called = "https://handoff.example/webhooks/hubspot"  # what HubSpot signed
    timestamp = str(int(time.time() * 1000))
    source = b"POST" + called.encode() + body + timestamp.encode()
    signature = base64.b64encode(hmac.new(HUBSPOT_SECRET.encode(), source, hashlib.sha256).digest())

    with caplog.at_level("INFO", logger="bot.web"):
        response = requests.post(
            f"{base}/webhooks/hubspot",
            data=body,
            timeout=10,
            headers={
                "Content-Type": "application/json",
                "X-HubSpot-Signature-v3": signature.decode(),
                "X-HubSpot-Request-Timestamp": timestamp,
                "X-Forwarded-Host": "handoff.example, edge.internal:8080",
                "X-Forwarded-Proto": "https, http",
            },
        )

    assert response.status_code == 200
    assert len(harness.slack.dms_to(SELLER)) == 1
    assert "hubspot_signature_url url=https://handoff.example " in caplog.text
