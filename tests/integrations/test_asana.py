"""The Asana adapter against a stateful Asana stand-in on loopback, checked against Asana's OAS."""

from __future__ import annotations

import html
import itertools
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
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
from tests.support.openapi_check import assert_matches_spec
from tests.support.stub_server import Recorded, Reply, StubServer

SPEC = "asana/asana_oas.subset.yaml"
PREFIX = "/api/1.0"
WORKSPACE = "1100"
TOKEN = "asana-test-token"
# Tags Asana accepts in every rich-text field (developers.asana.com/docs/rich-text).
RICH_TEXT_TAGS = {"body", "strong", "em", "u", "s", "code", "ol", "ul", "li", "a"}
# Endpoints outside the shared subset, exercised without spec validation.
OUTSIDE_SUBSET = (f"{PREFIX}/jobs/",)


@dataclass
class Fault:
    """Answer one matching request with `reply`; `act` says whether the vendor acted first."""

    method: str
    path: str  # regex matched against the path after /api/1.0
    reply: Reply
    act: bool
    times: int = 1
    skip: int = 0  # matching requests to let through first


@dataclass
class FakeAsana:
    """Just enough of Asana: projects, templates and jobs, tasks, stories, offset pagination."""

    page_size: int = 2  # small, so every listing crosses pages
    projects: dict[str, dict[str, Any]] = field(default_factory=dict)
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    stories: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    created_projects: int = 0
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(5001))

    def __post_init__(self) -> None:
        # Other handoffs' projects, two with markers that merely start like ours.
        for name, notes in [
            ("Globex renewal", "Created by Handoff (ref: handoff-4)"),
            ("Initech onboarding", "Created by Handoff (ref: handoff-420)"),
            ("Internal: hiring plan", ""),
        ]:
            self._store_project(name, f"<body>{html.escape(notes)}</body>")

    def __call__(self, request: Recorded) -> Reply:
        path = request.path.removeprefix(PREFIX)
        fault = self._fault(request.method, path)
        if fault and not fault.act:
            return fault.reply
        reply = self._route(request, path)
        return fault.reply if fault else reply

    def _fault(self, method: str, path: str) -> Fault | None:
        for fault in self.faults:
            if not (fault.times and fault.method == method and re.fullmatch(fault.path, path)):
                continue
            if fault.skip:
                fault.skip -= 1
                continue
            fault.times -= 1
            return fault
        return None

    def _route(self, request: Recorded, path: str) -> Reply:
        method, parts = request.method, path.strip("/").split("/")
        if method == "POST" and parts[0] in ("workspaces", "teams") and parts[2:] == ["projects"]:
            return self._create_project(request.json["data"])
        if method == "POST" and parts[0] == "project_templates":
            return self._instantiate(request.json["data"])
        if method == "GET" and parts[0] == "jobs":
            return self._job(parts[1])
        if method == "PUT" and parts[0] == "projects":
            return self._update_project(parts[1], request.json["data"])
        if method == "GET" and parts == ["projects"]:
            listed = [p for p in self.projects.values() if not p["archived"]]
            return self._page(listed, request)
        if method == "GET" and parts[0] == "projects" and parts[2:] == ["tasks"]:
            return self._page(
                [t for t in self.tasks.values() if parts[1] in t["projects"]], request
            )
        if method == "POST" and parts == ["tasks"]:
            return self._create_task(request.json["data"])
        if parts[0] == "tasks" and parts[2:] == ["stories"]:
            if parts[1] not in self.tasks:
                return _error(404, "task: Unknown object")
            if method == "GET":
                return self._page(self.stories.get(parts[1], []), request)
            return self._create_story(parts[1], request.json["data"])
        return _error(404, f"no route for {method} {path}")

    # --- projects ---

    def _store_project(self, name: str, html_notes: str) -> dict[str, Any]:
        gid = str(next(self._ids))
        project = {
            "gid": gid,
            "resource_type": "project",
            "name": name,
            "html_notes": html_notes,
            "notes": _plain(html_notes),
            "archived": False,
            "permalink_url": f"https://app.asana.com/1/{WORKSPACE}/project/{gid}",
        }
        self.projects[gid] = project
        return project

    def _create_project(self, data: dict[str, Any]) -> Reply:
        if not data.get("name"):
            return _error(400, "name: Missing input")
        problem = _rich_text_problem(data.get("html_notes", "<body></body>"))
        if problem:
            return _error(400, f"html_notes: {problem}")
        self.created_projects += 1
        project = self._store_project(data["name"], data.get("html_notes", "<body></body>"))
        return Reply(201, {"data": project})

    def _instantiate(self, data: dict[str, Any]) -> Reply:
        self.created_projects += 1
        project = self._store_project(data["name"], "<body>Template: standard onboarding</body>")
        job_gid = str(next(self._ids))
        self.jobs[job_gid] = {"polls_left": 2, "project": project["gid"]}
        new_project = {"gid": project["gid"], "resource_type": "project", "name": data["name"]}
        job = {"gid": job_gid, "resource_type": "job", "status": "in_progress"}
        return Reply(201, {"data": {**job, "new_project": new_project}})

    def _job(self, gid: str) -> Reply:
        job = self.jobs[gid]
        job["polls_left"] -= 1
        status = "succeeded" if job["polls_left"] <= 0 else "in_progress"
        return Reply(200, {"data": {"gid": gid, "resource_type": "job", "status": status}})

    def _update_project(self, gid: str, data: dict[str, Any]) -> Reply:
        if gid not in self.projects:
            return _error(404, "project: Unknown object")
        project = self.projects[gid]
        if "html_notes" in data:
            problem = _rich_text_problem(data["html_notes"])
            if problem:
                return _error(400, f"html_notes: {problem}")
            project.update(html_notes=data["html_notes"], notes=_plain(data["html_notes"]))
        project["name"] = data.get("name", project["name"])
        return Reply(200, {"data": project})

    # --- tasks and stories ---

    def _create_task(self, data: dict[str, Any]) -> Reply:
        if not data.get("projects") or not set(data["projects"]) <= set(self.projects):
            return _error(400, "projects: Unknown object")
        gid = str(next(self._ids))
        task = {"gid": gid, "resource_type": "task", **data}
        self.tasks[gid] = task
        return Reply(201, {"data": task})

    def _create_story(self, task_gid: str, data: dict[str, Any]) -> Reply:
        story = {"gid": str(next(self._ids)), "resource_type": "story", "text": data["text"]}
        self.stories.setdefault(task_gid, []).append(story)
        return Reply(201, {"data": story})

    def _page(self, items: list[dict[str, Any]], request: Recorded) -> Reply:
        start = int(request.query.get("offset", ["0"])[-1])
        size = min(int(request.query.get("limit", ["100"])[-1]), self.page_size)
        end = start + size
        more = end < len(items)
        next_page = {"offset": str(end), "path": "/x", "uri": "https://app.asana.com/x"}
        return Reply(200, {"data": items[start:end], "next_page": next_page if more else None})

    # --- views for assertions ---

    def project_tasks(self, project_gid: str) -> list[str]:
        return [t["name"] for t in self.tasks.values() if project_gid in t["projects"]]


def _error(status: int, message: str) -> Reply:
    return Reply(status, {"errors": [{"message": message, "help": "see the docs"}]})


def _plain(rich_text: str) -> str:
    """Roughly what Asana puts in `notes` for given `html_notes`: the text without tags."""
    return html.unescape(re.sub(r"<[^>]+>", "", rich_text))


def _rich_text_problem(rich_text: str) -> str | None:
    """Why Asana would refuse this rich text (not XML, no <body> root, unknown tags), if so."""
    try:
        root = ET.fromstring(rich_text)
    except ET.ParseError as exc:
        return f"invalid XML: {exc}"
    if root.tag != "body":
        return "root must be <body>"
    unknown = {element.tag for element in root.iter()} - RICH_TEXT_TAGS
    return f"unsupported tags {sorted(unknown)}" if unknown else None


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


def assert_requests_match_spec(server: StubServer) -> None:
    """Every request sent (bar the documented out-of-subset ones) fits Asana's OAS."""
    checked = [r for r in server.requests if not r.path.startswith(OUTSIDE_SUBSET)]
    assert checked
    for recorded in checked:
        assert_matches_spec(SPEC, recorded, strip_prefix=PREFIX)


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
    notes = _plain(sent["html_notes"])
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
    # The marker was found past the first page, next to look-alike markers.
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
    refused = _error(400, "workspace: Not a recognized ID: 1100")
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
