"""POST /webhooks/hubspot: verify, parse, hand each won deal to the gate, answer fast.

The gate only writes rows (handoff, outbox jobs); HubSpot and Slack calls happen in the outbox
worker, so HubSpot gets its answer in milliseconds whatever the vendors are doing.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.config import OrgConfig
from bot.services.handoffs import HandoffService, WonEvent
from integrations.hubspot_webhooks import (
    HubSpotEvent,
    MalformedWebhook,
    check_signature,
    is_deal_stage_change,
    is_own_change,
    parse_batch,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WebhookResponse:
    status: int
    body: dict[str, object]

    def encoded(self) -> bytes:
        return json.dumps(self.body).encode()


class HubSpotWebhook:
    def __init__(
        self,
        client_secret: str | None,
        org: OrgConfig,
        handoffs: HandoffService,
        now_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        self.client_secret = client_secret
        self.org = org
        self.handoffs = handoffs
        self.now_ms = now_ms

    def handle(
        self, method: str, uri: str, headers: Mapping[str, str], raw_body: bytes
    ) -> WebhookResponse:
        request_id = uuid.uuid4().hex[:12]
        if not self.client_secret:
            log.error("hubspot_webhook_refused request=%s reason=no_client_secret", request_id)
            return WebhookResponse(503, {"error": "HUBSPOT_CLIENT_SECRET is not configured"})
        check = check_signature(
            self.client_secret,
            method=method,
            uri=uri,
            raw_body=raw_body,
            headers=headers,
            now_ms=self.now_ms(),
            allow_legacy=self.org.hubspot.accept_v1_signatures,
        )
        if not check.ok:
            log.warning(
                "hubspot_webhook_refused request=%s version=%s reason=%s",
                request_id,
                check.version,
                check.reason,
            )
            return WebhookResponse(401, {"error": f"signature {check.reason}"})
        try:
            events, received = parse_batch(raw_body, wanted=is_deal_stage_change)
        except MalformedWebhook as exc:
            log.warning("hubspot_webhook_malformed request=%s error=%s", request_id, exc)
            return WebhookResponse(400, {"error": str(exc)})
        # HubSpot retries with a new attemptNumber but the same eventId: eventId dedupes; the
        # time of the change dedupes against the sweep (bot.services.hubspot_sweep).
        won = [
            WonEvent(
                str(e.object_id),
                str(e.event_id),
                datetime.fromtimestamp(e.occurred_at / 1000, UTC),
            )
            for e in events
            if self._is_won(e, request_id)
        ]
        if won:
            self.handoffs.deals_won(won)
        log.info(
            "hubspot_webhook request=%s version=%s events=%s skipped=%s won=%s",
            request_id,
            check.version,
            received,
            received - len(events),
            len(won),
        )
        return WebhookResponse(200, {"received": received})

    def _is_won(self, event: HubSpotEvent, request_id: str) -> bool:
        hubspot = self.org.hubspot
        if event.subscription_type != "deal.propertyChange" or event.property_name != "dealstage":
            return False
        if hubspot.app_id and is_own_change(event, hubspot.app_id):
            log.info(
                "gate_own_change request=%s deal=%s stage=%s",
                request_id,
                event.object_id,
                event.property_value,
            )
            return False
        return event.property_value == hubspot.won_stage
