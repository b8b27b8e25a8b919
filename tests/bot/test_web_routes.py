"""WebApp called as WSGI: which URL the HubSpot v3 signature is checked against, and the routes.

HubSpot signs the exact URL it called, query string included; behind a proxy that is the public
URL, not whatever Host header reaches the process.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import time
from typing import Any

import pytest

from bot.app import create_app
from bot.web import MAX_WEBHOOK_BYTES, WebApp, _reply
from tests.bot.conftest import HUBSPOT_SECRET, Harness, won_event

PUBLIC = "https://handoff.example.com"


def _web(harness: Harness, public_url: str | None = None) -> WebApp:
    return WebApp(create_app(harness.services), harness.webhook, public_url)


def _signature(url: str, body: bytes, timestamp: str, secret: str = HUBSPOT_SECRET) -> str:
    source = b"POST" + url.encode() + body + timestamp.encode()
    return base64.b64encode(hmac.new(secret.encode(), source, hashlib.sha256).digest()).decode()


def _environ(
    path: str, body: bytes = b"", *, query: str = "", method: str = "POST", **extra: str
) -> dict[str, Any]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "HTTP_HOST": "10.0.0.7:8000",
        "CONTENT_TYPE": "application/json",
    }
    if body:
        environ["CONTENT_LENGTH"] = str(len(body))
    environ.update(extra)
    return environ


def _call(web: WebApp, environ: dict[str, Any]) -> tuple[str, dict[str, str], Any]:
    """The status line, headers and JSON body WebApp answers."""
    answer: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        answer.update(status=status, headers=dict(headers))

    raw = b"".join(web(environ, start_response))
    assert answer["headers"]["Content-Type"] == "application/json"
    assert answer["headers"]["Content-Length"] == str(len(raw))
    return answer["status"], answer["headers"], json.loads(raw)


def _hubspot(web: WebApp, signed_url: str, *, query: str = "", **extra: str) -> tuple[str, Any]:
    """POST one won-deal event to /webhooks/hubspot, signed for `signed_url`."""
    body = json.dumps([won_event("808", 3)]).encode()
    timestamp = str(int(time.time() * 1000))
    environ = _environ(
        "/webhooks/hubspot",
        body,
        query=query,
        HTTP_X_HUBSPOT_SIGNATURE_V3=_signature(signed_url, body, timestamp),
        HTTP_X_HUBSPOT_REQUEST_TIMESTAMP=timestamp,
        **extra,
    )
    status, _, payload = _call(web, environ)
    return status, payload


@pytest.fixture
def deal(harness: Harness) -> Harness:
    harness.hubspot.add_deal("808")
    return harness


def test_web_hubspot_signature_covers_the_query_string(deal: Harness) -> None:
    web = _web(deal)

    signed = "http://10.0.0.7:8000/webhooks/hubspot?portal=48975575"
    assert _hubspot(web, signed, query="portal=48975575") == ("200 OK", {"received": 1})


def test_web_hubspot_signature_without_the_query_string_is_refused(deal: Harness) -> None:
    web = _web(deal)

    status, _ = _hubspot(web, "http://10.0.0.7:8000/webhooks/hubspot", query="portal=48975575")

    assert status == "401 Unauthorized"


def test_web_hubspot_signature_for_the_public_url_is_accepted_whatever_the_host(
    deal: Harness,
) -> None:
    web = _web(deal, PUBLIC + "/")

    signed = f"{PUBLIC}/webhooks/hubspot?portal=48975575"
    assert _hubspot(web, signed, query="portal=48975575") == ("200 OK", {"received": 1})


def test_web_hubspot_signature_for_the_host_is_refused_when_a_public_url_is_set(
    deal: Harness,
) -> None:
    web = _web(deal, PUBLIC)

    status, _ = _hubspot(web, "http://10.0.0.7:8000/webhooks/hubspot")

    assert status == "401 Unauthorized"


def test_web_hubspot_signature_follows_forwarded_proto_and_host(deal: Harness) -> None:
    web = _web(deal)

    status, _ = _hubspot(
        web,
        "https://edge.example.com/webhooks/hubspot",
        HTTP_X_FORWARDED_PROTO="https",
        HTTP_X_FORWARDED_HOST="edge.example.com",
    )

    assert status == "200 OK"


def test_web_hubspot_signature_without_proxy_headers_uses_scheme_and_host(deal: Harness) -> None:
    web = _web(deal)

    status, _ = _hubspot(
        web, "https://10.0.0.7:8000/webhooks/hubspot", **{"wsgi.url_scheme": "https"}
    )

    assert status == "200 OK"


def test_web_hubspot_body_over_the_limit_is_413_unread(harness: Harness) -> None:
    web = _web(harness)
    environ = _environ("/webhooks/hubspot", CONTENT_LENGTH=str(MAX_WEBHOOK_BYTES + 1))

    status, _, payload = _call(web, environ)

    assert (status, payload) == ("413 Payload Too Large", {"error": "body too large"})
    assert environ["wsgi.input"].tell() == 0


def test_web_hubspot_body_at_the_limit_is_read_and_checked(harness: Harness) -> None:
    web = _web(harness)
    environ = _environ("/webhooks/hubspot", CONTENT_LENGTH=str(MAX_WEBHOOK_BYTES))

    status, _, _ = _call(web, environ)

    assert status == "401 Unauthorized"  # read, then refused: it carries no signature


def test_web_hubspot_without_a_client_secret_is_503(harness: Harness) -> None:
    harness.webhook.client_secret = None
    web = _web(harness)

    status, _, _ = _call(web, _environ("/webhooks/hubspot", b"[]"))

    assert status == "503 Service Unavailable"


def test_web_hubspot_route_takes_only_post(harness: Harness) -> None:
    status, _, payload = _call(_web(harness), _environ("/webhooks/hubspot", method="GET"))

    assert (status, payload) == ("404 Not Found", {"error": "not found"})


def test_web_health_and_unknown_routes(harness: Harness) -> None:
    web = _web(harness)

    assert _call(web, _environ("/healthz", method="GET"))[::2] == ("200 OK", {"ok": True})
    assert _call(web, _environ("/nope", method="GET"))[::2] == (
        "404 Not Found",
        {"error": "not found"},
    )


def test_web_malformed_hubspot_body_is_400(harness: Harness) -> None:
    body = b"not json"
    timestamp = str(int(time.time() * 1000))
    environ = _environ(
        "/webhooks/hubspot",
        body,
        HTTP_X_HUBSPOT_SIGNATURE_V3=_signature(
            "http://10.0.0.7:8000/webhooks/hubspot", body, timestamp
        ),
        HTTP_X_HUBSPOT_REQUEST_TIMESTAMP=timestamp,
    )

    status, _, _ = _call(_web(harness), environ)

    assert status == "400 Bad Request"


# --- found alive by ./scripts/mutation ------------------------------------------------------------
# PEP 3333 guarantees PATH_INFO (may be empty) and REQUEST_METHOD, so their defaults only matter
# for a request no server sends: a missing path or method routes to 404 whatever the default, and
# _full_uri only runs once the path is /webhooks/hubspot. Those mutants are equivalent, as are
# dropping path="/slack/events" from SlackRequestHandler (its default) and reading 0 bytes when
# CONTENT_LENGTH is 0. wsgi.url_scheme and HTTP_HOST can be absent in practice.


def test_web_hubspot_signature_without_host_or_scheme_uses_http_localhost(deal: Harness) -> None:
    web = _web(deal)
    body = json.dumps([won_event("808", 3)]).encode()
    timestamp = str(int(time.time() * 1000))
    environ = _environ(
        "/webhooks/hubspot",
        body,
        HTTP_X_HUBSPOT_SIGNATURE_V3=_signature(
            "http://localhost/webhooks/hubspot", body, timestamp
        ),
        HTTP_X_HUBSPOT_REQUEST_TIMESTAMP=timestamp,
    )
    del environ["HTTP_HOST"], environ["wsgi.url_scheme"]

    assert _call(web, environ)[0] == "200 OK"


def test_web_hubspot_public_url_keeps_its_path(deal: Harness) -> None:
    web = _web(deal, "https://edge.example.com/HX/")

    status, _ = _hubspot(web, "https://edge.example.com/HX/webhooks/hubspot")

    assert status == "200 OK"


def test_web_hubspot_without_content_length_reads_no_body(harness: Harness) -> None:
    timestamp = str(int(time.time() * 1000))
    environ = _environ(
        "/webhooks/hubspot",
        HTTP_X_HUBSPOT_SIGNATURE_V3=_signature(
            "http://10.0.0.7:8000/webhooks/hubspot", b"", timestamp
        ),
        HTTP_X_HUBSPOT_REQUEST_TIMESTAMP=timestamp,
    )
    environ["wsgi.input"] = io.BytesIO(b"[1]")  # never read: no CONTENT_LENGTH

    status, _, payload = _call(_web(harness), environ)

    # Signed for an empty body, so the signature matches and the empty body is malformed.
    assert (status, payload) == ("400 Bad Request", {"error": "body is not valid JSON"})
    assert environ["wsgi.input"].tell() == 0


def test_web_reply_with_an_unlisted_status_has_no_reason_phrase() -> None:
    seen: list[str] = []
    _reply(lambda status, headers: seen.append(status), 500, {})
    assert seen == ["500 "]
