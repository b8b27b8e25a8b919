"""The billing setup a finance tool holds now, read back by the ids its record stored (issue 9).

Each vendor's reader lives beside its adapter (`quickbooks_read`, `xero_read`) and uses the
adapter's own session (timeouts, 429/Retry-After, the shared rate limit). A document the vendor
no longer has is `state="missing"`, never an error: that is what the money-leak check reports.
Anything else going wrong (timeout, 5xx, 401) raises the adapter's VendorError.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from integrations.ports import CreatedRecord, FinanceTool, Record, VendorRejected


class HeldDocument(Record):
    """One document of a billing setup as the finance tool has it now."""

    kind: Literal["recurring", "invoice"]
    document_id: str
    state: Literal["active", "inactive", "missing"]
    currency: str | None = None
    customer_id: str | None = None
    customer_name: str | None = None
    # What one document (each occurrence of a template) bills: its lines less their discounts,
    # before tax, as the vendor computes them.
    amount: Decimal = Decimal(0)
    step_months: int | None = None  # recurring: months between invoices (None: not monthly)
    occurrences: int | None = None  # recurring: how many invoices it makes (None: no end)
    start: date | None = None  # recurring: first invoice date; invoice: its date

    def total(self) -> Decimal:
        """What the document bills in all; 0 when it is missing or inactive."""
        if self.state != "active":
            return Decimal(0)
        count = self.occurrences if self.kind == "recurring" else 1
        return self.amount * (count or 0)  # a template without an end has no total


def read_billing_setup(tool: FinanceTool, record: CreatedRecord) -> tuple[HeldDocument, ...]:
    """Every document the record names (its first, then `extra_ids`), as held now."""
    from integrations import quickbooks, quickbooks_read, xero, xero_read

    if isinstance(tool, quickbooks.QuickBooksFinance):
        return quickbooks_read.read_billing_setup(tool, record)
    if isinstance(tool, xero.XeroFinance):
        return xero_read.read_billing_setup(tool, record)
    raise VendorRejected(tool.vendor, "this tool cannot read its billing setup back")


def count_dates(start: date, end: date | None, step_months: int) -> int | None:
    """How many invoices a schedule from `start` every `step_months` makes up to `end`."""
    from integrations.ports import schedule_dates

    if end is None:
        return None
    return len(schedule_dates(start, end, step_months))
