"""Finance rules every accounting adapter shares: which documents a schedule needs, and checks.

`plan` turns agreed BillingTerms into vendor-neutral documents (one recurring template, or dated
invoices); each adapter maps that plan onto its own bodies. Everything here rejects terms it
cannot bill exactly, before any vendor call, instead of rounding or guessing.
"""

from __future__ import annotations

import calendar
import json
import re
import secrets
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Protocol, TypeVar

from integrations.ports import BillingTerms, HandoffBrief, Milestone, VendorRejected

CENT = Decimal("0.01")

Doc = TypeVar("Doc")
Doc_co = TypeVar("Doc_co", covariant=True)


@dataclass(frozen=True)
class Recurring:
    """One template billing `amount` every `step_months` months from `start` to `end`."""

    description: str
    amount: Decimal
    step_months: int
    start: date
    end: date


@dataclass(frozen=True)
class PlannedInvoice:
    """One invoice: the `index`-th document of the handoff, for one amount, dated and due."""

    index: int
    description: str
    amount: Decimal
    issued: date
    due: date


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
    planned = plan(billing, title, vendor)
    if isinstance(planned, Recurring):
        return [builder.recurring(planned)]
    return [builder.invoice(invoice) for invoice in planned]


def plan(billing: BillingTerms, title: str, vendor: str) -> Recurring | list[PlannedInvoice]:
    """The documents the schedule needs, in creation order; rejects terms it cannot bill exactly."""
    if billing.schedule in ("monthly", "quarterly"):
        return recurring(billing, title, vendor)
    if billing.schedule == "one_off":
        issued = billing.first_invoice_date
        amount = exact_money(billing.contract_value, "contract_value", vendor)
        due = issued + timedelta(days=billing.payment_terms_days)
        return [PlannedInvoice(1, title, amount, issued, due)]
    invoices = []
    for index, milestone in enumerate(require_milestones(billing, vendor), start=1):
        amount = exact_money(milestone.amount, f"milestones[{index}].amount", vendor)
        # Never date an invoice after the day it is due.
        issued = min(billing.first_invoice_date, milestone.due_date)
        invoices.append(
            PlannedInvoice(index, milestone.description, amount, issued, milestone.due_date)
        )
    return invoices


def recurring(billing: BillingTerms, title: str, vendor: str) -> Recurring:
    """The monthly/quarterly template; rejects terms whose dates would not bill the agreed count."""
    end = billing.term_end
    if billing.term_start is None or end is None:
        raise VendorRejected(
            vendor, f"{billing.schedule} billing needs a term start and end", field="term_end"
        )
    step = 1 if billing.schedule == "monthly" else 3
    count = instalment_count(billing.first_invoice_date, end, step)
    if count != billing.recurring_periods():
        raise VendorRejected(
            vendor,
            f"a {billing.schedule} schedule from {billing.first_invoice_date} to "
            f"{end} makes {count} invoices, but the contract is split into "
            f"{billing.recurring_periods()} instalments",
            field="first_invoice_date",
        )
    return Recurring(
        description=f"{title}: {billing.schedule} instalment",
        amount=billing.instalment_amount(),
        step_months=step,
        start=billing.first_invoice_date,
        end=end,
    )


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


def instalment_count(first: date, end: date, step_months: int) -> int:
    """How many invoice dates `first`, `first + step`, ... fall on or before `end`."""
    count = 0
    while add_months(first, count * step_months) <= end:
        count += 1
    return count


def add_months(day: date, months: int) -> date:
    """`day` moved by whole months, clamped to the month's last day (Jan 31 + 1 = Feb 28/29)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def exact_money(amount: Decimal, field: str, vendor: str) -> Decimal:
    """The amount unchanged; rejects sub-cent amounts rather than rounding them silently."""
    if amount != amount.quantize(CENT):
        raise VendorRejected(vendor, f"{amount} has more than two decimals", field=field)
    return amount


# --- text and wire format ---------------------------------------------------------------------


def document_tag(marker: str, index: int) -> str:
    """The text that finds a document again; the closing parenthesis keeps /1 apart from /10."""
    # Not brief_text.marker_tag: look-first matches documents already in the books by this
    # exact text, so changing its format would make retries create duplicates.
    return f"(ref {marker}/{index})"


def describe_terms(billing: BillingTerms) -> str:
    """The agreed billing terms in one line, amounts as agreed."""
    value = f"{billing.currency} {billing.contract_value:,.2f}"
    net = f"net {billing.payment_terms_days} days"
    if billing.schedule in ("monthly", "quarterly"):
        periods, each = billing.recurring_periods(), billing.instalment_amount()
        total = each * periods
        text = (
            f"{value} {billing.schedule} from {billing.first_invoice_date} to "
            f"{billing.term_end}: {periods} x {each:,.2f}, {net}"
        )
        if total != billing.contract_value:
            text += f" (instalments total {total:,.2f})"
        return text
    if billing.schedule == "milestones":
        return f"{value} in {len(billing.milestones)} milestones, {net}"
    return f"{value} one-off on {billing.first_invoice_date}, {net}"


def money_json(body: object) -> bytes:
    """JSON where every Decimal is a number with exactly two decimals (no float on the way)."""
    nonce = secrets.token_hex(8)

    def encode(value: object) -> str:
        if isinstance(value, Decimal):
            return f"{nonce}{value.quantize(CENT):f}"
        if isinstance(value, date):
            return value.isoformat()
        raise TypeError(f"cannot serialise {type(value).__name__}")

    text = json.dumps(body, default=encode, ensure_ascii=False, separators=(",", ":"))
    return re.sub(f'"{nonce}(-?[0-9]+\\.[0-9]+)"', r"\1", text).encode()
