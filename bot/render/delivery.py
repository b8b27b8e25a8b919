"""What Slack shows when an account's delivery is complete (issue 9): the form request DM, the
note in the sale's thread, and the App Home's accounts in delivery."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import Block

from bot.ids import Action
from bot.render.blocks import actions, button, section, to_dicts
from bot.render.mrkdwn import clip, escape, slack_date
from bot.render.reminders import handoff_title
from storage.models import Handoff

BUTTON_LABEL = "Delivery complete"
# Why the delivery -> finance handoff started, by source (see bot.services.delivery_complete).
WHY = {
    "asana_webhook": "the Asana project was marked complete",
    "asana_check": "the Asana project was marked complete (seen by the periodic check)",
    "jira_webhook": "the Jira issue reached Done",
    "jira_check": "the Jira issue reached Done (seen by the periodic check)",
}


def why(source: str, actor: str | None) -> str:
    """'the Asana project was marked complete', or '<@U1> pressed Delivery complete'."""
    if actor:
        return f"<@{actor}> pressed *{BUTTON_LABEL}*"
    return WHY.get(source, "delivery was marked complete")


def delivery_request(
    handoff_id: int, account: str, source: str, actor: str | None
) -> tuple[str, list[dict[str, Any]]]:
    """(fallback text, blocks): the DM asking the ops person for the delivery -> finance form."""
    name = escape(clip(account, 500))
    text = f"Delivery complete for {name}: please tell finance what to invoice."
    blocks: list[Block] = [
        section(
            f":package: *{name}*: delivery is complete ({why(source, actor)}).\n"
            "Tell finance what was delivered against what was agreed, and what to invoice now. "
            "The form is prefilled from the sale's handoff: deliverables, currency, payment "
            "terms and PO number."
        ),
        actions(
            [button("Complete handoff", Action.OPEN_FORM, str(handoff_id), primary=True)],
            block_id="delivery_request",
        ),
    ]
    return text, to_dicts(blocks)


def thread_note(handoff_id: int, sender: str, source: str, actor: str | None) -> str:
    """The line posted in the sale's handoff thread when its delivery -> finance one starts."""
    return (
        f":package: Delivery complete — {why(source, actor)}. <@{sender}> has the delivery → "
        f"finance handoff (#{handoff_id}) to fill in; finance confirms it in its own thread."
    )


def delivery_button(origin_id: int) -> Any:
    """The handoff message's button for the ops team."""
    return button(BUTTON_LABEL, Action.DELIVERY_COMPLETE, str(origin_id))


def in_delivery_item(origin: Handoff, zone: ZoneInfo) -> Block:
    """An account the user's team is delivering, with its Delivery complete button."""
    since = slack_date(origin.submitted_at, zone) if origin.submitted_at else "—"
    return section(f"{handoff_title(origin)}\nHanded over {since}", delivery_button(origin.id))
