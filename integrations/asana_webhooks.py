"""Asana tells us when a handoff's project is complete (issue 9): webhooks and a status read.

From shared/contracts/asana (POST /webhooks): creating a webhook makes Asana POST a handshake to
the target carrying `X-Hook-Secret`; the target must answer 200 echoing that header, and should
store the secret, because every later delivery carries `X-Hook-Signature`, the hex HMAC-SHA256 of
the raw body keyed with it. The handshake arrives while our `POST /webhooks` is still in flight,
so the web process stores the secret (bot.delivery_webhooks) while the worker waits here.

Events name the changed resource, not its new state: each is a cue to read the project
(`completed`, or a status whose colour is `complete`) rather than a fact to trust.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from integrations.asana import VENDOR, AsanaConfig, asana_error_text
from integrations.http import VendorHttp
from integrations.ports import CreatedRecord, VendorOutcomeUnknown

if TYPE_CHECKING:
    from integrations.registry import VendorContext

log = logging.getLogger(__name__)

HOOK_SECRET = "X-Hook-Secret"
HOOK_SIGNATURE = "X-Hook-Signature"
# Only project changes (completed, current status...), not every task and story in it.
PROJECT_FILTERS = [{"resource_type": "project", "action": "changed"}]


def signature_ok(secret: str, raw_body: bytes, signature: str | None) -> bool:
    """Whether `signature` is the hex HMAC-SHA256 of the raw body under `secret`."""
    if not signature:
        return False
    expected = hmac.new(secret.encode(), raw_body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), signature.strip().encode())


def changed_projects(raw_body: bytes) -> set[str]:
    """Gids of the projects an event batch is about (the resource, or a change's parent)."""
    try:
        body = json.loads(raw_body or b"{}")
    except ValueError:
        return set()
    events = body.get("events") if isinstance(body, dict) else None
    gids: set[str] = set()
    for event in events if isinstance(events, list) else []:
        if not isinstance(event, dict):
            continue
        for key in ("resource", "parent"):
            ref = event.get(key)
            if isinstance(ref, dict) and ref.get("resource_type") == "project" and ref.get("gid"):
                gids.add(str(ref["gid"]))
    return gids


class AsanaWatch:
    """Reads whether a project is complete, and registers the webhooks that say when."""

    vendor = VENDOR

    def __init__(self, config: AsanaConfig, http: VendorHttp) -> None:
        self.config = config
        self._http = http

    def is_complete(self, record: CreatedRecord) -> bool:
        """True when the project is marked complete, or its status is set to complete."""
        response = self._http.request(
            "GET",
            f"/projects/{record.external_id}",
            params={"opt_fields": "completed,current_status.color"},
        )
        data = _data(response.json())
        status = data.get("current_status") or {}
        return data.get("completed") is True or status.get("color") == "complete"

    def find_webhook(self, project_gid: str, target: str) -> str | None:
        """The gid of our webhook on the project for `target`, if Asana already has one."""
        params = {
            "workspace": self.config.workspace_gid,
            "resource": project_gid,
            "opt_fields": "target,active",
            "limit": "100",
        }
        body = self._http.request("GET", "/webhooks", params=params).json()
        hooks = body.get("data") if isinstance(body, dict) else None
        for hook in hooks if isinstance(hooks, list) else []:
            if isinstance(hook, dict) and hook.get("target") == target and hook.get("gid"):
                return str(hook["gid"])
        return None

    def register_webhook(self, project_gid: str, target: str) -> tuple[str, str | None]:
        """Create the project's webhook; returns its gid and the handshake's secret, if echoed.

        Asana holds this request open while it handshakes with `target`.
        """
        body = {"data": {"resource": project_gid, "target": target, "filters": PROJECT_FILTERS}}
        answer = self._http.request("POST", "/webhooks", json=body).json()
        hook = _data(answer)
        secret = answer.get(HOOK_SECRET) if isinstance(answer, dict) else None
        log.info("asana_webhook_created project_gid=%s webhook_gid=%s", project_gid, hook["gid"])
        return str(hook["gid"]), str(secret) if secret else None


def _data(body: Any) -> dict[str, Any]:
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict) or not data.get("gid"):
        raise VendorOutcomeUnknown(VENDOR, "unexpected response data")
    return data


def build(settings: Mapping[str, Any], ctx: VendorContext) -> AsanaWatch:
    """The watch for an Asana team: same settings block and token as its OpsTool."""
    config = AsanaConfig.model_validate(dict(settings))
    token = ctx.env.get(config.token_env)
    if not token:
        raise ValueError(f"Asana needs a personal access token in the {config.token_env} env var")
    http = VendorHttp(
        VENDOR,
        config.base_url,
        lambda: {"Authorization": f"Bearer {token}"},
        sleep=ctx.sleep,
        throttle=lambda: ctx.throttle(VENDOR, ""),
        describe_error=asana_error_text,
    )
    return AsanaWatch(config, http)
