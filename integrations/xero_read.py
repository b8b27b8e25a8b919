"""Xero: the repeating invoice and invoices a record names, as Xero holds them now.

- GET /RepeatingInvoices/{id} and GET /Invoices/{id} answer the object in a one-element list.
  Dates come as /Date(ms+0000)/ (or ISO text); a DELETED or VOIDED document counts as missing,
  as does an id Xero answers 404 for.
- A document bills each line's LineAmount (Quantity x UnitAmount less DiscountAmount, or less
  DiscountRate %), as Xero computes it; tax is left out, as in the plan.
- The contact's name comes with the document in Xero's answers; when it does not, the contact is
  read once (GET /Contacts/{id}).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from integrations.finance_read import HeldDocument, count_dates
from integrations.ports import CreatedRecord, NotFound
from integrations.xero import DEAD_STATUSES, XeroFinance

_XERO_DATE = re.compile(r"/Date\((-?\d+)")
_HUNDRED = Decimal(100)


def read_billing_setup(tool: XeroFinance, record: CreatedRecord) -> tuple[HeldDocument, ...]:
    """The record's documents: the repeating invoice (or first invoice), then the others."""
    first = "RepeatingInvoices" if record.kind == "repeating_invoice" else "Invoices"
    wanted = [(first, record.external_id), *(("Invoices", i) for i in record.extra_ids)]
    names: dict[str, str | None] = {}
    return tuple(_document(tool, collection, doc_id, names) for collection, doc_id in wanted)


def _document(
    tool: XeroFinance, collection: str, doc_id: str, names: dict[str, str | None]
) -> HeldDocument:
    kind = "recurring" if collection == "RepeatingInvoices" else "invoice"
    row = _get(tool, collection, doc_id)
    if row is None or row.get("Status") in DEAD_STATUSES:
        return HeldDocument(kind=kind, document_id=doc_id, state="missing")
    contact = row.get("Contact") or {}
    contact_id = str(contact["ContactID"]) if contact.get("ContactID") else None
    name = contact.get("Name")
    if name is None and contact_id is not None:
        if contact_id not in names:
            found = _get(tool, "Contacts", contact_id)
            names[contact_id] = str(found["Name"]) if found else None
        name = names[contact_id]
    held: dict[str, Any] = {
        "kind": kind,
        "document_id": doc_id,
        "state": "active",
        "currency": row.get("CurrencyCode"),
        "customer_id": contact_id,
        "customer_name": name,
        "amount": bills(row),
    }
    if kind == "invoice":
        return HeldDocument(**held, start=xero_day(row.get("Date")))
    schedule = row.get("Schedule") or {}
    start = xero_day(schedule.get("StartDate"))
    step = _step(schedule)
    occurrences = None
    if start is not None and step is not None:
        occurrences = count_dates(start, xero_day(schedule.get("EndDate")), step)
    return HeldDocument(**held, step_months=step, occurrences=occurrences, start=start)


def bills(row: dict[str, Any]) -> Decimal:
    """What one Xero document bills: each line's amount after its discount, before tax."""
    total = Decimal(0)
    for line in row.get("LineItems") or []:
        if line.get("LineAmount") is not None:
            total += Decimal(str(line["LineAmount"]))
            continue
        gross = Decimal(str(line.get("Quantity", 1))) * Decimal(str(line.get("UnitAmount", 0)))
        if line.get("DiscountAmount") is not None:
            total += gross - Decimal(str(line["DiscountAmount"]))
        elif line.get("DiscountRate") is not None:
            total += gross * (_HUNDRED - Decimal(str(line["DiscountRate"]))) / _HUNDRED
        else:
            total += gross
    return total


def _step(schedule: dict[str, Any]) -> int | None:
    """Months between invoices; None for weekly schedules."""
    if schedule.get("Unit") != "MONTHLY":
        return None
    return int(schedule.get("Period") or 1)


def xero_day(value: Any) -> date | None:
    """A Xero date: /Date(1555286400000+0000)/ or ISO text."""
    if not value:
        return None
    found = _XERO_DATE.match(str(value))
    if found:
        return datetime.fromtimestamp(int(found.group(1)) / 1000, tz=UTC).date()
    return date.fromisoformat(str(value)[:10])


def _get(tool: XeroFinance, collection: str, object_id: str) -> dict[str, Any] | None:
    """One object by id; None when Xero has no such object."""
    try:
        rows = tool._get(f"/{collection}/{object_id}", {}).get(collection) or []
    except NotFound:
        return None
    return rows[0] if rows and isinstance(rows[0], dict) else None
