"""Atlassian Document Format (ADF) for Jira: the handoff brief as a description, comments as bodies.

Only nodes Jira Cloud renders everywhere are used: doc, heading, paragraph, bulletList, listItem,
text (with strong and link marks) and hardBreak. ADF forbids empty text nodes, so blank strings are
dropped rather than sent.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# The wording of billing, contacts, times and markers is shared with the Asana adapter so both
# tools describe a handoff identically.
from integrations.brief_history import HISTORY_TITLE, history_lines, omitted_text
from integrations.brief_text import billing_lines, contact_line, marker_tag, utc_text
from integrations.ports import HandoffBrief, ThreadComment

Node = dict[str, Any]


def doc(blocks: Iterable[Node]) -> Node:
    """An ADF document (version 1) holding the given block nodes."""
    return {"type": "doc", "version": 1, "content": list(blocks)}


def heading(title: str, level: int = 2) -> Node:
    """A heading block; ADF allows levels 1 to 6."""
    return {"type": "heading", "attrs": {"level": level}, "content": lines(title)}


def paragraph(inline: Iterable[Node]) -> Node:
    """A paragraph block from inline nodes."""
    return {"type": "paragraph", "content": list(inline)}


def text(value: str, *, strong: bool = False, href: str | None = None) -> list[Node]:
    """A text node (as a list: empty when value is blank, which ADF would reject)."""
    if not value:
        return []
    marks: list[Node] = []
    if strong:
        marks.append({"type": "strong"})
    if href:
        marks.append({"type": "link", "attrs": {"href": href}})
    node: Node = {"type": "text", "text": value}
    if marks:
        node["marks"] = marks
    return [node]


def lines(value: str, *, strong: bool = False) -> list[Node]:
    """Multi-line text as text nodes joined by hardBreaks (ADF text must not carry newlines)."""
    nodes: list[Node] = []
    for number, line in enumerate(value.splitlines() or [""]):
        if number:
            nodes.append({"type": "hardBreak"})
        nodes += text(line, strong=strong)
    return nodes


def bullet_list(items: Iterable[list[Node]]) -> Node:
    """A bulletList whose items are each one paragraph of the given inline nodes."""
    return {
        "type": "bulletList",
        "content": [{"type": "listItem", "content": [paragraph(item)]} for item in items],
    }


def labelled(label: str, value: str) -> list[Node]:
    """'**Label:** value' as inline nodes."""
    return text(f"{label}: ", strong=True) + lines(value)


def section(title: str, items: list[list[Node]]) -> list[Node]:
    """A heading followed by a bullet list (ADF lists need at least one item, so none if empty)."""
    return [heading(title)] + ([bullet_list(items)] if items else [])


def plain_text(node: Any) -> str:
    """Every text node's text under `node`, concatenated (for finding markers)."""
    if isinstance(node, list):
        return "".join(plain_text(child) for child in node)
    if not isinstance(node, dict):
        return ""
    if node.get("type") == "text":
        return str(node.get("text") or "")
    return plain_text(node.get("content") or [])


# --- documents -----------------------------------------------------------------------------------


def brief_description(brief: HandoffBrief) -> Node:
    """The whole brief: summary, every section, contacts, deliverables, kickoff, billing, links."""
    blocks: list[Node] = [paragraph(lines(brief.summary))]
    blocks += section(
        "Overview",
        [labelled("Account", brief.account_name), labelled("Handoff type", brief.kind)],
    )
    for part in brief.sections:
        blocks += section(part.title, [labelled(i.label, i.value) for i in part.items])
    if brief.contacts:
        blocks += section("Contacts", [lines(contact_line(c)) for c in brief.contacts])
    if brief.deliverables:
        blocks += section("Deliverables", [lines(d) for d in brief.deliverables])
    if brief.kickoff_date:
        blocks.append(paragraph(labelled("Kickoff date", brief.kickoff_date.isoformat())))
    if brief.billing:
        blocks += section("Billing", [lines(line) for line in billing_lines(brief)])
    if brief.history:
        blocks += section(HISTORY_TITLE, _history_items(brief))
    links = [_link("Slack thread", brief.slack_thread_url), _link("CRM deal", brief.crm_deal_url)]
    if any(links):
        blocks += section("Links", [link for link in links if link])
    blocks.append(paragraph(text(f"Created by Handoff {marker_tag(brief.marker)}")))
    return doc(blocks)


def _history_items(brief: HandoffBrief) -> list[list[Node]]:
    """Each entry cited (type, date, author), its title and excerpt, and a link to the record."""
    entries, omitted = history_lines(brief)
    items: list[list[Node]] = []
    for line in entries:
        item = text(f"[{line.number}] {line.citation}", strong=True) + text(f" — {line.title}")
        if line.excerpt:
            item += text(f": {line.excerpt}")
        if line.url:
            label = "full record in HubSpot" if line.trimmed else "HubSpot"
            item += text(" (") + text(label, href=line.url) + text(")")
        items.append(item)
    if omitted:
        items.append(text(omitted_text(omitted)))
    return items


def _link(label: str, url: str | None) -> list[Node]:
    return text(f"{label}: ", strong=True) + text(url, href=url) if url else []


def comment_body(comment: ThreadComment) -> Node:
    """A mirrored Slack message: who and when, the text, then the marker that finds it again."""
    said = text(comment.author, strong=True) + text(
        f" wrote in Slack at {utc_text(comment.posted_at)}:"
    )
    blocks = [paragraph(said)]
    blocks += [paragraph(lines(part)) for part in comment.text.split("\n\n") if part.strip()]
    blocks.append(paragraph(text(marker_tag(comment.marker))))
    return doc(blocks)
