"""The audit timeline as blocks appended to the read-only handoff view."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from slack_sdk.models.blocks import Block, DividerBlock, HeaderBlock, SectionBlock

from bot.render.mrkdwn import clip, escape, slack_date
from storage.models import AuditEvent

_USER = re.compile(r"[UW][A-Z0-9]+")
AMENDED_LISTED = 6  # changed fields named per amendment; the thread's note lists them all
SHOWN = 25  # the newest events; the view must stay within 100 blocks and 3000 chars per text


def timeline_blocks(events: Sequence[AuditEvent]) -> list[dict[str, Any]]:
    """A header and one text block listing the newest events, oldest first."""
    recent = list(events)[-SHOWN:]
    lines = [f"• {slack_date(e.at)} — {_describe(e)}" for e in recent]
    if len(events) > len(recent):
        lines.insert(0, f"_{len(events) - len(recent)} earlier events not shown_")
    blocks: list[Block] = [
        DividerBlock(),
        HeaderBlock(text="Timeline"),
        SectionBlock(text=clip("\n".join(lines) or "_nothing yet_", 3000)),
    ]
    return [b.to_dict() for b in blocks]


def _describe(event: AuditEvent) -> str:
    who = f"<@{event.actor}>" if _USER.fullmatch(event.actor) else escape(event.actor)
    if event.event == "amended":
        return _amended(event, who)
    what = escape(event.event.replace("_", " "))
    team = escape(str(event.detail.get("team") or event.detail.get("target") or ""))
    if event.event == "submitted":  # amendments number their versions from this one
        return f"{what} by {who} (version 1)"
    version = event.detail.get("version")
    parts = [
        part for part in (team, f"version {version}" if isinstance(version, int) else "") if part
    ]
    detail = f" ({', '.join(parts)})" if parts else ""
    return f"{what}{detail} by {who}"


def _amended(event: AuditEvent, who: str) -> str:
    """'amended to version 2 by @x: Billing: Contract value, ...; to confirm again: finance'."""
    changed = [str(c) for c in event.detail.get("changes") or []]
    listed = ", ".join(changed[:AMENDED_LISTED])
    more = f" and {len(changed) - AMENDED_LISTED} more" if len(changed) > AMENDED_LISTED else ""
    teams = ", ".join(str(t) for t in event.detail.get("teams") or []) or "nobody"
    return (
        f"amended to version {event.detail.get('version')} by {who}: "
        f"{escape(clip(listed, 240))}{more}; to confirm again: {escape(teams)}"
    )
