"""Asana: an amended handoff rewrites its project and says so on the conversation task.

1. PUT /projects/{project_gid} with the amended name and html_notes (the whole brief, its marker
   line last, so look-first still recognises the project); writing it twice changes nothing.
2. The deliverable tasks: any deliverable without a task (by name) gets one; tasks of
   deliverables the amendment dropped stay, since people may have worked on them.
3. A story on the "Handoff conversation" task (Asana hangs stories on tasks, not projects)
   listing every change and ending with the amendment's marker; on a retry the task's stories
   are read first, so the note is added once.
"""

from __future__ import annotations

import logging

from integrations.amendments import Amendment
from integrations.asana import VENDOR, AsanaOps, _data
from integrations.brief_text import marker_tag
from integrations.ports import CreatedRecord, HandoffBrief, VendorOutcomeUnknown, VendorUnavailable

log = logging.getLogger(__name__)


def update_project(
    tool: AsanaOps,
    record: CreatedRecord,
    brief: HandoffBrief,
    amendment: Amendment,
    *,
    look_first: bool,
) -> CreatedRecord:
    """The project rewritten from `brief`, missing tasks added, the change noted once."""
    gid = record.external_id
    project = tool._fill_project(gid, brief)
    try:
        task_gids = tool._ensure_tasks(gid, brief, resume=True)
        _note(tool, task_gids[0], amendment, look_first=look_first)
    except VendorUnavailable as exc:
        # A task or the story may exist now: the retry must look before adding.
        raise VendorOutcomeUnknown(
            VENDOR, exc.message, status=exc.status, retry_after=exc.retry_after
        ) from exc
    log.info(
        "asana_project_amended marker=%s project_gid=%s version=%s",
        brief.marker,
        gid,
        amendment.version,
    )
    return CreatedRecord(
        vendor=VENDOR,
        kind="project",
        external_id=gid,
        url=project.get("permalink_url") or record.url,
        extra_ids=task_gids,
    )


def _note(tool: AsanaOps, task_gid: str, amendment: Amendment, *, look_first: bool) -> str:
    tag = marker_tag(amendment.marker)
    if look_first:
        found = tool._find_story(task_gid, tag)
        if found is not None:
            log.info("asana_story_found marker=%s story_gid=%s", amendment.marker, found)
            return found
    body = {"data": {"text": amendment.text()}}
    story = _data(tool._http.request("POST", f"/tasks/{task_gid}/stories", json=body))
    log.info("asana_amendment_noted marker=%s story_gid=%s", amendment.marker, story["gid"])
    return str(story["gid"])
