"""The facts of a delivery invoice as text every accounting adapter writes (issue 9).

QuickBooks puts them in the invoice's private note, Xero in its history; both start with the
app's tag so clipping never loses it and look-before-create finds the invoice again.
"""

from __future__ import annotations

from integrations.billing import exact_money, money_text
from integrations.ports import DeliveryInvoice, HandoffBrief, VendorRejected


def require_delivery_invoice(brief: HandoffBrief, vendor: str) -> DeliveryInvoice:
    """The brief's delivery invoice, every amount exact in its currency; refused otherwise."""
    invoice = brief.delivery_invoice
    if invoice is None:
        raise VendorRejected(vendor, "the handoff has no delivery invoice", field="billing")
    if not invoice.lines:
        raise VendorRejected(vendor, "nothing is due on this delivery", field="lines")
    for number, line in enumerate(invoice.lines, 1):
        exact_money(line.amount, invoice.currency, f"lines[{number}].amount", vendor)
    return invoice


def customer_memo(invoice: DeliveryInvoice) -> str:
    """What the client reads on the invoice: their PO number and the agreed payment terms."""
    po = f"PO number: {invoice.po_number}. " if invoice.po_number else ""
    return f"{po}Payment due within {invoice.payment_terms_days} days, by {invoice.due}."


def delivery_facts(brief: HandoffBrief, invoice: DeliveryInvoice) -> list[tuple[str, str]]:
    """Every fact finance needs beside the invoice, as (label, value), blanks left out."""
    money = invoice.currency
    facts = [
        ("Delivery complete", f"accepted by the client on {invoice.acceptance_date}"),
        ("Evidence of acceptance", invoice.acceptance_url or "none linked"),
        ("Invoiced now", money_text(money, invoice.total())),
        ("Payment terms", f"{invoice.payment_terms_days} days (due {invoice.due})"),
        ("PO", invoice.po_number or "none given"),
        ("Contract value", money_text(money, invoice.contract_value)),
        ("Already invoiced under the agreed schedule", money_text(money, invoice.already_invoiced)),
    ]
    facts += [("Deliverable", line) for line in invoice.delivered]
    optional = (
        ("Notes", invoice.notes),
        ("Slack", brief.slack_thread_url),
        ("CRM", brief.crm_deal_url),
    )
    return facts + [(label, value) for label, value in optional if value]


def delivery_note(brief: HandoffBrief, invoice: DeliveryInvoice, first_line: str) -> str:
    """`first_line` (the app's tag), then one fact per line."""
    lines = [first_line, *(f"{label}: {value}" for label, value in delivery_facts(brief, invoice))]
    return "\n".join(lines)
