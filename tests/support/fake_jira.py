"""A stateful Jira Cloud stand-in for loopback tests, and readers for the ADF it receives.

Issues are created (or refused for missing required fields, as a project's screen would), found by
label through the enhanced JQL search, and commented on with paged listings. A write can be
refused with a 429 or acted on with its answer lost. Like Jira's eventually consistent search
index, a new issue can stay out of search results for its first `search_lag` searches.
"""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from tests.support.openapi_check import assert_matches_spec
from tests.support.stub_server import Recorded, Reply, StubServer

SPEC = "jira/jira_platform_v3.subset.json"
PROJECT = "OPS"
EMAIL = "handoff-bot@acme.example"
TOKEN = "jira-test-token"
SEARCH = "/rest/api/3/search/jql"  # outside the shared subset: not spec-checked
INLINE = {"text", "hardBreak"}
CATEGORY_IDS = {"new": 2, "indeterminate": 4, "done": 3}  # Jira's own status category ids
MARKS = {"strong", "link"}


@dataclass
class FakeJira:
    """Just enough of Jira Cloud: create/get/edit issue, JQL search by label, paged comments."""

    page_size: int = 2  # small, so comment listings cross pages
    required: dict[str, str] = field(default_factory=dict)  # field -> Jira's error message
    keys_in_search: bool = True
    search_lag: int = 0  # searches a new issue stays unindexed for (counted, not timed)
    issues: dict[str, dict[str, Any]] = field(default_factory=dict)  # by key
    comments: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    lose_next: dict[str, Reply] = field(default_factory=dict)  # "issue"/"comment" -> reply
    limit_next: dict[str, Reply] = field(default_factory=dict)
    unindexed: dict[str, int] = field(default_factory=dict)  # key -> searches until indexed
    statuses: dict[str, tuple[str, str]] = field(default_factory=dict)  # key -> (name, category)
    edits: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # key -> PUT fields
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(10001))
    # Requests arrive on the server's threads (two outbox workers at once): one at a time here.
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, request: Recorded) -> Reply:
        with self._lock:
            return self._serve(request)

    def _serve(self, request: Recorded) -> Reply:
        method, path = request.method, request.path
        if method == "POST" and path == "/rest/api/3/issue":
            return self._after("issue", lambda: self._create_issue(request.json))
        if method == "GET" and path == SEARCH:
            return self._search(request.query["jql"][-1])
        issue_path = re.fullmatch(r"/rest/api/3/issue/([^/]+)(/comment)?", path)
        if not issue_path:
            return Reply(404, {"errorMessages": [f"no route {method} {path}"], "errors": {}})
        issue = self._issue(issue_path.group(1))
        if issue is None:
            return Reply(404, {"errorMessages": ["Issue does not exist"], "errors": {}})
        if not issue_path.group(2) and method == "PUT":
            return self._after("edit", lambda: self._edit_issue(issue, request.json))
        if not issue_path.group(2):
            return Reply(200, self._with_status(issue))
        if method == "GET":
            return self._page(issue["key"], request)
        return self._after("comment", lambda: self._add_comment(issue["key"], request.json))

    def _after(self, what: str, act: Any) -> Reply:
        """Answer a write, unless told to refuse it (429) or to lose its answer (after acting)."""
        if what in self.limit_next:
            return self.limit_next.pop(what)
        reply: Reply = act()
        return self.lose_next.pop(what) if what in self.lose_next and reply.status < 300 else reply

    def _create_issue(self, body: dict[str, Any]) -> Reply:
        fields = body["fields"]
        errors = {name: message for name, message in self.required.items() if name not in fields}
        if not fields.get("summary"):
            errors["summary"] = "You must specify a summary of the issue."
        if errors:
            return Reply(400, {"errorMessages": [], "errors": errors})
        issue_id = str(next(self._ids))
        key = f"{fields['project']['key']}-{len(self.issues) + 1}"
        self.issues[key] = {"id": issue_id, "key": key, "fields": fields}
        if self.search_lag:
            self.unindexed[key] = self.search_lag
        self_url = f"https://acme.atlassian.net/rest/api/3/issue/{issue_id}"
        return Reply(201, {"id": issue_id, "key": key, "self": self_url})

    def _edit_issue(self, issue: dict[str, Any], body: dict[str, Any]) -> Reply:
        """Edit issue: the fields given replace the issue's; 204 and no body, as Jira answers."""
        fields = body.get("fields") or {}
        if "summary" in fields and not fields["summary"]:
            return Reply(400, {"errorMessages": [], "errors": {"summary": "Summary is required."}})
        issue["fields"] = {**issue["fields"], **fields}
        self.edits.setdefault(issue["key"], []).append(fields)
        return Reply(204, None)

    def _issue(self, id_or_key: str) -> dict[str, Any] | None:
        return next((i for i in self.issues.values() if id_or_key in (i["id"], i["key"])), None)

    def _with_status(self, issue: dict[str, Any]) -> dict[str, Any]:
        """The issue as GET returns it: its fields plus its status and the status's category."""
        name, category = self.statuses.get(issue["key"], ("To Do", "new"))
        status = {
            "name": name,
            "id": str(10000 + len(name)),
            "statusCategory": {"id": CATEGORY_IDS[category], "key": category, "name": name},
        }
        return {**issue, "fields": {**issue["fields"], "status": status}}

    def set_status(self, key: str, name: str, category: str) -> dict[str, Any]:
        """Someone moves the issue to status `name` (category new, indeterminate or done);
        returns the `jira:issue_updated` webhook body Jira would send."""
        with self._lock:
            self.statuses[key] = (name, category)
            issue = self._with_status(self.issues[key])
        return {
            "timestamp": 1814342400000,
            "webhookEvent": "jira:issue_updated",
            "issue_event_type_name": "issue_generic",
            "user": {"accountId": "5b10a2844c20165700ede21g", "displayName": "Dana Smith"},
            "issue": {
                "id": issue["id"],
                "key": key,
                "fields": {"status": issue["fields"]["status"]},
            },
            "changelog": {"id": "10100", "items": [{"field": "status", "toString": name}]},
        }

    def _search(self, jql: str) -> Reply:
        wanted = re.fullmatch(r'project = "(\w+)" AND labels = "([^"]+)" ORDER BY created ASC', jql)
        if not wanted:
            return Reply(400, {"errorMessages": [f"unexpected JQL {jql}"], "errors": {}})
        project, label = wanted.groups()
        hits = [
            {"id": i["id"], **({"key": i["key"]} if self.keys_in_search else {})}
            for i in self.issues.values()
            if i["fields"]["project"]["key"] == project
            and label in i["fields"]["labels"]
            and i["key"] not in self.unindexed
        ]
        for key, left in list(self.unindexed.items()):
            if left <= 1:
                del self.unindexed[key]
            else:
                self.unindexed[key] = left - 1
        return Reply(200, {"issues": hits, "isLast": True})

    def _add_comment(self, key: str, body: dict[str, Any]) -> Reply:
        comment = {"id": str(next(self._ids)), "body": body["body"]}
        self.comments.setdefault(key, []).append(comment)
        return Reply(201, comment)

    def _page(self, key: str, request: Recorded) -> Reply:
        start = int(request.query.get("startAt", ["0"])[-1])
        size = min(int(request.query.get("maxResults", ["50"])[-1]), self.page_size)
        everything = self.comments.get(key, [])
        page = {"startAt": start, "maxResults": size, "total": len(everything)}
        return Reply(200, {**page, "comments": everything[start : start + size]})


def adf_text(node: Any) -> str:
    """What a reader sees: text nodes, hardBreaks as newlines, one line per block."""
    if isinstance(node, list):
        return "".join(adf_text(child) for child in node)
    if node["type"] == "text":
        return str(node["text"])
    if node["type"] == "hardBreak":
        return "\n"
    return adf_text(node.get("content", [])) + ("\n" if node["type"] != "doc" else "")


def link_targets(node: Any) -> set[str]:
    """Every href of a link mark under `node`."""
    if isinstance(node, list):
        return set().union(*(link_targets(child) for child in node))
    marks = node.get("marks", [])
    found = {m["attrs"]["href"] for m in marks if m["type"] == "link"}
    return found | link_targets(node.get("content", []))


def assert_valid_adf(document: Any) -> None:
    """The ADF rules our documents rely on (structure per Atlassian's ADF reference)."""
    assert document["type"] == "doc"
    assert document["version"] == 1
    for block in document["content"]:
        _assert_block(block)


def _assert_block(block: dict[str, Any]) -> None:
    kind = block["type"]
    if kind == "bulletList":
        assert block["content"], "a bulletList needs at least one listItem"
        for item in block["content"]:
            assert item["type"] == "listItem"
            assert item["content"]
            for child in item["content"]:
                _assert_block(child)
        return
    assert kind in ("paragraph", "heading"), kind
    if kind == "heading":
        assert block["attrs"]["level"] in range(1, 7)
    for inline in block["content"]:
        assert inline["type"] in INLINE
        if inline["type"] == "text":
            assert inline["text"]
            assert "\n" not in inline["text"]
            assert {m["type"] for m in inline.get("marks", [])} <= MARKS


def assert_requests_match_spec(server: StubServer) -> None:
    """Every request sent (bar the JQL search, outside the subset) fits Jira's OAS."""
    checked = [r for r in server.requests if r.path != SEARCH]
    assert checked
    for recorded in checked:
        assert_matches_spec(SPEC, recorded)
