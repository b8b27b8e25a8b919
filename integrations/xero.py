"""Xero: the contact, then a repeating invoice or draft invoices matching the billing terms.

What this module relies on (checked against shared/contracts/xero/xero_accounting.subset.yaml):
- every write carries `Idempotency-Key` (max 128 characters), stable per handoff + action + index,
  so Xero answers a repeat with the original response;
- `summarizeErrors=true` on creates, so a validation problem is a 400 with
  `Elements[].ValidationErrors[]`;
- every document we create gets a history note (`/RepeatingInvoices/{id}/History`,
  `/Invoices/{id}/History`) holding every billing fact finance needs, since an invoice has no
  internal note field; the contact carries the tax number and billing address in its own fields;
- our marker ends the first line's description as "(ref <marker>/<n>)", the only text field a
  plain invoice has besides Reference, which carries the PO number;
- the lines as sold become line items (Quantity, UnitAmount, DiscountAmount) where they add up
  to the document's amount exactly (integrations/invoice_lines.py).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

import requests
from pydantic import BaseModel, ConfigDict, Field

from integrations.billing import (
    PlannedInvoice,
    Recurring,
    build_documents,
    document_tag,
    money_json,
    require_billing,
)
from integrations.delivery_text import delivery_note, require_delivery_invoice
from integrations.finance_text import address_lines, finance_note, money
from integrations.http import VendorHttp
from integrations.invoice_lines import InvoiceLine, discount_of, wire_quantity
from integrations.oauth import OAuthClientConfig, OAuthRefresher, call_with_reauth
from integrations.ports import (
    ESTIMATED_MODELS,
    BillingTerms,
    Contact,
    CreatedRecord,
    DeliveryInvoice,
    HandoffBrief,
    ThreadComment,
    VendorRejected,
)

if TYPE_CHECKING:
    from integrations.registry import VendorContext

log = logging.getLogger(__name__)

VENDOR = "xero"
XERO_TOKEN_URL = "https://identity.xero.com/connect/token"
# Authorization code flow (developer.xero.com/documentation/guides/oauth2/auth-flow): consent at
# the authorize URL, code exchanged at XERO_TOKEN_URL, then GET /connections lists the tenants.
XERO_AUTHORIZE_URL = "https://login.xero.com/identity/connect/authorize"
XERO_SCOPES = "offline_access accounting.transactions accounting.contacts accounting.settings.read"
PAGE_SIZE = 100  # Xero's page size for Contacts and Invoices
PAGE_LIMIT = 20  # stop a look-first scan after this many pages
IDEMPOTENCY_KEY_MAX = 128
HISTORY_DETAILS_MAX = 250  # Xero's limit for one history note
HISTORY_CHUNKS_MAX = 20
CONTACT_PERSONS_MAX = 5
DEAD_STATUSES = frozenset({"DELETED", "VOIDED"})
TAX_NUMBER_MAX = 50  # Contact.TaxNumber maxLength in the spec
ADDRESS_LINES = ("AddressLine1", "AddressLine2", "AddressLine3", "AddressLine4")
ADDRESS_LINE_MAX = 500


class XeroConfig(BaseModel):
    """The `xero` settings block."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tenant_id: str = Field(min_length=1)
    account_code: str = Field(min_length=1, description="sales account for invoice lines")
    base_url: str = "https://api.xero.com/api.xro/2.0"
    token_url: str = XERO_TOKEN_URL
    authorize_url: str = XERO_AUTHORIZE_URL
    scopes: str = XERO_SCOPES
    connections_url: str | None = None  # default: /connections on base_url's host
    client_id_env: str = "XERO_CLIENT_ID"
    client_secret_env: str = "XERO_CLIENT_SECRET"
    refresh_token_env: str = "XERO_REFRESH_TOKEN"
    line_amount_types: Literal["Exclusive", "Inclusive", "NoTax"] = "Exclusive"
    repeating_status: Literal["DRAFT", "AUTHORISED"] = "DRAFT"
    tax_type: str | None = None
    # Xero does not state the refresh token's lifetime in the token response.
    refresh_token_lifetime_days: int = 60
    app_url: str | None = "https://go.xero.com"


@dataclass(frozen=True)
class _Document:
    """One Xero object to create: its collection, body and the tag that finds it again."""

    collection: str  # "RepeatingInvoices" or "Invoices"
    index: int
    tag: str
    body: dict[str, Any]


class XeroFinance:
    """FinanceTool for Xero."""

    vendor = VENDOR

    def __init__(self, config: XeroConfig, refresher: OAuthRefresher, http: VendorHttp) -> None:
        self._config = config
        self._refresher = refresher
        self._http = http
        self._note_logged = False

    def check_connection(self) -> None:
        """Use the connection once so rotating refresh tokens never lapse from disuse."""
        self._refresher.access_token()

    def create_billing_setup(
        self, brief: HandoffBrief, *, idempotency_key: str, look_first: bool
    ) -> CreatedRecord:
        """Find or create the contact, then the repeating invoice or invoices for the schedule."""
        billing = require_billing(brief, VENDOR)
        documents = plan_documents(brief, billing, self._config)  # validates before any call
        contact_id = self._contact_id(brief, billing, idempotency_key)
        existing = self._existing(documents, contact_id) if look_first else {}
        ids = [
            existing.get(doc.tag) or self._create(doc, contact_id, brief, idempotency_key)
            for doc in documents
        ]
        for doc, document_id in zip(documents, ids, strict=True):
            note = context_note(brief, billing, doc.tag)
            index = 0 if doc.collection == "RepeatingInvoices" else doc.index
            self._put_history(doc.collection, document_id, note, idempotency_key, index)
        if documents[0].collection == "RepeatingInvoices":
            # extra_ids: the remainder instalment's invoice, when the split is not even.
            return CreatedRecord(
                vendor=VENDOR,
                kind="repeating_invoice",
                external_id=ids[0],
                url=web_url(self._config.app_url, "repeating_invoice", ids[0]),
                extra_ids=tuple(ids[1:]),
            )
        return CreatedRecord(
            vendor=VENDOR,
            kind="invoice",
            external_id=ids[0],
            url=web_url(self._config.app_url, "invoice", ids[0]),
            extra_ids=tuple(ids[1:]),
        )

    def create_delivery_invoice(
        self, brief: HandoffBrief, *, idempotency_key: str, look_first: bool
    ) -> CreatedRecord:
        """Delivery complete: the contact, then one draft invoice for what is due now, its
        facts in the invoice's history (issue 9)."""
        invoice = require_delivery_invoice(brief, VENDOR)
        doc = delivery_document(brief, invoice, self._config)  # built before any call
        contact_id = self._contact_id(brief, customer_terms(invoice), idempotency_key)
        existing = self._existing([doc], contact_id) if look_first else {}
        invoice_id = existing.get(doc.tag) or self._create(doc, contact_id, brief, idempotency_key)
        note = delivery_note(brief, invoice, f"Created by Handoff {doc.tag}.")
        self._put_history(doc.collection, invoice_id, note, idempotency_key, doc.index)
        return CreatedRecord(
            vendor=VENDOR,
            kind="invoice",
            external_id=invoice_id,
            url=web_url(self._config.app_url, "invoice", invoice_id),
        )

    def add_note(
        self, record: CreatedRecord, comment: ThreadComment, *, idempotency_key: str
    ) -> str | None:
        """Add "author (time): text" to the history of the repeating or first invoice."""
        if record.kind not in ("repeating_invoice", "invoice"):
            if not self._note_logged:
                log.info("xero_note_unsupported kind=%s record=%s", record.kind, record.external_id)
                self._note_logged = True
            return None
        collection = "RepeatingInvoices" if record.kind == "repeating_invoice" else "Invoices"
        posted = comment.posted_at.isoformat(timespec="minutes")
        self._write(
            f"/{collection}/{record.external_id}/History",
            _history_body(f"{comment.author} ({posted}): {comment.text}"),
            idempotency_header(idempotency_key, "note", 0),
        )
        log.info("xero_note_added record=%s comment=%s", record.external_id, comment.marker)
        return comment.marker  # history records have no id of their own

    # --- contact ----------------------------------------------------------------------------

    def _contact_id(self, brief: HandoffBrief, billing: BillingTerms, key: str) -> str:
        found = self._find_contact(brief.account_name)
        if found is not None:
            log.info("xero_contact_found handoff=%s contact=%s", brief.handoff_id, found)
            return found
        created = self._put(
            "Contacts", contact_body(brief, billing), idempotency_header(key, "contact", 0)
        )
        log.info(
            "xero_contact_created handoff=%s contact=%s", brief.handoff_id, created["ContactID"]
        )
        return str(created["ContactID"])

    def _find_contact(self, name: str) -> str | None:
        """ContactID of the contact named exactly `name` (searchTerm is a contains-search)."""
        wanted = name.casefold()
        for contact in self._pages(
            "/Contacts", "Contacts", {"searchTerm": name, "summaryOnly": "true"}
        ):
            if str(contact.get("Name", "")).casefold() == wanted:
                return str(contact["ContactID"])
        return None

    # --- documents --------------------------------------------------------------------------

    def _existing(self, documents: list[_Document], contact_id: str) -> dict[str, str]:
        """Ids of documents already carrying our tags (an earlier attempt got that far)."""
        found: dict[str, str] = {}
        # A template may come with one invoice (the instalment carrying the split's remainder).
        for collection in sorted({doc.collection for doc in documents}):
            id_key = "RepeatingInvoiceID" if collection == "RepeatingInvoices" else "InvoiceID"
            for row in self._rows(collection, contact_id):
                if not _belongs_to(row, contact_id):
                    continue
                # The tag counts only at the end of the first line's description, where the app
                # puts it: the text before it, and every other line, come from the form and may
                # quote another handoff's tag.
                first = (row.get("LineItems") or [{}])[0]
                end = str(first.get("Description", "")).rstrip()
                for doc in documents:
                    if doc.collection == collection and end.endswith(doc.tag):
                        found[doc.tag] = str(row[id_key])
        return found

    def _rows(self, collection: str, contact_id: str) -> Iterator[dict[str, Any]]:
        if collection == "RepeatingInvoices":
            return iter(self._get("/RepeatingInvoices", {}).get("RepeatingInvoices", []))
        # Xero returns line items in invoice lists only when paging.
        return self._pages("/Invoices", "Invoices", {"ContactIDs": contact_id})

    def _create(self, doc: _Document, contact_id: str, brief: HandoffBrief, key: str) -> str:
        id_key = "RepeatingInvoiceID" if doc.collection == "RepeatingInvoices" else "InvoiceID"
        idempotency = idempotency_header(key, doc.collection, doc.index)
        created = self._put(doc.collection, with_contact(doc, contact_id), idempotency)
        log.info(
            "xero_document_created handoff=%s marker=%s kind=%s index=%s id=%s",
            brief.handoff_id,
            brief.marker,
            doc.collection,
            doc.index,
            created[id_key],
        )
        return str(created[id_key])

    def _put_history(
        self, collection: str, document_id: str, text: str, key: str, index: int
    ) -> None:
        """The billing facts as history notes on one created document, one record per line."""
        records = [
            {"Details": chunk} for line in text.splitlines() for chunk in history_chunks(line)
        ]
        self._write(
            f"/{collection}/{document_id}/History",
            {"HistoryRecords": records},
            idempotency_header(key, "context", index),
        )

    # --- transport --------------------------------------------------------------------------

    def _put(self, collection: str, body: Mapping[str, Any], idempotency: str) -> dict[str, Any]:
        """PUT one object into a collection; returns the object Xero created."""
        # summarizeErrors=true: a validation problem comes back as a 400, not inside a 200.
        answer = self._write(f"/{collection}", body, idempotency, {"summarizeErrors": "true"})
        created: dict[str, Any] = answer[collection][0]
        problems = [str(e.get("Message")) for e in created.get("ValidationErrors") or []]
        if problems:
            raise VendorRejected(VENDOR, f"{collection}: {'; '.join(problems)}")
        return created

    def _write(
        self,
        path: str,
        body: Mapping[str, Any],
        idempotency: str,
        params: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """PUT `body` to `path` with its Idempotency-Key; returns Xero's answer."""
        headers = {"Content-Type": "application/json", "Idempotency-Key": idempotency}

        def send() -> requests.Response:
            # The Idempotency-Key makes the write safe to repeat after a 5xx or a timeout.
            return self._http.request(
                "PUT",
                path,
                params=params,
                data=money_json(body),
                headers=headers,
                safe_to_repeat=True,
            )

        answer: dict[str, Any] = call_with_reauth(self._refresher, send).json()
        return answer

    def _get(self, path: str, params: Mapping[str, str]) -> dict[str, Any]:
        def send() -> requests.Response:
            return self._http.request("GET", path, params=params)

        answer: dict[str, Any] = call_with_reauth(self._refresher, send).json()
        return answer

    def _pages(
        self, path: str, collection: str, params: Mapping[str, str]
    ) -> Iterator[dict[str, Any]]:
        for page in range(1, PAGE_LIMIT + 1):
            batch: list[dict[str, Any]] = self._get(path, {**params, "page": str(page)}).get(
                collection, []
            )
            yield from batch
            if len(batch) < PAGE_SIZE:
                return


# --- bodies -----------------------------------------------------------------------------------


def plan_documents(
    brief: HandoffBrief, billing: BillingTerms, config: XeroConfig
) -> list[_Document]:
    """The Xero objects the schedule needs, in creation order (bodies without the contact)."""
    return build_documents(billing, brief.title, VENDOR, _Bodies(brief, billing, config))


def with_contact(doc: _Document, contact_id: str) -> dict[str, Any]:
    """The document's body pointing at the contact."""
    [body] = doc.body[doc.collection]
    return {doc.collection: [{**body, "Contact": {"ContactID": contact_id}}]}


@dataclass(frozen=True)
class _Bodies:
    """Maps the neutral plan onto Xero bodies for one brief."""

    brief: HandoffBrief
    billing: BillingTerms
    config: XeroConfig

    def recurring(self, planned: Recurring) -> _Document:
        """A repeating invoice: the regular instalment every 1 or 3 months, `occurrences` times."""
        if planned.start.day != planned.day_of_month:
            # Xero repeats on the start date's day: from Feb 28 it would bill Mar 28, not Mar 31.
            raise VendorRejected(
                VENDOR,
                f"Xero cannot repeat on day {planned.day_of_month} from {planned.start}: with "
                "billing.remainder first, start the schedule on or before the 28th, or set "
                "billing.remainder to last",
                field="first_invoice_date",
            )
        tag = document_tag(self.brief.marker, 1)
        body = self.common(planned.description, planned.amount, planned.lines, tag)
        body["Schedule"] = {
            "Period": planned.step_months,
            "Unit": "MONTHLY",
            "DueDate": self.billing.payment_terms_days,
            "DueDateType": "DAYSAFTERBILLDATE",
            "StartDate": planned.start,
            "EndDate": planned.end,
        }
        # Estimated amounts (time and materials, usage) stay drafts for finance to adjust.
        estimated = self.billing.billing_model in ESTIMATED_MODELS
        body["Status"] = "DRAFT" if estimated else self.config.repeating_status
        return _Document("RepeatingInvoices", 1, tag, {"RepeatingInvoices": [body]})

    def invoice(self, planned: PlannedInvoice) -> _Document:
        """A draft sales invoice (ACCREC) for one amount, dated and due as agreed."""
        tag = document_tag(self.brief.marker, planned.index)
        body = self.common(planned.description, planned.amount, planned.lines, tag)
        body["Date"], body["DueDate"] = planned.issued, planned.due
        body["Status"] = "DRAFT"
        return _Document("Invoices", planned.index, tag, {"Invoices": [body]})

    def common(
        self, description: str, amount: Decimal, lines: tuple[InvoiceLine, ...], tag: str
    ) -> dict[str, Any]:
        """Fields both shapes share: type, the lines, tax treatment, currency, PO reference."""
        priced = lines or (InvoiceLine(description, Decimal(1), amount),)
        items = [self.line_item(line) for line in priced]
        if not discount_of(lines) and self.billing.discount_amount:
            # No discount on the lines: state it on the printed line, so nobody re-raises the
            # invoice at list price.
            discount = money(self.billing.discount_amount, self.billing.currency)
            items[0]["Description"] += f". Includes the agreed discount of {discount}"
        # Our tag ends the first line only: later lines' descriptions come from the form.
        items[0]["Description"] += f" {tag}"
        body: dict[str, Any] = {
            "Type": "ACCREC",
            "LineItems": items,
            "LineAmountTypes": self.config.line_amount_types,
            "CurrencyCode": self.billing.currency,
        }
        if self.billing.po_number:
            body["Reference"] = self.billing.po_number
        return body

    def line_item(self, line: InvoiceLine) -> dict[str, Any]:
        """One line item; Xero bills Quantity x UnitAmount less DiscountAmount."""
        item: dict[str, Any] = {
            "Description": line.description,
            "Quantity": wire_quantity(line.quantity),
            "UnitAmount": line.unit_price,
            "AccountCode": self.config.account_code,
        }
        if line.discount:
            item["DiscountAmount"] = line.discount
        if self.config.tax_type:
            item["TaxType"] = self.config.tax_type
        return item


def delivery_document(
    brief: HandoffBrief, invoice: DeliveryInvoice, config: XeroConfig
) -> _Document:
    """A draft sales invoice: one line per amount due, the PO as its Reference, due as agreed."""
    tag = document_tag(brief.marker, 1)
    lines = []
    for number, line in enumerate(invoice.lines):
        # The tag ends the first line's description, where look-before-create reads it.
        description = f"{line.description} {tag}" if number == 0 else line.description
        item: dict[str, Any] = {
            "Description": description,
            "Quantity": 1,
            "UnitAmount": line.amount,
            "AccountCode": config.account_code,
        }
        if config.tax_type:
            item["TaxType"] = config.tax_type
        lines.append(item)
    body: dict[str, Any] = {
        "Type": "ACCREC",
        "Status": "DRAFT",
        "Date": invoice.issued,
        "DueDate": invoice.due,
        "LineItems": lines,
        "LineAmountTypes": config.line_amount_types,
        "CurrencyCode": invoice.currency,
    }
    if invoice.po_number:
        body["Reference"] = invoice.po_number
    return _Document("Invoices", 1, tag, {"Invoices": [body]})


def customer_terms(invoice: DeliveryInvoice) -> BillingTerms:
    """The agreed terms a contact is found or, if missing, created with (its currency)."""
    return BillingTerms(
        contract_value=invoice.contract_value,
        currency=invoice.currency,
        schedule="one_off",
        first_invoice_date=invoice.issued,
        payment_terms_days=invoice.payment_terms_days,
        po_number=invoice.po_number,
    )


def web_url(app_url: str | None, kind: str, external_id: str) -> str | None:
    """The page in Xero's web app for a created record (None when no app URL is configured).

    Xero's API returns no web link. An invoice opens at AccountsReceivable/View.aspx; a
    repeating invoice (a template) at RepeatTransactions/Edit.aspx?invoiceID=<RepeatingInvoiceID>,
    the link Xero's own repeating-invoice list uses for each row.
    """
    if not app_url:
        return None
    if kind == "repeating_invoice":
        return f"{app_url}/RepeatTransactions/Edit.aspx?invoiceID={external_id}"
    return f"{app_url}/AccountsReceivable/View.aspx?InvoiceID={external_id}"


def contact_body(brief: HandoffBrief, billing: BillingTerms) -> dict[str, Any]:
    """A new Contact: the account, its billing contact as primary person, other billing people."""
    contact: dict[str, Any] = {"Name": brief.account_name, "DefaultCurrency": billing.currency}
    if billing.tax_id:
        contact["TaxNumber"] = billing.tax_id[:TAX_NUMBER_MAX]  # the form keeps it within 50
    address = _address(billing)
    if address:
        contact["Addresses"] = [address]
    primary = brief.billing_contact()
    if primary:
        contact.update(_person(primary))
    persons = [
        {**_person(person), "IncludeInEmails": True}
        for person in brief.contacts
        if person != primary and person.email and _is_billing_role(person)
    ]
    if persons:
        contact["ContactPersons"] = persons[:CONTACT_PERSONS_MAX]
    return {"Contacts": [contact]}


def context_note(brief: HandoffBrief, billing: BillingTerms, tag: str) -> str:
    """The internal history of a created document: one line per billing fact, with links."""
    return finance_note(brief, billing, f"Created by Handoff {tag}.")


def _history_body(text: str) -> dict[str, Any]:
    return {"HistoryRecords": [{"Details": chunk} for chunk in history_chunks(text)]}


def _address(billing: BillingTerms) -> dict[str, Any] | None:
    """The billing address as a Xero POBOX (postal) address of free-form lines, or None."""
    lines = address_lines(billing)
    if not lines:
        return None
    last = len(ADDRESS_LINES) - 1
    kept = [*lines[:last], ", ".join(lines[last:])]
    address: dict[str, Any] = {"AddressType": "POBOX"}
    for name, line in zip(ADDRESS_LINES, kept, strict=False):
        if line:
            address[name] = line[:ADDRESS_LINE_MAX]
    return address


def history_chunks(text: str) -> list[str]:
    """`text` as history notes of at most 250 characters each, numbered when split."""
    if len(text) <= HISTORY_DETAILS_MAX:
        return [text]
    size = HISTORY_DETAILS_MAX - len(f"({HISTORY_CHUNKS_MAX}/{HISTORY_CHUNKS_MAX}) ")
    pieces = [text[start : start + size] for start in range(0, len(text), size)]
    if len(pieces) > HISTORY_CHUNKS_MAX:
        pieces = pieces[:HISTORY_CHUNKS_MAX]
        pieces[-1] = pieces[-1][:-1] + "…"  # a very long message is cut, visibly
    return [f"({n}/{len(pieces)}) {piece}" for n, piece in enumerate(pieces, start=1)]


def idempotency_header(idempotency_key: str, action: str, index: int) -> str:
    """A stable Idempotency-Key for one write; hashed when it would exceed Xero's 128 characters."""
    raw = f"{idempotency_key}:{action}:{index}"
    return raw if len(raw) <= IDEMPOTENCY_KEY_MAX else hashlib.sha256(raw.encode()).hexdigest()


def describe_xero_error(response: requests.Response) -> tuple[str, str | None]:
    """Xero's own words: every ValidationErrors message, else its Message/Detail/Title."""
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}: {response.text[:300]}", None
    if not isinstance(body, dict):
        return f"HTTP {response.status_code}: {str(body)[:300]}", None
    messages = [
        str(error.get("Message"))
        for element in body.get("Elements") or []
        for error in element.get("ValidationErrors") or []
    ]
    text = "; ".join(messages) or body.get("Message") or body.get("Detail") or str(body)[:300]
    kind = body.get("Type") or body.get("Title") or "error"
    return f"HTTP {response.status_code} {kind}: {text}", None


def _person(contact: Contact) -> dict[str, Any]:
    first, _, last = contact.name.strip().rpartition(" ")
    person: dict[str, Any] = {"FirstName": first or last}
    if first:
        person["LastName"] = last
    if contact.email:
        person["EmailAddress"] = contact.email
    return person


def _is_billing_role(contact: Contact) -> bool:
    role = contact.role.lower()
    return "billing" in role or "accounts" in role or "finance" in role


def _belongs_to(row: Mapping[str, Any], contact_id: str) -> bool:
    contact = row.get("Contact") or {}
    return contact.get("ContactID") == contact_id and row.get("Status") not in DEAD_STATUSES


def build(settings: Mapping[str, Any], ctx: VendorContext) -> XeroFinance:
    """Registry factory: settings block `xero`, secrets from ctx.env, tokens in ctx.token_store."""
    config = XeroConfig.model_validate(dict(settings))
    oauth = OAuthClientConfig(
        provider=VENDOR,
        account=config.tenant_id,
        token_url=config.token_url,
        client_id=ctx.env.get(config.client_id_env, ""),
        client_secret=ctx.env.get(config.client_secret_env, ""),
        refresh_token_env=config.refresh_token_env,
        default_refresh_lifetime=timedelta(days=config.refresh_token_lifetime_days),
    )
    refresher = OAuthRefresher(
        oauth, ctx.token_store, env=ctx.env, warn_admin=ctx.warn_admin, sleep=ctx.sleep
    )
    http = VendorHttp(
        VENDOR,
        config.base_url,
        _with_tenant(refresher, config.tenant_id),
        sleep=ctx.sleep,
        throttle=lambda: ctx.throttle(VENDOR, config.tenant_id),
        describe_error=describe_xero_error,
    )
    return XeroFinance(config, refresher, http)


def connections_url(config: XeroConfig) -> str:
    """Where Xero lists the tenants a token may use (`GET /connections`)."""
    if config.connections_url:
        return config.connections_url
    root = config.base_url.split("/api.xro/", 1)[0].rstrip("/")
    return f"{root}/connections"


def _with_tenant(refresher: OAuthRefresher, tenant_id: str) -> Callable[[], dict[str, str]]:
    """Auth headers plus the organisation every Xero call is about."""
    return lambda: {**refresher.auth_headers(), "xero-tenant-id": tenant_id}
