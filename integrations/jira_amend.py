"""Jira: an amended handoff rewrites its issue and says so in a comment.

1. PUT /rest/api/3/issue/{issueIdOrKey} with the amended summary and ADF description (the whole
   brief, its marker last). Labels are left alone: the marker label keeps finding the issue.
   Writing the same fields twice changes nothing, so a retry may repeat it.
2. POST /rest/api/3/issue/{issueIdOrKey}/comment listing every change, ending with the
   amendment's marker; on a retry the issue's comments are read first, so it is added once.
"""

from __future__ import annotations

import logging

from integrations.amendments import Amendment
from integrations.brief_text import marker_tag
from integrations.jira import API, SUMMARY_MAX, JiraOps, _json_object
from integrations.jira_adf import brief_description, doc, lines, paragraph, text
from integrations.ports import CreatedRecord, HandoffBrief, VendorOutcomeUnknown

log = logging.getLogger(__name__)

VENDOR = "jira"


def update_issue(
    tool: JiraOps,
    record: CreatedRecord,
    brief: HandoffBrief,
    amendment: Amendment,
    *,
    look_first: bool,
) -> CreatedRecord:
    """The issue's summary and description rewritten from `brief`, the change noted once."""
    issue = record.external_id
    fields = {
        "summary": " ".join(brief.title.split())[:SUMMARY_MAX],
        "description": brief_description(brief),
    }
    tool._http.request("PUT", f"{API}/issue/{issue}", json={"fields": fields}, safe_to_repeat=True)
    tag = marker_tag(amendment.marker)
    found = tool._find_comment(issue, tag) if look_first else None
    if found is None:
        response = tool._http.request(
            "POST", f"{API}/issue/{issue}/comment", json={"body": amendment_body(amendment)}
        )
        found = str(_json_object(response).get("id") or "")
        if not found:
            raise VendorOutcomeUnknown(VENDOR, "add comment answered without an id")
    log.info(
        "jira_issue_amended marker=%s issue=%s version=%s comment_id=%s",
        brief.marker,
        issue,
        amendment.version,
        found,
    )
    return record


def amendment_body(amendment: Amendment) -> dict[str, object]:
    """The note as ADF: the heading in bold, one paragraph per change, the marker last."""
    blocks = [paragraph(text(f"{amendment.heading()}:", strong=True))]
    note = amendment.text()
    body = note.split("\n", 1)[1].rsplit("\n\n", 1)[0]  # between the heading and the marker
    blocks += [paragraph(lines(line)) for line in body.split("\n") if line.strip()]
    blocks.append(paragraph(text(marker_tag(amendment.marker))))
    return doc(blocks)
