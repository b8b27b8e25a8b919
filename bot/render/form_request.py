"""The DM that asks the deal owner for the handoff form once the deal is won."""

from __future__ import annotations

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
from bot.render.mrkdwn import clip, escape


def form_request(handoff_id: int, deal_name: str) -> tuple[str, list[dict[str, Any]]]:
    """(fallback text, blocks): the deal is won, here is the button to complete its handoff."""
    deal = escape(clip(deal_name, 500))
    text = f"Deal won: {deal}. Please complete its handoff."
    blocks: list[Block] = [
        SectionBlock(
            text=MarkdownTextObject(
                text=f":trophy: *{deal}* is won — congratulations!\n"
                "Before it can stay won, tell ops and finance what they need to know: "
                "context, contacts, scope, billing and kickoff. It takes about ten minutes, "
                "and you can save a draft at any point."
            )
        ),
        ActionsBlock(
            block_id="form_request",
            elements=[
                ButtonElement(
                    text="Complete handoff",
                    style="primary",
                    action_id=Action.OPEN_FORM,
                    value=str(handoff_id),
                )
            ],
        ),
        ContextBlock(
            elements=[
                MarkdownTextObject(
                    text="The deal is held at the _won (handoff pending)_ stage until you submit."
                )
            ]
        ),
    ]
    return text, [b.to_dict() for b in blocks]
