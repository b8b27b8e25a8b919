"""The billing facts finance must be able to read, as text every accounting adapter writes.

One list, so QuickBooks' private note and Xero's history notes carry the same fields in the same
order: each adapter puts what it can into its own fields (memo, reference, tax number, address)
and this text into the note or history of every document it creates.
"""

from __future__ import annotations

from decimal import Decimal

from integrations.billing import describe_terms
from integrations.ports import ESTIMATED_MODELS, BillingTerms, Contact, HandoffBrief

MODEL_NAMES = {
    "fixed": "fixed price",
    "retainer": "retainer",
    "time_and_materials": "time and materials",
    "deposit_balance": "deposit + balance",
    "usage": "usage-based",
}
SCHEDULE_NAMES = {
    "one_off": "one-off",
    "monthly": "monthly",
    "quarterly": "quarterly",
    "milestones": "milestones",
}


def money(amount: Decimal, currency: str) -> str:
    """'GBP 4,000.00'."""
    return f"{currency} {amount:,.2f}"


def describe_contact(contact: Contact) -> str:
    """'Jane Doe (Accounts payable), ap@client.com, +44 20 7946 0000'."""
    parts = [f"{contact.name} ({contact.role})", contact.email or "", contact.phone or ""]
    return ", ".join(part for part in parts if part)


def address_lines(billing: BillingTerms) -> list[str]:
    """The billing address, one entry per non-blank line."""
    text = billing.billing_address or ""
    return [line.strip().rstrip(",") for line in text.splitlines() if line.strip()]


def discount_statement(billing: BillingTerms) -> str | None:
    """The discount as finance and the client read it, saying it is already in the price."""
    if billing.discount_amount is None and not billing.discounts:
        return None
    parts = []
    if billing.discount_amount is not None:
        amount = money(billing.discount_amount, billing.currency)
        parts.append(f"{amount} off list price, already deducted from the contract value")
    if billing.discounts:
        parts.append(billing.discounts)
    return "; ".join(parts)


def finance_facts(brief: HandoffBrief, billing: BillingTerms) -> list[tuple[str, str]]:
    """Every billing-relevant field as (label, value), blanks left out."""
    facts = [
        ("Billing model", MODEL_NAMES[billing.billing_model]),
        ("Contract value", money(billing.contract_value, billing.currency)),
        ("Currency", billing.currency),
        ("Schedule", SCHEDULE_NAMES[billing.schedule]),
        ("Terms", describe_terms(billing)),
        ("First invoice date", billing.first_invoice_date.isoformat()),
        ("Billed in arrears", "yes" if billing.billed_in_arrears else "no, in advance"),
        ("Payment terms", f"{billing.payment_terms_days} days"),
    ]
    if billing.term_start and billing.term_end:
        facts.append(("Contract term", f"{billing.term_start} to {billing.term_end}"))
    # Milestones are not listed: each milestone is its own invoice, dated and described.
    if billing.model_terms:
        facts.append(("Model terms", billing.model_terms))
    if billing.billing_model in ESTIMATED_MODELS:
        facts.append(("ACTION FOR FINANCE", estimate_warning(billing)))
    if billing.po_required or billing.po_number:
        facts.append(("PO", billing.po_number or "required, not yet supplied"))
    else:
        facts.append(("PO", "not required"))
    optional = (
        ("Client legal entity", billing.invoicing_entity),
        ("Tax ID", billing.tax_id),
        ("Billing address", ", ".join(address_lines(billing)) or None),
        ("Billing contact", _billing_contact(brief)),
        ("Billing conditions", billing.conditions),
        ("Non-standard terms", billing.non_standard_terms),
        ("Discount", discount_statement(billing)),
        (
            "Lines as sold",
            "; ".join(billing.sold_lines.splitlines()) if billing.sold_lines else None,
        ),
        ("Contract", billing.contract_url),
        ("Slack", brief.slack_thread_url),
        ("CRM", brief.crm_deal_url),
    )
    facts += [(label, value) for label, value in optional if value]
    return facts


def estimate_warning(billing: BillingTerms) -> str:
    """The explicit instruction for models no accounting tool can automate."""
    if billing.billing_model == "time_and_materials":
        basis = "the hours worked at the rate card, within the cap"
    else:
        basis = "the usage measured, at the agreed unit prices"
    return f"the amounts set up here are estimates; change each invoice to {basis} before sending"


def finance_note(brief: HandoffBrief, billing: BillingTerms, first_line: str) -> str:
    """`first_line` (our tag, kept first so clipping never loses it), then one fact per line."""
    lines = [first_line, *(f"{label}: {value}" for label, value in finance_facts(brief, billing))]
    return "\n".join(lines)


def _billing_contact(brief: HandoffBrief) -> str | None:
    contact = brief.billing_contact()
    return describe_contact(contact) if contact else None
