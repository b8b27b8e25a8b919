"""Readable rendering of a submitted form: value formatting and size-safe Block Kit blocks."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from forms.errors import clip

EMPTY = "—"
SECTION_TEXT_MAX = 3000
HEADER_MAX = 150
_MENTION = re.compile(r"&lt;@([UW][A-Z0-9]+)&gt;")


def or_empty(value: object) -> str:
    """The value as text, or a dash when it was left blank (so every field still shows)."""
    if value is None or value == "" or value == [] or value == ():
        return EMPTY
    return str(value)


def fmt_date(value: date | None) -> str:
    """'12 Mar 2027'."""
    return value.strftime("%d %b %Y").lstrip("0") if value else EMPTY


def yes_no(value: bool) -> str:
    """'Yes' or 'No'."""
    return "Yes" if value else "No"


def user_mention(user_id: str | None) -> str:
    """A Slack mention, which Slack renders as the person's name."""
    return f"<@{user_id}>" if user_id else EMPTY


def bullets(items: Sequence[str]) -> str:
    """One '• item' per line."""
    return "\n".join(f"• {item}" for item in items) if items else EMPTY


def mrkdwn_escape(text: str) -> str:
    """Escape &, < and > as Slack requires, keeping user mentions working."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MENTION.sub(r"<@\1>", escaped)


def split_text(text: str, *, limit: int = SECTION_TEXT_MAX) -> list[str]:
    """Cut text into pieces of at most `limit` characters, at paragraph, line or word ends."""
    pieces: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        cut = _cut_point(rest, limit)
        pieces.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        pieces.append(rest)
    return pieces


def _cut_point(text: str, limit: int) -> int:
    for separator in ("\n\n", "\n", " "):
        at = text.rfind(separator, limit // 2, limit)
        if at > 0:
            return at
    # No whitespace: never cut inside an &amp; entity or a <@U…> mention.
    cut = limit
    for opener, closer, reach in (("&", ";", 6), ("<", ">", 24)):
        start = text.rfind(opener, max(0, cut - reach), cut)
        if start > 0 and text.find(closer, start, cut) == -1:
            cut = start
    return cut


def summary_blocks(
    sections: Sequence[tuple[str, Sequence[tuple[str, str]]]], *, max_blocks: int
) -> list[Block]:
    """A header per section and its rows as mrkdwn, within `max_blocks` blocks and text limits."""
    blocks: list[Block] = []
    for title, rows in sections:
        blocks.append(HeaderBlock(text=PlainTextObject(text=clip(title, HEADER_MAX))))
        body = "\n\n".join(
            f"*{mrkdwn_escape(label)}*\n{mrkdwn_escape(value)}" for label, value in rows
        )
        blocks.extend(
            SectionBlock(text=MarkdownTextObject(text=piece)) for piece in split_text(body)
        )
    if len(blocks) <= max_blocks:
        return blocks
    # Only pathological input gets here: say so instead of letting Slack refuse the view.
    note = ContextBlock(
        elements=[
            MarkdownTextObject(text="_Too long to show in full here; the record has it all._")
        ]
    )
    return [*blocks[: max_blocks - 1], note]
