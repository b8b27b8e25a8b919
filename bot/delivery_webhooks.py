"""POST /webhooks/asana/<token> and /webhooks/jira/<token>: an ops tool says a project or issue
changed (issue 9). Verify, then queue a read of it; answer fast.

The token names the webhook's row (its team, project and secret). Asana's handshake (the
`X-Hook-Secret` header) is accepted only while the app is registering that webhook; every other
request must carry a valid signature over the raw body (Asana `X-Hook-Signature`, Jira
`X-Hub-Signature`), compared in constant time. Nothing here calls a vendor: the `delivery.check`
outbox job reads the project or issue, and starts the handoff if it is complete.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlalchemy import select

from bot.services.delivery_complete import DeliveryComplete, in_delivery
from bot.services.delivery_hooks import DeliveryHooks, Hook
from integrations import asana_webhooks, jira_webhooks
from storage.models import ExternalRecord, Handoff
from storage.uow import UnitOfWorkFactory

log = logging.getLogger(__name__)

VENDORS = ("asana", "jira")


@dataclass(frozen=True)
class HookResponse:
    status: int
    body: dict[str, object]
    headers: tuple[tuple[str, str], ...] = ()


def _header(headers: Mapping[str, str], name: str) -> str | None:
    return next((v for k, v in headers.items() if k.lower() == name.lower()), None)


class DeliveryWebhooks:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        hooks: DeliveryHooks,
        delivery: DeliveryComplete,
        kick: Callable[[], None] = lambda: None,
    ) -> None:
        self.uow = uow
        self.hooks = hooks
        self.delivery = delivery
        self.kick = kick

    def handle(
        self, vendor: str, token: str, headers: Mapping[str, str], raw_body: bytes
    ) -> HookResponse:
        request_id = uuid.uuid4().hex[:12]
        hook = self.hooks.hook(vendor, token) if vendor in VENDORS else None
        if hook is None:
            log.warning(
                "delivery_webhook_refused request=%s vendor=%s reason=unknown", request_id, vendor
            )
            return HookResponse(404, {"error": "not found"})
        if vendor == "asana":
            handshake = _header(headers, asana_webhooks.HOOK_SECRET)
            if handshake is not None:
                return self._handshake(hook, handshake, request_id)
            signature = _header(headers, asana_webhooks.HOOK_SIGNATURE)
            ok = hook.secret is not None and asana_webhooks.signature_ok(
                hook.secret, raw_body, signature
            )
            ids = asana_webhooks.changed_projects(raw_body) & {hook.resource}
        else:
            signature = _header(headers, jira_webhooks.SIGNATURE_HEADER)
            ok = hook.secret is not None and jira_webhooks.signature_ok(
                hook.secret, raw_body, signature
            )
            ids = jira_webhooks.changed_issues(raw_body)
        if not ok:
            log.warning(
                "delivery_webhook_refused request=%s vendor=%s hook=%s reason=signature",
                request_id,
                vendor,
                hook.id,
            )
            return HookResponse(401, {"error": "signature invalid"})
        queued = self._cue(hook, ids, raw_body)
        log.info(
            "delivery_webhook request=%s vendor=%s hook=%s records=%s queued=%s",
            request_id,
            vendor,
            hook.id,
            len(ids),
            queued,
        )
        return HookResponse(200, {"received": True})

    def _handshake(self, hook: Hook, secret: str, request_id: str) -> HookResponse:
        if not self.hooks.accept_handshake(hook, secret):
            log.warning(
                "delivery_webhook_refused request=%s vendor=asana hook=%s reason=handshake",
                request_id,
                hook.id,
            )
            return HookResponse(403, {"error": "no registration is waiting for this handshake"})
        return HookResponse(200, {"ok": True}, ((asana_webhooks.HOOK_SECRET, secret),))

    def _cue(self, hook: Hook, ids: set[str], raw_body: bytes) -> int:
        """Queue a read of each account in delivery whose ops record the request names; the
        same body delivered again queues nothing more."""
        if not ids:
            return 0
        cue = "hook-" + hashlib.sha256(raw_body).hexdigest()[:16]
        queued = 0
        with self.uow() as uow:
            stmt = (
                select(Handoff.id)
                .join(ExternalRecord, ExternalRecord.handoff_id == Handoff.id)
                .where(
                    in_delivery(),
                    ExternalRecord.target == hook.team,
                    ExternalRecord.external_id.in_(sorted(ids)),
                )
            )
            for origin_id in uow.session.scalars(stmt).all():
                queued += self.delivery.enqueue_check(
                    uow.repo, origin_id, hook.team, cue=cue, via="webhook"
                )
            uow.commit()
        if queued:
            self.kick()
        return queued
