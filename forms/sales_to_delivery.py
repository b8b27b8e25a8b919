"""The sales -> delivery handoff: its FormSpec and the records the service derives from it."""

from __future__ import annotations

from datetime import date
from typing import Any

from forms import sold_lines
from forms.base import FormValues
from forms.declarative import DeclarativeForm
from forms.display import EMPTY
from forms.ids import CallbackId
from forms.sales_to_delivery_billing_layout import model_terms
from forms.sales_to_delivery_layout import CONTACT_ROLES, LAYOUT
from forms.sales_to_delivery_model import SCHEMA_VERSION, SalesToDeliveryForm, upgrade_payload
from forms.sales_to_delivery_prefill import prefill_values
from forms.steps import STEPS

__all__ = [
    "SPEC",
    "SalesToDeliveryForm",
    "billing",
    "contacts",
    "deliverables",
    "kickoff_date",
    "prefill_values",
]

# Key-contact roles as ops and finance tools read them (finance looks for "billing").
_RECORD_ROLES = {"buyer": "Buyer", "day_to_day": "Day-to-day", "billing_contact": "Billing"}

SPEC: DeclarativeForm[SalesToDeliveryForm] = DeclarativeForm(
    kind="sales_to_delivery",
    title="Sales to delivery handoff",
    callback_id=CallbackId.SALES_TO_DELIVERY,
    model=SalesToDeliveryForm,
    layout=LAYOUT,
    title_prefix="Handoff",
    schema_version=SCHEMA_VERSION,
    upgrade=upgrade_payload,
    steps=STEPS,
    intro=(
        "What delivery and finance need to start well. Prefilled from the CRM where it knew "
        "the answer; *Save draft* or *Save & close* keeps your progress."
    ),
)


def typed_inputs(values: FormValues) -> list[str]:
    """The inputs a salesperson must still fill in after `values` (e.g. a CRM prefill)."""
    result = SPEC.parse(values)
    errors = result if isinstance(result, dict) else {}
    return [str(f.name) for f in SPEC.all_fields() if f.name in errors]


def contacts(form: SalesToDeliveryForm) -> list[dict[str, Any]]:
    """Every client contact as {name, role, email, phone}, one entry per person (by email)."""
    entries: dict[str, dict[str, Any]] = {}
    parts: dict[str, list[str]] = {}
    titles: dict[str, list[str]] = {}
    tagged = [(getattr(form, a), _RECORD_ROLES[a]) for a in CONTACT_ROLES]
    tagged += [(person, "") for person in form.other_contacts]
    for person, part in tagged:
        key = person.email.lower()
        entry = entries.setdefault(key, {"name": person.name, "email": person.email, "phone": None})
        entry["phone"] = entry["phone"] or person.phone
        parts.setdefault(key, []).extend([part] if part else [])
        if person.role not in titles.setdefault(key, []):
            titles[key].append(person.role)
    return [
        {**entry, "role": _role_text(parts[key], titles[key])} for key, entry in entries.items()
    ]


def _role_text(parts: list[str], titles: list[str]) -> str:
    # 'Buyer / Billing (CFO)': the parts they play for us, then their own titles.
    own = ", ".join(titles)
    return f"{' / '.join(parts)} ({own})" if parts else own


def deliverables(form: SalesToDeliveryForm) -> list[str]:
    """The deliverables, one item each."""
    return list(form.deliverables)


def billing(form: SalesToDeliveryForm) -> dict[str, Any]:
    """The billing terms as a plain dict shaped like integrations.ports.BillingTerms."""
    milestones = [
        {"description": m.description, "amount": m.amount, "due_date": m.due_date}
        for m in form.milestones
    ]
    schedule: str = form.schedule
    if form.billing_model == "deposit_balance" and form.deposit_amount and form.balance_date:
        # Two invoices: the deposit on the first invoice date, the balance on its own date.
        schedule = "milestones"
        milestones = [
            {
                "description": "Deposit",
                "amount": form.deposit_amount,
                "due_date": form.first_invoice_date,
            },
            {
                "description": "Balance",
                "amount": form.contract_value - form.deposit_amount,
                "due_date": form.balance_date,
            },
        ]
    terms = model_terms(form)
    return {
        "contract_value": form.contract_value,
        "currency": form.currency,
        "schedule": schedule,
        "first_invoice_date": form.first_invoice_date,
        "payment_terms_days": form.payment_terms_days,
        "po_required": form.po_required,
        "po_number": form.po_number if form.po_required else None,
        "invoicing_entity": form.invoicing_entity,
        "tax_id": form.tax_id,
        "conditions": form.billing_conditions,
        "billed_in_arrears": form.billing_in_arrears,
        "billing_address": form.billing_address,
        "non_standard_terms": form.non_standard_terms,
        "discounts": form.discounts,
        "discount_amount": form.discount_amount,
        "sold_lines": form.sold_lines,
        "lines": [
            {
                "description": line.description,
                "quantity": line.quantity,
                "unit_price": line.unit_price,
                "discount": line.discount,
            }
            for line in sold_lines.parse_or_empty(form.sold_lines, form.currency)
        ],
        "contract_url": form.contract_url,
        "milestones": milestones,
        "billing_model": form.billing_model,
        "model_terms": None if terms == EMPTY else terms,
        "term_start": form.term_start,
        "term_end": form.term_end,
    }


def kickoff_date(form: SalesToDeliveryForm) -> date:
    """The earliest date delivery can kick off."""
    return form.earliest_kickoff
