"""The Jira adapter against a stateful Jira Cloud stand-in on loopback, checked against its OAS."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest

from integrations.jira import JiraOps, build, marker_label
from integrations.jira_adf import brief_description
from integrations.ports import (
    CreatedRecord,
    HandoffBrief,
    ThreadComment,
    VendorOutcomeUnknown,
    VendorRejected,
)
from tests.integrations.conftest import Sleeps, vendor_context
from tests.support.fake_jira import (
    EMAIL,
    PROJECT,
    SEARCH,
    TOKEN,
    FakeJira,
    adf_text,
    assert_requests_match_spec,
    assert_valid_adf,
    link_targets,
)
from tests.support.stub_server import Recorded, Reply, StubServer


@pytest.fixture
def jira() -> FakeJira:
    return FakeJira()


@pytest.fixture
def server(jira: FakeJira) -> Iterator[StubServer]:
    with StubServer(jira) as running:
        yield running


def make_ops(server: StubServer, sleeps: Sleeps, **settings: Any) -> JiraOps:
    """A JiraOps from the registry factory, pointed at the stand-in."""
    env = {"JIRA_EMAIL": EMAIL, "JIRA_API_TOKEN": TOKEN}
    config = {"base_url": server.url, "project_key": PROJECT, **settings}
    return build(config, vendor_context(env, sleeps))


def issue_creations(server: StubServer) -> list[Recorded]:
    return server.calls("POST", "/rest/api/3/issue")


# --- create_record ---------------------------------------------------------------------------


def test_create_record_puts_whole_brief_in_issue(
    server: StubServer, jira: FakeJira, sleeps: Sleeps, brief: HandoffBrief, brief_facts: list[str]
) -> None:
    epic_name = {"customfield_10011": "Smith & Rowe rollout"}
    ops = make_ops(server, sleeps, issue_type="Epic", extra_fields=epic_name)

    record = ops.create_record(brief, look_first=False)

    [create] = issue_creations(server)
    fields = create.json["fields"]
    assert fields["summary"] == brief.title
    assert fields["project"] == {"key": PROJECT}
    assert fields["issuetype"] == {"name": "Epic"}
    assert fields["customfield_10011"] == "Smith & Rowe rollout"
    assert "handoff-42" in fields["labels"]
    description = fields["description"]
    assert_valid_adf(description)
    seen = adf_text(description)
    assert [fact for fact in brief_facts if fact not in seen] == []
    assert {brief.slack_thread_url, brief.crm_deal_url} <= link_targets(description)
    assert record == CreatedRecord(
        vendor="jira",
        kind="issue",
        external_id="OPS-1",
        url=f"{server.url}/browse/OPS-1",
        extra_ids=(jira.issues["OPS-1"]["id"],),
    )
    assert_requests_match_spec(server)


def test_create_record_sends_basic_auth(
    server: StubServer, jira: FakeJira, sleeps: Sleeps, brief: HandoffBrief
) -> None:
    make_ops(server, sleeps).create_record(brief, look_first=False)

    [create] = issue_creations(server)
    expected = base64.b64encode(f"{EMAIL}:{TOKEN}".encode()).decode()
    assert create.header("Authorization") == f"Basic {expected}"


def test_create_record_keeps_configured_labels(
    server: StubServer, jira: FakeJira, sleeps: Sleeps, brief: HandoffBrief
) -> None:
    ops = make_ops(server, sleeps, extra_fields={"labels": ["onboarding"]})

    ops.create_record(brief, look_first=False)

    assert issue_creations(server)[0].json["fields"]["labels"] == [
        "onboarding",
        "handoff",
        "handoff-42",
    ]


def test_create_record_look_first_returns_issue_created_before_a_503(
    server: StubServer, jira: FakeJira, sleeps: Sleeps, brief: HandoffBrief
) -> None:
    jira.lose_next["issue"] = Reply(503, {"errorMessages": ["Service unavailable"]})
    ops = make_ops(server, sleeps)

    with pytest.raises(VendorOutcomeUnknown):
        ops.create_record(brief, look_first=False)
    record = ops.create_record(brief, look_first=True)

    assert len(jira.issues) == 1
    assert len(issue_creations(server)) == 1
    assert record.external_id == "OPS-1"
    assert record.url == f"{server.url}/browse/OPS-1"
    [search] = server.calls("GET", SEARCH)
    assert search.query["jql"] == ['project = "OPS" AND labels = "handoff-42" ORDER BY created ASC']
    assert_requests_match_spec(server)


def test_create_record_retried_moments_after_a_lost_reply_waits_for_the_search_index(
    server: StubServer,
    jira: FakeJira,
    sleeps: Sleeps,
    brief: HandoffBrief,
    caplog: pytest.LogCaptureFixture,
) -> None:
    jira.search_lag = 3  # the new issue stays out of the index for the retry's first 3 searches
    jira.lose_next["issue"] = Reply(504, {"errorMessages": ["Gateway timeout"]})
    ops = make_ops(server, sleeps)

    with pytest.raises(VendorOutcomeUnknown):
        ops.create_record(brief, look_first=False)
    record = ops.create_record(brief, look_first=True)

    assert len(jira.issues) == 1
    assert len(issue_creations(server)) == 1
    assert record.external_id == "OPS-1"
    assert len(server.calls("GET", SEARCH)) == 4
    assert sleeps == [1.0, 2.0, 4.0]
    [lag] = [r for r in caplog.records if r.getMessage().startswith("jira_search_lag")]
    assert "marker=handoff-42" in lag.getMessage()
    assert "issue=OPS-1" in lag.getMessage()


def test_create_record_look_first_wait_is_bounded_then_creates(
    server: StubServer, jira: FakeJira, sleeps: Sleeps, brief: HandoffBrief
) -> None:
    ops = make_ops(server, sleeps, search_settle_seconds=10)

    record = ops.create_record(brief, look_first=True)

    assert record.external_id == "OPS-1"
    assert len(issue_creations(server)) == 1
    assert sleeps == [1.0, 2.0, 4.0, 3.0]  # 10 s in all, then it creates
    assert len(server.calls("GET", SEARCH)) == 5


def test_create_record_look_first_finding_the_issue_at_once_does_not_wait(
    server: StubServer, jira: FakeJira, sleeps: Sleeps, brief: HandoffBrief
) -> None:
    ops = make_ops(server, sleeps)
    ops.create_record(brief, look_first=False)

    again = ops.create_record(brief, look_first=True)

    assert again.external_id == "OPS-1"
    assert sleeps == []
    assert len(server.calls("GET", SEARCH)) == 1


def test_create_record_look_first_reads_key_when_search_gives_ids_only(
    server: StubServer, jira: FakeJira, sleeps: Sleeps, brief: HandoffBrief
) -> None:
    ops = make_ops(server, sleeps)
    first = ops.create_record(brief, look_first=False)
    jira.keys_in_search = False

    again = ops.create_record(brief, look_first=True)

    assert again == first
    assert len(jira.issues) == 1
    assert_requests_match_spec(server)


def test_create_record_look_first_creates_when_nothing_exists(
    server: StubServer, jira: FakeJira, sleeps: Sleeps, brief: HandoffBrief
) -> None:
    other = brief.model_copy(update={"marker": "handoff-4"})
    ops = make_ops(server, sleeps)
    ops.create_record(other, look_first=False)

    record = ops.create_record(brief, look_first=True)

    assert record.external_id == "OPS-2"
    assert len(jira.issues) == 2


def test_create_record_retries_429_after_retry_after(
    server: StubServer, jira: FakeJira, sleeps: Sleeps, brief: HandoffBrief
) -> None:
    too_many = {"errorMessages": ["Rate limit exceeded."], "errors": {}}
    jira.limit_next["issue"] = Reply(429, too_many, {"Retry-After": "1"})

    record = make_ops(server, sleeps).create_record(brief, look_first=False)

    assert len(issue_creations(server)) == 2
    assert list(jira.issues) == [record.external_id]
    # Retry-After plus VendorHttp's jitter (at most backoff/2 = 0.25 s).
    assert len(sleeps) == 1
    assert 1.0 <= sleeps[0] <= 1.25


def test_create_record_maps_field_error_to_vendor_rejected(
    server: StubServer, jira: FakeJira, sleeps: Sleeps, brief: HandoffBrief
) -> None:
    jira.required = {"customfield_10011": "Epic Name is required."}

    with pytest.raises(VendorRejected) as caught:
        make_ops(server, sleeps, issue_type="Epic").create_record(brief, look_first=False)

    assert caught.value.field == "customfield_10011"
    assert "Epic Name is required." in caught.value.message
    assert caught.value.status == 400
    assert len(issue_creations(server)) == 1  # never retried
    assert jira.issues == {}


def test_create_record_summary_is_one_line_within_limit(
    server: StubServer, jira: FakeJira, sleeps: Sleeps, brief: HandoffBrief
) -> None:
    long_title = brief.model_copy(update={"title": "Rollout\n" + "x" * 400})

    make_ops(server, sleeps).create_record(long_title, look_first=False)

    summary = issue_creations(server)[0].json["fields"]["summary"]
    assert summary.startswith("Rollout x")
    assert len(summary) == 255


# --- add_comment -----------------------------------------------------------------------------


def test_add_comment_posts_adf_with_author_and_time(
    server: StubServer,
    jira: FakeJira,
    sleeps: Sleeps,
    brief: HandoffBrief,
    thread_comment: ThreadComment,
) -> None:
    ops = make_ops(server, sleeps)
    record = ops.create_record(brief, look_first=False)

    comment_id = ops.add_comment(record, thread_comment, look_first=False)

    [stored] = jira.comments["OPS-1"]
    assert stored["id"] == comment_id
    assert_valid_adf(stored["body"])
    seen = adf_text(stored["body"])
    assert "Dana Ops wrote in Slack at 2026-01-01 14:05 UTC:" in seen
    assert "Does the Glasgow site use the same WMS version?" in seen
    assert "Asking before kickoff." in seen
    assert "(ref: 1767225600.000200)" in seen
    assert_requests_match_spec(server)


def test_add_comment_look_first_does_not_duplicate_after_a_503(
    server: StubServer,
    jira: FakeJira,
    sleeps: Sleeps,
    brief: HandoffBrief,
    thread_comment: ThreadComment,
) -> None:
    ops = make_ops(server, sleeps)
    record = ops.create_record(brief, look_first=False)
    for n in range(3):  # earlier messages, so the lookup pages through comments
        earlier = thread_comment.model_copy(update={"marker": f"1767225000.00000{n}"})
        ops.add_comment(record, earlier, look_first=False)
    jira.lose_next["comment"] = Reply(503, {"errorMessages": ["Service unavailable"]})

    with pytest.raises(VendorOutcomeUnknown):
        ops.add_comment(record, thread_comment, look_first=False)
    comment_id = ops.add_comment(record, thread_comment, look_first=True)

    comments = jira.comments["OPS-1"]
    mirrored = [c["id"] for c in comments if "(ref: 1767225600.000200)" in adf_text(c["body"])]
    assert mirrored == [comment_id]
    assert len(comments) == 4
    assert len(server.calls("GET", "/rest/api/3/issue/OPS-1/comment")) == 2
    assert_requests_match_spec(server)


def test_add_comment_look_first_posts_when_absent(
    server: StubServer,
    jira: FakeJira,
    sleeps: Sleeps,
    brief: HandoffBrief,
    thread_comment: ThreadComment,
) -> None:
    ops = make_ops(server, sleeps)
    record = ops.create_record(brief, look_first=False)

    comment_id = ops.add_comment(record, thread_comment, look_first=True)

    assert [c["id"] for c in jira.comments["OPS-1"]] == [comment_id]


# --- helpers and build -----------------------------------------------------------------------


def test_marker_label_has_no_spaces_or_quotes() -> None:
    assert marker_label('handoff 42 "x"') == "handoff-42--x-"


def test_brief_description_skips_empty_parts(brief: HandoffBrief) -> None:
    bare = brief.model_copy(
        update={"contacts": (), "deliverables": (), "billing": None, "slack_thread_url": None}
    )

    document = brief_description(bare)

    assert_valid_adf(document)
    headings = [adf_text(b).strip() for b in document["content"] if b["type"] == "heading"]
    assert "Contacts" not in headings
    assert "Billing" not in headings
    assert "Deliverables" not in headings


def test_build_requires_credential_env_vars(sleeps: Sleeps) -> None:
    settings = {"base_url": "https://acme.atlassian.net", "project_key": PROJECT}

    with pytest.raises(ValueError, match="JIRA_EMAIL, JIRA_API_TOKEN"):
        build(settings, vendor_context({}, sleeps))
    with pytest.raises(ValueError, match="ACME_JIRA_TOKEN"):
        build(
            {**settings, "token_env": "ACME_JIRA_TOKEN"},
            vendor_context({"JIRA_EMAIL": EMAIL}, sleeps),
        )
