"""What Slack shows of a money-leak mismatch (issue 9): the finance manager's DM and the App
Home item with its *Mark resolved* button. Every value from the CRM or a vendor is escaped."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from slack_sdk.models.blocks import Block

from bot.ids import Action
from bot.render.blocks import button, section, to_dicts
from bot.render.mrkdwn import clip, escape, link
from bot.render.reminders import handoff_title
from storage.models import Handoff

VALUE_MAX = 400  # characters of each value shown; the tools hold them in full
LINK_LABELS = (("crm", "CRM deal"), ("finance", "finance record"), ("thread", "handoff thread"))


def difference_lines(differences: Sequence[Mapping[str, Any]]) -> str:
    """'• *Amount: CRM deal vs QuickBooks*: GBP 48,000.00 → found GBP 36,000.00 (…)'."""
    return "\n".join(
        f"• *{escape(str(d['what']))}*: expected {escape(clip(str(d['expected']), VALUE_MAX))}"
        f" → found {escape(clip(str(d['found']), VALUE_MAX))}"
        for d in differences
    )


def link_line(links: Mapping[str, Any]) -> str:
    """The deal, the finance record and the thread, where known."""
    parts = [link(str(links[key]), label) for key, label in LINK_LABELS if links.get(key)]
    return " · ".join(parts)


def mismatch_dm(
    handoff: Handoff,
    differences: Sequence[Mapping[str, Any]],
    links: Mapping[str, Any],
) -> tuple[str, list[dict[str, Any]]]:
    """(fallback text, blocks): the finance manager's DM about one mismatch."""
    account = escape(clip(handoff.account_name or handoff.deal_name or "", 200))
    text = f"Money check: the CRM, the handoff and the finance tool disagree for {account}."
    body = (
        f":rotating_light: *Money check* — {handoff_title(handoff)} (handoff #{handoff.id}): the "
        "CRM deal, the handoff and the finance tool disagree.\n"
        f"{difference_lines(differences)}"
    )
    blocks: list[Block] = [section(body)]
    where = link_line(links)
    if where:
        blocks.append(section(where))
    blocks.append(
        section(
            "It stays on the finance team's App Home until a later check finds it matching "
            "again, or someone in finance marks it resolved there."
        )
    )
    return text, to_dicts(blocks)


def mismatch_item(
    mismatch_id: int,
    handoff: Handoff,
    differences: Sequence[Mapping[str, Any]],
    links: Mapping[str, Any],
) -> Block:
    """One open mismatch on the App Home, with its *Mark resolved* button."""
    # The links go before the differences: a long list is cut at Slack's limit, never a link.
    where = link_line(links)
    text = handoff_title(handoff) + (f"\n{where}" if where else "")
    text += f"\n{difference_lines(differences)}"
    return section(text, button("Mark resolved", Action.RESOLVE_MISMATCH, str(mismatch_id)))
