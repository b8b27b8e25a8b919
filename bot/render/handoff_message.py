"""The handoff message in the handoff channel: the thread root receivers ask and confirm under.

Pure: takes a plain view-model, returns Block Kit dicts validated by slack_sdk's models, always
within 50 blocks and Slack's text limits (the full form is one "View handoff" click away).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
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

from bot.ids import Action
from bot.render.delivery import delivery_button
from bot.render.mrkdwn import clip, escape, escape_keep_mentions, link, quote, slack_date

MAX_BLOCKS = 50
FIELD_CHARS = 2000
SECTION_CHARS = 3000


@dataclass(frozen=True)
class TeamReceipt:
    team: str
    name: str
    confirmed_by: str | None = None
    confirmed_at: datetime | None = None


@dataclass(frozen=True)
class EffectStatus:
    target: str
    label: str  # "Ops record (Asana)"
    status: str  # pending / done / failed
    url: str | None = None
    error: str | None = None
    retry_at: datetime | None = None  # pending after a retryable failure: the next attempt


@dataclass(frozen=True)
class OpenQuestion:
    user_id: str
    text: str


@dataclass(frozen=True)
class Compared:
    """One topic shown side by side: what was agreed at the start, and what happened."""

    agreed: tuple[str, str]  # (label, text as typed)
    happened: tuple[str, str]


@dataclass(frozen=True)
class HandoffMessage:
    handoff_id: int
    title: str
    account_name: str
    sender_user_id: str | None
    submitted_at: datetime | None
    deal_url: str | None
    sections: Sequence[tuple[str, Sequence[tuple[str, str]]]]
    receipts: Sequence[TeamReceipt]
    effects: Sequence[EffectStatus] = ()
    open_questions: Sequence[OpenQuestion] = ()
    complete: bool = False
    summary_sections: int = 3  # how many form sections to show in full in the message
    delivery_button: bool = False  # a sale in delivery: ops may press "Delivery complete"
    notes: Sequence[str] = field(default_factory=tuple)
    comparison: Sequence[Compared] = ()  # a renewal: agreed at the start beside what happened


def render(message: HandoffMessage) -> tuple[str, list[dict[str, Any]]]:
    """(fallback text, blocks) for the handoff message."""
    blocks: list[Block] = [HeaderBlock(text=clip(f"Handoff: {message.title}", 150))]
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=_byline(message))]))
    blocks.extend(_summary(message))
    blocks.extend(_comparison(message.comparison))
    blocks.append(DividerBlock())
    if message.effects:
        blocks.extend(_effects(message))
    if message.open_questions:
        blocks.append(_questions(message.open_questions))
    blocks.extend(_receipts(message))
    blocks.append(_buttons(message))
    blocks = blocks[:MAX_BLOCKS]
    dicts = [b.to_dict() for b in blocks]  # to_dict() runs slack_sdk's limit checks
    state = "complete" if message.complete else "awaiting confirmation"
    text = f"Handoff: {escape(message.title)} ({state})"
    return text, dicts


def _byline(message: HandoffMessage) -> str:
    parts = []
    if message.sender_user_id:
        parts.append(f"From <@{message.sender_user_id}>")
    if message.submitted_at:
        parts.append(f"submitted {slack_date(message.submitted_at)}")
    if message.deal_url:
        parts.append(link(message.deal_url, "CRM deal"))
    parts.append(f"#{message.handoff_id}")
    return " · ".join(parts)


def _summary(message: HandoffMessage) -> list[Block]:
    """Each of the first sections as one text block; the rest are one click away."""
    blocks: list[Block] = []
    for title, items in list(message.sections)[: message.summary_sections]:
        # Values keep their <@U…> mentions (people fields), so Slack shows names.
        lines = [
            f"*{escape(label)}:* {escape_keep_mentions(value)}" for label, value in items if value
        ]
        body = "\n".join(lines) or "_nothing recorded_"
        blocks.append(SectionBlock(text=clip(f"*{escape(title)}*\n{body}", SECTION_CHARS)))
    hidden = [title for title, _ in list(message.sections)[message.summary_sections :]]
    if hidden:
        blocks.append(
            ContextBlock(
                elements=[
                    MarkdownTextObject(
                        text=clip(f"Also in the full handoff: {escape(', '.join(hidden))}.", 3000),
                    )
                ]
            )
        )
    return blocks


def _comparison(rows: Sequence[Compared]) -> list[Block]:
    """Two columns (Slack shows a section's fields side by side): agreed, then what happened."""
    if not rows:
        return []
    blocks: list[Block] = [
        SectionBlock(
            fields=[
                MarkdownTextObject(text=":handshake: *Agreed at the start*"),
                MarkdownTextObject(text=":mag: *What happened*"),
            ]
        )
    ]
    for row in rows:
        blocks.append(SectionBlock(fields=[_cell(*row.agreed), _cell(*row.happened)]))
    return blocks


def _cell(label: str, text: str) -> MarkdownTextObject:
    # Values keep their <@U…> mentions; each column of a section holds at most 2,000 characters.
    return MarkdownTextObject(
        text=clip(f"*{escape(label)}*\n{escape_keep_mentions(text)}", FIELD_CHARS)
    )


def _effects(message: HandoffMessage) -> list[Block]:
    lines = []
    retry_buttons = []
    for effect in message.effects:
        if effect.status == "done":
            opened = link(effect.url, "open") if effect.url else "created"
            lines.append(f":white_check_mark: *{escape(effect.label)}:* done — {opened}")
        elif effect.status == "failed":
            reason = escape(clip(effect.error or "unknown error", 300))
            lines.append(f":x: *{escape(effect.label)}:* failed — {reason}")
            retry_buttons.append(
                ButtonElement(
                    text=clip(f"Retry {effect.label}", 75),
                    action_id=f"{Action.RETRY_EFFECT}:{effect.target}",
                    value=f"{message.handoff_id}:{effect.target}",
                )
            )
        elif effect.retry_at is not None:
            reason = escape(clip(effect.error or "no answer", 200))
            lines.append(
                f":repeat: *{effect.label}:* retrying — {reason}; next attempt "
                f"{slack_date(effect.retry_at)}"
            )
        else:
            lines.append(f":hourglass_flowing_sand: *{escape(effect.label)}:* pending")
    blocks: list[Block] = [SectionBlock(text=clip("\n".join(lines), SECTION_CHARS))]
    if retry_buttons:
        blocks.append(ActionsBlock(block_id="retry_effects", elements=retry_buttons[:25]))
    return blocks


def _questions(questions: Sequence[OpenQuestion]) -> Block:
    lines = [f"• <@{q.user_id}>: {quote(clip(q.text, 200))}" for q in questions[:10]]
    more = len(questions) - 10
    if more > 0:
        lines.append(f"…and {more} more in the thread")
    header = f":question: *Open questions ({len(questions)})*"
    return SectionBlock(text=clip(header + "\n" + "\n".join(lines), SECTION_CHARS))


def _receipts(message: HandoffMessage) -> list[Block]:
    lines = []
    for receipt in message.receipts:
        if receipt.confirmed_at and receipt.confirmed_by:
            lines.append(
                f":white_check_mark: *{escape(receipt.name)}* confirmed by "
                f"<@{receipt.confirmed_by}> "
                f"{slack_date(receipt.confirmed_at)}"
            )
        else:
            lines.append(f":white_circle: *{escape(receipt.name)}* has not confirmed yet")
    if message.complete:
        lines.append(":tada: *Handoff complete* — every team confirmed.")
    return [SectionBlock(text=clip("\n".join(lines), SECTION_CHARS))] if lines else []


def _buttons(message: HandoffMessage) -> Block:
    elements = [
        ButtonElement(
            text="View handoff",
            action_id=Action.VIEW_HANDOFF,
            value=str(message.handoff_id),
        ),
        # Anyone sees it; the sender and the admin may use it (bot.services.permissions).
        ButtonElement(text="Amend", action_id=Action.AMEND, value=str(message.handoff_id)),
    ]
    for receipt in message.receipts:
        if receipt.confirmed_at is None:
            elements.append(
                ButtonElement(
                    text=clip(f"Confirm for {receipt.name}", 75),
                    action_id=f"{Action.CONFIRM}:{receipt.team}",
                    value=f"{message.handoff_id}:{receipt.team}",
                    style="primary",
                )
            )
    if message.delivery_button:
        elements.append(delivery_button(message.handoff_id))
    return ActionsBlock(block_id="handoff_actions", elements=elements[:25])
