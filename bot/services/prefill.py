"""What the form opens with: the saved draft, else what the CRM knows about the deal.

`stored_opening` reads only the database (the draft, or the CRM snapshot an outbox job stored
when the handoff was created), so a click can open the finished form at once. `fetched_opening`
asks the CRM, for the rare handoff with no snapshot yet; it never runs on Slack's clock.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

from bot.services.delivery_prefill import delivery_values
from forms.base import FormValues
from forms.sales_to_delivery_prefill import prefill_values
from integrations.ports import Crm, DealSnapshot, VendorError
from storage.models import Handoff, HandoffKind

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Opening:
    values: FormValues
    note: str | None  # shown at the top of the modal (e.g. the CRM could not be reached)
    deal: DealSnapshot | None = None


def stored_opening(
    handoff: Handoff, crm: Crm | None, today: date | None = None, origin: Handoff | None = None
) -> Opening | None:
    """The draft (nothing typed is lost), else what was agreed at the sale (`origin`, for a
    delivery -> finance handoff), else the stored CRM snapshot; None if the CRM must be asked."""
    if handoff.draft_payload:
        return Opening(values=dict(handoff.draft_payload), note="Your draft was restored.")
    if origin is not None:
        values = delivery_values(origin, today or date.today())
        return Opening(values=values, note=f"Prefilled from the sale's handoff #{origin.id}.")
    if crm is None or not handoff.deal_id:
        return Opening(values=_fallback(handoff), note=None)
    if handoff.crm_snapshot:
        return opening_from(handoff, DealSnapshot.model_validate(handoff.crm_snapshot), today)
    return None


def fetched_opening(handoff: Handoff, crm: Crm, today: date | None = None) -> Opening:
    """Ask the CRM (slow: off Slack's clock); a CRM that cannot be reached still opens a form."""
    try:
        deal = crm.get_deal(handoff.deal_id or "")
    except VendorError as exc:
        log.warning("prefill_failed handoff=%s deal=%s error=%s", handoff.id, handoff.deal_id, exc)
        return Opening(
            values=_fallback(handoff),
            note="The CRM could not be reached, so nothing was prefilled: fill in what you know.",
        )
    return opening_from(handoff, deal, today)


def deal_values(
    deal: DealSnapshot, *, account_manager: str | None = None, today: date | None = None
) -> FormValues:
    """The sales form's opening values from what the CRM holds of the deal."""
    return prefill_values(
        deal_name=deal.name,
        account_name=deal.company_name or deal.name,
        amount=deal.amount,
        currency=deal.currency,
        close_date=deal.close_date,
        contacts=[
            {
                "name": c.name,
                "email": c.email,
                "phone": c.phone,
                "job_title": c.job_title,
                "roles": c.roles,
            }
            for c in deal.contacts
        ],
        line_items=[item.model_dump() for item in deal.line_items],
        account_manager=account_manager,
        term_start=deal.term_start,
        term_end=deal.term_end,
        billing_address=deal.company_address,
        today=today,
    )


def opening_from(handoff: Handoff, deal: DealSnapshot, today: date | None = None) -> Opening:
    if handoff.kind != HandoffKind.SALES_TO_DELIVERY:
        # The account's record (stored when the handoff opened) says more than the CRM.
        values = {**_other_kind_values(handoff.kind, deal), **(handoff.prefill or {})}
        return Opening(values=values, note=None, deal=deal)
    # The sender is the deal owner matched in Slack: the account manager by default.
    values = deal_values(deal, account_manager=handoff.sender_user_id, today=today)
    return Opening(values=values, note=None, deal=deal)


def _other_kind_values(kind: str, deal: DealSnapshot) -> FormValues:
    """What the CRM knows for the delivery -> finance and renewal forms: account and money."""
    values: FormValues = {"account_name": deal.company_name or deal.name}
    if deal.currency:
        values["currency"] = deal.currency
    if kind == HandoffKind.RENEWAL_TO_SALES and deal.amount is not None:
        values["current_value"] = format(deal.amount, "f")
    return values


def _fallback(handoff: Handoff) -> FormValues:
    name = handoff.account_name or handoff.deal_name
    return {**({"account_name": name} if name else {}), **(handoff.prefill or {})}
