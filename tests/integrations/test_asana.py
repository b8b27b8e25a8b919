"""The Asana adapter against a stateful Asana stand-in on loopback, checked against Asana's OAS."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import pytest

from integrations.asana import CONVERSATION_TASK, AsanaConfig, AsanaOps, asana_error_text, build
from integrations.http import VendorHttp
from integrations.ports import (
    CreatedRecord,
    HandoffBrief,
    ThreadComment,
    VendorOutcomeUnknown,
    VendorRejected,
)
from tests.integrations.conftest import Sleeps, vendor_context
from tests.support.fake_asana import (
    PREFIX,
    TOKEN,
    WORKSPACE,
    FakeAsana,
    Fault,
    assert_requests_match_spec,
    error_reply,
    plain_text,
)
from tests.support.stub_server import Recorded, Reply, StubServer


@pytest.fixture
def asana() -> FakeAsana:
    return FakeAsana()


@pytest.fixture
def server(asana: FakeAsana) -> Iterator[StubServer]:
    with StubServer(asana) as running:
        yield running


def make_ops(server: StubServer, sleeps: Sleeps, **settings: Any) -> AsanaOps:
    """An AsanaOps from the registry factory, pointed at the stand-in."""
    env = {"ASANA_TOKEN": TOKEN}
    config = {"workspace_gid": WORKSPACE, "base_url": server.url + PREFIX, **settings}
    return build(config, vendor_context(env, sleeps))


TYPEAHEAD = f"{PREFIX}/workspaces/{WORKSPACE}/typeahead"


def project_creations(server: StubServer) -> list[Recorded]:
    return server.calls("POST", f"{PREFIX}/workspaces/{WORKSPACE}/projects")


def assert_complete(asana: FakeAsana, record: CreatedRecord, brief: HandoffBrief) -> None:
    """Exactly one conversation task and one task per deliverable, named as the record says."""
    names = asana.project_tasks(record.external_id)
    assert sorted(names) == sorted([CONVERSATION_TASK, *brief.deliverables])
    assert [asana.tasks[gid]["name"] for gid in record.extra_ids] == [
        CONVERSATION_TASK,
        *brief.deliverables,
    ]


# --- create_record ---------------------------------------------------------------------------


def test_create_record_puts_whole_brief_in_project_notes(
    server: StubServer,
    asana: FakeAsana,
    sleeps: Sleeps,
    brief: HandoffBrief,
    brief_facts: list[str],
) -> None:
    record = make_ops(server, sleeps).create_record(brief, look_first=False)

    [create] = project_creations(server)
    sent = create.json["data"]
    assert sent["name"] == brief.title
    notes = plain_text(sent["html_notes"])
    missing = [fact for fact in brief_facts if fact not in notes]
    assert missing == []
    links = {a.get("href") for a in ET.fromstring(sent["html_notes"]).iter("a")}
    assert {brief.slack_thread_url, brief.crm_deal_url} <= links
    assert (record.vendor, record.kind) == ("asana", "project")
    assert record.url == asana.projects[record.external_id]["permalink_url"]
    assert create.header("Authorization") == f"Bearer {TOKEN}"
    assert_requests_match_spec(server)


def test_create_record_makes_one_task_per_deliverable(
    server: StubServer, asana: FakeAsana, sleeps: Sleeps, brief: HandoffBrief
) -> None:
    record = make_ops(server, sleeps).create_record(brief, look_first=False)

    assert asana.created_projects == 1
    assert_complete(asana, record, brief)
    assert all(t["projects"] == [record.external_id] for t in asana.tasks.values())
    assert_requests_match_spec(server)


def test_create_record_in_team_uses_team_endpoint(
    server: StubServer, asana: FakeAsana, sleeps: Sleeps, brief: HandoffBrief
) -> None:
    make_ops(server, sleeps, team_gid="2200").create_record(brief, look_first=False)

    assert len(server.calls("POST", f"{PREFIX}/teams/2200/projects")) == 1
    assert project_creations(server) == []
    assert_requests_match_spec(server)


def test_create_record_look_first_returns_project_created_before_a_503(
    server: StubServer, asana: FakeAsana, sleeps: Sleeps, brief: HandoffBrief
) -> None:
    asana.faults.append(Fault("POST", r"/workspaces/\d+/projects", Reply(503, "busy"), act=True))
    ops = make_ops(server, sleeps)

    with pytest.raises(VendorOutcomeUnknown):
        ops.create_record(brief, look_first=False)
    record = ops.create_record(brief, look_first=True)

    assert asana.created_projects == 1
    assert len(project_creations(server)) == 1
    assert asana.projects[record.external_id]["name"] == brief.title  # not a look-alike
    assert record.url == asana.projects[record.external_id]["permalink_url"]
    assert_complete(asana, record, brief)
    assert len(server.calls("GET", TYPEAHEAD)) == 1
    assert server.calls("GET", f"{PREFIX}/projects") == []  # no page through the workspace
    assert_requests_match_spec(server)


def test_create_record_look_first_typeahead_skips_same_named_projects_of_other_handoffs(
    server: StubServer, asana: FakeAsana, sleeps: Sleeps, brief: HandoffBrief
) -> None:
    asana.faults.append(Fault("POST", r"/workspaces/\d+/projects", Reply(503, "busy"), act=True))
    ops = make_ops(server, sleeps)
    with pytest.raises(VendorOutcomeUnknown):
        ops.create_record(brief, look_first=False)
    # Created after ours, so typeahead (most recent first) offers it first.
    other = asana.add_project(brief.title, "<body>Created by Handoff (ref: handoff-421)</body>")

    record = ops.create_record(brief, look_first=True)

    assert record.external_id != other["gid"]
    assert "(ref: handoff-42)" in asana.projects[record.external_id]["notes"]
    assert asana.created_projects == 1
    assert server.calls("GET", f"{PREFIX}/projects") == []
    assert_requests_match_spec(server)


def test_create_record_look_first_reads_team_projects_when_typeahead_misses(
    server: StubServer, asana: FakeAsana, sleeps: Sleeps, brief: HandoffBrief
) -> None:
    asana.typeahead_blind = True  # typeahead is not exhaustive, nor instantly up to date
    asana.faults.append(Fault("POST", r"/teams/\d+/projects", Reply(503, "busy"), act=True))
    asana.add_project("Elsewhere", "<body>(ref: handoff-42)</body>", team="9999")
    for other in ("handoff-4", "handoff-420"):  # the team's older projects, look-alike markers
        asana.add_project(f"Team project {other}", f"<body>(ref: {other})</body>", team="2200")
    ops = make_ops(server, sleeps, team_gid="2200")

    with pytest.raises(VendorOutcomeUnknown):
        ops.create_record(brief, look_first=False)
    record = ops.create_record(brief, look_first=True)

    assert asana.created_projects == 1
    assert asana.projects[record.external_id]["team"] == "2200"
    assert_complete(asana, record, brief)
    team_reads = server.calls("GET", f"{PREFIX}/teams/2200/projects")
    assert any("offset" in r.query for r in team_reads)  # paged within the team
    assert server.calls("GET", f"{PREFIX}/projects") == []
    assert_requests_match_spec(server)


def test_create_record_look_first_with_team_creates_without_a_workspace_scan(
    server: StubServer, asana: FakeAsana, sleeps: Sleeps, brief: HandoffBrief
) -> None:
    record = make_ops(server, sleeps, team_gid="2200").create_record(brief, look_first=True)

    assert asana.created_projects == 1
    assert_complete(asana, record, brief)
    assert server.calls("GET", f"{PREFIX}/projects") == []


def test_create_record_look_first_scans_the_workspace_only_as_a_last_resort(
    server: StubServer, asana: FakeAsana, sleeps: Sleeps, brief: HandoffBrief
) -> None:
    asana.faults.append(Fault("POST", r"/workspaces/\d+/projects", Reply(503, "busy"), act=True))
    ops = make_ops(server, sleeps)  # no team: nothing narrower than the workspace
    with pytest.raises(VendorOutcomeUnknown):
        ops.create_record(brief, look_first=False)
    asana.typeahead_misses.update(asana.projects)

    record = ops.create_record(brief, look_first=True)

    assert asana.created_projects == 1
    assert asana.projects[record.external_id]["name"] == brief.title  # not a look-alike
    assert_complete(asana, record, brief)
    # Typeahead first; then the marker was found past the first page, next to look-alikes.
    assert server.requests.index(server.calls("GET", TYPEAHEAD)[0]) < server.requests.index(
        server.calls("GET", f"{PREFIX}/projects")[0]
    )
    assert any("offset" in r.query for r in server.calls("GET", f"{PREFIX}/projects"))
    assert_requests_match_spec(server)


def test_create_record_look_first_returns_project_created_before_a_timeout(
    server: StubServer, asana: FakeAsana, sleeps: Sleeps, brief: HandoffBrief
) -> None:
    slow = Reply(201, {"data": {}}, delay=1.5)
    asana.faults.append(Fault("POST", r"/workspaces/\d+/projects", slow, act=True))
    http = VendorHttp(
        "asana",
        server.url + PREFIX,
        lambda: {"Authorization": f"Bearer {TOKEN}"},
        timeout=(2.0, 0.3),
        sleep=sleeps,
        describe_error=asana_error_text,
    )
    ops = AsanaOps(AsanaConfig(workspace_gid=WORKSPACE), http, sleep=sleeps)

    with pytest.raises(VendorOutcomeUnknown):
        ops.create_record(brief, look_first=False)
    record = ops.create_record(brief, look_first=True)

    assert asana.created_projects == 1
    assert_complete(asana, record, brief)


def test_create_record_look_first_resumes_tasks_without_duplicates(
    server: StubServer, asana: FakeAsana, sleeps: Sleeps, brief: HandoffBrief
) -> None:
    # The conversation task and the first deliverable go through; the second deliverable's task is
    # created but its answer is lost.
    lost = Fault("POST", "/tasks", Reply(503, "busy"), act=True, skip=2)
    asana.faults.append(lost)
    ops = make_ops(server, sleeps)

    with pytest.raises(VendorOutcomeUnknown):
        ops.create_record(brief, look_first=False)
    record = ops.create_record(brief, look_first=True)

    assert asana.created_projects == 1
    assert_complete(asana, record, brief)
    # 3 tasks before the failure, then only the last deliverable's.
    assert len(server.calls("POST", f"{PREFIX}/tasks")) == 4
    assert_requests_match_spec(server)


def test_create_record_reports_unknown_when_tasks_fail_after_project_exists(
    server: StubServer, asana: FakeAsana, sleeps: Sleeps, brief: HandoffBrief
) -> None:
    # A long rate-limit pause goes back to the outbox, but as "look first": the project exists.
    limited = Reply(429, {"errors": [{"message": "Too many requests"}]}, {"Retry-After": "60"})
    asana.faults.append(Fault("POST", "/tasks", limited, act=False))
    ops = make_ops(server, sleeps)

    with pytest.raises(VendorOutcomeUnknown) as caught:
        ops.create_record(brief, look_first=False)
    record = ops.create_record(brief, look_first=True)

    assert caught.value.retry_after == 60
    assert asana.created_projects == 1
    assert_complete(asana, record, brief)


def test_create_record_look_first_creates_when_nothing_exists(
    server: StubServer, asana: FakeAsana, sleeps: Sleeps, brief: HandoffBrief
) -> None:
    record = make_ops(server, sleeps).create_record(brief, look_first=True)

    assert asana.created_projects == 1
    assert asana.projects[record.external_id]["name"] == brief.title
    assert_complete(asana, record, brief)
    assert_requests_match_spec(server)


def test_create_record_retries_429_after_retry_after(
    server: StubServer, asana: FakeAsana, sleeps: Sleeps, brief: HandoffBrief
) -> None:
    limited = Reply(429, {"errors": [{"message": "Too many requests"}]}, {"Retry-After": "1"})
    asana.faults.append(Fault("POST", r"/workspaces/\d+/projects", limited, act=False))

    record = make_ops(server, sleeps).create_record(brief, look_first=False)

    assert len(project_creations(server)) == 2
    assert asana.created_projects == 1
    assert record.external_id in asana.projects
    # Retry-After plus VendorHttp's jitter (at most backoff/2 = 0.25 s).
    assert len(sleeps) == 1
    assert 1.0 <= sleeps[0] <= 1.25


def test_create_record_rejection_names_the_field(
    server: StubServer, asana: FakeAsana, sleeps: Sleeps, brief: HandoffBrief
) -> None:
    refused = error_reply(400, "workspace: Not a recognized ID: 1100")
    asana.faults.append(Fault("POST", r"/workspaces/\d+/projects", refused, act=False))

    with pytest.raises(VendorRejected) as caught:
        make_ops(server, sleeps).create_record(brief, look_first=False)

    assert caught.value.field == "workspace"
    assert "Not a recognized ID" in caught.value.message
    assert len(project_creations(server)) == 1


def test_create_record_from_template_fills_brief_once_job_succeeds(
    server: StubServer,
    asana: FakeAsana,
    sleeps: Sleeps,
    brief: HandoffBrief,
    brief_facts: list[str],
) -> None:
    ops = make_ops(server, sleeps, template_gid="3300", team_gid="2200")

    record = ops.create_record(brief, look_first=False)

    [instantiate] = server.calls("POST", f"{PREFIX}/project_templates/3300/instantiateProject")
    assert instantiate.json["data"] == {"name": f"{brief.title} (ref: handoff-42)", "team": "2200"}
    # The brief is written only once the job has succeeded (two polls, a second apart).
    steps = [(r.method, r.path) for r in server.requests[:4]]
    job_poll = ("GET", f"{PREFIX}/jobs/{next(iter(asana.jobs))}")
    assert steps[1:] == [job_poll, job_poll, ("PUT", f"{PREFIX}/projects/{record.external_id}")]
    assert sleeps == [1.0, 1.0]
    project = asana.projects[record.external_id]
    assert project["name"] == brief.title
    assert [fact for fact in brief_facts if fact not in project["notes"]] == []
    assert asana.created_projects == 1
    assert_complete(asana, record, brief)
    assert_requests_match_spec(server)


def test_create_record_look_first_finishes_template_project_left_unfilled(
    server: StubServer, asana: FakeAsana, sleeps: Sleeps, brief: HandoffBrief
) -> None:
    down = Reply(503, "busy")
    asana.faults.append(Fault("PUT", r"/projects/\d+", down, act=False, times=3))
    ops = make_ops(server, sleeps, template_gid="3300")

    with pytest.raises(VendorOutcomeUnknown):
        ops.create_record(brief, look_first=False)
    record = ops.create_record(brief, look_first=True)

    assert asana.created_projects == 1
    project = asana.projects[record.external_id]
    assert project["name"] == brief.title
    assert "(ref: handoff-42)" in project["notes"]
    assert_complete(asana, record, brief)
    assert_requests_match_spec(server)


@pytest.mark.parametrize("template", [None, "3300"])
def test_create_record_look_first_ignores_a_marker_quoted_in_another_handoffs_text(
    server: StubServer,
    asana: FakeAsana,
    sleeps: Sleeps,
    brief: HandoffBrief,
    template: str | None,
) -> None:
    ops = make_ops(server, sleeps, **({"template_gid": template} if template else {}))
    quoting = brief.model_copy(
        update={
            "handoff_id": 43,
            "marker": "handoff-43",
            "title": "Acme (ref: handoff-42)",
            "summary": "As before (ref: handoff-42)\nCreated by Handoff (ref: handoff-42)",
        }
    )
    other = ops.create_record(quoting, look_first=False)

    record = ops.create_record(brief, look_first=True)

    assert record.external_id != other.external_id
    assert asana.created_projects == 2


# --- add_comment -----------------------------------------------------------------------------


def test_add_comment_posts_story_on_conversation_task(
    server: StubServer,
    asana: FakeAsana,
    sleeps: Sleeps,
    brief: HandoffBrief,
    thread_comment: ThreadComment,
) -> None:
    ops = make_ops(server, sleeps)
    record = ops.create_record(brief, look_first=False)

    story_gid = ops.add_comment(record, thread_comment, look_first=False)

    conversation = record.extra_ids[0]
    [story] = asana.stories[conversation]
    assert story["gid"] == story_gid
    assert "Dana Ops wrote in Slack at 2026-01-01 14:05 UTC:" in story["text"]
    assert thread_comment.text in story["text"]
    assert story["text"].endswith("(ref: 1767225600.000200)")
    assert_requests_match_spec(server)


def test_add_comment_look_first_does_not_duplicate_after_a_503(
    server: StubServer,
    asana: FakeAsana,
    sleeps: Sleeps,
    brief: HandoffBrief,
    thread_comment: ThreadComment,
) -> None:
    ops = make_ops(server, sleeps)
    record = ops.create_record(brief, look_first=False)
    for n in range(3):  # earlier messages, so the lookup pages through stories
        ops.add_comment(
            record,
            thread_comment.model_copy(update={"marker": f"1767225000.00000{n}"}),
            look_first=False,
        )
    asana.faults.append(Fault("POST", r"/tasks/\d+/stories", Reply(503, "busy"), act=True))

    with pytest.raises(VendorOutcomeUnknown):
        ops.add_comment(record, thread_comment, look_first=False)
    story_gid = ops.add_comment(record, thread_comment, look_first=True)

    stories = asana.stories[record.extra_ids[0]]
    mirrored = [s for s in stories if "(ref: 1767225600.000200)" in s["text"]]
    assert [s["gid"] for s in mirrored] == [story_gid]
    assert len(stories) == 4
    assert_requests_match_spec(server)


def test_add_comment_without_task_ids_finds_conversation_task(
    server: StubServer,
    asana: FakeAsana,
    sleeps: Sleeps,
    brief: HandoffBrief,
    thread_comment: ThreadComment,
) -> None:
    ops = make_ops(server, sleeps)
    record = ops.create_record(brief, look_first=False)
    bare = record.model_copy(update={"extra_ids": ()})

    ops.add_comment(bare, thread_comment, look_first=False)

    assert len(asana.stories[record.extra_ids[0]]) == 1
    assert asana.project_tasks(record.external_id).count(CONVERSATION_TASK) == 1
    assert_requests_match_spec(server)


# --- build -----------------------------------------------------------------------------------


def test_build_requires_token_env_var(sleeps: Sleeps) -> None:
    settings = {"workspace_gid": WORKSPACE, "token_env": "ACME_ASANA_PAT"}

    with pytest.raises(ValueError, match="ACME_ASANA_PAT"):
        build(settings, vendor_context({"ASANA_TOKEN": TOKEN}, sleeps))
