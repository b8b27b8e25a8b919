"""Builds the handoff message's view-model from stored state (no Slack calls)."""

from __future__ import annotations

from bot.config import OrgConfig
from bot.render.handoff_message import (
    Compared,
    EffectStatus,
    HandoffMessage,
    OpenQuestion,
    TeamReceipt,
)
from bot.services import renewal_deal
from bot.services.briefs import form_model, form_sections
from bot.services.delivery_complete import IN_DELIVERY
from forms import renewal_to_sales
from storage.models import Handoff, HandoffKind, HandoffStatus

TOOL_LABELS = {
    "asana": "Asana",
    "jira": "Jira",
    "quickbooks": "QuickBooks",
    "xero": "Xero",
    "hubspot": "HubSpot",
}


def handoff_message(
    handoff: Handoff, org: OrgConfig, deal_url: str | None, *, delivery_started: bool = False
) -> HandoffMessage:
    """What the handoff's message shows; `delivery_started` when the account's delivery ->
    finance handoff exists already (its button is then gone)."""
    teams = org.teams
    receipts = [
        TeamReceipt(
            team=r.team,
            name=teams[r.team].name if r.team in teams else r.team,
            confirmed_by=r.confirmed_by,
            confirmed_at=r.confirmed_at,
        )
        for r in handoff.receipts
    ]
    effects = [
        EffectStatus(
            target=record.target,
            label=_record_label(record.target, record.vendor, org),
            status=record.status,
            url=record.url,
            error=record.last_error,
            retry_at=record.retry_at if record.status == "pending" else None,
        )
        for record in handoff.external_records
    ]
    questions = [
        OpenQuestion(user_id=m.user_id, text=m.text)
        for m in handoff.messages
        if m.is_question and m.answered_at is None
    ]
    title = handoff.account_name or handoff.deal_name or f"#{handoff.id}"
    if handoff.deal_name and handoff.deal_name != handoff.account_name:
        title = f"{title} — {handoff.deal_name}"
    sections, comparison = form_sections(handoff), _comparison(handoff)
    if comparison:  # the compared sections are shown side by side instead
        sections = [s for s in sections if s[0] not in renewal_to_sales.COMPARED]
    return HandoffMessage(
        handoff_id=handoff.id,
        title=title,
        account_name=handoff.account_name,
        sender_user_id=handoff.sender_user_id,
        submitted_at=handoff.submitted_at,
        deal_url=deal_url,
        sections=sections,
        receipts=receipts,
        effects=effects,
        open_questions=questions,
        complete=handoff.status == HandoffStatus.CONFIRMED,
        delivery_button=handoff.kind == HandoffKind.SALES_TO_DELIVERY
        and handoff.status in IN_DELIVERY
        and not delivery_started,
        comparison=comparison,
    )


def _comparison(handoff: Handoff) -> list[Compared]:
    """A submitted renewal's record: what was agreed at the start beside what happened."""
    if handoff.kind != HandoffKind.RENEWAL_TO_SALES or not handoff.form_payload:
        return []
    model = form_model(handoff)
    assert isinstance(model, renewal_to_sales.RenewalToSalesForm)
    return [Compared(agreed, happened) for agreed, happened in renewal_to_sales.comparison(model)]


def _record_label(target: str, vendor: str, org: OrgConfig) -> str:
    vendor_name = TOOL_LABELS.get(vendor, vendor)
    if target == "crm_note":
        return f"CRM note ({vendor_name})"
    if target == renewal_deal.TARGET:
        return f"{renewal_deal.LABEL} ({vendor_name})"
    team = org.teams.get(target)
    return f"{team.name if team else target} record ({vendor_name})"
