"""QuickBooks Online: the recurring template and invoices a record names, as QBO holds them now.

- GET /recurringtransaction/{id} answers {"RecurringTransaction": {"Invoice": {...}}} with
  RecurringInfo (Active, ScheduleInfo: IntervalType, NumInterval, StartDate, EndDate or
  MaxOccurrences); GET /invoice/{id} answers {"Invoice": {...}}.
- An id QBO does not have is answered 400 "Object Not Found" (or 404): the document is missing.
- A document bills its SalesItemLineDetail lines less its DiscountLineDetail lines (QBO adds a
  SubTotalLineDetail line to what it returns: skipped). Tax is left out, as in the plan.
- CustomerRef carries the customer's name in QBO's answers; when it does not, the customer is
  read once (GET /customer/{id}) for its DisplayName.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import requests

from integrations.finance_read import HeldDocument, count_dates
from integrations.oauth import call_with_reauth
from integrations.ports import CreatedRecord, NotFound, VendorRejected
from integrations.quickbooks import QuickBooksFinance

_WRAPPER = {"invoice": "Invoice", "customer": "Customer"}


def read_billing_setup(tool: QuickBooksFinance, record: CreatedRecord) -> tuple[HeldDocument, ...]:
    """The record's documents: the template (or first invoice), then the other invoices."""
    first = "recurringtransaction" if record.kind == "recurring_invoice" else "invoice"
    wanted = [(first, record.external_id), *(("invoice", i) for i in record.extra_ids)]
    names: dict[str, str | None] = {}
    return tuple(_document(tool, endpoint, doc_id, names) for endpoint, doc_id in wanted)


def _document(
    tool: QuickBooksFinance, endpoint: str, doc_id: str, names: dict[str, str | None]
) -> HeldDocument:
    kind = "recurring" if endpoint == "recurringtransaction" else "invoice"
    entity = _get(tool, endpoint, doc_id)
    if entity is None:
        return HeldDocument(kind=kind, document_id=doc_id, state="missing")
    customer = entity.get("CustomerRef") or {}
    customer_id = str(customer.get("value")) if customer.get("value") else None
    name = customer.get("name")
    if name is None and customer_id is not None:
        if customer_id not in names:
            found = _get(tool, "customer", customer_id)
            names[customer_id] = str(found["DisplayName"]) if found else None
        name = names[customer_id]
    held: dict[str, Any] = {
        "kind": kind,
        "document_id": doc_id,
        "state": "active",
        "currency": (entity.get("CurrencyRef") or {}).get("value"),
        "customer_id": customer_id,
        "customer_name": name,
        "amount": bills(entity),
    }
    if kind == "invoice":
        return HeldDocument(**held, start=_day(entity.get("TxnDate")))
    info = entity.get("RecurringInfo") or {}
    schedule = info.get("ScheduleInfo") or {}
    start = _day(schedule.get("StartDate"))
    step = _step(schedule)
    occurrences = schedule.get("MaxOccurrences")
    if occurrences is None and start is not None and step is not None:
        occurrences = count_dates(start, _day(schedule.get("EndDate")), step)
    return HeldDocument(
        **{**held, "state": "active" if info.get("Active", True) else "inactive"},
        step_months=step,
        occurrences=int(occurrences) if occurrences is not None else None,
        start=start,
    )


def bills(entity: dict[str, Any]) -> Decimal:
    """What one QBO invoice or template bills: sales lines less discount lines, before tax."""
    total = Decimal(0)
    for line in entity.get("Line") or []:
        amount = Decimal(str(line.get("Amount", 0)))
        if line.get("DetailType") == "SalesItemLineDetail":
            total += amount
        elif line.get("DetailType") == "DiscountLineDetail":
            total -= amount
    return total


def _step(schedule: dict[str, Any]) -> int | None:
    """Months between invoices; None for schedules that do not repeat by months."""
    interval = int(schedule.get("NumInterval") or 1)
    unit = schedule.get("IntervalType")
    if unit == "Monthly":
        return interval
    if unit == "Yearly":
        return 12 * interval
    return None


def _day(value: Any) -> date | None:
    return date.fromisoformat(str(value)[:10]) if value else None


def _get(tool: QuickBooksFinance, endpoint: str, entity_id: str) -> dict[str, Any] | None:
    """One entity by id; None when QBO has no such object."""
    params = {"minorversion": str(tool._config.minor_version)}

    def send() -> requests.Response:
        return tool._http.request("GET", f"/{endpoint}/{entity_id}", params=params)

    try:
        answer = call_with_reauth(tool._refresher, send).json()
    except NotFound:
        return None
    except VendorRejected as exc:
        if exc.status == 400 and "Object Not Found" in exc.message:
            return None
        raise
    if endpoint == "recurringtransaction":
        entity = (answer.get("RecurringTransaction") or {}).get("Invoice")
    else:
        entity = answer.get(_WRAPPER[endpoint])
    return entity if isinstance(entity, dict) else None
