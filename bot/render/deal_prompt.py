"""The "Start a handoff" shortcut's modal: which HubSpot deal to start the handoff of."""

from __future__ import annotations

from slack_sdk.models.blocks import InputBlock, PlainTextInputElement, PlainTextObject
from slack_sdk.models.views import View

from bot.ids import DEAL_ACTION, DEAL_BLOCK, Callback


def deal_prompt_view() -> View:
    """The modal asking for the deal id or URL; its submission opens the handoff form."""
    return View(
        type="modal",
        callback_id=Callback.START_MODAL,
        title=PlainTextObject(text="Start a handoff"),
        submit=PlainTextObject(text="Next"),
        close=PlainTextObject(text="Cancel"),
        blocks=[
            InputBlock(
                block_id=DEAL_BLOCK,
                label=PlainTextObject(text="HubSpot deal"),
                hint=PlainTextObject(text="The deal id, or its URL from HubSpot."),
                element=PlainTextInputElement(
                    action_id=DEAL_ACTION,
                    placeholder=PlainTextObject(
                        text="https://app.hubspot.com/contacts/…/record/0-3/123"
                    ),
                ),
            )
        ],
    )
