"""The signature checks and event readers of the ops tools' delivery webhooks (issue 9)."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from integrations import asana_webhooks, jira_webhooks
from tests.support.fake_asana import project_changed

SECRET = "b537207f20cbfa02357cf448134da559e8bd39d61597dcd5631b8012eae53e81"  # Asana's example
BODY = project_changed("8675309", "completed")


def _hex(body: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_asana_signature_is_the_hex_hmac_of_the_raw_body() -> None:
    assert asana_webhooks.signature_ok(SECRET, BODY, _hex(BODY))
    # The same JSON re-serialised is another body: signatures cover bytes, not meaning.
    reserialised = json.dumps(json.loads(BODY), indent=1).encode()
    assert not asana_webhooks.signature_ok(SECRET, reserialised, _hex(BODY))
    assert not asana_webhooks.signature_ok(SECRET, BODY, _hex(BODY, "another secret"))
    assert not asana_webhooks.signature_ok(SECRET, BODY, None)
    assert not asana_webhooks.signature_ok(SECRET, BODY, "")
    assert not asana_webhooks.signature_ok(SECRET, BODY, "é" * 64)  # not ASCII: refused


@pytest.mark.parametrize(
    ("header", "ok"),
    [
        (f"sha256={_hex(BODY)}", True),
        (f"SHA256={_hex(BODY)}", True),
        (_hex(BODY), False),  # Jira always names the method
        (f"sha1={_hex(BODY)}", False),
        (f"sha256={_hex(BODY, 'x')}", False),
        ("sha256=", False),
        (None, False),
    ],
)
def test_jira_signature_is_websub_style(header: str | None, ok: bool) -> None:
    assert jira_webhooks.signature_ok(SECRET, BODY, header) is ok


def test_asana_events_name_projects_only() -> None:
    events = {
        "events": [
            {"action": "changed", "resource": {"gid": "1", "resource_type": "project"}},
            {"action": "added", "resource": {"gid": "2", "resource_type": "task"}},
            {
                "action": "added",
                "resource": {"gid": "3", "resource_type": "status_update"},
                "parent": {"gid": "4", "resource_type": "project"},
            },
            "not an event",
        ]
    }
    assert asana_webhooks.changed_projects(json.dumps(events).encode()) == {"1", "4"}
    assert asana_webhooks.changed_projects(b'{"events": []}') == set()  # Asana's heartbeat
    assert asana_webhooks.changed_projects(b"not json") == set()


def test_jira_events_name_their_issue() -> None:
    body = {"webhookEvent": "jira:issue_updated", "issue": {"id": "10001", "key": "OPS-1"}}
    assert jira_webhooks.changed_issues(json.dumps(body).encode()) == {"10001", "OPS-1"}
    assert jira_webhooks.changed_issues(b'{"webhookEvent": "comment_created"}') == set()
    assert jira_webhooks.changed_issues(b"[]") == set()
