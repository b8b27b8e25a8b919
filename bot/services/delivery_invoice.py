"""What finance invoices when delivery is complete: the submitted delivery -> finance form as a
vendor-neutral `DeliveryInvoice`, and whether the finance tool gets a record at all."""

from __future__ import annotations

from forms.delivery_lines import delivered_line
from forms.delivery_to_finance import DeliveryToFinanceForm
from integrations.ports import DeliveryInvoice, InvoiceLine
from integrations.registry import FINANCE_VENDORS
from storage.models import Handoff, HandoffKind


def delivery_invoice(model: DeliveryToFinanceForm) -> DeliveryInvoice:
    """The invoice due now, on the agreed terms: payment days, PO number and currency."""
    return DeliveryInvoice(
        currency=model.currency,
        issued=model.invoice_date,
        payment_terms_days=model.payment_terms_days,
        po_number=model.po_number,
        lines=tuple(
            InvoiceLine(description=text, amount=amount) for text, amount in model.invoice_lines()
        ),
        contract_value=model.contract_value,
        already_invoiced=model.already_invoiced,
        acceptance_date=model.acceptance_date,
        acceptance_url=model.acceptance_evidence_url,
        delivered=tuple(delivered_line(item) for item in model.deliverables),
        notes=model.notes,
    )


def needs_record(handoff: Handoff, vendor: str) -> bool:
    """False for the finance record of a delivery handoff with nothing more to invoice: finance
    confirms in the thread, and nothing is written to its tool."""
    if handoff.kind != HandoffKind.DELIVERY_TO_FINANCE or vendor not in FINANCE_VENDORS:
        return True
    return not (handoff.form_payload or {}).get("nothing_due")
