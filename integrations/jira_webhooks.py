"""Jira tells us when a handoff's issue is done (issue 9): admin webhooks and a status read.

A Jira admin webhook saved with a secret signs each delivery's raw body with HMAC-SHA256 under
that secret and sends `X-Hub-Signature: sha256=<hex>` (WebSub style). The body names the issue;
as for Asana, it is a cue to read the issue's status, whose `statusCategory.key` is `done` for
every status in Jira's Done category (GET /rest/api/3/issue/{issueIdOrKey}, StatusDetails in
shared/contracts/jira).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from integrations.http import VendorHttp
from integrations.jira import API, VENDOR, JiraConfig, basic_auth, jira_error_text
from integrations.ports import CreatedRecord

if TYPE_CHECKING:
    from integrations.registry import VendorContext

SIGNATURE_HEADER = "X-Hub-Signature"
DONE_CATEGORY = "done"


def signature_ok(secret: str, raw_body: bytes, header: str | None) -> bool:
    """Whether `header` is 'sha256=' and the hex HMAC-SHA256 of the raw body under `secret`."""
    method, _, signature = (header or "").strip().partition("=")
    if method.lower() != "sha256" or not signature:
        return False
    expected = hmac.new(secret.encode(), raw_body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), signature.encode())


def changed_issues(raw_body: bytes) -> set[str]:
    """The id and key of the issue a webhook delivery is about."""
    try:
        body = json.loads(raw_body or b"{}")
    except ValueError:
        return set()
    issue = body.get("issue") if isinstance(body, dict) else None
    if not isinstance(issue, dict):
        return set()
    return {str(issue[k]) for k in ("id", "key") if issue.get(k)}


class JiraWatch:
    """Reads whether an issue's status is in the Done category."""

    vendor = VENDOR

    def __init__(self, http: VendorHttp) -> None:
        self._http = http

    def is_complete(self, record: CreatedRecord) -> bool:
        response = self._http.request(
            "GET", f"{API}/issue/{record.external_id}", params={"fields": "status"}
        )
        body = response.json()
        fields = body.get("fields") if isinstance(body, dict) else None
        status = (fields or {}).get("status") or {}
        category = status.get("statusCategory") or {}
        return category.get("key") == DONE_CATEGORY


def build(settings: Mapping[str, Any], ctx: VendorContext) -> JiraWatch:
    """The watch for a Jira team: same settings block and credentials as its OpsTool."""
    config = JiraConfig.model_validate(dict(settings))
    missing = [name for name in (config.email_env, config.token_env) if not ctx.env.get(name)]
    if missing:
        raise ValueError(f"Jira needs the account email and API token in: {', '.join(missing)}")
    headers = basic_auth(ctx.env[config.email_env], ctx.env[config.token_env])
    http = VendorHttp(
        VENDOR,
        config.base_url,
        lambda: headers,
        sleep=ctx.sleep,
        throttle=lambda: ctx.throttle(VENDOR, ""),
        describe_error=jira_error_text,
    )
    return JiraWatch(http)
