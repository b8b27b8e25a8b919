"""Stand-ins for the finance adapter tests: token store, clock, briefs and stateful vendor fakes.

The vendor fakes are handlers for `StubServer`. Like the real vendors they honour idempotency:
QuickBooks replays the answer to a repeated `requestid`, Xero the answer to a repeated
`Idempotency-Key`. Each fake also serves its vendor's OAuth token endpoint.
"""

from __future__ import annotations

import base64
import re
import threading
import uuid
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from integrations.ports import (
    BillingSchedule,
    BillingTerms,
    BriefItem,
    BriefSection,
    Contact,
    HandoffBrief,
    Milestone,
    OAuthToken,
    SoldLine,
)
from tests.support.stub_server import Recorded, Reply

QBO_TOKEN_PATH = "/oauth2/v1/tokens/bearer"
XERO_TOKEN_PATH = "/connect/token"
XERO_PREFIX = "/api.xro/2.0"
CLIENT_ID = "client-id"
CLIENT_SECRET = "client-secret"
FAR_FUTURE = datetime(2100, 1, 1, tzinfo=UTC)


# --- token store, clock, recorders -------------------------------------------------------------


class InMemoryTokenStore:
    """A TokenStore in memory; `locked` is a real per-connection lock, attempts are counted."""

    def __init__(self) -> None:
        self._tokens: dict[tuple[str, str], OAuthToken] = {}
        self._locks: defaultdict[tuple[str, str], threading.Lock] = defaultdict(threading.Lock)
        self._changed = threading.Condition()
        self.lock_attempts = 0
        self.saved: list[OAuthToken] = []

    def load(self, provider: str, account: str) -> OAuthToken | None:
        with self._changed:
            return self._tokens.get((provider, account))

    def save(self, provider: str, account: str, token: OAuthToken) -> None:
        with self._changed:
            self._tokens[(provider, account)] = token
            self.saved.append(token)

    @contextmanager
    def locked(self, provider: str, account: str) -> Iterator[None]:
        with self._changed:
            lock = self._locks[(provider, account)]
            self.lock_attempts += 1
            self._changed.notify_all()
        with lock:
            yield

    def wait_for_lock_attempts(self, count: int, timeout: float = 5.0) -> bool:
        """Block until `count` callers have asked for a lock (test choreography, not timing)."""
        with self._changed:
            return self._changed.wait_for(lambda: self.lock_attempts >= count, timeout)


class Clock:
    """An injectable `now`: fixed until moved."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Sleeps(list[float]):
    """Records every delay asked for instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


class Warnings(list[tuple[str, str]]):
    """Records ctx.warn_admin calls."""

    def __call__(self, vendor: str, message: str) -> None:
        self.append((vendor, message))


def stored_token(access: str = "access-0", refresh: str = "refresh-0") -> OAuthToken:
    """A token that stays valid for the whole test run."""
    return OAuthToken(access_token=access, refresh_token=refresh, expires_at=FAR_FUTURE)


# --- briefs -----------------------------------------------------------------------------------

MILESTONES = (
    Milestone(
        description="Discovery complete", amount=Decimal("10000.00"), due_date=date(2027, 2, 28)
    ),
    Milestone(description="Pilot live", amount=Decimal("15000.00"), due_date=date(2027, 5, 31)),
    Milestone(
        description="Rollout signed off", amount=Decimal("11000.50"), due_date=date(2027, 9, 30)
    ),
)


def make_brief(
    schedule: BillingSchedule = "monthly",
    *,
    account_name: str = "Acme Widgets Ltd",
    **billing: Any,
) -> HandoffBrief:
    """A closed deal billed on `schedule`; keyword arguments override BillingTerms fields."""
    defaults: dict[str, Any] = {
        "contract_value": Decimal("36000.00"),
        "currency": "GBP",
        "schedule": schedule,
        "first_invoice_date": date(2027, 1, 1),
        "payment_terms_days": 30,
        "po_required": True,
        "po_number": "PO-7781",
        "invoicing_entity": "Acme Widgets UK Ltd",
        "tax_id": "GB123456789",
        "conditions": "Invoice only after the kickoff call",
        "term_start": date(2027, 1, 1),
        "term_end": date(2027, 12, 31),
    }
    if schedule == "milestones":
        defaults.update(contract_value=Decimal("36000.50"), milestones=MILESTONES)
    if schedule == "one_off":
        defaults.update(contract_value=Decimal("12500.00"), first_invoice_date=date(2027, 2, 15))
    defaults.update(billing)
    return HandoffBrief(
        handoff_id=42,
        kind="new_client",
        marker="handoff-42",
        title="Acme rollout",
        account_name=account_name,
        summary="Warehouse analytics for three sites.",
        sections=(
            BriefSection(title="Billing", items=(BriefItem(label="Terms", value="Net 30"),)),
        ),
        contacts=(
            Contact(name="Sam Lee", role="Project lead", email="sam@acme.example"),
            Contact(
                name="Jane Doe",
                role="Accounts payable",
                email="ap@acme.example",
                phone="+44 20 7946 0000",
            ),
        ),
        billing=BillingTerms(**defaults),
        slack_thread_url="https://example.slack.com/archives/C1/p1700000000000100",
        crm_deal_url="https://crm.example/deals/9",
    )


# --- token endpoint ---------------------------------------------------------------------------


@dataclass
class TokenEndpoint:
    """A rotating-refresh-token OAuth server: each refresh retires the refresh token it spent."""

    refresh_token: str = "refresh-0"
    valid_access: set[str] = field(default_factory=lambda: {"access-0"})
    refresh_expires_in: int | None = 8_726_400  # Intuit's 101 days; None: not stated (Xero)
    before_reply: Callable[[], object] | None = None
    calls: list[Recorded] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, rec: Recorded) -> Reply:
        with self.lock:
            self.calls.append(rec)
        if self.before_reply:
            self.before_reply()
        with self.lock:
            return self._rotate(rec)

    def _rotate(self, rec: Recorded) -> Reply:
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if rec.header("Authorization") != f"Basic {expected}":
            return Reply(401, {"error": "invalid_client"})
        form = rec.form
        if (
            form.get("grant_type") != "refresh_token"
            or form.get("refresh_token") != self.refresh_token
        ):
            return Reply(400, {"error": "invalid_grant", "error_description": "Token invalid"})
        number = len(self.calls)
        self.refresh_token = f"refresh-{number}"
        self.valid_access.add(f"access-{number}")
        body: dict[str, Any] = {
            "access_token": f"access-{number}",
            "refresh_token": self.refresh_token,
            "token_type": "bearer",
            "expires_in": 3600,
        }
        if self.refresh_expires_in is not None:
            body["x_refresh_token_expires_in"] = self.refresh_expires_in
        return Reply(200, body)

    def authorised(self, rec: Recorded) -> bool:
        token = (rec.header("Authorization") or "").removeprefix("Bearer ")
        with self.lock:
            return token in self.valid_access


# --- shared fake machinery --------------------------------------------------------------------


class _Fake(ABC):
    """Scripted failures, lost replies and idempotent replay around a vendor's own behaviour."""

    token_path = ""

    def __init__(self) -> None:
        self.tokens = TokenEndpoint()
        self._script: list[tuple[str, str, Reply]] = []
        self._lose_reply: list[tuple[str, str]] = []
        self._replays: dict[str, Reply] = {}
        self._lock = threading.RLock()

    def fail(self, method: str, path_end: str, *replies: Reply) -> None:
        """Answer the next matching requests with `replies` without acting on them."""
        self._script.extend((method, path_end, reply) for reply in replies)

    def lose_reply_once(self, method: str, path_end: str) -> None:
        """Act on the next matching request, then answer 503 as if the reply was lost."""
        self._lose_reply.append((method, path_end))

    def handle(self, rec: Recorded) -> Reply:
        if rec.path.endswith(self.token_path):
            return self.tokens.handle(rec)
        if not self.tokens.authorised(rec):
            return Reply(401, {"fault": {"error": [{"message": "AuthenticationFailed"}]}})
        with self._lock:
            scripted: tuple[str, str, Reply] | None = _take(self._script, rec)
            if scripted is not None:
                return scripted[2]
            key = self.idempotency_key(rec)
            if key is not None and key in self._replays:
                return self._replays[key]
            reply = self.serve(rec)
            if key is not None and reply.status < 300:
                self._replays[key] = reply
            if _take(self._lose_reply, rec) is not None:
                return Reply(503, {"message": "reply lost"})
            return reply

    @abstractmethod
    def idempotency_key(self, rec: Recorded) -> str | None:
        """The vendor's replay key for this request, if it carries one."""

    @abstractmethod
    def serve(self, rec: Recorded) -> Reply:
        """The vendor's answer when nothing is scripted or replayed."""


def _take(entries: list[Any], rec: Recorded) -> Any:
    """Remove and return the first (method, path_end, ...) entry matching `rec`."""
    for entry in entries:
        if rec.method == entry[0] and rec.path.endswith(entry[1]):
            entries.remove(entry)
            return entry
    return None


# --- QuickBooks Online ------------------------------------------------------------------------

_QBO_QUERY = re.compile(
    r"select \* from (\w+)(?: where (\w+) = '((?:[^'\\]|\\.)*)')?"
    r" STARTPOSITION (\d+) MAXRESULTS (\d+)$"
)


class FakeQuickBooks(_Fake):
    """A QuickBooks Online company: customers, invoices, recurring templates, query, requestid."""

    token_path = QBO_TOKEN_PATH

    def __init__(self, realm: str = "9130") -> None:
        super().__init__()
        self.prefix = f"/v3/company/{realm}"
        self.customers: dict[str, dict[str, Any]] = {}
        self.invoices: dict[str, dict[str, Any]] = {}
        self.recurring: dict[str, dict[str, Any]] = {}
        self.updates: list[tuple[str, dict[str, Any]]] = []  # (endpoint, body) applied
        self._next_id = 100

    def add_customer(self, **fields: Any) -> str:
        customer_id = self._new_id()
        self.customers[customer_id] = {"Id": customer_id, **fields}
        return customer_id

    def delete(self, endpoint: str, entity_id: str) -> None:
        """Someone deleted the object in QuickBooks: reads answer 400 Object Not Found."""
        del self._tables()[endpoint][entity_id]

    def idempotency_key(self, rec: Recorded) -> str | None:
        values = rec.query.get("requestid")
        return values[-1] if rec.method == "POST" and values else None

    def serve(self, rec: Recorded) -> Reply:
        entity = rec.path.removeprefix(self.prefix)
        if rec.method == "GET" and entity == "/query":
            return self._query(rec.query["query"][-1])
        read = re.fullmatch(r"/(customer|invoice|recurringtransaction)/(\w+)", entity)
        if rec.method == "GET" and read:
            return self._read(read.group(1), read.group(2))
        if rec.method == "POST" and rec.query.get("operation") == ["update"]:
            return self._update(entity.lstrip("/"), rec.json)
        if rec.method == "POST" and entity == "/customer":
            return Reply(200, {"Customer": self._store(self.customers, rec.json)})
        if rec.method == "POST" and entity == "/invoice":
            return Reply(200, {"Invoice": self._store(self.invoices, rec.json)})
        if rec.method == "POST" and entity == "/recurringtransaction":
            invoice = self._store(self.recurring, rec.json["Invoice"])
            return Reply(200, {"RecurringTransaction": {"Invoice": invoice}})
        return Reply(404, {"Fault": {"Error": [{"Message": "not found"}], "type": "SystemFault"}})

    def _tables(self) -> dict[str, dict[str, dict[str, Any]]]:
        return {
            "customer": self.customers,
            "invoice": self.invoices,
            "recurringtransaction": self.recurring,
        }

    def _read(self, endpoint: str, entity_id: str) -> Reply:
        row = self._tables()[endpoint].get(entity_id)
        if row is None:
            return Reply(400, _qbo_fault("Object Not Found", "ValidationFault"))
        return Reply(200, _qbo_wrap(endpoint, row))

    def _update(self, endpoint: str, body: dict[str, Any]) -> Reply:
        """A sparse update merges the fields sent; a full one replaces the object. Both need
        the current SyncToken, and each makes a new one (QBO's optimistic lock)."""
        inner = body["Invoice"] if endpoint == "recurringtransaction" else body
        row = self._tables()[endpoint].get(str(inner.get("Id")))
        if row is None:
            return Reply(400, _qbo_fault("Object Not Found", "ValidationFault"))
        if inner.get("SyncToken") != row["SyncToken"]:
            return Reply(400, _qbo_fault("Stale Object Error", "ValidationFault"))
        fields = {k: v for k, v in inner.items() if k != "sparse"}
        merged = {**row, **fields} if inner.get("sparse") else {**fields}
        merged["SyncToken"] = str(int(row["SyncToken"]) + 1)
        self._tables()[endpoint][merged["Id"]] = merged
        self.updates.append((endpoint, dict(inner)))
        return Reply(200, _qbo_wrap(endpoint, merged))

    def _store(self, table: dict[str, dict[str, Any]], body: dict[str, Any]) -> dict[str, Any]:
        row = {**body, "Id": self._new_id(), "SyncToken": "0"}
        table[row["Id"]] = row
        return row

    def _query(self, statement: str) -> Reply:
        match = _QBO_QUERY.match(statement)
        if not match:
            return Reply(
                400,
                {"Fault": {"Error": [{"Message": "QueryParserError"}], "type": "ValidationFault"}},
            )
        entity, column, quoted, start, size = match.groups()
        value = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else None
        rows = [
            row for row in self._table(entity) if column is None or _column(row, column) == value
        ]
        page = rows[int(start) - 1 : int(start) - 1 + int(size)]
        return Reply(200, {"QueryResponse": {entity: page} if page else {}})

    def _table(self, entity: str) -> list[dict[str, Any]]:
        if entity == "RecurringTransaction":
            return [{"Invoice": row} for row in self.recurring.values()]
        return list({"Customer": self.customers, "Invoice": self.invoices}[entity].values())

    def _new_id(self) -> str:
        self._next_id += 1
        return str(self._next_id)


def _qbo_wrap(endpoint: str, row: dict[str, Any]) -> dict[str, Any]:
    if endpoint == "recurringtransaction":
        return {"RecurringTransaction": {"Invoice": row}}
    return {endpoint.capitalize(): row}


def _qbo_fault(message: str, kind: str) -> dict[str, Any]:
    return {"Fault": {"Error": [{"Message": message}], "type": kind}}


def _column(row: dict[str, Any], column: str) -> Any:
    value = row.get(column)
    return value.get("value") if isinstance(value, dict) else value


# --- Xero -------------------------------------------------------------------------------------


class FakeXero(_Fake):
    """A Xero organisation: contacts, invoices, repeating invoices and both kinds' history."""

    token_path = XERO_TOKEN_PATH

    def __init__(self, tenant_id: str = "5d7a3c1e-0f2b-4a60-9c3e-7b1d2e4f6a80") -> None:
        super().__init__()
        self.tenant_id = tenant_id
        self.tokens.refresh_expires_in = None
        self.contacts: dict[str, dict[str, Any]] = {}
        self.invoices: dict[str, dict[str, Any]] = {}
        self.repeating: dict[str, dict[str, Any]] = {}
        self.history: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
        self.posted: list[tuple[str, str, dict[str, Any]]] = []  # updates: (collection, id, body)

    def add_contact(self, name: str) -> str:
        contact_id = str(uuid.uuid4())
        self.contacts[contact_id] = {
            "ContactID": contact_id,
            "Name": name,
            "ContactStatus": "ACTIVE",
        }
        return contact_id

    def delete_repeating(self, repeating_id: str) -> None:
        """Someone deleted the repeating invoice in Xero: it is still read, as DELETED."""
        self.repeating[repeating_id]["Status"] = "DELETED"

    def idempotency_key(self, rec: Recorded) -> str | None:
        return rec.header("Idempotency-Key") if rec.method in ("PUT", "POST") else None

    def serve(self, rec: Recorded) -> Reply:
        if rec.header("xero-tenant-id") != self.tenant_id:
            return Reply(403, {"Title": "Forbidden", "Detail": "AuthenticationUnsuccessful"})
        path = rec.path.removeprefix(XERO_PREFIX)
        route = {
            ("GET", "/Contacts"): self._search_contacts,
            ("PUT", "/Contacts"): self._create_contacts,
            ("GET", "/Invoices"): self._list_invoices,
            ("PUT", "/Invoices"): self._create_invoices,
            ("GET", "/RepeatingInvoices"): self._list_repeating,
            ("PUT", "/RepeatingInvoices"): self._create_repeating,
        }.get((rec.method, path))
        if route:
            return route(rec)
        one = re.fullmatch(r"/(Contacts|Invoices|RepeatingInvoices)/([0-9a-f-]+)", path)
        if one and rec.method in ("GET", "POST"):
            return self._one(rec, one.group(1), one.group(2))
        history = re.fullmatch(r"/(RepeatingInvoices|Invoices)/([0-9a-f-]+)/History", path)
        if rec.method == "PUT" and history:
            table = self.repeating if history.group(1) == "RepeatingInvoices" else self.invoices
            if history.group(2) in table:
                self.history[history.group(2)].extend(rec.json["HistoryRecords"])
                return Reply(200, _envelope(HistoryRecords=rec.json["HistoryRecords"]))
        return Reply(404, {"Title": "Not Found"})

    def _one(self, rec: Recorded, collection: str, object_id: str) -> Reply:
        """GET one object; POST updates it (Xero cannot update a repeating invoice, only
        delete it with Status DELETED; a sent or paid invoice keeps its lines)."""
        table = {
            "Contacts": self.contacts,
            "Invoices": self.invoices,
            "RepeatingInvoices": self.repeating,
        }[collection]
        row = table.get(object_id)
        if row is None:
            return Reply(404, {"Title": "Not Found"})
        if rec.method == "POST":
            [change] = rec.json[collection]
            only_delete = set(change) <= {"RepeatingInvoiceID", "Status"}
            if collection == "RepeatingInvoices" and not (
                only_delete and change.get("Status") == "DELETED"
            ):
                return _validation("Repeating invoices can only be deleted through the API")
            approved = row.get("Status") not in (None, "DRAFT", "SUBMITTED")
            if collection == "Invoices" and approved and "LineItems" in change:
                return _validation("This document cannot be edited as it has been approved")
            row.update(change)
            self.posted.append((collection, object_id, dict(change)))
        return Reply(200, _envelope(**{collection: [row]}))

    def _search_contacts(self, rec: Recorded) -> Reply:
        term = rec.query["searchTerm"][-1].casefold()
        found = [c for c in self.contacts.values() if term in c["Name"].casefold()]
        return Reply(200, _envelope(Contacts=_page(found, rec)))

    def _create_contacts(self, rec: Recorded) -> Reply:
        created = [self._keep(self.contacts, "ContactID", c) for c in rec.json["Contacts"]]
        return Reply(200, _envelope(Contacts=created))

    def _list_invoices(self, rec: Recorded) -> Reply:
        wanted = rec.query.get("ContactIDs", [""])[-1].split(",")
        found = [i for i in self.invoices.values() if i["Contact"]["ContactID"] in wanted]
        return Reply(200, _envelope(Invoices=_page(found, rec)))

    def _create_invoices(self, rec: Recorded) -> Reply:
        created = [self._keep(self.invoices, "InvoiceID", i) for i in rec.json["Invoices"]]
        return Reply(200, _envelope(Invoices=created))

    def _list_repeating(self, rec: Recorded) -> Reply:
        return Reply(200, _envelope(RepeatingInvoices=list(self.repeating.values())))

    def _create_repeating(self, rec: Recorded) -> Reply:
        created = [
            self._keep(self.repeating, "RepeatingInvoiceID", r)
            for r in rec.json["RepeatingInvoices"]
        ]
        return Reply(200, _envelope(RepeatingInvoices=created))

    @staticmethod
    def _keep(
        table: dict[str, dict[str, Any]], id_key: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        row = {**body, id_key: str(uuid.uuid4())}
        table[row[id_key]] = row
        return row


def _validation(message: str) -> Reply:
    return Reply(
        400,
        {
            "ErrorNumber": 10,
            "Type": "ValidationException",
            "Message": "A validation exception occurred",
            "Elements": [{"ValidationErrors": [{"Message": message}]}],
        },
    )


def _page(rows: list[dict[str, Any]], rec: Recorded) -> list[dict[str, Any]]:
    page = int(rec.query.get("page", ["1"])[-1])
    return rows[(page - 1) * 100 : page * 100]


def _envelope(**collection: Any) -> dict[str, Any]:
    return {
        "Id": str(uuid.uuid4()),
        "Status": "OK",
        "ProviderName": "Handoff tests",
        "DateTimeUTC": "/Date(1800000000000)/",
        **collection,
    }


def utc(year: int, month: int, day: int, hour: int = 0) -> datetime:
    """A UTC datetime, for clocks."""
    return datetime(year, month, day, hour, tzinfo=UTC)


# --- finance fidelity -------------------------------------------------------------------------

TRACEABLE_BILLING: dict[str, Any] = {
    "billed_in_arrears": True,
    "invoicing_entity": "Acme Widgets Trading Company Ltd",
    "tax_id": "GB-VAT-987654321",
    "billing_address": "Unit 4, Quayside Works\n12 Harbour Road\nBristol BS1 6AA\nUnited Kingdom",
    "conditions": "Invoices go through the Coupa supplier portal, never by email.",
    "non_standard_terms": "Either side may end the contract with 45 days notice after month six.",
    "discounts": "Launch-partner discount of 10 percent for the first year.",
    "discount_amount": Decimal("3600.00"),
    "contract_url": "https://contracts.example/acme/msa-2027.pdf",
}


# The deal's lines as sold for each schedule's contract value, discounts totalling 3,600.00.
TRACEABLE_LINES: dict[str, tuple[SoldLine, ...]] = {
    "recurring": (
        SoldLine(
            description="Analytics licence, three warehouses",
            quantity=Decimal(12),
            unit_price=Decimal("3000.00"),
            discount=Decimal("3600.00"),
        ),
        SoldLine(
            description="Onboarding workshop for the ops team",
            quantity=Decimal(1),
            unit_price=Decimal("3600.00"),
        ),
    ),
    "one_off": (
        SoldLine(
            description="Analytics licence, three warehouses",
            quantity=Decimal(10),
            unit_price=Decimal("1250.00"),
            discount=Decimal("3600.00"),
        ),
        SoldLine(
            description="Onboarding workshop for the ops team",
            quantity=Decimal(1),
            unit_price=Decimal("3600.00"),
        ),
    ),
    "milestones": (
        SoldLine(
            description="Analytics licence, three warehouses",
            quantity=Decimal(12),
            unit_price=Decimal("3000.00"),
            discount=Decimal("3600.00"),
        ),
        SoldLine(
            description="Onboarding workshop for the ops team",
            quantity=Decimal(1),
            unit_price=Decimal("3600.50"),
        ),
    ),
}


def traceable_brief(schedule: BillingSchedule, *, with_lines: bool = True) -> HandoffBrief:
    """A brief whose every billing field holds text that can be searched for in the books.

    With lines, the deal's lines as sold add up to the contract value, discounts included.
    """
    if not with_lines:
        return make_brief(schedule, **TRACEABLE_BILLING)
    lines = TRACEABLE_LINES.get(schedule, TRACEABLE_LINES["recurring"])
    text = "\n".join(
        f"{line.quantity} x {line.description} at {line.unit_price}"
        + (f" less {line.discount}" if line.discount else "")
        for line in lines
    )
    return make_brief(schedule, **TRACEABLE_BILLING, lines=lines, sold_lines=text)


def finance_fields(brief: HandoffBrief) -> dict[str, list[str]]:
    """Each billing-relevant field of `brief` -> the texts that show it in a finance tool."""
    billing = brief.billing
    assert billing is not None and billing.discount_amount is not None
    value = f"{billing.currency} {billing.contract_value:,.2f}"
    schedule = {"one_off": "one-off"}.get(billing.schedule, billing.schedule)
    return {
        "contract value": [value],
        "currency": [billing.currency],
        "schedule": [f"Schedule: {schedule}"],
        "first invoice date": [f"First invoice date: {billing.first_invoice_date}"],
        "arrears": ["Billed in arrears: yes"],
        "payment terms": [f"Payment terms: {billing.payment_terms_days} days"],
        "PO": [billing.po_number or ""],
        "legal entity": [billing.invoicing_entity or ""],
        "tax ID": [billing.tax_id or ""],
        "billing address": (billing.billing_address or "").splitlines(),
        "billing contact": ["Jane Doe", "ap@acme.example", "+44 20 7946 0000"],
        "billing conditions": [billing.conditions or ""],
        "non-standard terms": [billing.non_standard_terms or ""],
        "discounts": [
            billing.discounts or "",
            f"{billing.currency} {billing.discount_amount:,.2f}",
        ],
        "contract link": [billing.contract_url or ""],
        "lines as sold": [line.description for line in billing.lines],
    }


def strings(value: Any) -> list[str]:
    """Every string leaf of a JSON-like value."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in strings(item)]
    if isinstance(value, list | tuple):
        return [text for item in value for text in strings(item)]
    return []


def missing_fields(brief: HandoffBrief, texts: list[str]) -> list[str]:
    """The billing fields of `brief` that none of `texts` shows."""
    haystack = "\n".join(texts)
    return [
        field
        for field, needles in finance_fields(brief).items()
        if not all(needle in haystack for needle in needles)
    ]


def history_text(records: list[dict[str, Any]]) -> list[str]:
    """Xero history notes as written lines: a note split into "(n/m) " pieces is rejoined."""
    lines: list[str] = []
    for record in records:
        details = str(record["Details"])
        piece = re.match(r"\((\d+)/(\d+)\) ", details)
        if piece and piece.group(1) != "1":
            lines[-1] += details[piece.end() :]
        else:
            lines.append(details[piece.end() :] if piece else details)
    return lines


# --- what an invoice bills, as each vendor computes it -----------------------------------------


def qbo_total(invoice: dict[str, Any]) -> Decimal:
    """A QBO invoice's total: its sales lines (each Qty x UnitPrice) less its discount lines."""
    total = Decimal(0)
    for line in invoice["Line"]:
        amount = Decimal(str(line["Amount"]))
        if line["DetailType"] == "SalesItemLineDetail":
            detail = line["SalesItemLineDetail"]
            # QBO refuses a line whose Amount is not Qty x UnitPrice.
            qty, price = Decimal(str(detail["Qty"])), Decimal(str(detail["UnitPrice"]))
            assert amount == qty * price, line
            total += amount
        else:
            assert line["DetailType"] == "DiscountLineDetail", line
            assert line["DiscountLineDetail"]["PercentBased"] is False
            total -= amount
    return total


def xero_total(body: dict[str, Any]) -> Decimal:
    """A Xero invoice's total before tax: each line's Quantity x UnitAmount less DiscountAmount."""
    return sum(
        (
            Decimal(str(line["Quantity"])) * Decimal(str(line["UnitAmount"]))
            - Decimal(str(line.get("DiscountAmount", 0)))
            for line in body["LineItems"]
        ),
        Decimal(0),
    )
