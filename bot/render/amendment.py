"""The amendment note in a handoff's thread: what changed, field by field, and who must confirm.

Pure: a view-model in, (fallback text, Block Kit dicts) out. Every value is escaped (people
fields keep their mentions), each value is shortened to one readable line, and a long diff is cut
to fit Slack's limits with a pointer to the whole form (the View handoff button under it).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import Block

from bot.ids import Action
from bot.render.blocks import actions, button, context, section, to_dicts
from bot.render.mrkdwn import clip, escape
from forms.changes import FieldChange

_PERSON = re.compile(r"<@[UW][A-Z0-9]+>")
VALUE_CHARS = 300  # of each before/after value; the whole answer is in View handoff
SECTION_CHARS = 3000
MAX_LINES = 40  # changes listed in the message


@dataclass(frozen=True)
class AmendmentMessage:
    handoff_id: int
    title: str  # the account or deal, as typed in the CRM
    version: int
    author_user_id: str | None
    changes: Sequence[FieldChange]
    # The teams asked to confirm again: (mention markup the app wrote, team name).
    teams: Sequence[tuple[str, str]]


def render(message: AmendmentMessage) -> tuple[str, list[dict[str, Any]]]:
    """(fallback text, blocks) for the amendment's post in the handoff thread."""
    who = f"<@{message.author_user_id}>" if message.author_user_id else "Someone"
    count = len(message.changes)
    noun = "change" if count == 1 else "changes"
    blocks: list[Block] = [
        section(
            f":pencil2: {who} amended this handoff: it is now *version {message.version}*. "
            f"{count} {noun}:"
        )
    ]
    shown = 0
    for title, changes in _by_section(message.changes[:MAX_LINES]):
        text, listed = _section_text(title, changes)
        blocks.append(section(text))
        shown += listed
    if shown < count:
        blocks.append(
            context(
                f"…and {count - shown} more {noun if count - shown > 1 else 'change'} not listed "
                "here. Press *View handoff* for the whole amended form."
            )
        )
    blocks.append(_confirm_again(message.teams))
    blocks.append(
        actions(
            [button("View handoff", Action.VIEW_HANDOFF, str(message.handoff_id))],
            block_id="amendment_actions",
        )
    )
    text = f"Handoff amended to version {message.version} ({count} {noun}): {escape(message.title)}"
    return text, to_dicts(blocks)


def _by_section(changes: Sequence[FieldChange]) -> list[tuple[str, list[FieldChange]]]:
    grouped: dict[str, list[FieldChange]] = {}
    for change in changes:
        grouped.setdefault(change.section, []).append(change)
    return list(grouped.items())


def _section_text(title: str, changes: Sequence[FieldChange]) -> tuple[str, int]:
    """The section's lines that fit one text block, and how many changes they list."""
    head = f"*{escape(title)}*"
    lines: list[str] = []
    for change in changes:
        line = f"• *{escape(change.label)}:* {_value(change.before)} → {_value(change.after)}"
        if len("\n".join([head, *lines, line])) > SECTION_CHARS - 80:
            break
        lines.append(line)
    return "\n".join([head, *lines]), len(lines)


def _value(value: str) -> str:
    """One escaped line: line breaks as ' / ', shortened past VALUE_CHARS. A people field (its
    whole value one mention) shows the person; a mention typed inside text is shown as typed,
    since a new post would notify whoever it names."""
    if _PERSON.fullmatch(value):
        return value
    flat = " / ".join(part.strip() for part in value.splitlines() if part.strip()) or "—"
    return escape(clip(flat, VALUE_CHARS))


def _confirm_again(teams: Sequence[tuple[str, str]]) -> Block:
    if not teams:
        return context("No team needs to confirm again: their confirmations stand.")
    mentions = " ".join(mention for mention, _ in teams)
    names = ", ".join(escape(name) for _, name in teams)
    return section(
        f"{mentions} the answers you read changed: please check them and press *Confirm* "
        f"again on the handoff message ({names}). Other confirmations stand."
    )
