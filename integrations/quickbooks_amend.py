"""QuickBooks Online: an amended handoff updates the customer and the documents it created.

- Each object is read first (GET /customer/{id}, /invoice/{id}, /recurringtransaction/{id}) for
  the SyncToken an update needs and, on documents, the tag on the first line of PrivateNote.
- Updates are sparse (`"sparse": true`, POST ...?operation=update): only the fields written
  change. Each carries a `requestid` made from the amendment job's key, so a retry gets QBO's
  first answer back instead of updating twice; QBO refuses a stale SyncToken.
- The schedule may change shape (quarterly to milestones, say). A document the new plan still
  has (same tag, same kind) is updated; one it adds is created (requestid too); one it no longer
  has is kept, since QBO invoices are posted to the books, with "SUPERSEDED ... ACTION FOR
  FINANCE" on its note's second line, and a superseded recurring template is made inactive so
  it stops billing.
- The change is noted on every document: its PrivateNote is rewritten with the amended facts,
  the second line saying which fields the amendment changed and when.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests

from integrations.amendments import Amendment
from integrations.billing import money_json, require_billing
from integrations.oauth import call_with_reauth
from integrations.ports import BillingTerms, CreatedRecord, HandoffBrief, VendorOutcomeUnknown
from integrations.quickbooks import (
    PRIVATE_NOTE_MAX,
    VENDOR,
    QuickBooksFinance,
    _check_currency,
    _Document,
    clip,
    customer_body,
    plan_documents,
    request_id,
    with_customer,
)

log = logging.getLogger(__name__)

OUR_LINE = "Created by Handoff "
SUMMARY_MAX = 500


@dataclass(frozen=True)
class _Held:
    """A document the record holds, as QBO has it now."""

    endpoint: str  # "invoice" or "recurringtransaction"
    entity: dict[str, Any]

    @property
    def tag(self) -> str | None:
        first = str(self.entity.get("PrivateNote", "")).split("\n", 1)[0].strip()
        return first.removeprefix(OUR_LINE) if first.startswith(OUR_LINE + "(ref ") else None


def update_billing_setup(
    tool: QuickBooksFinance,
    record: CreatedRecord,
    brief: HandoffBrief,
    amendment: Amendment,
    *,
    idempotency_key: str,
) -> CreatedRecord:
    """The customer and documents updated from the amended brief; the record they make now."""
    billing = require_billing(brief, VENDOR)
    documents = plan_documents(brief, billing, tool._config)  # validates before any call
    held = _held(tool, record)
    customer_id = str(held[0].entity["CustomerRef"]["value"])
    _update_customer(tool, customer_id, brief, billing, idempotency_key)
    by_tag = {h.tag: h for h in held if h.tag}
    ids = []
    for doc in documents:
        current = by_tag.get(doc.tag)
        if current is not None and current.endpoint == doc.endpoint:
            del by_tag[doc.tag]
            ids.append(_update(tool, doc, current, customer_id, amendment, idempotency_key))
        else:
            ids.append(_create(tool, doc, customer_id, amendment, idempotency_key))
    for index, old in enumerate(by_tag.values()):
        _supersede(tool, old, amendment, request_id(idempotency_key, "supersede", index))
    log.info(
        "qbo_billing_amended handoff=%s marker=%s version=%s documents=%s superseded=%s",
        brief.handoff_id,
        brief.marker,
        amendment.version,
        len(ids),
        len(by_tag),
    )
    return tool._record(documents[0].endpoint, ids, customer_id)


def _held(tool: QuickBooksFinance, record: CreatedRecord) -> list[_Held]:
    first = "recurringtransaction" if record.kind == "recurring_invoice" else "invoice"
    ids = [record.external_id, *record.extra_ids]
    endpoints = [first] + ["invoice"] * len(record.extra_ids)
    return [_Held(e, _read(tool, e, i)) for e, i in zip(endpoints, ids, strict=True)]


def _read(tool: QuickBooksFinance, endpoint: str, entity_id: str) -> dict[str, Any]:
    params = {"minorversion": str(tool._config.minor_version)}

    def send() -> requests.Response:
        return tool._http.request("GET", f"/{endpoint}/{entity_id}", params=params)

    answer = call_with_reauth(tool._refresher, send).json()
    if endpoint == "recurringtransaction":
        entity = (answer.get("RecurringTransaction") or {}).get("Invoice")
    else:
        entity = answer.get({"invoice": "Invoice", "customer": "Customer"}[endpoint])
    if not isinstance(entity, dict) or "SyncToken" not in entity:
        raise VendorOutcomeUnknown(VENDOR, f"unexpected answer reading {endpoint} {entity_id}")
    return entity


def _update_customer(
    tool: QuickBooksFinance,
    customer_id: str,
    brief: HandoffBrief,
    billing: BillingTerms,
    key: str,
) -> None:
    """Billing contact, legal entity, address, terms and notes; never the display name (the
    account's name in the books) or the currency (QBO refuses to change it)."""
    current = _read(tool, "customer", customer_id)
    _check_currency(current, billing, brief.account_name)
    fields = customer_body(brief, billing, tool._config)
    fields.pop("DisplayName")
    fields.pop("CurrencyRef")
    body = {"Id": customer_id, "SyncToken": current["SyncToken"], "sparse": True, **fields}
    _post_update(tool, "customer", body, request_id(key, "update-customer", 0))


def _update(
    tool: QuickBooksFinance,
    doc: _Document,
    current: _Held,
    customer_id: str,
    amendment: Amendment,
    key: str,
) -> str:
    fields = _noted(with_customer(doc, customer_id), doc.endpoint, amendment)
    entity = current.entity
    head = {"Id": entity["Id"], "SyncToken": entity["SyncToken"], "sparse": True}
    if doc.endpoint == "recurringtransaction":
        body: dict[str, Any] = {"Invoice": {**head, **fields["Invoice"]}}
    else:
        body = {**head, **fields}
    _post_update(tool, doc.endpoint, body, request_id(key, f"update-{doc.endpoint}", doc.index))
    return str(entity["Id"])


def _create(
    tool: QuickBooksFinance, doc: _Document, customer_id: str, amendment: Amendment, key: str
) -> str:
    """A document the amended plan adds (its requestid is this amendment's)."""
    body = _noted(with_customer(doc, customer_id), doc.endpoint, amendment)
    answer = tool._post(doc.endpoint, body, request_id(key, doc.endpoint, doc.index))
    wrapper = answer.get("RecurringTransaction")
    entity = wrapper["Invoice"] if wrapper else answer["Invoice"]
    log.info("qbo_document_added kind=%s index=%s id=%s", doc.endpoint, doc.index, entity["Id"])
    return str(entity["Id"])


def _supersede(tool: QuickBooksFinance, old: _Held, amendment: Amendment, rid: str) -> None:
    """Keep a document the amended plan no longer has, saying so; a template stops billing."""
    entity = old.entity
    if old.endpoint == "recurringtransaction":
        action = "this template no longer matches the agreed schedule and was made inactive"
    else:
        action = "void this invoice: it is no longer part of the agreed schedule"
    line = (
        f"SUPERSEDED by the amendment to version {amendment.version}. ACTION FOR FINANCE: {action}."
    )
    inner: dict[str, Any] = {
        "Id": entity["Id"],
        "SyncToken": entity["SyncToken"],
        "sparse": True,
        "PrivateNote": _second_line(str(entity.get("PrivateNote", "")), line),
    }
    if old.endpoint == "recurringtransaction":
        inner["RecurringInfo"] = {**(entity.get("RecurringInfo") or {}), "Active": False}
        _post_update(tool, old.endpoint, {"Invoice": inner}, rid)
    else:
        _post_update(tool, old.endpoint, inner, rid)
    log.info("qbo_document_superseded kind=%s id=%s", old.endpoint, entity["Id"])


def _noted(body: dict[str, Any], endpoint: str, amendment: Amendment) -> dict[str, Any]:
    """The document's body with the amendment stated on its note's second line."""
    inner = body["Invoice"] if endpoint == "recurringtransaction" else body
    summary = clip(amendment.summary(), SUMMARY_MAX)
    noted = {**inner, "PrivateNote": _second_line(str(inner["PrivateNote"]), summary)}
    return {"Invoice": noted} if endpoint == "recurringtransaction" else noted


def _second_line(note: str, line: str) -> str:
    """`line` after the note's first line (our tag, which stays first), within QBO's limit."""
    first, _, rest = note.partition("\n")
    return clip("\n".join(part for part in (first, line, rest) if part), PRIVATE_NOTE_MAX)


def _post_update(
    tool: QuickBooksFinance, endpoint: str, body: Mapping[str, Any], rid: str
) -> dict[str, Any]:
    params = {
        "operation": "update",
        "requestid": rid,
        "minorversion": str(tool._config.minor_version),
    }

    def send() -> requests.Response:
        # requestid makes the update idempotent: QBO answers a repeat with its first answer.
        return tool._http.request(
            "POST",
            f"/{endpoint}",
            params=params,
            data=money_json(body),
            headers={"Content-Type": "application/json"},
            safe_to_repeat=True,
        )

    answer: dict[str, Any] = call_with_reauth(tool._refresher, send).json()
    return answer
