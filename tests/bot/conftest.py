"""The whole app wired against local stand-ins: Slack and HubSpot on 127.0.0.1, a real database.

Requests reach the Bolt app signed exactly as Slack signs them, and the HubSpot webhook signed as
HubSpot signs it. Listeners and the outbox run inline after the ack, so a test sees every effect
as soon as its request returns.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_bolt import App, BoltResponse
from slack_bolt.request import BoltRequest
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import Engine

from bot.app import create_app
from bot.config import OrgConfig, Settings, parse_org_config
from bot.webhooks import HubSpotWebhook, WebhookResponse
from bot.wiring import Services, build_services
from tests.support.fake_hubspot import FakeHubSpot
from tests.support.fake_slack import FakeSlack
from tests.support.openapi_check import contracts_dir

SIGNING_SECRET = "test-signing-secret"
HUBSPOT_SECRET = "hubspot-client-secret"
HANDOFF_CHANNEL = "C0HANDOFF"
ADMIN = "U0ADMIN"
SELLER = "U0SELLER"
OPS_MEMBER = "U0OPS1"
FIN_MEMBER = "U0FIN1"
WEBHOOK_URI = "https://handoff.example.com/webhooks/hubspot"


class InlineExecutor(Executor):
    """Runs submitted work at once, in the caller's thread: deterministic tests."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # surfaced through the future, as a pool would
            future.set_exception(exc)
        return future


class FakeClock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


def org_dict(**overrides: Any) -> dict[str, Any]:
    org: dict[str, Any] = {
        "handoff_channel": HANDOFF_CHANNEL,
        "admin_user": ADMIN,
        "teams": {
            "sales": {"name": "Sales", "members": {"users": [SELLER]}, "manager": "U0SALESMGR"},
            "ops": {"name": "Operations", "members": {"usergroup": "S0OPS"}, "manager": "U0OPSMGR"},
            "finance": {
                "name": "Finance",
                "members": {"users": [FIN_MEMBER]},
                "manager": "U0FINMGR",
            },
        },
        "hubspot": {
            "won_stage": "closedwon",
            "pending_stage": "4242",
            "app_id": "39522895",
            "portal_id": "48975575",
        },
    }
    org.update(overrides)
    return org


@dataclass
class Harness:
    services: Services
    app: App
    slack: FakeSlack
    hubspot: FakeHubSpot
    clock: FakeClock
    webhook: HubSpotWebhook

    # --- Slack -> app ---------------------------------------------------------------------------

    def _signed(
        self, body: str, content_type: str, headers: dict[str, str] | None = None
    ) -> BoltResponse:
        timestamp = str(int(time.time()))
        signature = SignatureVerifier(SIGNING_SECRET).generate_signature(
            timestamp=timestamp, body=body
        )
        all_headers = {
            "content-type": [content_type],
            "x-slack-signature": [signature],
            "x-slack-request-timestamp": [timestamp],
            **{k: [v] for k, v in (headers or {}).items()},
        }
        return self.app.dispatch(BoltRequest(body=body, headers=all_headers))

    def interact(self, payload: dict[str, Any]) -> BoltResponse:
        """An interactivity request (button, view submission...): form-encoded `payload=`."""
        body = urlencode({"payload": json.dumps(payload)})
        return self._signed(body, "application/x-www-form-urlencoded")

    def event(self, event: dict[str, Any], *, retry_num: int | None = None) -> BoltResponse:
        envelope = load_payload("event_callback.message.thread_reply.json")
        envelope["event"] = event
        envelope["event_id"] = f"Ev{event.get('ts', '0').replace('.', '')}"
        headers = {"x-slack-retry-num": str(retry_num)} if retry_num else None
        return self._signed(json.dumps(envelope), "application/json", headers)

    def shortcut(self, user_id: str = SELLER) -> BoltResponse:
        payload = load_payload("shortcut.global.json")
        payload.update(callback_id="start_handoff", user={"id": user_id, "team_id": "T111"})
        return self.interact(payload)

    def command(self, text: str, user_id: str = SELLER) -> BoltResponse:
        fields = load_payload("slash_command.parsed.json")
        flat = {
            k: (v[0] if isinstance(v, list) else v)
            for k, v in fields.items()
            if not k.startswith("_")
        }
        flat.update(
            command="/handoff",
            text=text,
            user_id=user_id,
            trigger_id="trig.cmd",
            response_url=self.slack.response_url,
        )
        return self._signed(urlencode(flat), "application/x-www-form-urlencoded")

    # --- HubSpot -> app -------------------------------------------------------------------------

    def hubspot_webhook(
        self, events: list[dict[str, Any]], *, secret: str = HUBSPOT_SECRET, age_ms: int = 0
    ) -> WebhookResponse:
        body = json.dumps(events).encode()
        timestamp = str(int(time.time() * 1000) - age_ms)
        source = b"POST" + WEBHOOK_URI.encode() + body + timestamp.encode()
        signature = base64.b64encode(
            hmac.new(secret.encode(), source, hashlib.sha256).digest()
        ).decode()
        headers = {"X-HubSpot-Signature-v3": signature, "X-HubSpot-Request-Timestamp": timestamp}
        return self.webhook.handle("POST", WEBHOOK_URI, headers, body)

    # --- helpers --------------------------------------------------------------------------------

    def drain(self) -> int:
        return self.services.outbox.drain()


def load_payload(name: str) -> dict[str, Any]:
    """A real Slack payload from shared/contracts, as a fresh dict to adapt per test."""
    text = (contracts_dir() / "slack" / "payloads" / name).read_text()
    return dict(json.loads(text))


def won_event(
    deal_id: str,
    event_id: int,
    *,
    stage: str = "closedwon",
    source: str = "CRM_UI",
    source_id: str | None = "userId:123",
) -> dict[str, Any]:
    """HubSpot's captured dealstage event, pointed at our deal and stage."""
    text = contracts_dir() / "hubspot" / "webhooks" / "deal.propertyChange.dealstage.json"
    event = dict(json.loads(text.read_text())["body"][0])
    event.update(
        objectId=int(deal_id),
        eventId=event_id,
        propertyValue=stage,
        changeSource=source,
        sourceId=source_id,
    )
    return event


@pytest.fixture
def make_harness(engine: Engine) -> Iterator[Callable[..., Harness]]:
    """Builds a harness; pass `org` overrides or `env` for vendor tokens."""
    started: list[Any] = []

    def build(
        org: OrgConfig | None = None,
        env: dict[str, str] | None = None,
        slack: FakeSlack | None = None,
        public_url: str | None = None,
    ) -> Harness:
        slack = slack or FakeSlack(
            users_by_email={"sam@seller.example": SELLER},
            usergroups={"S0OPS": [OPS_MEMBER]},
        )
        hubspot = FakeHubSpot()
        for server in (slack.serving(), hubspot.serving()):
            server.__enter__()
            started.append(server)
        clock = FakeClock(datetime(2026, 11, 23, 14, 0, tzinfo=UTC))  # a Monday afternoon
        hubspot.clock = clock
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            slack_bot_token="xoxb-test",
            slack_signing_secret=SIGNING_SECRET,
            slack_api_url=slack.url,
            database_url=engine.url.render_as_string(hide_password=False),
            hubspot_token="pat-test",
            hubspot_client_secret=HUBSPOT_SECRET,
            hubspot_base_url=hubspot.url,
            public_url=public_url,
        )
        org = org or parse_org_config(org_dict())
        services = build_services(
            settings,
            org,
            clock=clock,
            env=env or {},
            executor=InlineExecutor(),
            sleep=lambda _s: None,
        )
        app = create_app(
            services, listener_executor=InlineExecutor(), token_verification_enabled=False
        )
        webhook = HubSpotWebhook(HUBSPOT_SECRET, org, services.handoffs)
        return Harness(services, app, slack, hubspot, clock, webhook)

    yield build
    for server in started:
        server.__exit__(None, None, None)


@pytest.fixture
def harness(make_harness: Callable[..., Harness]) -> Harness:
    return make_harness()
