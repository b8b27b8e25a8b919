"""A stateful Asana stand-in for loopback tests: projects, templates, tasks, stories, faults.

Rich text is refused the way Asana refuses it (not XML, no <body> root, unknown tags), listings are
paged in pages of two so every lookup crosses pages, and a `Fault` can answer a request with or
without the vendor having acted first (a lost reply).
"""

from __future__ import annotations

import hashlib
import hmac
import html
import itertools
import json
import re
import secrets
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import requests

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
# GET /teams/{gid}/projects is outside the subset too (only its POST is in it).
_TEAM_LISTING = re.compile(rf"{re.escape(PREFIX)}/teams/[^/]+/projects")


def _outside_subset(recorded: Recorded) -> bool:
    if recorded.path.startswith(OUTSIDE_SUBSET):
        return True
    return recorded.method == "GET" and bool(_TEAM_LISTING.fullmatch(recorded.path))


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
    # Typeahead is "not exhaustive": projects listed here are left out of its answers.
    typeahead_misses: set[str] = field(default_factory=set)
    typeahead_blind: bool = False  # leave every project out (e.g. not indexed yet)
    webhooks: dict[str, dict[str, Any]] = field(default_factory=dict)  # by gid, with secret
    deliveries: list[tuple[str, int]] = field(default_factory=list)  # (target, our answer)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(5001))
    # Requests arrive on the server's threads (two outbox workers at once): one at a time here.
    _lock: threading.Lock = field(default_factory=threading.Lock)

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
        with self._lock:
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
            team = parts[1] if parts[0] == "teams" else None
            return self._create_project(request.json["data"], team)
        if method == "GET" and parts[0] == "teams" and parts[2:] == ["projects"]:
            listed = [p for p in self._live() if p["team"] == parts[1]]
            return self._page(listed, request)
        if method == "GET" and parts[0] == "workspaces" and parts[2:] == ["typeahead"]:
            return self._typeahead(request)
        if method == "GET" and parts[0] == "projects" and len(parts) == 2:
            if parts[1] not in self.projects:
                return error_reply(404, "project: Unknown object")
            return Reply(200, {"data": self.projects[parts[1]]})
        if method == "POST" and parts[0] == "project_templates":
            return self._instantiate(request.json["data"])
        if method == "GET" and parts[0] == "jobs":
            return self._job(parts[1])
        if method == "PUT" and parts[0] == "projects":
            return self._update_project(parts[1], request.json["data"])
        if parts == ["webhooks"]:
            return self._webhooks(request) if method == "GET" else self._create_webhook(request)
        if method == "GET" and parts == ["projects"]:
            return self._page(self._live(), request)
        if method == "GET" and parts[0] == "projects" and parts[2:] == ["tasks"]:
            return self._page(
                [t for t in self.tasks.values() if parts[1] in t["projects"]], request
            )
        if method == "POST" and parts == ["tasks"]:
            return self._create_task(request.json["data"])
        if parts[0] == "tasks" and parts[2:] == ["stories"]:
            if parts[1] not in self.tasks:
                return error_reply(404, "task: Unknown object")
            if method == "GET":
                return self._page(self.stories.get(parts[1], []), request)
            return self._create_story(parts[1], request.json["data"])
        return error_reply(404, f"no route for {method} {path}")

    # --- projects ---

    def add_project(self, name: str, html_notes: str, team: str | None = None) -> dict[str, Any]:
        """A project made outside the adapter (another handoff's, or someone's by hand)."""
        return self._store_project(name, html_notes, team)

    def _store_project(self, name: str, html_notes: str, team: str | None = None) -> dict[str, Any]:
        gid = str(next(self._ids))
        project = {
            "gid": gid,
            "resource_type": "project",
            "name": name,
            "html_notes": html_notes,
            "notes": plain_text(html_notes),
            "archived": False,
            "team": team,
            "permalink_url": f"https://app.asana.com/1/{WORKSPACE}/project/{gid}",
            "completed": False,
            "completed_at": None,
            "current_status": None,
        }
        self.projects[gid] = project
        return project

    def _live(self) -> list[dict[str, Any]]:
        return [p for p in self.projects.values() if not p["archived"]]

    def _typeahead(self, request: Recorded) -> Reply:
        """Projects whose name has every query word as a word prefix, most recent first."""
        if request.query.get("resource_type") != ["project"]:
            return error_reply(400, "resource_type: only project is played here")
        words = request.query.get("query", [""])[-1].lower().split()
        count = int(request.query.get("count", ["20"])[-1])
        hits = [
            {"gid": p["gid"], "resource_type": "project", "name": p["name"]}
            for p in reversed(self._live())
            if not self.typeahead_blind
            and p["gid"] not in self.typeahead_misses
            and all(any(n.startswith(w) for n in p["name"].lower().split()) for w in words)
        ]
        return Reply(200, {"data": hits[:count]})

    def _create_project(self, data: dict[str, Any], team: str | None) -> Reply:
        if not data.get("name"):
            return error_reply(400, "name: Missing input")
        problem = rich_text_problem(data.get("html_notes", "<body></body>"))
        if problem:
            return error_reply(400, f"html_notes: {problem}")
        self.created_projects += 1
        project = self._store_project(
            data["name"], data.get("html_notes", "<body></body>"), data.get("team") or team
        )
        return Reply(201, {"data": project})

    def _instantiate(self, data: dict[str, Any]) -> Reply:
        self.created_projects += 1
        project = self._store_project(
            data["name"], "<body>Template: standard onboarding</body>", data.get("team")
        )
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
            return error_reply(404, "project: Unknown object")
        project = self.projects[gid]
        if "html_notes" in data:
            problem = rich_text_problem(data["html_notes"])
            if problem:
                return error_reply(400, f"html_notes: {problem}")
            project.update(html_notes=data["html_notes"], notes=plain_text(data["html_notes"]))
        project["name"] = data.get("name", project["name"])
        return Reply(200, {"data": project})

    # --- tasks and stories ---

    def _create_task(self, data: dict[str, Any]) -> Reply:
        if not data.get("projects") or not set(data["projects"]) <= set(self.projects):
            return error_reply(400, "projects: Unknown object")
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

    # --- webhooks (POST /webhooks handshake, X-Hook-Signature on every delivery) ---

    def _create_webhook(self, request: Recorded) -> Reply:
        """Handshake with the target while the creating request waits, as Asana does."""
        data = request.json["data"]
        if data.get("resource") not in self.projects:
            return error_reply(400, "resource: Unknown object")
        secret = secrets.token_hex(32)
        try:
            answer = requests.post(data["target"], headers={"X-Hook-Secret": secret}, timeout=5)
        except requests.RequestException:
            return error_reply(400, "target: the handshake could not reach the target")
        echoed = answer.headers.get("X-Hook-Secret")
        if answer.status_code not in (200, 204) or echoed != secret:
            return error_reply(400, "target: the handshake was not confirmed")
        gid = str(next(self._ids))
        hook = {
            "gid": gid,
            "resource_type": "webhook",
            "active": True,
            "resource": {"gid": data["resource"], "name": self.projects[data["resource"]]["name"]},
            "target": data["target"],
            "filters": data.get("filters", []),
        }
        self.webhooks[gid] = {**hook, "secret": secret}
        return Reply(201, {"data": hook, "X-Hook-Secret": secret})

    def _webhooks(self, request: Recorded) -> Reply:
        resource = request.query.get("resource", [None])[-1]
        hooks = [
            {k: v for k, v in hook.items() if k != "secret"}
            for hook in self.webhooks.values()
            if resource is None or hook["resource"]["gid"] == resource
        ]
        return self._page(hooks, request)

    def complete_project(self, gid: str, *, by_status: bool = False) -> None:
        """Someone marks the project complete (or sets its status to complete); each webhook
        on it is told, signed with its secret."""
        with self._lock:
            project = self.projects[gid]
            if by_status:
                project["current_status"] = {"gid": "9901", "color": "complete", "title": "Done"}
            else:
                project.update(completed=True, completed_at="2027-06-30T10:00:00.000Z")
        field_name = "current_status" if by_status else "completed"
        self.deliver(gid, project_changed(gid, field_name))

    def deliver(self, gid: str, body: bytes, *, secret: str | None = None) -> list[int]:
        """POST an event batch to every webhook on the project; returns the answers' codes."""
        codes = []
        for hook in list(self.webhooks.values()):
            if hook["resource"]["gid"] != gid:
                continue
            key = (secret or hook["secret"]).encode()
            signature = hmac.new(key, body, hashlib.sha256).hexdigest()
            answer = requests.post(
                hook["target"],
                data=body,
                headers={"X-Hook-Signature": signature, "Content-Type": "application/json"},
                timeout=5,
            )
            self.deliveries.append((hook["target"], answer.status_code))
            codes.append(answer.status_code)
        return codes

    # --- views for assertions ---

    def project_tasks(self, project_gid: str) -> list[str]:
        return [t["name"] for t in self.tasks.values() if project_gid in t["projects"]]


def project_changed(gid: str, field_name: str) -> bytes:
    """An event batch as Asana delivers it: the changed project, the field, who and when."""
    event = {
        "user": {"gid": "7001", "resource_type": "user"},
        "created_at": "2027-06-30T10:00:00.000Z",
        "action": "changed",
        "resource": {"gid": gid, "resource_type": "project"},
        "parent": None,
        "change": {"field": field_name, "action": "changed"},
    }
    return json.dumps({"events": [event]}).encode()


def error_reply(status: int, message: str) -> Reply:
    return Reply(status, {"errors": [{"message": message, "help": "see the docs"}]})


def plain_text(rich_text: str) -> str:
    """Roughly what Asana puts in `notes` for given `html_notes`: the text without tags."""
    return html.unescape(re.sub(r"<[^>]+>", "", rich_text))


def rich_text_problem(rich_text: str) -> str | None:
    """Why Asana would refuse this rich text (not XML, no <body> root, unknown tags), if so."""
    try:
        root = ET.fromstring(rich_text)
    except ET.ParseError as exc:
        return f"invalid XML: {exc}"
    if root.tag != "body":
        return "root must be <body>"
    unknown = {element.tag for element in root.iter()} - RICH_TEXT_TAGS
    return f"unsupported tags {sorted(unknown)}" if unknown else None


def assert_requests_match_spec(server: StubServer) -> None:
    """Every request sent (bar the documented out-of-subset ones) fits Asana's OAS."""
    checked = [r for r in server.requests if not _outside_subset(r)]
    assert checked
    for recorded in checked:
        assert_matches_spec(SPEC, recorded, strip_prefix=PREFIX)
