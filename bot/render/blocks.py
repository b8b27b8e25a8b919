"""Small Block Kit builders on slack_sdk's models, with Slack's text limits applied here."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from bot.render.mrkdwn import clip

TEXT_MAX = 3000  # a section's or context element's text
HEADER_MAX = 150
BUTTON_MAX = 75


def header(text: str) -> HeaderBlock:
    """A header; plain text, so it is shown as typed and needs no escaping."""
    return HeaderBlock(text=PlainTextObject(text=clip(text, HEADER_MAX)))


def section(text: str, accessory: ButtonElement | None = None) -> SectionBlock:
    """A mrkdwn section (the caller escapes what it did not write), cut to Slack's limit."""
    return SectionBlock(text=MarkdownTextObject(text=clip(text, TEXT_MAX)), accessory=accessory)


def context(text: str) -> ContextBlock:
    """A one-element mrkdwn context block."""
    return ContextBlock(elements=[MarkdownTextObject(text=clip(text, TEXT_MAX))])


def button(text: str, action_id: str, value: str, *, primary: bool = False) -> ButtonElement:
    """A button; its label is plain text."""
    return ButtonElement(
        text=clip(text, BUTTON_MAX),
        action_id=action_id,
        value=value,
        style="primary" if primary else None,
    )


def actions(elements: Sequence[ButtonElement], block_id: str | None = None) -> ActionsBlock:
    """An actions block of at most 25 elements."""
    return ActionsBlock(elements=list(elements)[:25], block_id=block_id)


def to_dicts(blocks: Sequence[Block]) -> list[dict[str, Any]]:
    """The blocks as Slack wants them; `to_dict()` runs slack_sdk's limit checks."""
    return [b.to_dict() for b in blocks]
