"""The small interfaces the app speaks to vendors through, and the records they exchange.

Every vendor module implements one of these Protocols; the service layer sees nothing else.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from contextlib import AbstractContextManager
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

BillingSchedule = Literal["one_off", "monthly", "quarterly", "milestones"]
BillingModel = Literal["fixed", "retainer", "time_and_materials", "deposit_balance", "usage"]
ESTIMATED_MODELS = ("time_and_materials", "usage")
"""Models whose invoice amounts are estimates: finance adjusts each invoice before it goes out."""


class Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Contact(Record):
    """A person at the client, with the role they play in the account."""

    name: str
    role: str
    email: str | None = None
    phone: str | None = None


class Milestone(Record):
    description: str
    amount: Decimal
    due_date: date


class SoldLine(Record):
    """One line of the deal as sold: `quantity` at a list `unit_price`, less `discount` in total."""

    description: str = Field(min_length=1)
    quantity: Decimal = Field(gt=0)
    unit_price: Decimal = Field(ge=0)
    discount: Decimal = Field(default=Decimal(0), ge=0)

    @property
    def net(self) -> Decimal:
        """What the client pays for the line: quantity x unit price, less its discount."""
        return self.quantity * self.unit_price - self.discount


class BillingTerms(Record):
    """Exactly what finance agreed to bill: the adapters copy these values, never recompute them."""

    contract_value: Decimal
    currency: str = Field(min_length=3, max_length=3)
    schedule: BillingSchedule
    first_invoice_date: date
    payment_terms_days: int = Field(ge=0)
    po_required: bool = False
    po_number: str | None = None
    invoicing_entity: str | None = None
    tax_id: str | None = None
    conditions: str | None = None
    milestones: tuple[Milestone, ...] = ()
    term_start: date | None = None
    term_end: date | None = None
    billed_in_arrears: bool = False
    billing_address: str | None = Field(default=None, description="one line per address line")
    non_standard_terms: str | None = None
    discounts: str | None = Field(default=None, description="what was discounted, and why")
    discount_amount: Decimal | None = Field(
        default=None, ge=0, description="already deducted from contract_value (never re-applied)"
    )
    contract_url: str | None = None
    sold_lines: str | None = Field(default=None, description="the deal's lines as sold, priced")
    lines: tuple[SoldLine, ...] = Field(
        default=(), description="the same lines, structured: what the invoices itemise"
    )
    billing_model: BillingModel = "fixed"
    model_terms: str | None = Field(
        default=None, description="rate card and cap, usage pricing, retainer or deposit terms"
    )

    remainder: Literal["first", "last"] = Field(
        default="last", description="which instalment carries the minor units an even split leaves"
    )

    def instalment_dates(self) -> tuple[date, ...]:
        """The recurring invoice dates from the first invoice date to the term end, inclusive."""
        if self.schedule not in ("monthly", "quarterly") or self.term_end is None:
            return (self.first_invoice_date,)
        return schedule_dates(self.first_invoice_date, self.term_end, self._step())

    def recurring_periods(self) -> int:
        """How many monthly/quarterly instalments the term holds (1 for one-off or unknown terms).

        The term's own dates decide: every step from the term start that falls on or before
        the term end (month ends clamped), so a term ending on an instalment date counts it.
        """
        if self.schedule not in ("monthly", "quarterly") or not (self.term_start and self.term_end):
            return 1
        return max(1, len(schedule_dates(self.term_start, self.term_end, self._step())))

    def instalments(self) -> tuple[Decimal, ...]:
        """The contract value split into `recurring_periods()` amounts that add up to it exactly.

        Each amount is whole minor units of the currency; the units an even split leaves over go
        on the last instalment (or the first, per `remainder`). Raises ValueError for a value
        with more decimals than the currency has: that is refused, never rounded.
        """
        periods = self.recurring_periods()
        places = minor_units(self.currency)
        scaled = self.contract_value.scaleb(places)
        if scaled != scaled.to_integral_value():
            raise ValueError(f"{self.contract_value} has more decimals than {self.currency} has")
        base, rest = divmod(int(scaled), periods)
        units = [base] * periods
        units[0 if self.remainder == "first" else -1] += rest
        return tuple(Decimal(unit).scaleb(-places) for unit in units)

    def instalment_amount(self) -> Decimal:
        """The regular instalment: every instalment but the one carrying the remainder."""
        amounts = self.instalments()
        return amounts[-1] if self.remainder == "first" else amounts[0]

    def _step(self) -> int:
        return 1 if self.schedule == "monthly" else 3


# ISO 4217 minor units (decimal places) for the currencies whose exponent is not 2; every other
# code bills in hundredths. forms/money.py keeps the same table for the form (the packages do
# not import each other); tests/integrations/test_money_split.py checks the two agree.
MINOR_UNITS = {"JPY": 0, "KRW": 0, "ISK": 0, "CLP": 0, "VND": 0, "BHD": 3, "KWD": 3, "OMR": 3}


def minor_units(currency: str) -> int:
    """How many decimal places amounts in `currency` have."""
    return MINOR_UNITS.get(currency, 2)


def add_months(day: date, months: int) -> date:
    """`day` moved by whole months, clamped to the month's last day (Jan 31 + 1 = Feb 28/29)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def schedule_dates(first: date, end: date, step_months: int) -> tuple[date, ...]:
    """`first`, `first + step`, ... on or before `end`; each counted from `first`, so Jan 31 gives
    Feb 28 then Mar 31 (never drifting to the 28th)."""
    dates: list[date] = []
    while (day := add_months(first, len(dates) * step_months)) <= end:
        dates.append(day)
    return tuple(dates)


HistoryKind = Literal["note", "email", "call", "meeting"]
HISTORY_KINDS: tuple[HistoryKind, ...] = ("note", "call", "meeting", "email")


class HistoryEntry(Record):
    """One engagement from the deal's CRM history (a note, call, meeting or email), for citing."""

    kind: HistoryKind
    source_id: str = Field(description="stable CRM reference, e.g. 'note:8123'")
    occurred_at: datetime
    author: str | None = None
    title: str
    body: str = Field(description="plain text, HTML stripped and length-capped")
    url: str | None = None


class HistoryQuery(Record):
    """What to read: which kinds, since when (None: since the deal was created), how many."""

    kinds: tuple[HistoryKind, ...] = ("note", "call", "meeting")
    since: datetime | None = None
    max_entries: int = Field(default=50, ge=1, le=500)
    body_cap: int = Field(default=2000, ge=100, le=20000)


class BriefItem(Record):
    label: str
    value: str


class BriefSection(Record):
    """One titled part of the handoff as readable label/value pairs (context, scope, billing...)."""

    title: str
    items: tuple[BriefItem, ...]


class InvoiceLine(Record):
    description: str
    amount: Decimal = Field(gt=0)


class DeliveryInvoice(Record):
    """Delivery complete: what finance invoices now, on the terms agreed at the sale."""

    currency: str = Field(min_length=3, max_length=3)
    issued: date
    payment_terms_days: int = Field(ge=0)
    po_number: str | None = None
    lines: tuple[InvoiceLine, ...] = Field(description="empty when nothing more is due")
    contract_value: Decimal
    already_invoiced: Decimal = Decimal(0)
    acceptance_date: date
    acceptance_url: str | None = None
    delivered: tuple[str, ...] = Field(default=(), description="each deliverable and its state")
    notes: str | None = None

    @property
    def due(self) -> date:
        """The date payment is due: the agreed number of days after the invoice date."""
        return self.issued + timedelta(days=self.payment_terms_days)

    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal(0))


class HandoffBrief(Record):
    """Everything a receiving tool needs to build its record, in vendor-neutral form."""

    handoff_id: int
    kind: str
    marker: str = Field(description="stable text put on every record we create, e.g. 'handoff-42'")
    title: str
    account_name: str
    summary: str
    sections: tuple[BriefSection, ...]
    contacts: tuple[Contact, ...] = ()
    deliverables: tuple[str, ...] = ()
    kickoff_date: date | None = None
    billing: BillingTerms | None = None
    slack_thread_url: str | None = None
    crm_deal_url: str | None = None
    history: tuple[HistoryEntry, ...] = ()  # the deal's CRM history, newest first (ops tools)
    delivery_invoice: DeliveryInvoice | None = None  # delivery -> finance handoffs only

    def billing_contact(self) -> Contact | None:
        """The contact finance invoices: the one whose role mentions billing, else the first."""
        for contact in self.contacts:
            if "billing" in contact.role.lower() or "accounts" in contact.role.lower():
                return contact
        return self.contacts[0] if self.contacts else None


class CreatedRecord(Record):
    """What a vendor made for us: enough to link to it and to find it again."""

    vendor: str
    kind: str
    external_id: str
    url: str | None = None
    extra_ids: tuple[str, ...] = ()


class ThreadComment(Record):
    """A question or answer from the handoff's Slack thread, to mirror into a vendor record."""

    marker: str = Field(description="the Slack message ts, so a mirror can be found again")
    author: str
    posted_at: datetime
    text: str


class DealContact(Record):
    contact_id: str
    name: str
    email: str | None = None
    phone: str | None = None
    job_title: str | None = None
    roles: tuple[str, ...] = Field(
        default=(), description="CRM association labels, e.g. 'Billing contact', 'Decision maker'"
    )


class DealLineItem(Record):
    """One product line of the deal, as sold."""

    name: str
    quantity: Decimal = Decimal(1)
    unit_price: Decimal | None = None
    amount: Decimal | None = Field(default=None, description="the line total after discount")
    discount: Decimal | None = Field(default=None, description="total discount on the line")
    recurring: str | None = Field(
        default=None, description="billing frequency: monthly, quarterly, annually... or None"
    )


class DealSnapshot(Record):
    """What the CRM already knows about a deal, to prefill the form."""

    deal_id: str
    name: str
    stage: str | None = None
    pipeline: str | None = None
    amount: Decimal | None = None
    currency: str | None = None
    close_date: date | None = None
    owner_id: str | None = None
    company_name: str | None = None
    contacts: tuple[DealContact, ...] = ()
    url: str | None = None
    line_items: tuple[DealLineItem, ...] = ()
    term_start: date | None = None
    term_end: date | None = None
    company_address: str | None = Field(default=None, description="one line per address line")


# --- errors -------------------------------------------------------------------------------------


class VendorError(Exception):
    """A vendor call failed. `retryable` says whether trying again later can help."""

    retryable = False

    def __init__(
        self,
        vendor: str,
        message: str,
        *,
        status: int | None = None,
        field: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{vendor}: {message}")
        self.vendor = vendor
        self.message = message
        self.status = status
        self.field = field
        self.retry_after = retry_after


class VendorRejected(VendorError):
    """4xx: the vendor refused the data or the configuration; retrying unchanged will not help."""


class VendorUnavailable(VendorError):
    """429, 5xx or a connection failure before the vendor acted: safe to retry later."""

    retryable = True


class VendorOutcomeUnknown(VendorError):
    """The request may have been processed (timeout, 5xx after a create): look before retrying."""

    retryable = True


class NotFound(VendorRejected):
    """The object asked for does not exist at the vendor."""


# --- ports --------------------------------------------------------------------------------------


class Crm(Protocol):
    vendor: str

    def get_deal(self, deal_id: str) -> DealSnapshot: ...

    def move_deal_stage(self, deal_id: str, stage_id: str) -> None: ...

    def owner_email(self, owner_id: str) -> str | None: ...

    def add_deal_note(self, deal_id: str, html_body: str, marker: str) -> CreatedRecord: ...

    def update_deal_note(self, note_id: str, html_body: str, marker: str) -> None:
        """Rewrite a note made by `add_deal_note`; NotFound when it no longer exists."""
        ...

    def deal_url(self, deal_id: str) -> str | None: ...

    def deal_history(self, deal_id: str, query: HistoryQuery) -> tuple[HistoryEntry, ...]:
        """The deal's engagements (and its company's and contacts'), newest first."""
        ...


class OpsTool(Protocol):
    """Asana, Jira...: the account's project or issue, and its comment stream."""

    vendor: str

    def create_record(self, brief: HandoffBrief, *, look_first: bool) -> CreatedRecord:
        """Create the record; with look_first, return the one carrying brief.marker if it exists."""
        ...

    def add_comment(
        self, record: CreatedRecord, comment: ThreadComment, *, look_first: bool
    ) -> str: ...


class FinanceTool(Protocol):
    """QuickBooks Online, Xero...: the customer and the billing setup that matches the schedule."""

    vendor: str

    def create_billing_setup(
        self, brief: HandoffBrief, *, idempotency_key: str, look_first: bool
    ) -> CreatedRecord: ...

    def check_connection(self) -> None:
        """Refresh the connection's tokens if due; warns the admin before it would be lost."""
        ...

    def add_note(
        self, record: CreatedRecord, comment: ThreadComment, *, idempotency_key: str
    ) -> str | None:
        """Mirror a thread message; None where the vendor has nowhere to put it."""
        ...


@runtime_checkable
class DeliveryInvoicer(Protocol):
    """A finance tool that raises the invoice due when delivery is complete (issue 9)."""

    vendor: str

    def create_delivery_invoice(
        self, brief: HandoffBrief, *, idempotency_key: str, look_first: bool
    ) -> CreatedRecord:
        """Find or create the customer, then one invoice for `brief.delivery_invoice`."""
        ...


class OAuthToken(Record):
    access_token: str
    refresh_token: str
    expires_at: datetime
    refresh_expires_at: datetime | None = None


class TokenStore(Protocol):
    """Durable home of rotating OAuth tokens; `locked` serialises refreshes across processes."""

    def load(self, provider: str, account: str) -> OAuthToken | None: ...

    def save(self, provider: str, account: str, token: OAuthToken) -> None: ...

    def locked(self, provider: str, account: str) -> AbstractContextManager[None]: ...


def iter_items(brief: HandoffBrief) -> Iterator[tuple[str, BriefItem]]:
    """Every (section title, item) pair of a brief, in order."""
    for section in brief.sections:
        for item in section.items:
            yield section.title, item


class DealInStage(Record):
    """One deal a CRM search found in a stage, with the times the sweep needs."""

    deal_id: str
    stage: str
    last_modified: datetime
    entered_stage_at: datetime | None = None  # when the deal last entered `stage`, if known


class DealSearchPage(Record):
    """One page of a deal search; `next_after` is the cursor of the next page, None at the end."""

    deals: tuple[DealInStage, ...]
    next_after: str | None = None
    total: int = 0


@runtime_checkable
class DealSearch(Protocol):
    """A CRM that can list the deals in a stage modified since a time (the won-deal sweep)."""

    def deals_in_stage(
        self,
        pipeline_id: str,
        stage_id: str,
        modified_since: datetime,
        *,
        after: str | None = None,
    ) -> DealSearchPage:
        """Deals in the stage with last modification >= modified_since, oldest first."""
        ...


class ClosedDealPage(Record):
    """One page of won deals by close date (backfill): ids oldest close first, and the cursor."""

    deal_ids: tuple[str, ...]
    last_close: date | None = None  # the newest close date on the page, to restart a query from
    next_after: str | None = None
    total: int = 0


@runtime_checkable
class ClosedDealSearch(Protocol):
    """A CRM that can list the deals won (in a stage) and closed on or after a date."""

    def deals_closed_since(
        self, pipeline_id: str, stage_id: str, since: date, *, after: str | None = None
    ) -> ClosedDealPage:
        """Deals in the stage with a close date on or after `since`, oldest close first."""
        ...


# --- renewals -----------------------------------------------------------------------------------


class RenewalDealRequest(Record):
    """The renewal deal to open in the CRM for a submitted renewal handoff."""

    source_deal_id: str = Field(description="the deal being renewed: its owner, company, contacts")
    name: str
    amount: Decimal = Field(gt=0, description="the recommended renewal value")
    currency: str = Field(min_length=3, max_length=3)
    close_date: date = Field(description="when the renewal is due: the agreed term end")
    pipeline_id: str
    stage_id: str
    brief: HandoffBrief = Field(description="the renewal handoff, written on the deal as a note")


class RenewalDeal(Record):
    """The renewal deal the CRM holds (`extra_ids`: the brief's note) and the owner it got."""

    record: CreatedRecord
    owner_id: str | None = None


@runtime_checkable
class RenewalDeals(Protocol):
    """A CRM that can open a renewal deal beside the deal it renews."""

    def create_renewal_deal(self, request: RenewalDealRequest, *, look_first: bool) -> RenewalDeal:
        """Create the deal and its note once per brief marker; with look_first, return the deal
        carrying the marker if an earlier try made it."""
        ...
