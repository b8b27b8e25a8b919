"""The brief's Deal history section, worded once for every ops tool: cited, newest first."""

from __future__ import annotations

from dataclasses import dataclass

from integrations.ports import HandoffBrief, HistoryEntry

HISTORY_TITLE = "Deal history"
EXCERPT_CAP = 400  # characters of an entry's body in the ops record; the link has the rest
# Characters of the whole section: Jira Cloud caps a description at 32,767 characters and the
# rest of the brief needs room; older entries beyond this are counted, not copied.
SECTION_BUDGET = 12000
KIND_LABELS = {"note": "Note", "call": "Call", "meeting": "Meeting", "email": "Email"}


@dataclass(frozen=True)
class HistoryLine:
    """One cited entry: '[n] Call · 2026-11-12 · Sam Seller', its title, an excerpt, a link."""

    number: int
    citation: str
    title: str
    excerpt: str  # the body, trimmed to EXCERPT_CAP ("" when the body only repeats the title)
    trimmed: bool  # the excerpt is shorter than the stored body: the link holds the rest
    url: str | None


def citation(entry: HistoryEntry) -> str:
    """Type, date and author of an entry, as every surface cites it."""
    parts = [KIND_LABELS.get(entry.kind, entry.kind.title()), entry.occurred_at.date().isoformat()]
    if entry.author:
        parts.append(entry.author)
    return " · ".join(parts)


def history_lines(
    brief: HandoffBrief, *, excerpt_cap: int = EXCERPT_CAP, budget: int = SECTION_BUDGET
) -> tuple[list[HistoryLine], int]:
    """The brief's history as lines (numbers match the drafts' markers), and how many were left
    out to stay within `budget` characters."""
    lines: list[HistoryLine] = []
    used = 0
    for number, entry in enumerate(brief.history, start=1):
        body = " ".join(entry.body.split())
        if body == entry.title or (body.startswith(entry.title) and len(body) <= len(entry.title)):
            body = ""
        trimmed = len(body) > excerpt_cap
        excerpt = body[: excerpt_cap - 1].rstrip() + "…" if trimmed else body
        line = HistoryLine(number, citation(entry), entry.title, excerpt, trimmed, entry.url)
        used += len(line.citation) + len(line.title) + len(line.excerpt) + len(line.url or "") + 40
        if used > budget and lines:
            return lines, len(brief.history) - len(lines)
        lines.append(line)
    return lines, 0


def omitted_text(count: int) -> str:
    return f"{count} older entries are not copied here: see the deal's timeline in the CRM."
