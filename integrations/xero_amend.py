"""Xero: an amended handoff updates the contact and the documents it created, and notes it.

- Each document is read first (GET /Invoices/{InvoiceID}, /RepeatingInvoices/{id}) for its
  contact and the tag at the end of a line's description.
- POST /Contacts/{ContactID}: billing person, tax number, postal address, currency (not the
  name: it is the account's name in the books).
- POST /Invoices/{InvoiceID}: the invoice's lines, dates, reference and currency (its status is
  finance's: an invoice they approved stays approved, and Xero refuses what it cannot change).
- Xero's API cannot edit a repeating invoice, only delete it (POST /RepeatingInvoices/{id} with
  Status DELETED). One whose amount, schedule, reference or currency changed is replaced: the new
  one is created first, then the old one deleted, so there is always exactly one billing.
- A document the amended plan no longer has is deleted while a draft; an approved one keeps a
  history note asking finance to void it.
- Every kept or new document gets history notes (PUT .../History): the amendment's changes,
  then the amended billing facts.
Every write carries an Idempotency-Key made from the amendment job's key, so a retry gets Xero's
first answer instead of acting twice.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import requests

from integrations.amendments import Amendment
from integrations.billing import money_json, require_billing
from integrations.oauth import call_with_reauth
from integrations.ports import CreatedRecord, HandoffBrief, VendorOutcomeUnknown
from integrations.xero import (
    VENDOR,
    XeroFinance,
    _Document,
    contact_body,
    context_note,
    idempotency_header,
    plan_documents,
    web_url,
    with_contact,
)

log = logging.getLogger(__name__)

_TAG = re.compile(r"\(ref \S+/\d+\)$")
_XERO_DATE = re.compile(r"/Date\((-?\d+)")
_ID_KEY = {"RepeatingInvoices": "RepeatingInvoiceID", "Invoices": "InvoiceID"}
SCHEDULE_KEYS = ("Period", "Unit", "DueDate", "DueDateType", "StartDate", "EndDate")


@dataclass(frozen=True)
class _Held:
    """A document the record holds, as Xero has it now."""

    collection: str
    row: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.row[_ID_KEY[self.collection]])

    @property
    def tag(self) -> str | None:
        for line in self.row.get("LineItems") or []:
            found = _TAG.search(str(line.get("Description", "")).rstrip())
            if found:
                return found.group(0)
        return None


def update_billing_setup(
    tool: XeroFinance,
    record: CreatedRecord,
    brief: HandoffBrief,
    amendment: Amendment,
    *,
    idempotency_key: str,
) -> CreatedRecord:
    """The contact and documents updated from the amended brief; the record they make now."""
    billing = require_billing(brief, VENDOR)
    documents = plan_documents(brief, billing, tool._config)  # validates before any call
    held = _held(tool, record)
    contact_id = str(held[0].row["Contact"]["ContactID"])
    contact = contact_body(brief, billing)["Contacts"][0]
    contact.pop("Name")
    _post(
        tool,
        f"/Contacts/{contact_id}",
        {"Contacts": [{**contact, "ContactID": contact_id}]},
        idempotency_header(idempotency_key, "update-contact", 0),
    )
    by_tag = {h.tag: h for h in held if h.tag}
    ids = []
    for doc in documents:
        current = by_tag.get(doc.tag)
        if current is not None and current.collection == doc.collection:
            del by_tag[doc.tag]
            document_id = _update(tool, doc, current, contact_id, brief, idempotency_key)
        else:
            document_id = tool._create(doc, contact_id, brief, idempotency_key)
        note = f"{amendment.text()}\n{context_note(brief, billing, doc.tag)}"
        tool._put_history(doc.collection, document_id, note, idempotency_key, doc.index)
        ids.append(document_id)
    for index, old in enumerate(by_tag.values()):
        _retire(tool, old, amendment, idempotency_key, index)
    log.info(
        "xero_billing_amended handoff=%s marker=%s version=%s documents=%s retired=%s",
        brief.handoff_id,
        brief.marker,
        amendment.version,
        len(ids),
        len(by_tag),
    )
    kind = "repeating_invoice" if documents[0].collection == "RepeatingInvoices" else "invoice"
    return CreatedRecord(
        vendor=VENDOR,
        kind=kind,
        external_id=ids[0],
        url=web_url(tool._config.app_url, kind, ids[0]),
        extra_ids=tuple(ids[1:]),
    )


def _held(tool: XeroFinance, record: CreatedRecord) -> list[_Held]:
    first = "RepeatingInvoices" if record.kind == "repeating_invoice" else "Invoices"
    ids = [record.external_id, *record.extra_ids]
    collections = [first] + ["Invoices"] * len(record.extra_ids)
    held = []
    for collection, document_id in zip(collections, ids, strict=True):
        rows = tool._get(f"/{collection}/{document_id}", {}).get(collection) or []
        if not rows or not isinstance(rows[0], dict):
            raise VendorOutcomeUnknown(VENDOR, f"no {collection} {document_id} in the answer")
        held.append(_Held(collection, rows[0]))
    return held


def _update(
    tool: XeroFinance,
    doc: _Document,
    current: _Held,
    contact_id: str,
    brief: HandoffBrief,
    key: str,
) -> str:
    """An invoice updated in place; a repeating invoice kept when unchanged, else replaced."""
    [body] = with_contact(doc, contact_id)[doc.collection]
    if doc.collection == "Invoices":
        body.pop("Status", None)  # finance's to decide once it exists
        body["InvoiceID"] = current.id
        idempotency = idempotency_header(key, "update-Invoices", doc.index)
        _post(tool, f"/Invoices/{current.id}", {"Invoices": [body]}, idempotency)
        return current.id
    if _shape(current.row) == _shape(body):
        return current.id
    replacement = tool._create(doc, contact_id, brief, key)
    _delete_repeating(tool, current.id, idempotency_header(key, "delete", doc.index))
    log.info("xero_repeating_replaced old=%s new=%s", current.id, replacement)
    return replacement


def _retire(tool: XeroFinance, old: _Held, amendment: Amendment, key: str, index: int) -> None:
    """A document the amended plan no longer has: deleted while a draft, else flagged."""
    idempotency = idempotency_header(key, "retire", index)
    if old.collection == "RepeatingInvoices":
        _delete_repeating(tool, old.id, idempotency)
    elif old.row.get("Status") == "DRAFT":
        _post(
            tool,
            f"/Invoices/{old.id}",
            {"Invoices": [{"InvoiceID": old.id, "Status": "DELETED"}]},
            idempotency,
        )
    else:
        note = (
            f"SUPERSEDED by the amendment to version {amendment.version}. ACTION FOR FINANCE: "
            "void this invoice: it is no longer part of the agreed schedule."
        )
        tool._put_history(old.collection, old.id, note, key, 1000 + index)
    log.info("xero_document_retired kind=%s id=%s", old.collection, old.id)


def _delete_repeating(tool: XeroFinance, document_id: str, idempotency: str) -> None:
    body = {"RepeatingInvoices": [{"RepeatingInvoiceID": document_id, "Status": "DELETED"}]}
    _post(tool, f"/RepeatingInvoices/{document_id}", body, idempotency)


def _post(tool: XeroFinance, path: str, body: Mapping[str, Any], idempotency: str) -> None:
    headers = {"Content-Type": "application/json", "Idempotency-Key": idempotency}

    def send() -> requests.Response:
        # The Idempotency-Key makes the write safe to repeat after a 5xx or a timeout.
        return tool._http.request(
            "POST", path, data=money_json(body), headers=headers, safe_to_repeat=True
        )

    call_with_reauth(tool._refresher, send)


def _shape(body: Mapping[str, Any]) -> tuple[Any, ...]:
    """What a repeating invoice bills, comparable between our body and Xero's answer (dates as
    /Date(ms)/, amounts as floats there)."""
    schedule = body.get("Schedule") or {}
    lines = [
        (
            str(line.get("Description", "")).rstrip(),
            _amount(line.get("UnitAmount")),
            _amount(line.get("Quantity")),
            str(line.get("AccountCode", "")),
        )
        for line in body.get("LineItems") or []
    ]
    when = {key: _value(schedule.get(key)) for key in SCHEDULE_KEYS}
    return (when, lines, body.get("Reference"), body.get("CurrencyCode"))


def _value(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        found = _XERO_DATE.match(value)
        if found:
            moment = datetime.fromtimestamp(int(found.group(1)) / 1000, tz=UTC)
            return moment.date().isoformat()
        return value[:10] if re.match(r"\d{4}-\d{2}-\d{2}", value) else value
    return value


def _amount(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)).normalize() if value is not None else None
    except InvalidOperation:
        return None
