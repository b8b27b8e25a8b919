"""Jira Cloud adapter: one issue per handoff, thread comments as issue comments.

Jira has no idempotency keys. Every issue we create carries a label derived from the handoff's
marker, so after an uncertain failure (look_first=True) we search for that label before creating.

Outside the shared spec subset: GET /rest/api/3/search/jql (the enhanced JQL search that replaced
/rest/api/3/search). Atlassian documents it as eventually consistent ("Search after write with
search and reconcile", developer.atlassian.com/cloud/jira/platform/search-and-reconcile): most
writes show in search within seconds, some take longer. Its `reconcileIssues` parameter makes
search consistent only for issue ids we already know, and after a lost reply we know none. So a
look-first search that finds nothing is repeated a few times over a short, bounded window
(`search_settle_seconds`) before we create again: a retry moments after a lost reply then finds
the issue instead of duplicating it. A write that only becomes searchable after the window can
still duplicate; the log line `jira_search_lag` says how long each wait took.
"""

from __future__ import annotations

import base64
import logging
import re
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import requests
from pydantic import BaseModel, ConfigDict, Field

from integrations.brief_text import marker_tag
from integrations.http import VendorHttp, default_error_text
from integrations.jira_adf import brief_description, comment_body, plain_text
from integrations.ports import CreatedRecord, HandoffBrief, ThreadComment, VendorOutcomeUnknown

if TYPE_CHECKING:
    from integrations.registry import VendorContext

log = logging.getLogger(__name__)

VENDOR = "jira"
API = "/rest/api/3"
COMMON_LABEL = "handoff"
SUMMARY_MAX = 255
LABEL_MAX = 255
COMMENT_PAGE = 100
_LABEL_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]")  # labels cannot hold spaces; JQL quotes stay out


class JiraConfig(BaseModel):
    """The `jira` settings block."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_url: str
    project_key: str
    issue_type: str = "Task"
    email_env: str = "JIRA_EMAIL"
    token_env: str = "JIRA_API_TOKEN"
    extra_fields: dict[str, Any] = Field(default_factory=dict)
    # How long a look-first search keeps asking before concluding the issue was never made.
    search_settle_seconds: float = Field(default=15.0, ge=0)


def marker_label(marker: str) -> str:
    """The Jira label that identifies the issue made for a handoff."""
    return _LABEL_UNSAFE.sub("-", marker)[:LABEL_MAX]


class JiraOps:
    """OpsTool for Jira Cloud (REST v3, ADF bodies, basic auth with an API token)."""

    vendor = VENDOR

    def __init__(
        self,
        config: JiraConfig,
        http: VendorHttp,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self._http = http
        self._sleep = sleep

    def create_record(self, brief: HandoffBrief, *, look_first: bool) -> CreatedRecord:
        """Create the issue; with look_first, return the one already labelled for this handoff."""
        label = marker_label(brief.marker)
        if look_first:
            found = self._find_issue_settled(label, brief.marker)
            if found is not None:
                log.info("jira_issue_found marker=%s issue=%s", brief.marker, found.external_id)
                return found
        response = self._http.request(
            "POST", f"{API}/issue", json={"fields": self._fields(brief, label)}
        )
        created = _json_object(response)
        if not created.get("key"):
            raise VendorOutcomeUnknown(VENDOR, "create issue answered without a key")
        log.info("jira_issue_created marker=%s issue=%s", brief.marker, created["key"])
        return self._record(str(created["key"]), str(created.get("id") or ""))

    def add_comment(
        self, record: CreatedRecord, comment: ThreadComment, *, look_first: bool
    ) -> str:
        """Add the thread message as a comment; with look_first, reuse one carrying its marker."""
        issue = record.external_id
        if look_first:
            existing = self._find_comment(issue, marker_tag(comment.marker))
            if existing is not None:
                log.info("jira_comment_found marker=%s comment_id=%s", comment.marker, existing)
                return existing
        response = self._http.request(
            "POST", f"{API}/issue/{issue}/comment", json={"body": comment_body(comment)}
        )
        comment_id = str(_json_object(response).get("id") or "")
        if not comment_id:
            raise VendorOutcomeUnknown(VENDOR, "add comment answered without an id")
        log.info(
            "jira_comment_created marker=%s issue=%s comment_id=%s",
            comment.marker,
            issue,
            comment_id,
        )
        return comment_id

    def _fields(self, brief: HandoffBrief, label: str) -> dict[str, Any]:
        extra = dict(self.config.extra_fields)
        # Configured labels are kept, but ours must be there: look_first depends on it.
        labels = list(dict.fromkeys([*extra.pop("labels", []), COMMON_LABEL, label]))
        return {
            **extra,
            "project": {"key": self.config.project_key},
            "issuetype": {"name": self.config.issue_type},
            "summary": " ".join(brief.title.split())[:SUMMARY_MAX],  # summaries are one line
            "description": brief_description(brief),
            "labels": labels,
        }

    def _record(self, key: str, issue_id: str) -> CreatedRecord:
        return CreatedRecord(
            vendor=VENDOR,
            kind="issue",
            external_id=key,
            url=f"{self.config.base_url.rstrip('/')}/browse/{key}",
            extra_ids=(issue_id,) if issue_id else (),
        )

    def _find_issue_settled(self, label: str, marker: str) -> CreatedRecord | None:
        """Search by label; when nothing is found, ask again over the settle window, since an
        issue created moments ago may not be in the search index yet."""
        found = self._find_issue(label)
        waited = 0.0
        for pause in settle_pauses(self.config.search_settle_seconds):
            if found is not None:
                break
            self._sleep(pause)
            waited += pause
            found = self._find_issue(label)
        if waited and found is not None:
            # The wait was needed: without it this retry would have made a second issue.
            log.warning(
                "jira_search_lag marker=%s waited=%.1fs issue=%s", marker, waited, found.external_id
            )
        elif waited:
            log.info("jira_search_settled marker=%s waited=%.1fs found=none", marker, waited)
        return found

    def _find_issue(self, label: str) -> CreatedRecord | None:
        jql = f'project = "{self.config.project_key}" AND labels = "{label}" ORDER BY created ASC'
        params = {"jql": jql, "fields": "summary,labels", "maxResults": "5"}
        body = _json_object(self._http.request("GET", f"{API}/search/jql", params=params))
        issues = [i for i in body.get("issues") or [] if isinstance(i, dict) and i.get("id")]
        if not issues:
            return None
        issue_id = str(issues[0]["id"])
        key = issues[0].get("key") or self._issue_key(issue_id)
        return self._record(str(key), issue_id)

    def _issue_key(self, issue_id: str) -> str:
        """The key of an issue known by id (search results may carry ids only)."""
        response = self._http.request(
            "GET", f"{API}/issue/{issue_id}", params={"fields": "summary"}
        )
        return str(_json_object(response).get("key") or issue_id)

    def _find_comment(self, issue: str, tag: str) -> str | None:
        start = 0
        while True:
            params = {"startAt": str(start), "maxResults": str(COMMENT_PAGE), "orderBy": "created"}
            page = _json_object(
                self._http.request("GET", f"{API}/issue/{issue}/comment", params=params)
            )
            comments = [c for c in page.get("comments") or [] if isinstance(c, dict)]
            for found in comments:
                if tag in plain_text(found.get("body")):
                    return str(found["id"])
            start += len(comments)
            if not comments or start >= int(page.get("total") or 0):
                return None


def settle_pauses(total: float, first: float = 1.0) -> list[float]:
    """Doubling pauses (1, 2, 4, ... s) that add up to `total`, the last one trimmed to fit."""
    pauses: list[float] = []
    pause = first
    while sum(pauses) < total:
        pauses.append(min(pause, total - sum(pauses)))
        pause *= 2
    return pauses


def _json_object(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise VendorOutcomeUnknown(VENDOR, f"unexpected response body from {response.url}")
    return body


def jira_error_text(response: requests.Response) -> tuple[str, str | None]:
    """Jira's `errors` (field: message) and `errorMessages`, and the first field named."""
    try:
        body = response.json()
    except ValueError:
        return default_error_text(response)
    if not isinstance(body, dict):
        return default_error_text(response)
    raw_errors = body.get("errors")
    errors: dict[str, Any] = raw_errors if isinstance(raw_errors, dict) else {}
    parts = [f"{field}: {message}" for field, message in errors.items()]
    parts += [str(message) for message in body.get("errorMessages") or []]
    if not parts:
        return default_error_text(response)
    return f"HTTP {response.status_code}: {'; '.join(parts)}", next(iter(errors), None)


def basic_auth(email: str, token: str) -> dict[str, str]:
    """The Authorization header for Jira Cloud's email + API token basic auth."""
    encoded = base64.b64encode(f"{email}:{token}".encode()).decode()
    return {"Authorization": f"Basic {encoded}"}


def build(settings: Mapping[str, Any], ctx: VendorContext) -> JiraOps:
    """Factory for the registry: validates settings and reads the credentials from the env."""
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
    return JiraOps(config, http, sleep=ctx.sleep)
