"""The WSGI app of the `web` process: Slack, the HubSpot webhook and a health route."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import parse_qs

from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler

from bot.webhooks import HubSpotWebhook

StartResponse = Callable[..., Any]
Environ = dict[str, Any]

MAX_WEBHOOK_BYTES = 1_000_000  # 100 HubSpot events are a few tens of kB
OAUTH_CALLBACK = re.compile(r"/oauth/([a-z]+)/callback")

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
    ) -> None:
        self.slack = SlackRequestHandler(bolt, path="/slack/events")
        self.hubspot = hubspot
        self.public_url = public_url.rstrip("/") if public_url else None
        self.oauth_callback = oauth_callback

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path == "/slack/events":
            return self.slack(environ, start_response)
        if path == "/webhooks/hubspot" and method == "POST":
            return self._hubspot(environ, start_response)
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

    def _full_uri(self, environ: Environ) -> str:
        """The URL HubSpot called, which its v3 signature covers (PUBLIC_URL behind a proxy)."""
        path = environ.get("PATH_INFO", "")
        query = environ.get("QUERY_STRING")
        suffix = f"{path}?{query}" if query else path
        if self.public_url:
            return self.public_url + suffix
        scheme = environ.get("HTTP_X_FORWARDED_PROTO") or environ.get("wsgi.url_scheme", "http")
        host = environ.get("HTTP_X_FORWARDED_HOST") or environ.get("HTTP_HOST", "localhost")
        return f"{scheme}://{host}{suffix}"


def _reply(start_response: StartResponse, status: int, body: dict[str, Any]) -> list[bytes]:
    raw = json.dumps(body).encode()
    reason = {
        200: "OK",
        400: "Bad Request",
        401: "Unauthorized",
        404: "Not Found",
        413: "Payload Too Large",
        503: "Service Unavailable",
    }.get(status, "")
    start_response(
        f"{status} {reason}",
        [("Content-Type", "application/json"), ("Content-Length", str(len(raw)))],
    )
    return [raw]
