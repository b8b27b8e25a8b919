"""The WSGI app of the `web` process: Slack, the HubSpot webhook and a health route."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import parse_qs

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler

from bot.delivery_webhooks import DeliveryWebhooks
from bot.webhooks import HubSpotWebhook

log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]
Environ = dict[str, Any]

MAX_WEBHOOK_BYTES = 1_000_000  # 100 HubSpot events are a few tens of kB
OAUTH_CALLBACK = re.compile(r"/oauth/([a-z]+)/callback")
DELIVERY_HOOK = re.compile(r"/webhooks/(asana|jira)/([A-Za-z0-9_-]{16,64})")

# vendor, query parameters -> (status, text for the person's browser); see bot.connect
OAuthCallback = Callable[[str, Mapping[str, str]], tuple[int, str]]


class WebApp:
    """Routes by path; anything unknown is a 404. Runs under gunicorn (or wsgiref locally)."""

    def __init__(
        self,
        bolt: App,
        hubspot: HubSpotWebhook,
        public_url: str | None,
        oauth_callback: OAuthCallback | None = None,
        delivery: DeliveryWebhooks | None = None,
    ) -> None:
        self.slack = SlackRequestHandler(bolt, path="/slack/events")
        self.hubspot = hubspot
        self.public_url = public_url.rstrip("/") if public_url else None
        self.oauth_callback = oauth_callback
        self.delivery = delivery
        self._announced: str | None = None  # the last request-derived URL that was logged
        if self.public_url:
            log.info("hubspot_signature_url url=%s from=PUBLIC_URL", self.public_url)
        else:
            log.info(
                "hubspot_signature_url from=request (Host, or X-Forwarded-Host/-Proto behind a "
                "proxy: first value); the URL is logged when a forwarded request first arrives"
            )

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path == "/slack/events":
            return self.slack(environ, start_response)
        if path == "/webhooks/hubspot" and method == "POST":
            return self._hubspot(environ, start_response)
        hook = DELIVERY_HOOK.fullmatch(path)
        if hook and method == "POST" and self.delivery is not None:
            return self._delivery(environ, start_response, hook.group(1), hook.group(2))
        if path == "/healthz":
            return _reply(start_response, 200, {"ok": True})
        oauth = OAUTH_CALLBACK.fullmatch(path)
        if oauth and method == "GET" and self.oauth_callback is not None:
            query = parse_qs(environ.get("QUERY_STRING", ""))
            status, text = self.oauth_callback(oauth.group(1), {k: v[-1] for k, v in query.items()})
            return _reply(start_response, status, {"ok": status == 200, "message": text})
        return _reply(start_response, 404, {"error": "not found"})

    def _hubspot(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length > MAX_WEBHOOK_BYTES:
            return _reply(start_response, 413, {"error": "body too large"})
        body = environ["wsgi.input"].read(length) if length else b""
        headers = {
            key[5:].replace("_", "-").title(): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        response = self.hubspot.handle("POST", self._full_uri(environ), headers, body)
        return _reply(start_response, response.status, response.body)

    def _delivery(
        self, environ: Environ, start_response: StartResponse, vendor: str, token: str
    ) -> Iterable[bytes]:
        """An ops tool's webhook (issue 9): its signature covers the raw body, read as sent."""
        assert self.delivery is not None
        body, headers = _raw_request(environ)
        if body is None:
            return _reply(start_response, 413, {"error": "body too large"})
        answer = self.delivery.handle(vendor, token, headers, body)
        return _reply(start_response, answer.status, answer.body, answer.headers)

    def _full_uri(self, environ: Environ) -> str:
        """The URL HubSpot called, which its v3 signature covers (PUBLIC_URL behind a proxy)."""
        path = environ.get("PATH_INFO", "")
        query = environ.get("QUERY_STRING")
        suffix = f"{path}?{query}" if query else path
        if self.public_url:
            return self.public_url + suffix
        # Each proxy appends its own value: the first is what the client (HubSpot) called.
        forwarded_host = _first(environ.get("HTTP_X_FORWARDED_HOST"))
        forwarded_proto = _first(environ.get("HTTP_X_FORWARDED_PROTO"))
        scheme = forwarded_proto or environ.get("wsgi.url_scheme", "http")
        host = forwarded_host or environ.get("HTTP_HOST", "localhost")
        base = f"{scheme}://{host}"
        if (forwarded_host or forwarded_proto) and base != self._announced:
            self._announced = base
            log.warning(
                "hubspot_signature_url url=%s from=x-forwarded-headers "
                "(PUBLIC_URL is unset; set it to pin the URL the signature check uses)",
                base,
            )
        return base + suffix


def _first(header: str | None) -> str | None:
    """The first value of a comma-separated forwarded header, or None when absent or empty."""
    first = (header or "").split(",")[0].strip()
    return first or None


def _raw_request(environ: Environ) -> tuple[bytes | None, dict[str, str]]:
    """The raw body (None when over the limit) and the request's headers."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length > MAX_WEBHOOK_BYTES:
        return None, {}
    body = environ["wsgi.input"].read(length) if length else b""
    headers = {
        key[5:].replace("_", "-").title(): value
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    return body, headers


def _reply(
    start_response: StartResponse,
    status: int,
    body: dict[str, Any],
    headers: Iterable[tuple[str, str]] = (),
) -> list[bytes]:
    raw = json.dumps(body).encode()
    reason = {
        200: "OK",
        400: "Bad Request",
        401: "Unauthorized",
        403: "Forbidden",
        404: "Not Found",
        413: "Payload Too Large",
        503: "Service Unavailable",
    }.get(status, "")
    start_response(
        f"{status} {reason}",
        [("Content-Type", "application/json"), ("Content-Length", str(len(raw))), *headers],
    )
    return [raw]
