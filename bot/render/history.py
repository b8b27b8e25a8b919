"""The deal's CRM history in Slack: paged in the View handoff, a short list in the form.

Entries are numbered newest first, the same numbers the drafts cite (`[2]`) and the ops record
uses, so a reader can follow a citation from any surface to the same entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.render.mrkdwn import clip, escape
from forms.declarative import DeclarativeForm
from forms.registry import get_form
from integrations.brief_history import citation
from integrations.ports import HistoryEntry
from storage.models import HandoffKind

PAGE_SIZE = 10  # entries per View handoff page: 10 sections + 5 around them, well under 100
EXCERPT = 300  # characters of each body shown in Slack; the link holds the rest
CONTEXT_SHOWN = 8  # entries in the form's "What the CRM already says"
HISTORY_OLDER = "history_older"  # value: "<handoff id>:<page>"
HISTORY_NEWER = "history_newer"


def field_label(name: str) -> str:
    """The sales -> delivery form's own label of a field (drafts exist only for that form)."""
    spec = get_form(HandoffKind.SALES_TO_DELIVERY)
    if isinstance(spec, DeclarativeForm):
        for found in spec.all_fields():
            if found.name == name:
                return found.label
    return name.replace("_", " ").capitalize()


def history_blocks(
    entries: Sequence[HistoryEntry],
    *,
    handoff_id: int,
    page: int = 0,
    drafted: Sequence[tuple[str, bool]] = (),
) -> list[dict[str, Any]]:
    """Header, the drafted answers (field, edited?), one page of cited entries, Older/Newer."""
    blocks: list[Block] = [DividerBlock(), HeaderBlock(text="Deal history")]
    if drafted:
        names = ", ".join(
            f"{field_label(f)} ({'edited' if edited else 'kept as drafted'})"
            for f, edited in drafted
        )
        blocks.append(
            ContextBlock(
                elements=[
                    MarkdownTextObject(
                        text=f":memo: Started as drafts from the CRM history: {escape(names)}."
                    )
                ]
            )
        )
    if not entries:
        blocks.append(SectionBlock(text="_Nothing in the CRM history for this deal._"))
        return [b.to_dict() for b in blocks]
    pages = max(1, -(-len(entries) // PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    first = page * PAGE_SIZE
    shown = entries[first : first + PAGE_SIZE]
    for number, entry in enumerate(shown, start=first + 1):
        blocks.append(SectionBlock(text=_entry_text(number, entry)))
    blocks.append(
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text=f"Entries {first + 1} to {first + len(shown)} of {len(entries)}, "
                    "newest first. Numbers match the citations in drafted answers."
                )
            ]
        )
    )
    buttons = []
    if page > 0:
        buttons.append(
            ButtonElement(text="Newer", action_id=HISTORY_NEWER, value=f"{handoff_id}:{page - 1}")
        )
    if page < pages - 1:
        buttons.append(
            ButtonElement(text="Older", action_id=HISTORY_OLDER, value=f"{handoff_id}:{page + 1}")
        )
    if buttons:
        blocks.append(ActionsBlock(block_id="history_pages", elements=buttons))
    return [b.to_dict() for b in blocks]


def context_blocks(entries: Sequence[HistoryEntry]) -> list[dict[str, Any]]:
    """The form's "What the CRM already says": the newest entries' titles with their dates."""
    if not entries:
        return []
    lines = [
        f"• [{n}] {escape(citation(e))}: {escape(clip(e.title, 120))}"
        for n, e in enumerate(entries[:CONTEXT_SHOWN], start=1)
    ]
    more = len(entries) - CONTEXT_SHOWN
    if more > 0:
        lines.append(f"_…and {more} older. All of it travels with the handoff._")
    text = "*What the CRM already says*\n" + "\n".join(lines)
    blocks: list[Block] = [SectionBlock(block_id="crm_history", text=clip(text, 3000))]
    return [b.to_dict() for b in blocks]


def _entry_text(number: int, entry: HistoryEntry) -> str:
    head = f"*[{number}] {escape(citation(entry))}*"
    if entry.url:
        head += f" · <{entry.url}|open in HubSpot>"
    body = " ".join(entry.body.split())
    lines = [head, escape(clip(entry.title, 200))]
    if body and body != entry.title:
        excerpt = escape(clip(body, EXCERPT))
        if len(body) > EXCERPT and entry.url:
            excerpt += f" <{entry.url}|(full record)>"
        lines.append(f">{excerpt}")
    return clip("\n".join(lines), 3000)
