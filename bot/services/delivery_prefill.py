"""The delivery -> finance form opens with what was agreed at the sale (issue 9).

The account's sales -> delivery handoff (same deal) holds the deliverables, currency, contract
value, payment terms and PO number; what the agreed schedule has invoiced so far is counted from
its dates, the same dates the finance adapters bill.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from forms import sales_to_delivery
from forms.base import FormValues
from forms.delivery_lines import as_typed
from forms.registry import get_form
from integrations.ports import BillingTerms
from storage.models import Handoff, HandoffKind
from storage.repositories import Repository
from storage.uow import UnitOfWorkFactory


def origin_in(repo: Repository, handoff: Handoff) -> Handoff | None:
    """The submitted sales -> delivery handoff a delivery -> finance handoff follows, if any."""
    if handoff.kind != HandoffKind.DELIVERY_TO_FINANCE or not handoff.deal_id:
        return None
    origin = repo.handoff_for_deal(HandoffKind.SALES_TO_DELIVERY, handoff.deal_id)
    return origin if origin is not None and origin.form_payload else None


def origin_of(uow: UnitOfWorkFactory, handoff: Handoff) -> Handoff | None:
    """`origin_in`, in a short transaction of its own (a database read, safe before an ack)."""
    if handoff.kind != HandoffKind.DELIVERY_TO_FINANCE:
        return None
    with uow() as unit:
        return origin_in(unit.repo, handoff)


def delivery_values(origin: Handoff, today: date) -> FormValues:
    """The delivery form's opening values from the sale's submitted form."""
    spec = get_form(HandoffKind.SALES_TO_DELIVERY)
    agreed = spec.load(origin.form_payload or {}, origin.schema_version)
    assert isinstance(agreed, sales_to_delivery.SalesToDeliveryForm)
    terms = BillingTerms.model_validate(sales_to_delivery.billing(agreed))
    values: FormValues = {
        "account_name": agreed.account_name,
        "deliverables": "\n".join(as_typed("delivered", d) for d in agreed.deliverables),
        "currency": agreed.currency,
        "contract_value": format(agreed.contract_value, "f"),
        "already_invoiced": format(invoiced_by(terms, today), "f"),
        "payment_terms_days": str(agreed.payment_terms_days),
        "acceptance_date": today.isoformat(),
        "invoice_date": today.isoformat(),
    }
    if agreed.po_number:
        values["po_number"] = agreed.po_number
    return values


def invoiced_by(terms: BillingTerms, today: date) -> Decimal:
    """What the agreed schedule has invoiced up to `today`: instalments, milestones (dated as
    integrations.billing dates them) or the one-off invoice, counted from their invoice dates."""
    if terms.schedule in ("monthly", "quarterly"):
        dated = zip(terms.instalment_dates(), terms.instalments(), strict=False)
        return sum((amount for day, amount in dated if day <= today), Decimal(0))
    if terms.schedule == "milestones":
        return sum(
            (
                m.amount
                for m in terms.milestones
                if min(terms.first_invoice_date, m.due_date) <= today
            ),
            Decimal(0),
        )
    return terms.contract_value if terms.first_invoice_date <= today else Decimal(0)
