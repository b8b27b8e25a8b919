"""The messages around a renewal: ops asked for the renewal handoff, the sales owner told."""

from __future__ import annotations

from datetime import date
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    MarkdownTextObject,
    SectionBlock,
)

from bot.ids import Action
from bot.render.mrkdwn import clip, escape, link


def _day(day: date) -> str:
    return day.strftime("%d %b %Y").lstrip("0")


def renewal_request(
    handoff_id: int, account: str, term_end: date | None, notice_days: int
) -> tuple[str, list[dict[str, Any]]]:
    """(fallback text, blocks): the account's term is ending, here is the renewal form."""
    name = escape(clip(account or "An account", 500))
    when = f"ends on {_day(term_end)}" if term_end else "is coming up for renewal"
    text = f"Renewal coming up: {name}'s term {when}. Please complete the renewal handoff."
    blocks: list[Block] = [
        SectionBlock(
            text=MarkdownTextObject(
                text=f":calendar: *{name}*: the agreed term {when}.\n"
                "Hand the account back to sales for the renewal. The form opens with the record "
                "of what was agreed, amended, delivered and asked; add how the account stands "
                "and the value you recommend."
            )
        ),
        ActionsBlock(
            block_id="form_request",
            elements=[
                ButtonElement(
                    text="Complete renewal handoff",
                    style="primary",
                    action_id=Action.OPEN_FORM,
                    value=str(handoff_id),
                )
            ],
        ),
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text=f"Opened {notice_days} days before the term end, as the organisation "
                    "file's `renewals.notice_days` says."
                )
            ]
        ),
    ]
    return text, [b.to_dict() for b in blocks]


def renewal_deal_created(
    account: str, value: str, deal_url: str | None, thread_url: str | None
) -> str:
    """The DM to the original deal's owner once the renewal deal exists."""
    name = escape(clip(account or "An account", 500))
    deal = link(deal_url, "renewal deal in HubSpot") if deal_url else "renewal deal in HubSpot"
    thread = link(thread_url, "its thread") if thread_url else "its thread in the handoff channel"
    return (
        f":arrows_counterclockwise: Ops handed *{name}* back to you for its renewal. The {deal} "
        f"is created at {escape(value)}, with the brief as a note. Read the handoff in {thread}, "
        "ask ops anything there, then press *Confirm for Sales*."
    )
