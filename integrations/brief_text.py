"""Readable text for a handoff brief that every vendor adapter words the same way."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from integrations.ports import BillingTerms, Contact, HandoffBrief, minor_units

SCHEDULE_NAMES = {
    "one_off": "One-off",
    "monthly": "Monthly",
    "quarterly": "Quarterly",
    "milestones": "Milestones",
}


def marker_tag(marker: str) -> str:
    """The text that identifies our object; the closing bracket stops 'x-4' matching 'x-42'."""
    return f"(ref: {marker})"


def contact_line(contact: Contact) -> str:
    """'Name (role), email, phone' with whatever of those the contact has."""
    details = [d for d in (contact.email, contact.phone) if d]
    return ", ".join([f"{contact.name} ({contact.role})", *details])


def billing_lines(brief: HandoffBrief) -> list[str]:
    """Finance's agreed terms as readable lines, values copied from BillingTerms."""
    billing = brief.billing
    if billing is None:
        return []
    lines = [
        f"Contract value: {_money(billing, billing.contract_value)}",
        f"Schedule: {_schedule(billing)}",
        f"First invoice: {billing.first_invoice_date.isoformat()}",
        f"Payment terms: {billing.payment_terms_days} days",
        f"PO: {_po(billing)}",
    ]
    if billing.term_start and billing.term_end:
        lines.append(f"Term: {billing.term_start.isoformat()} to {billing.term_end.isoformat()}")
    optional = [
        ("Invoicing entity", billing.invoicing_entity),
        ("Tax ID", billing.tax_id),
        ("Conditions", billing.conditions),
    ]
    lines += [f"{label}: {value}" for label, value in optional if value]
    lines += [
        f"Milestone: {m.description}, {_money(billing, m.amount)}, due {m.due_date.isoformat()}"
        for m in billing.milestones
    ]
    contact = brief.billing_contact()
    if contact:
        lines.append(f"Billing contact: {contact_line(contact)}")
    return lines


def _schedule(billing: BillingTerms) -> str:
    name = SCHEDULE_NAMES.get(billing.schedule, billing.schedule)
    periods = billing.recurring_periods()
    if periods > 1:
        amounts, regular = billing.instalments(), billing.instalment_amount()
        odd = [amount for amount in amounts if amount != regular]
        text = f"{name}, {periods} invoices of {_money(billing, regular)}"
        if odd:  # the split is stated: the instalments add up to the contract value exactly
            text = (
                f"{name}, {periods - 1} invoices of {_money(billing, regular)} and the "
                f"{billing.remainder} of {_money(billing, odd[0])}"
            )
        return text
    return name


def _po(billing: BillingTerms) -> str:
    if not billing.po_required:
        return "not required"
    return f"required ({billing.po_number})" if billing.po_number else "required, number to come"


def _money(billing: BillingTerms, amount: Decimal) -> str:
    return f"{billing.currency} {amount:,.{minor_units(billing.currency)}f}"


def utc_text(moment: datetime) -> str:
    """'2026-03-04 14:05 UTC'; naive datetimes are taken to be UTC already."""
    aware = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.strftime("%Y-%m-%d %H:%M UTC")
