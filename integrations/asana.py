"""Asana adapter: one project per handoff, one task per deliverable, thread comments as stories.

Asana has no idempotency keys, so every project we make carries the text "(ref: <marker>)" in its
notes, or in its name until a template-made project has had its brief filled in. After an uncertain
failure the caller passes look_first=True and gets the existing project back; task creation then
resumes from the project's task list instead of starting over.

Stories hang on tasks, not projects: each project gets a "Handoff conversation" task whose gid is
`CreatedRecord.extra_ids[0]`; the deliverable task gids follow, in the brief's order.

Finding the project again (look_first) without paging through the whole workspace, narrowest
query first:
1. GET /workspaces/{gid}/typeahead?resource_type=project&query=<project name> (every plan; one
   page of at most 100 results, most recent first, "not exhaustive"). Typeahead returns names
   only, so a name match is read with GET /projects/{gid} to check the marker in its notes.
2. With a team configured, the team's projects, GET /teams/{team_gid}/projects: every project
   we create lands in that team, so this listing is authoritative and ends the search.
3. Without a team, GET /projects?workspace=<gid> over every page: the last resort (Asana notes it
   "may timeout for large domains"; organisation workspaces need a team to create projects anyway).
Asana's full-text search (GET /workspaces/{gid}/tasks/search) is premium-only, capped at 60
requests a minute, and finds tasks, not projects, so it is not used. Every call counts against
the token's standard limit of 150 requests a minute on free domains, 1,500 on paid ones
(developers.asana.com/docs/rate-limits); a 429 carries Retry-After, handled by VendorHttp.

Outside the shared spec subset: GET /jobs/{job_gid}, polled after instantiateProject because Asana
documents that a project being instantiated may still change until its job has succeeded; and
GET /teams/{team_gid}/projects ("Get a team's projects": limit, offset, archived, opt_fields;
compact project records, paged like GET /projects), the non-deprecated replacement for the
subset's `team` filter on GET /projects.
"""

from __future__ import annotations

import html
import logging
import re
import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import requests
from pydantic import BaseModel, ConfigDict

from integrations.brief_history import HISTORY_TITLE, history_lines, omitted_text
from integrations.brief_text import billing_lines, contact_line, marker_tag, utc_text
from integrations.http import Sleep, VendorHttp, default_error_text
from integrations.ports import (
    CreatedRecord,
    HandoffBrief,
    ThreadComment,
    VendorOutcomeUnknown,
    VendorRejected,
    VendorUnavailable,
)

if TYPE_CHECKING:
    from integrations.registry import VendorContext

log = logging.getLogger(__name__)

VENDOR = "asana"
CONVERSATION_TASK = "Handoff conversation"
PAGE_LIMIT = 100
TYPEAHEAD_COUNT = 100  # the typeahead's maximum; it cannot be paged
TYPEAHEAD_READS = 10  # same-named projects read for their notes before falling back to a listing
PROJECT_FIELDS = "name,notes,permalink_url"
JOB_POLLS = 10
JOB_POLL_SECONDS = 1.0
# Characters XML 1.0 forbids: Asana parses rich text as XML and would reject the whole request.
_XML_INVALID = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_FIELD_PREFIX = re.compile(r"^([a-z_][a-z0-9_.]*): ")


class AsanaConfig(BaseModel):
    """The `asana` settings block."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    workspace_gid: str
    team_gid: str | None = None
    template_gid: str | None = None
    base_url: str = "https://app.asana.com/api/1.0"
    token_env: str = "ASANA_TOKEN"


class AsanaOps:
    """OpsTool for Asana: see the module docstring for how exactly-once is kept."""

    vendor = VENDOR

    def __init__(self, config: AsanaConfig, http: VendorHttp, *, sleep: Sleep = time.sleep) -> None:
        self.config = config
        self._http = http
        self._sleep = sleep

    # --- OpsTool ---------------------------------------------------------------------------------

    def create_record(self, brief: HandoffBrief, *, look_first: bool) -> CreatedRecord:
        """Create (or, with look_first, find and complete) the project and its tasks."""
        found = self._find_project(brief) if look_first else None
        project, job = (found, None) if found else self._new_project(brief)
        try:
            return self._complete(project, job, brief, resume=found is not None)
        except VendorUnavailable as exc:
            # The project exists now, so the retry must look for it rather than make another.
            raise VendorOutcomeUnknown(
                VENDOR, exc.message, status=exc.status, retry_after=exc.retry_after
            ) from exc

    def add_comment(
        self, record: CreatedRecord, comment: ThreadComment, *, look_first: bool
    ) -> str:
        """Mirror a thread message as a story on the project's conversation task."""
        task_gid = (
            record.extra_ids[0]
            if record.extra_ids
            else self._conversation_task(record, comment.marker)
        )
        tag = marker_tag(comment.marker)
        if look_first:
            existing = self._find_story(task_gid, tag)
            if existing is not None:
                log.info("asana_story_found marker=%s story_gid=%s", comment.marker, existing)
                return existing
        body = {"data": {"text": story_text(comment)}}
        story = _data(self._http.request("POST", f"/tasks/{task_gid}/stories", json=body))
        story_gid = str(story["gid"])
        log.info(
            "asana_story_created marker=%s task_gid=%s story_gid=%s",
            comment.marker,
            task_gid,
            story_gid,
        )
        return story_gid

    # --- projects --------------------------------------------------------------------------------

    def _complete(
        self,
        project: dict[str, Any],
        job: dict[str, Any] | None,
        brief: HandoffBrief,
        *,
        resume: bool,
    ) -> CreatedRecord:
        """Write the brief if the project lacks it, then make the missing tasks."""
        gid = str(project["gid"])
        if job is not None:
            self._await_job(job, brief.marker)
        if _notes_tag(project) != marker_tag(brief.marker):
            # Template-made projects get their brief only now (or on a retry, if this fails).
            project = self._fill_project(gid, brief)
        return CreatedRecord(
            vendor=VENDOR,
            kind="project",
            external_id=gid,
            url=project.get("permalink_url"),
            extra_ids=self._ensure_tasks(gid, brief, resume=resume),
        )

    def _new_project(self, brief: HandoffBrief) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """The new project, plus the instantiation job to wait for when made from a template."""
        if self.config.template_gid:
            return self._project_from_template(brief, self.config.template_gid)
        data = {"name": brief.title, "html_notes": project_html(brief)}
        path = (
            f"/teams/{self.config.team_gid}/projects"
            if self.config.team_gid
            else f"/workspaces/{self.config.workspace_gid}/projects"
        )
        response = self._http.request(
            "POST", path, json={"data": data}, params={"opt_fields": PROJECT_FIELDS}
        )
        project = _data(response)
        log.info("asana_project_created marker=%s project_gid=%s", brief.marker, project["gid"])
        return project, None

    def _project_from_template(
        self, brief: HandoffBrief, template_gid: str
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        # The marker rides in the name until the brief is written into the notes, so a failure in
        # between still leaves a project that look_first can find.
        data: dict[str, Any] = {"name": f"{brief.title} {marker_tag(brief.marker)}"}
        if self.config.team_gid:
            data["team"] = self.config.team_gid
        job = _data(
            self._http.request(
                "POST",
                f"/project_templates/{template_gid}/instantiateProject",
                json={"data": data},
                params={"opt_fields": "status,new_project,new_project.name"},
            )
        )
        new_project = job.get("new_project") or {}
        if not new_project.get("gid"):
            raise VendorOutcomeUnknown(VENDOR, "instantiateProject returned no new_project")
        log.info(
            "asana_project_instantiated marker=%s project_gid=%s job_gid=%s",
            brief.marker,
            new_project["gid"],
            job["gid"],
        )
        return {"gid": str(new_project["gid"]), "name": data["name"]}, job

    def _await_job(self, job: Mapping[str, Any], marker: str) -> None:
        """Wait for an instantiation job, so our notes are not overwritten by the template's."""
        status = job.get("status")
        for _ in range(JOB_POLLS):
            if status == "succeeded":
                return
            if status == "failed":
                raise VendorRejected(
                    VENDOR, "project template instantiation failed", field="template_gid"
                )
            self._sleep(JOB_POLL_SECONDS)
            response = self._http.request(
                "GET", f"/jobs/{job['gid']}", params={"opt_fields": "status"}
            )
            status = _data(response, need_gid=False).get("status")
        if status == "succeeded":
            return
        # The project exists but is not ready: the retry finds it by the marker in its name.
        log.warning(
            "asana_job_unfinished marker=%s job_gid=%s status=%s", marker, job["gid"], status
        )
        raise VendorOutcomeUnknown(VENDOR, f"template instantiation still {status}")

    def _fill_project(self, gid: str, brief: HandoffBrief) -> dict[str, Any]:
        body = {"data": {"name": brief.title, "html_notes": project_html(brief)}}
        response = self._http.request(
            "PUT",
            f"/projects/{gid}",
            json=body,
            params={"opt_fields": PROJECT_FIELDS},
            safe_to_repeat=True,  # writing the same fields twice changes nothing
        )
        project = _data(response)
        log.info("asana_project_filled marker=%s project_gid=%s", brief.marker, gid)
        return project

    def _find_project(self, brief: HandoffBrief) -> dict[str, Any] | None:
        """The project carrying the brief's marker: typeahead, then the team, then a full scan."""
        tag = marker_tag(brief.marker)
        via, found = "typeahead", self._find_by_typeahead(brief.title, tag)
        if found is None:
            via, path, params = self._listing()
            found = next((p for p in self._pages(path, params) if _is_ours(p, tag)), None)
        if found is not None:
            log.info(
                "asana_project_found marker=%s project_gid=%s via=%s",
                brief.marker,
                found["gid"],
                via,
            )
        return found

    def _find_by_typeahead(self, title: str, tag: str) -> dict[str, Any] | None:
        params = {
            "resource_type": "project",
            "query": title,
            "count": str(TYPEAHEAD_COUNT),
            "opt_fields": "name",
        }
        path = f"/workspaces/{self.config.workspace_gid}/typeahead"
        hits = _json_object(self._http.request("GET", path, params=params)).get("data") or []
        named = [
            str(hit["gid"])
            for hit in hits
            # typeahead matches words anywhere; the names of our projects start with the title
            if isinstance(hit, dict)
            and hit.get("gid")
            and str(hit.get("name") or "").startswith(title)
        ]
        for gid in named[:TYPEAHEAD_READS]:
            project = self._project(gid)  # typeahead gives names only, the marker is in notes
            if _is_ours(project, tag):
                return project
        return None

    def _listing(self) -> tuple[str, str, dict[str, str]]:
        """Where the fallback scan reads: the team's projects, else the whole workspace."""
        params = {"archived": "false", "opt_fields": PROJECT_FIELDS}
        if self.config.team_gid:
            return "team", f"/teams/{self.config.team_gid}/projects", params
        return "workspace_scan", "/projects", {**params, "workspace": self.config.workspace_gid}

    def _project(self, gid: str) -> dict[str, Any]:
        response = self._http.request(
            "GET", f"/projects/{gid}", params={"opt_fields": PROJECT_FIELDS}
        )
        return _data(response)

    # --- tasks and stories -----------------------------------------------------------------------

    def _ensure_tasks(
        self, project_gid: str, brief: HandoffBrief, *, resume: bool
    ) -> tuple[str, ...]:
        """The conversation task then one task per deliverable, creating only the missing ones."""
        existing: dict[str, list[str]] = {}
        if resume:
            for task in self._pages(f"/projects/{project_gid}/tasks", {"opt_fields": "name"}):
                existing.setdefault(str(task.get("name")), []).append(str(task["gid"]))
        gids: list[str] = []
        wanted = [(CONVERSATION_TASK, conversation_notes(brief))]
        wanted += [(name, deliverable_notes(brief)) for name in brief.deliverables]
        for name, notes in wanted:
            # pop() so that two identical deliverables still need two tasks
            found = existing.get(name)
            gids.append(
                found.pop(0) if found else self._create_task(project_gid, name, notes, brief)
            )
        return tuple(gids)

    def _create_task(self, project_gid: str, name: str, notes: str, brief: HandoffBrief) -> str:
        body = {"data": {"name": name, "notes": notes, "projects": [project_gid]}}
        task = _data(self._http.request("POST", "/tasks", json=body))
        log.info(
            "asana_task_created marker=%s project_gid=%s task_gid=%s",
            brief.marker,
            project_gid,
            task["gid"],
        )
        return str(task["gid"])

    def _conversation_task(self, record: CreatedRecord, marker: str) -> str:
        """Fallback for records without extra_ids: find the conversation task, or make it."""
        for task in self._pages(f"/projects/{record.external_id}/tasks", {"opt_fields": "name"}):
            if task.get("name") == CONVERSATION_TASK:
                return str(task["gid"])
        body = {"data": {"name": CONVERSATION_TASK, "projects": [record.external_id]}}
        task = _data(self._http.request("POST", "/tasks", json=body))
        log.info(
            "asana_task_created marker=%s project_gid=%s task_gid=%s",
            marker,
            record.external_id,
            task["gid"],
        )
        return str(task["gid"])

    def _find_story(self, task_gid: str, tag: str) -> str | None:
        params = {"opt_fields": "text,resource_subtype"}
        for story in self._pages(f"/tasks/{task_gid}/stories", params):
            if str(story.get("text") or "").rstrip().endswith(tag):
                return str(story["gid"])
        return None

    def _pages(self, path: str, params: Mapping[str, str]) -> Iterator[dict[str, Any]]:
        """Every item of a paginated collection, following next_page.offset."""
        offset: str | None = None
        while True:
            query = {**params, "limit": str(PAGE_LIMIT)}
            if offset:
                query["offset"] = offset
            body = _json_object(self._http.request("GET", path, params=query))
            yield from (item for item in body.get("data") or [] if isinstance(item, dict))
            offset = (body.get("next_page") or {}).get("offset")
            if not offset:
                return


# --- markers -------------------------------------------------------------------------------------
# A tag counts only where the app alone writes it: the notes' last line ("Created by Handoff
# (ref: …)", after everything taken from the form) or, for a template project not filled yet,
# the end of its name. A form that quotes another handoff's tag must not look like that handoff.

_OUR_LINE = "Created by Handoff "


def _notes_tag(project: Mapping[str, Any]) -> str | None:
    """The tag on the notes' last line when the app wrote that line, else None."""
    last = str(project.get("notes") or "").rstrip().rsplit("\n", 1)[-1].strip()
    return last.removeprefix(_OUR_LINE) if last.startswith(_OUR_LINE + "(ref: ") else None


def _is_ours(project: Mapping[str, Any], tag: str) -> bool:
    """True when `project` is the one the app made for `tag`."""
    written = _notes_tag(project)
    if written is not None:
        return written == tag
    return str(project.get("name") or "").rstrip().endswith(f" {tag}")


# --- rendering -----------------------------------------------------------------------------------


def project_html(brief: HandoffBrief) -> str:
    """The whole brief as Asana rich text, using only tags every rich-text field accepts."""
    blocks = [_esc(brief.summary), _titled_list("Overview", _overview(brief))]
    for section in brief.sections:
        items = [f"<strong>{_esc(i.label)}:</strong> {_esc(i.value)}" for i in section.items]
        blocks.append(_titled_list(section.title, items))
    if brief.contacts:
        blocks.append(_titled_list("Contacts", [_esc(contact_line(c)) for c in brief.contacts]))
    if brief.deliverables:
        blocks.append(_titled_list("Deliverables", [_esc(d) for d in brief.deliverables]))
    if brief.kickoff_date:
        blocks.append(f"<strong>Kickoff date:</strong> {brief.kickoff_date.isoformat()}")
    if brief.billing:
        blocks.append(_titled_list("Billing", [_esc(line) for line in billing_lines(brief)]))
    if brief.history:
        blocks.append(_titled_list(HISTORY_TITLE, _history_items(brief)))
    links = [_link("Slack thread", brief.slack_thread_url), _link("CRM deal", brief.crm_deal_url)]
    if any(links):
        blocks.append(_titled_list("Links", [link for link in links if link]))
    blocks.append(_esc(f"Created by Handoff {marker_tag(brief.marker)}"))
    return "<body>" + "\n".join(blocks) + "</body>"


def _history_items(brief: HandoffBrief) -> list[str]:
    """Each entry cited (type, date, author), its title and excerpt, and a link to the record."""
    lines, omitted = history_lines(brief)
    items = []
    for line in lines:
        item = f"<strong>[{line.number}] {_esc(line.citation)}</strong> — {_esc(line.title)}"
        if line.excerpt:
            item += f": {_esc(line.excerpt)}"
        if line.url:
            label = "full record in HubSpot" if line.trimmed else "HubSpot"
            item += f' (<a href="{_esc(line.url)}">{label}</a>)'
        items.append(item)
    if omitted:
        items.append(_esc(omitted_text(omitted)))
    return items


def _overview(brief: HandoffBrief) -> list[str]:
    return [
        f"<strong>Account:</strong> {_esc(brief.account_name)}",
        f"<strong>Handoff type:</strong> {_esc(brief.kind)}",
    ]


def _titled_list(title: str, items: list[str]) -> str:
    heading = f"<strong>{_esc(title)}</strong>"
    if not items:
        return heading
    return heading + "\n<ul>" + "".join(f"<li>{item}</li>" for item in items) + "</ul>"


def _link(label: str, url: str | None) -> str:
    return f'<a href="{_esc(url)}">{_esc(label)}: {_esc(url)}</a>' if url else ""


def _esc(text: str) -> str:
    return html.escape(_XML_INVALID.sub("", text), quote=True)


def conversation_notes(brief: HandoffBrief) -> str:
    """Notes of the task that collects the Slack thread's questions and answers."""
    where = f" ({brief.slack_thread_url})" if brief.slack_thread_url else ""
    return f"Questions and answers from the handoff's Slack thread{where} appear here as comments."


def deliverable_notes(brief: HandoffBrief) -> str:
    """Notes of a deliverable task: where it came from."""
    return f"Deliverable from the {brief.account_name} handoff {marker_tag(brief.marker)}."


def story_text(comment: ThreadComment) -> str:
    """A comment's text stating who said it in Slack and when, ending with its marker."""
    return (
        f"{comment.author} wrote in Slack at {utc_text(comment.posted_at)}:\n"
        f"{comment.text}\n\n{marker_tag(comment.marker)}"
    )


# --- responses and errors ------------------------------------------------------------------------


def _json_object(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise VendorOutcomeUnknown(VENDOR, f"unexpected response body from {response.url}")
    return body


def _data(response: requests.Response, *, need_gid: bool = True) -> dict[str, Any]:
    """The `data` object Asana wraps every payload in; a write we cannot read is 'unknown'."""
    data = _json_object(response).get("data")
    if not isinstance(data, dict) or (need_gid and not data.get("gid")):
        raise VendorOutcomeUnknown(VENDOR, f"unexpected response data from {response.url}")
    return data


def asana_error_text(response: requests.Response) -> tuple[str, str | None]:
    """Asana's `errors[].message` texts, and the field named by 'field: problem' messages."""
    try:
        body = response.json()
    except ValueError:
        return default_error_text(response)
    errors = body.get("errors") if isinstance(body, dict) else None
    messages = [str(e["message"]) for e in errors or [] if isinstance(e, dict) and e.get("message")]
    if not messages:
        return default_error_text(response)
    field = _FIELD_PREFIX.match(messages[0])
    return f"HTTP {response.status_code}: {'; '.join(messages)}", field.group(1) if field else None


def build(settings: Mapping[str, Any], ctx: VendorContext) -> AsanaOps:
    """Factory for the registry: validates settings and reads the token from the environment."""
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
    return AsanaOps(config, http, sleep=ctx.sleep)
