"""Turns a stored handoff into the vendor-neutral brief the ops and finance adapters receive."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from forms import sales_to_delivery
from forms.registry import get_form
from integrations.ports import BillingTerms, BriefItem, BriefSection, Contact, HandoffBrief
from storage.models import Handoff, HandoffKind


def marker_for(handoff_id: int) -> str:
    """The text we put on every vendor record of a handoff, to find it again after a crash."""
    return f"handoff-{handoff_id}"


def form_model(handoff: Handoff) -> BaseModel:
    """The submitted form, re-validated from its stored payload."""
    spec = get_form(handoff.kind)
    model: BaseModel = spec.model.model_validate(handoff.form_payload or {})
    return model


def form_sections(handoff: Handoff) -> list[tuple[str, list[tuple[str, str]]]]:
    if not handoff.form_payload:
        return []
    spec = get_form(handoff.kind)
    return [(title, list(items)) for title, items in spec.sections(form_model(handoff))]


def build_brief(
    handoff: Handoff, *, slack_thread_url: str | None, crm_deal_url: str | None
) -> HandoffBrief:
    """Every captured field, as readable sections plus the structured parts tools act on."""
    spec = get_form(handoff.kind)
    model = form_model(handoff)
    sections = tuple(
        BriefSection(
            title=title, items=tuple(BriefItem(label=label, value=value) for label, value in items)
        )
        for title, items in spec.sections(model)
    )
    structured: dict[str, Any] = {}
    if handoff.kind == HandoffKind.SALES_TO_DELIVERY:
        assert isinstance(model, sales_to_delivery.SalesToDeliveryForm)
        structured = {
            "contacts": tuple(Contact(**c) for c in sales_to_delivery.contacts(model)),
            "deliverables": tuple(sales_to_delivery.deliverables(model)),
            "kickoff_date": sales_to_delivery.kickoff_date(model),
            "billing": BillingTerms.model_validate(sales_to_delivery.billing(model)),
        }
    account = handoff.account_name or handoff.deal_name or f"Handoff {handoff.id}"
    return HandoffBrief(
        handoff_id=handoff.id,
        kind=handoff.kind,
        marker=marker_for(handoff.id),
        title=f"{account} — {spec.title}",
        account_name=account,
        summary=f"{spec.title} for {account}, submitted in Slack (handoff #{handoff.id}).",
        sections=sections,
        slack_thread_url=slack_thread_url,
        crm_deal_url=crm_deal_url,
        **structured,
    )
