"""QuickBooks Online: the customer, then the invoices or recurring template the terms call for.

What this module relies on:
- JSON field names are the element names of Intuit's XSD data model
  (shared/contracts/quickbooks/xsd).
- Every create carries `requestid`: QBO answers a repeated requestid with the original response
  instead of creating again (requestid must be unique per company and at most 50 characters).
- A recurring template is created by POSTing `{"Invoice": {..., "RecurringInfo": {...}}}` to
  /recurringtransaction; QBO answers `{"RecurringTransaction": {"Invoice": {...}}}`.
- QBO has no draft invoices: an invoice posts to the books when created.
- Our marker lives in PrivateNote as "(ref <marker>/<n>)": internal, never printed for the customer.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

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
from integrations.delivery_text import customer_memo as delivery_memo
from integrations.delivery_text import delivery_note, require_delivery_invoice
from integrations.finance_text import (
    address_lines,
    discount_statement,
    finance_note,
    money,
)
from integrations.http import VendorHttp
from integrations.invoice_lines import InvoiceLine, discount_of, wire_quantity
from integrations.oauth import OAuthClientConfig, OAuthRefresher, call_with_reauth
from integrations.ports import (
    ESTIMATED_MODELS,
    BillingTerms,
    CreatedRecord,
    DeliveryInvoice,
    HandoffBrief,
    ThreadComment,
    VendorRejected,
)

if TYPE_CHECKING:
    from integrations.registry import VendorContext

log = logging.getLogger(__name__)

VENDOR = "quickbooks"
INTUIT_TOKEN_URL = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
# Authorization code flow (developer.intuit.com, "OAuth 2.0"): consent at the authorize URL; the
# callback carries code, state and realmId; the code is exchanged at INTUIT_TOKEN_URL.
INTUIT_AUTHORIZE_URL = "https://appcenter.intuit.com/connect/oauth2"
INTUIT_SCOPES = "com.intuit.quickbooks.accounting"
QUERY_PAGE_SIZE = 1000  # QBO's maximum MAXRESULTS
QUERY_PAGE_LIMIT = 20  # stop a look-first scan after this many pages
PRIVATE_NOTE_MAX = 4000
CUSTOMER_MEMO_MAX = 1000  # XSD: "The maximum length for Invoice Msg is 1000 characters"
CUSTOMER_NOTES_MAX = 1024  # XSD: Customer.Notes "Max. length: 1024 characters"
REMIND_DAYS = 5  # days before each estimated invoice that QBO reminds finance to adjust it
PERSON_NAME_MAX = 25  # XSD: GivenName, FamilyName "Max. length: 25 characters"
ADDRESS_LINES = ("Line1", "Line2", "Line3", "Line4", "Line5")
ADDRESS_LINE_MAX = 500  # XSD: PhysicalAddress.Line1..5 "Max. length: 500 characters"
LINE_DESCRIPTION_MAX = 4000  # XSD: Line.Description "Max. length: 4000 characters"
CUSTOM_FIELD_MAX = 31  # QBO custom field string values hold 31 characters


class QuickBooksConfig(BaseModel):
    """The `quickbooks` settings block."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    realm_id: str = Field(min_length=1)
    item_ref: str = Field(min_length=1, description="Item Id the invoice lines sell")
    base_url: str = "https://quickbooks.api.intuit.com"
    token_url: str = INTUIT_TOKEN_URL
    authorize_url: str = INTUIT_AUTHORIZE_URL
    scopes: str = INTUIT_SCOPES
    client_id_env: str = "QBO_CLIENT_ID"
    client_secret_env: str = "QBO_CLIENT_SECRET"
    refresh_token_env: str = "QBO_REFRESH_TOKEN"
    minor_version: int = 75
    term_refs: dict[int, str] = Field(
        default_factory=dict, description="payment days -> SalesTermRef (Term Id)"
    )
    tax_code_ref: str | None = Field(default=None, description="TaxCodeRef for lines, if needed")
    discount_account_ref: str | None = Field(
        default=None, description="Account for discount lines; QBO's default discounts account"
    )
    app_url: str | None = "https://app.qbo.intuit.com"
    po_custom_field_id: str | None = Field(
        default=None, description="DefinitionId of the invoice custom field holding the PO number"
    )


@dataclass(frozen=True)
class _Document:
    """One QBO object to create: where it goes, its body, and the tag that finds it again."""

    endpoint: str  # "invoice" or "recurringtransaction"
    index: int
    tag: str
    body: dict[str, Any]


class QuickBooksFinance:
    """FinanceTool for QuickBooks Online."""

    vendor = VENDOR

    def __init__(
        self, config: QuickBooksConfig, refresher: OAuthRefresher, http: VendorHttp
    ) -> None:
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
        """Find or create the customer, then the recurring template or invoices for the schedule."""
        billing = require_billing(brief, VENDOR)
        documents = plan_documents(brief, billing, self._config)  # validates before any call
        customer_id = self._customer_id(brief, billing, idempotency_key)
        existing = self._existing(documents, customer_id) if look_first else {}
        ids = [
            existing.get(doc.tag) or self._create(doc, customer_id, brief, idempotency_key)
            for doc in documents
        ]
        return self._record(documents[0].endpoint, ids, customer_id)

    def create_delivery_invoice(
        self, brief: HandoffBrief, *, idempotency_key: str, look_first: bool
    ) -> CreatedRecord:
        """Delivery complete: the customer, then one invoice for what is due now (issue 9)."""
        invoice = require_delivery_invoice(brief, VENDOR)
        doc = delivery_document(brief, invoice, self._config)  # built before any call
        customer_id = self._customer_id(brief, customer_terms(invoice), idempotency_key)
        existing = self._existing([doc], customer_id) if look_first else {}
        invoice_id = existing.get(doc.tag) or self._create(doc, customer_id, brief, idempotency_key)
        return self._record(doc.endpoint, [invoice_id], customer_id)

    def add_note(
        self, record: CreatedRecord, comment: ThreadComment, *, idempotency_key: str
    ) -> str | None:
        """QBO invoices and recurring templates have no comment stream: always None."""
        if not self._note_logged:
            log.info("qbo_note_unsupported record=%s", record.external_id)
            self._note_logged = True
        return None

    # --- customer ---------------------------------------------------------------------------

    def _customer_id(self, brief: HandoffBrief, billing: BillingTerms, key: str) -> str:
        name = qbo_quote(brief.account_name)
        query = f"select * from Customer where DisplayName = {name}"  # noqa: S608 - QBO query, escaped
        found = next(self._query(query, "Customer", pages=1), None)
        if found is not None:
            _check_currency(found, billing, brief.account_name)
            log.info("qbo_customer_found handoff=%s customer=%s", brief.handoff_id, found["Id"])
            return str(found["Id"])
        body = customer_body(brief, billing, self._config)
        created = self._post("customer", body, request_id(key, "customer", 0))["Customer"]
        log.info("qbo_customer_created handoff=%s customer=%s", brief.handoff_id, created["Id"])
        return str(created["Id"])

    # --- documents --------------------------------------------------------------------------

    def _existing(self, documents: list[_Document], customer_id: str) -> dict[str, str]:
        """Ids of documents already carrying our tags (an earlier attempt got that far)."""
        found: dict[str, str] = {}
        # A template may come with one invoice (the instalment carrying the split's remainder).
        for endpoint in sorted({doc.endpoint for doc in documents}):
            for row in self._rows(endpoint, customer_id):
                # Only our first line counts, and only on this customer's documents: the form's
                # text (conditions, say) lands in the same note and could name another's tag.
                if str((row.get("CustomerRef") or {}).get("value", "")) != customer_id:
                    continue
                first_line = str(row.get("PrivateNote", "")).split("\n", 1)[0].strip()
                for doc in documents:
                    if doc.endpoint == endpoint and first_line == f"Created by Handoff {doc.tag}":
                        found[doc.tag] = str(row["Id"])
        return found

    def _rows(self, endpoint: str, customer_id: str) -> Iterator[dict[str, Any]]:
        if endpoint == "recurringtransaction":
            return (
                row.get("Invoice", {})
                for row in self._query("select * from RecurringTransaction", "RecurringTransaction")
            )
        ref = qbo_quote(customer_id)
        query = f"select * from Invoice where CustomerRef = {ref}"  # noqa: S608 - QBO query, escaped
        return self._query(query, "Invoice")

    def _create(self, doc: _Document, customer_id: str, brief: HandoffBrief, key: str) -> str:
        body = with_customer(doc, customer_id)
        response = self._post(doc.endpoint, body, request_id(key, doc.endpoint, doc.index))
        wrapper = response.get("RecurringTransaction")
        entity = wrapper["Invoice"] if wrapper else response["Invoice"]
        log.info(
            "qbo_document_created handoff=%s marker=%s kind=%s index=%s id=%s",
            brief.handoff_id,
            brief.marker,
            doc.endpoint,
            doc.index,
            entity["Id"],
        )
        return str(entity["Id"])

    def _record(self, endpoint: str, ids: list[str], customer_id: str) -> CreatedRecord:
        app = self._config.app_url
        if endpoint == "recurringtransaction":
            url = f"{app}/app/customerdetail?nameId={customer_id}" if app else None
            return CreatedRecord(
                vendor=VENDOR,
                kind="recurring_invoice",
                external_id=ids[0],
                url=url,
                extra_ids=tuple(ids[1:]),  # the remainder instalment's invoice, if any
            )
        return CreatedRecord(
            vendor=VENDOR,
            kind="invoice",
            external_id=ids[0],
            url=f"{app}/app/invoice?txnId={ids[0]}" if app else None,
            extra_ids=tuple(ids[1:]),
        )

    # --- transport --------------------------------------------------------------------------

    def _post(self, endpoint: str, body: Mapping[str, Any], rid: str) -> dict[str, Any]:
        params = {"requestid": rid, "minorversion": str(self._config.minor_version)}

        def send() -> requests.Response:
            # requestid makes the POST idempotent, so 5xx and timeouts may be retried in-call.
            return self._http.request(
                "POST",
                f"/{endpoint}",
                params=params,
                data=money_json(body),
                headers={"Content-Type": "application/json"},
                safe_to_repeat=True,
            )

        result: dict[str, Any] = call_with_reauth(self._refresher, send).json()
        return result

    def _query(
        self, statement: str, entity: str, *, pages: int = QUERY_PAGE_LIMIT
    ) -> Iterator[dict[str, Any]]:
        """Rows of one QBO query, page by page."""
        for page in range(pages):
            start = page * QUERY_PAGE_SIZE + 1
            query = f"{statement} STARTPOSITION {start} MAXRESULTS {QUERY_PAGE_SIZE}"
            params = {"query": query, "minorversion": str(self._config.minor_version)}

            def send(params: Mapping[str, str] = params) -> requests.Response:
                return self._http.request("GET", "/query", params=params)

            rows = call_with_reauth(self._refresher, send).json().get("QueryResponse", {})
            batch: list[dict[str, Any]] = rows.get(entity, [])
            yield from batch
            if len(batch) < QUERY_PAGE_SIZE:
                return


# --- bodies -----------------------------------------------------------------------------------


def plan_documents(
    brief: HandoffBrief, billing: BillingTerms, config: QuickBooksConfig
) -> list[_Document]:
    """The QBO objects the schedule needs, in creation order (bodies without the customer)."""
    return build_documents(billing, brief.title, VENDOR, _Bodies(brief, billing, config))


def with_customer(doc: _Document, customer_id: str) -> dict[str, Any]:
    """The document's body pointing at the customer."""
    ref = {"CustomerRef": {"value": customer_id}}
    if doc.endpoint == "recurringtransaction":
        return {"Invoice": {**ref, **doc.body["Invoice"]}}
    return {**ref, **doc.body}


@dataclass(frozen=True)
class _Bodies:
    """Maps the neutral plan onto QBO bodies for one brief."""

    brief: HandoffBrief
    billing: BillingTerms
    config: QuickBooksConfig

    def invoice(self, planned: PlannedInvoice) -> _Document:
        """One invoice for one amount, dated and due as agreed."""
        tag = document_tag(self.brief.marker, planned.index)
        body = self.invoice_fields(planned.description, planned.amount, planned.lines, tag)
        body["TxnDate"], body["DueDate"] = planned.issued, planned.due
        return _Document("invoice", planned.index, tag, body)

    def recurring(self, planned: Recurring) -> _Document:
        """A recurring template: the regular instalment every 1 or 3 months, `occurrences` times."""
        billing = self.billing
        if billing.payment_terms_days not in self.config.term_refs:
            # A template has no DueDate: without a Term QBO would apply the company default.
            raise VendorRejected(
                VENDOR,
                f"no QuickBooks term configured for {billing.payment_terms_days} days: add it "
                "to quickbooks.term_refs",
                field="SalesTermRef",
            )
        tag = document_tag(self.brief.marker, 1)
        invoice = self.invoice_fields(planned.description, planned.amount, planned.lines, tag)
        estimated = billing.billing_model in ESTIMATED_MODELS
        invoice["RecurringInfo"] = {
            "Name": f"{self.brief.account_name} ({self.brief.marker})",
            # Estimated amounts (time and materials, usage) must never go out unreviewed: QBO
            # reminds finance to adjust and send each one instead of sending it.
            "RecurType": "Reminded" if estimated else "Automated",
            "Active": True,
            "ScheduleInfo": {
                "IntervalType": "Monthly",
                "NumInterval": planned.step_months,
                "DayOfMonth": planned.day_of_month,
                "StartDate": planned.start,
                "EndDate": planned.end,
            },
        }
        if estimated:
            invoice["RecurringInfo"]["ScheduleInfo"]["RemindDays"] = REMIND_DAYS
        return _Document("recurringtransaction", 1, tag, {"Invoice": invoice})

    def invoice_fields(
        self, description: str, amount: Decimal, lines: tuple[InvoiceLine, ...], tag: str
    ) -> dict[str, Any]:
        """Fields every invoice and template shares: currency, the lines, memo, note, terms."""
        billing = self.billing
        fields: dict[str, Any] = {
            "CurrencyRef": {"value": billing.currency},
            "Line": self.lines(description, amount, lines),
            "CustomerMemo": {
                "value": clip(customer_memo(billing, discount_of(lines)), CUSTOMER_MEMO_MAX)
            },
            "PrivateNote": clip(private_note(self.brief, billing, tag), PRIVATE_NOTE_MAX),
        }
        address = bill_address(billing)
        if address:
            fields["BillAddr"] = address
        term = self.config.term_refs.get(billing.payment_terms_days)
        if term:
            fields["SalesTermRef"] = {"value": term}
        contact = self.brief.billing_contact()
        if contact and contact.email:
            fields["BillEmail"] = {"Address": contact.email}
        return fields

    def lines(
        self, description: str, amount: Decimal, lines: tuple[InvoiceLine, ...]
    ) -> list[dict[str, Any]]:
        """One sales line per priced line (else one for the amount), then the discount line."""
        if not lines:
            return [self.sales_line(InvoiceLine(description, Decimal(1), amount))]
        body = [self.sales_line(line) for line in lines]
        discount = discount_of(lines)
        if discount:
            # QBO applies a discount line to the subtotal of the lines above it.
            detail: dict[str, Any] = {"PercentBased": False}
            if self.config.discount_account_ref:
                detail["DiscountAccountRef"] = {"value": self.config.discount_account_ref}
            body.append(
                {
                    "DetailType": "DiscountLineDetail",
                    "Amount": discount,
                    "Description": "Agreed discount",
                    "DiscountLineDetail": detail,
                }
            )
        return body

    def sales_line(self, line: InvoiceLine) -> dict[str, Any]:
        """A SalesItemLine: QBO checks that Amount is Qty x UnitPrice."""
        detail: dict[str, Any] = {
            "ItemRef": {"value": self.config.item_ref},
            "Qty": wire_quantity(line.quantity),
            "UnitPrice": line.unit_price,
        }
        if self.config.tax_code_ref:
            detail["TaxCodeRef"] = {"value": self.config.tax_code_ref}
        return {
            "DetailType": "SalesItemLineDetail",
            "Amount": line.gross,
            "Description": line.description,
            "SalesItemLineDetail": detail,
        }


def delivery_document(
    brief: HandoffBrief, invoice: DeliveryInvoice, config: QuickBooksConfig
) -> _Document:
    """The delivery invoice: one line per amount due, dated, due and referenced as agreed."""
    tag = document_tag(brief.marker, 1)
    lines = []
    for line in invoice.lines:
        detail: dict[str, Any] = {
            "ItemRef": {"value": config.item_ref},
            "Qty": 1,
            "UnitPrice": line.amount,
        }
        if config.tax_code_ref:
            detail["TaxCodeRef"] = {"value": config.tax_code_ref}
        lines.append(
            {
                "DetailType": "SalesItemLineDetail",
                "Amount": line.amount,
                "Description": clip(line.description, LINE_DESCRIPTION_MAX),
                "SalesItemLineDetail": detail,
            }
        )
    body: dict[str, Any] = {
        "CurrencyRef": {"value": invoice.currency},
        "TxnDate": invoice.issued,
        "DueDate": invoice.due,
        "Line": lines,
        "CustomerMemo": {"value": clip(delivery_memo(invoice), CUSTOMER_MEMO_MAX)},
        "PrivateNote": clip(
            delivery_note(brief, invoice, f"Created by Handoff {tag}"), PRIVATE_NOTE_MAX
        ),
    }
    term = config.term_refs.get(invoice.payment_terms_days)
    if term:
        body["SalesTermRef"] = {"value": term}
    if config.po_custom_field_id and invoice.po_number:
        body["CustomField"] = [
            {
                "DefinitionId": config.po_custom_field_id,
                "Name": "PO Number",
                "Type": "StringType",
                "StringValue": clip(invoice.po_number, CUSTOM_FIELD_MAX),
            }
        ]
    return _Document("invoice", 1, tag, body)


def customer_terms(invoice: DeliveryInvoice) -> BillingTerms:
    """The agreed terms a customer is found (currency) or, if missing, created with."""
    return BillingTerms(
        contract_value=invoice.contract_value,
        currency=invoice.currency,
        schedule="one_off",
        first_invoice_date=invoice.issued,
        payment_terms_days=invoice.payment_terms_days,
        po_required=bool(invoice.po_number),
        po_number=invoice.po_number,
    )


def customer_body(
    brief: HandoffBrief, billing: BillingTerms, config: QuickBooksConfig
) -> dict[str, Any]:
    """A new Customer: the account, its billing contact, currency and PO requirement."""
    body: dict[str, Any] = {
        "DisplayName": brief.account_name,
        "CompanyName": billing.invoicing_entity or brief.account_name,
        "CurrencyRef": {"value": billing.currency},
        "Notes": clip(customer_notes(brief, billing), CUSTOMER_NOTES_MAX),
    }
    address = bill_address(billing)
    if address:
        body["BillAddr"] = address
    contact = brief.billing_contact()
    if contact:
        given, _, family = contact.name.strip().rpartition(" ")
        # XSD: 25 characters each; the full name is in the notes of every invoice.
        body["GivenName"] = clip(given or family, PERSON_NAME_MAX)
        if given:
            body["FamilyName"] = clip(family, PERSON_NAME_MAX)
        if contact.email:
            body["PrimaryEmailAddr"] = {"Address": contact.email}
        if contact.phone:
            body["PrimaryPhone"] = {"FreeFormNumber": contact.phone}
    term = config.term_refs.get(billing.payment_terms_days)
    if term:
        body["SalesTermRef"] = {"value": term}
    return body


def customer_memo(billing: BillingTerms, discount_here: Decimal = Decimal(0)) -> str:
    """The customer-facing message on the invoice: PO number, payment terms, discount given.

    `discount_here`: the discount this document's own discount line takes off.
    """
    parts = [f"PO number: {billing.po_number}." if billing.po_number else ""]
    parts.append(f"Payment due within {billing.payment_terms_days} days.")
    agreed = billing.discount_amount
    if agreed:
        # Stated on every invoice so nobody re-raises it at list price.
        amount = money(agreed, billing.currency)
        if discount_here and discount_here != agreed:
            here = money(discount_here, billing.currency)
            parts.append(
                f"Includes the agreed discount of {amount} over the contract ({here} here)."
            )
        else:
            parts.append(f"Includes the agreed discount of {amount}.")
    return " ".join(part for part in parts if part)


def private_note(brief: HandoffBrief, billing: BillingTerms, tag: str) -> str:
    """The internal note: our tag first (so clipping never loses it), then every billing fact."""
    return finance_note(brief, billing, f"Created by Handoff {tag}")


def customer_notes(brief: HandoffBrief, billing: BillingTerms) -> str:
    """Customer notes: what finance must know before every invoice to this customer."""
    lines = [f"PO required: {'yes' if billing.po_required else 'no'}"]
    if billing.po_number:
        lines.append(f"PO number: {billing.po_number}")
    if billing.invoicing_entity:
        lines.append(f"Legal entity: {billing.invoicing_entity}")
    if billing.tax_id:
        lines.append(f"Tax ID: {billing.tax_id}")
    lines.append(f"Created by Handoff ({brief.marker})")
    if brief.slack_thread_url:
        lines.append(f"Slack: {brief.slack_thread_url}")
    discount = discount_statement(billing)
    # The essays go last: the note is clipped to QBO's limit, the invoices carry them in full.
    for label, text in (
        ("Non-standard terms", billing.non_standard_terms),
        ("Discount", discount),
        ("Billing conditions", billing.conditions),
    ):
        if text:
            lines.append(f"{label}: {text}")
    return "\n".join(lines)


def bill_address(billing: BillingTerms) -> dict[str, str] | None:
    """The billing address as a QBO PhysicalAddress (free-form lines), or None."""
    lines = address_lines(billing)
    if not lines:
        return None
    # QBO has five lines; anything beyond the fifth joins the last one.
    kept = [*lines[: len(ADDRESS_LINES) - 1], ", ".join(lines[len(ADDRESS_LINES) - 1 :])]
    return {
        name: clip(line, ADDRESS_LINE_MAX)
        for name, line in zip(ADDRESS_LINES, kept, strict=False)
        if line
    }


def request_id(idempotency_key: str, action: str, index: int) -> str:
    """A stable QBO requestid for one create of one handoff attempt chain."""
    digest = hashlib.sha256(f"{idempotency_key}|{action}|{index}".encode()).hexdigest()
    return digest[:40]  # QBO allows up to 50 characters


def qbo_quote(value: str) -> str:
    """A QBO query string literal: backslash escapes backslashes and apostrophes."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def describe_qbo_error(response: requests.Response) -> tuple[str, str | None]:
    """QBO's Fault as `type: Message: Detail (field X)`, plus the element it names."""
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}: {response.text[:300]}", None
    fault = _key(body, "Fault")
    errors = _key(fault, "Error") if isinstance(fault, dict) else None
    if not isinstance(errors, list) or not errors:
        return f"HTTP {response.status_code}: {str(body)[:500]}", None
    field: str | None = None
    parts = []
    for error in errors:
        element = _key(error, "element")
        field = field or (str(element) if element else None)
        words = [str(w) for w in (_key(error, "Message"), _key(error, "Detail")) if w]
        text = ": ".join(words) or "no message"
        parts.append(f"{text} (field {element})" if element else text)
    kind = _key(fault, "type")
    prefix = f"HTTP {response.status_code} {kind}" if kind else f"HTTP {response.status_code}"
    return f"{prefix}: {'; '.join(parts)}", field


def _key(mapping: object, name: str) -> Any:
    """`mapping[name]`, ignoring case (QBO answers "Fault" or "fault" depending on the layer)."""
    if not isinstance(mapping, dict):
        return None
    return next((v for k, v in mapping.items() if k.lower() == name.lower()), None)


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _check_currency(customer: Mapping[str, Any], billing: BillingTerms, name: str) -> None:
    currency = (customer.get("CurrencyRef") or {}).get("value")
    if currency and currency != billing.currency:
        raise VendorRejected(
            VENDOR,
            f"customer '{name}' is billed in {currency} but the handoff agreed {billing.currency}",
            field="CurrencyRef",
        )


def build(settings: Mapping[str, Any], ctx: VendorContext) -> QuickBooksFinance:
    """Registry factory: `quickbooks` settings, secrets from ctx.env, tokens in ctx.token_store."""
    config = QuickBooksConfig.model_validate(dict(settings))
    oauth = OAuthClientConfig(
        provider=VENDOR,
        account=config.realm_id,
        token_url=config.token_url,
        client_id=ctx.env.get(config.client_id_env, ""),
        client_secret=ctx.env.get(config.client_secret_env, ""),
        refresh_token_env=config.refresh_token_env,
    )
    refresher = OAuthRefresher(
        oauth, ctx.token_store, env=ctx.env, warn_admin=ctx.warn_admin, sleep=ctx.sleep
    )
    http = VendorHttp(
        VENDOR,
        f"{config.base_url.rstrip('/')}/v3/company/{config.realm_id}",
        refresher.auth_headers,
        sleep=ctx.sleep,
        throttle=lambda: ctx.throttle(VENDOR, config.realm_id),
        describe_error=describe_qbo_error,
    )
    return QuickBooksFinance(config, refresher, http)
