"""Finance rules every accounting adapter shares: which documents a schedule needs, and checks.

`plan` turns agreed BillingTerms into vendor-neutral documents (a recurring template, plus one
invoice for the instalment carrying an uneven split's remainder; or dated invoices); each adapter
maps that plan onto its own bodies. Everything here rejects terms it
cannot bill exactly, before any vendor call, instead of rounding or guessing.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Protocol, TypeVar

from integrations import invoice_lines
from integrations.invoice_lines import InvoiceLine
from integrations.ports import (
    BillingTerms,
    HandoffBrief,
    Milestone,
    VendorRejected,
    minor_units,
)

CENT = Decimal("0.01")

Doc = TypeVar("Doc")
Doc_co = TypeVar("Doc_co", covariant=True)


@dataclass(frozen=True)
class Recurring:
    """One template billing `amount` every `step_months` months, `occurrences` times.

    The first invoice is dated `start`, the last `end`. `day_of_month` is the day the
    schedule is anchored on (31 for a schedule from Jan 31, even when `start` is Feb 28).
    `lines` itemise `amount` (see integrations.invoice_lines); empty: one line for it.
    """

    description: str
    amount: Decimal
    step_months: int
    start: date
    end: date
    occurrences: int
    day_of_month: int
    lines: tuple[InvoiceLine, ...] = ()


@dataclass(frozen=True)
class PlannedInvoice:
    """One invoice: the `index`-th document of the handoff, for one amount, dated and due.

    `lines` itemise `amount` (see integrations.invoice_lines); empty: one line for it.
    """

    index: int
    description: str
    amount: Decimal
    issued: date
    due: date
    lines: tuple[InvoiceLine, ...] = ()


class DocumentBuilder(Protocol[Doc_co]):
    """What an adapter supplies to turn the neutral plan into its own documents."""

    def recurring(self, planned: Recurring) -> Doc_co:
        """The vendor's recurring template for `planned`."""
        ...

    def invoice(self, planned: PlannedInvoice) -> Doc_co:
        """The vendor's invoice for `planned`."""
        ...


def build_documents(
    billing: BillingTerms, title: str, vendor: str, builder: DocumentBuilder[Doc]
) -> list[Doc]:
    """The vendor documents the schedule needs, in creation order; validates before any call."""
    return [
        builder.recurring(doc) if isinstance(doc, Recurring) else builder.invoice(doc)
        for doc in plan(billing, title, vendor)
    ]


def plan(billing: BillingTerms, title: str, vendor: str) -> list[Recurring | PlannedInvoice]:
    """The documents the schedule needs, in creation order; rejects terms it cannot bill exactly."""
    if billing.schedule in ("monthly", "quarterly"):
        return recurring(billing, title, vendor)
    if billing.schedule == "one_off":
        issued = billing.first_invoice_date
        amount = exact_money(billing.contract_value, billing.currency, "contract_value", vendor)
        due = issued + timedelta(days=billing.payment_terms_days)
        lines = invoice_lines.whole_contract(billing, amount, title)
        return [PlannedInvoice(1, title, amount, issued, due, lines)]
    invoices: list[Recurring | PlannedInvoice] = []
    for index, milestone in enumerate(require_milestones(billing, vendor), start=1):
        field = f"milestones[{index}].amount"
        amount = exact_money(milestone.amount, billing.currency, field, vendor)
        # Never date an invoice after the day it is due.
        issued = min(billing.first_invoice_date, milestone.due_date)
        invoices.append(
            PlannedInvoice(index, milestone.description, amount, issued, milestone.due_date)
        )
    return invoices


def recurring(billing: BillingTerms, title: str, vendor: str) -> list[Recurring | PlannedInvoice]:
    """The monthly/quarterly template, plus one invoice for an instalment that differs from it.

    A template bills one amount each time. When the value does not split evenly, the instalment
    carrying the remainder (the last, or the first if `remainder` says so) becomes its own dated
    invoice and the template bills the others; the total is the contract value exactly.
    """
    dates = check_recurring(billing, vendor)
    amounts = billing.instalments()
    regular = billing.instalment_amount()
    step = 1 if billing.schedule == "monthly" else 3
    description = f"{title}: {billing.schedule} instalment"
    odd = [index for index, amount in enumerate(amounts) if amount != regular]
    # Each template ends on its own last instalment date, not the term end: a vendor whose day
    # rule differs from ours at month ends must not find room for one more invoice.
    if not odd:
        lines = invoice_lines.instalment(billing, regular, len(dates), description)
        return [
            Recurring(
                description, regular, step, dates[0], dates[-1], len(dates), dates[0].day, lines
            )
        ]
    [at] = odd  # only the first or the last instalment carries the remainder
    even = dates[1:] if at == 0 else dates[:-1]
    template = Recurring(description, regular, step, even[0], even[-1], len(even), dates[0].day)
    issued = dates[at]
    single = PlannedInvoice(
        2,
        f"{description} {at + 1} of {len(dates)}",
        amounts[at],
        issued,
        issued + timedelta(days=billing.payment_terms_days),
    )
    return [template, single]


def check_recurring(billing: BillingTerms, vendor: str) -> tuple[date, ...]:
    """The instalment dates; rejects terms whose dates or value would not bill as agreed."""
    end, start = billing.term_end, billing.term_start
    if start is None or end is None:
        raise VendorRejected(
            vendor, f"{billing.schedule} billing needs a term start and end", field="term_end"
        )
    exact_money(billing.contract_value, billing.currency, "contract_value", vendor)
    if not start <= billing.first_invoice_date <= end:
        raise VendorRejected(
            vendor,
            f"the first invoice date {billing.first_invoice_date} is outside the term "
            f"({start} to {end})",
            field="first_invoice_date",
        )
    dates = billing.instalment_dates()
    periods = billing.recurring_periods()
    if len(dates) != periods:
        raise VendorRejected(
            vendor,
            f"a {billing.schedule} schedule from {billing.first_invoice_date} to "
            f"{end} makes {len(dates)} invoices, but the contract is split into "
            f"{periods} instalments",
            field="first_invoice_date",
        )
    if min(billing.instalments()) <= 0:
        raise VendorRejected(
            vendor,
            f"{billing.currency} {billing.contract_value} is too small to split into {periods} "
            "instalments",
            field="contract_value",
        )
    return dates


# --- rules ------------------------------------------------------------------------------------


def require_billing(brief: HandoffBrief, vendor: str) -> BillingTerms:
    """The brief's billing terms; a handoff without them cannot be billed."""
    if brief.billing is None:
        raise VendorRejected(vendor, "the handoff has no billing terms", field="billing")
    return brief.billing


def require_milestones(billing: BillingTerms, vendor: str) -> tuple[Milestone, ...]:
    """The milestones of a milestone schedule (at least one)."""
    if not billing.milestones:
        raise VendorRejected(vendor, "milestone billing without milestones", field="milestones")
    return billing.milestones


def exact_money(amount: Decimal, currency: str, field: str, vendor: str) -> Decimal:
    """The amount unchanged; rejects amounts finer than the currency's minor unit, never rounds."""
    places = minor_units(currency)
    if amount != amount.quantize(Decimal(1).scaleb(-places)):
        raise VendorRejected(
            vendor, f"{amount} has more than {places} decimals for {currency}", field=field
        )
    return amount


# --- text and wire format ---------------------------------------------------------------------


def document_tag(marker: str, index: int) -> str:
    """The text that finds a document again; the closing parenthesis keeps /1 apart from /10."""
    # Not brief_text.marker_tag: look-first matches documents already in the books by this
    # exact text, so changing its format would make retries create duplicates.
    return f"(ref {marker}/{index})"


def describe_terms(billing: BillingTerms) -> str:
    """The agreed billing terms in one line, amounts as agreed and the instalment split stated."""
    value = money_text(billing.currency, billing.contract_value)
    net = f"net {billing.payment_terms_days} days"
    if billing.schedule in ("monthly", "quarterly"):
        return (
            f"{value} {billing.schedule} from {billing.first_invoice_date} to "
            f"{billing.term_end}: {describe_split(billing)}, {net}"
        )
    if billing.schedule == "milestones":
        return f"{value} in {len(billing.milestones)} milestones, {net}"
    return f"{value} one-off on {billing.first_invoice_date}, {net}"


def describe_split(billing: BillingTerms) -> str:
    """'12 x 3,000.00', or '11 x 833.33 and the last 833.37 (separate invoice)'."""
    amounts = billing.instalments()
    regular = billing.instalment_amount()
    places = minor_units(billing.currency)
    each = f"{regular:,.{places}f}"
    odd = [amount for amount in amounts if amount != regular]
    if not odd:
        return f"{len(amounts)} x {each}"
    which = "first" if billing.remainder == "first" else "last"
    return (
        f"{len(amounts) - 1} x {each} and the {which} {odd[0]:,.{places}f} "
        f"(separate invoice; instalments total {sum(amounts):,.{places}f})"
    )


def money_text(currency: str, amount: Decimal) -> str:
    """'GBP 12,500.00', 'JPY 1,250,000': the amount in the currency's own decimals."""
    return f"{currency} {amount:,.{minor_units(currency)}f}"


def money_json(body: object) -> bytes:
    """JSON where every Decimal is a number with at least two decimals (no float on the way)."""
    nonce = secrets.token_hex(8)

    def encode(value: object) -> str:
        if isinstance(value, Decimal):
            # At least two decimals; finer amounts (KWD's three) are written as they are.
            exponent = value.as_tuple().exponent
            exact = value if isinstance(exponent, int) and exponent < -2 else value.quantize(CENT)
            return f"{nonce}{exact:f}"
        if isinstance(value, date):
            return value.isoformat()
        raise TypeError(f"cannot serialise {type(value).__name__}")

    text = json.dumps(body, default=encode, ensure_ascii=False, separators=(",", ":"))
    return re.sub(f'"{nonce}(-?[0-9]+\\.[0-9]+)"', r"\1", text).encode()
