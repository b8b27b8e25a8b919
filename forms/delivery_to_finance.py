"""The delivery -> finance handoff: what was delivered against what was agreed, and what finance
invoices now (the agreed balance due on acceptance, variations and billable extras).

Prefilled from the account's sales -> delivery handoff (`bot.services.delivery_prefill`): its
deliverables, currency, contract value, payment terms and PO number, and what the agreed schedule
has invoiced so far.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

from forms import limits
from forms.declarative import DeclarativeForm
from forms.delivery_lines import (
    BILLABLE_FORMAT,
    DELIVERED_FORMAT,
    BillableLine,
    DeliveredItem,
    delivered_line,
    split_billable,
    split_delivered,
)
from forms.display import EMPTY, fmt_date, or_empty
from forms.errors import form_error
from forms.ids import CallbackId
from forms.ids import DeliveryToFinanceField as F
from forms.layout import Field as Input
from forms.layout import Kind, Row, Section
from forms.money import CurrencyCheck, choices_from, fits_currency, format_money, places_problem
from forms.sales_to_delivery_model import PAYMENT_TERMS_DAYS
from forms.validators import (
    AccountName,
    OptionalLinkUrl,
    OptionalLongText,
    OptionalShortText,
    blank_to_none,
)

SCHEMA_VERSION = 2
NOT_ASKED = "Not asked: submitted before the form had this question"
PAYMENT_TERMS = tuple((str(days), f"{days} days") for days in PAYMENT_TERMS_DAYS)
NOTHING_DUE = (("yes", "Nothing more to invoice: delivered as agreed"),)


def _at_least_one(items: list[DeliveredItem]) -> list[DeliveredItem]:
    if not items:
        raise form_error(f"List each deliverable, one per line: {DELIVERED_FORMAT}")
    return items


def _allowed_terms(days: int) -> int:
    if days not in PAYMENT_TERMS_DAYS:
        raise form_error("Pick one of the payment terms offered")
    return days


Money = Annotated[Decimal, Field(gt=0, max_digits=18)]
Invoiced = Annotated[Decimal, Field(ge=0, max_digits=18)]
OptionalMoney = Annotated[
    Decimal | None, Field(gt=0, max_digits=18), BeforeValidator(blank_to_none)
]
Billable = Annotated[list[BillableLine], BeforeValidator(split_billable)]


class DeliveryToFinanceForm(BaseModel):
    """What finance needs to invoice what is due now that the client has accepted the work.

    Fields a rule compares come before the field whose validator reads them (pydantic
    validates in declaration order).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    account_name: AccountName
    deliverables: Annotated[
        list[DeliveredItem], BeforeValidator(split_delivered), AfterValidator(_at_least_one)
    ]
    acceptance_date: date
    acceptance_evidence_url: OptionalLinkUrl = Field(default=None, validate_default=True)
    outstanding_items: OptionalLongText = None
    currency: Annotated[str, CurrencyCheck]
    contract_value: Money
    already_invoiced: Invoiced = Decimal(0)
    payment_terms_days: Annotated[int, AfterValidator(_allowed_terms)]
    po_number: OptionalShortText = None  # 255: the PO limit (forms.limits.PO_NUMBER)
    balance_due: OptionalMoney = None
    variations: Billable = []
    billable_extras: Billable = []
    nothing_due: bool = Field(default=False, validate_default=True)
    invoice_date: date
    notes: OptionalLongText = None

    @field_validator("acceptance_evidence_url")
    @classmethod
    def _evidence_given(cls, url: str | None, info: ValidationInfo) -> str | None:
        if url is None and not _stored_before(info, 2):
            raise form_error("Link the client's sign-off (email, ticket or signed document)")
        return url

    @field_validator("contract_value")
    @classmethod
    def _value_fits_currency(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        return fits_currency(value, info.data.get("currency"))

    @field_validator("already_invoiced")
    @classmethod
    def _invoiced_within_value(cls, invoiced: Decimal, info: ValidationInfo) -> Decimal:
        value, currency = info.data.get("contract_value"), info.data.get("currency")
        fits_currency(invoiced, currency)
        if value is not None and invoiced > value:
            raise form_error(
                f"Cannot be more than the contract value ({format_money(value, str(currency))})"
            )
        return invoiced

    @field_validator("balance_due")
    @classmethod
    def _balance_within_what_is_left(
        cls, balance: Decimal | None, info: ValidationInfo
    ) -> Decimal | None:
        value, currency = info.data.get("contract_value"), info.data.get("currency")
        invoiced = info.data.get("already_invoiced")
        if balance is None or currency is None:
            return balance
        fits_currency(balance, currency)
        if value is not None and invoiced is not None and balance > value - invoiced:
            left = format_money(value - invoiced, currency)
            raise form_error(f"Only {left} of the agreed value is not invoiced yet")
        return balance

    @field_validator("variations", "billable_extras")
    @classmethod
    def _lines_fit_currency(
        cls, lines: list[BillableLine], info: ValidationInfo
    ) -> list[BillableLine]:
        currency = info.data.get("currency")
        for number, line in enumerate(lines, 1):
            problem = places_problem(line.amount, currency) if isinstance(currency, str) else None
            if problem:
                raise form_error(f"Line {number}: {problem}")
        return lines

    @field_validator("nothing_due")
    @classmethod
    def _something_due_or_nothing(cls, nothing_due: bool, info: ValidationInfo) -> bool:
        due = bool(
            info.data.get("balance_due")
            or info.data.get("variations")
            or info.data.get("billable_extras")
        )
        if nothing_due and due:
            raise form_error("Untick this, or clear the amounts above: not both")
        if not nothing_due and not due and not _stored_before(info, 2):
            raise form_error("Enter what is due now above, or tick this box")
        return nothing_due

    @field_validator("invoice_date")
    @classmethod
    def _invoice_after_acceptance(cls, invoice_date: date, info: ValidationInfo) -> date:
        accepted = info.data.get("acceptance_date")
        if accepted is not None and invoice_date < accepted:
            raise form_error(f"Must be on or after the acceptance date ({fmt_date(accepted)})")
        return invoice_date

    def invoice_lines(self) -> list[tuple[str, Decimal]]:
        """What finance invoices now, one (description, amount) per line."""
        lines = [("Agreed balance due on acceptance", self.balance_due)] if self.balance_due else []
        lines += [(f"Variation: {line.description}", line.amount) for line in self.variations]
        lines += [
            (f"Billable extra: {line.description}", line.amount) for line in self.billable_extras
        ]
        return lines

    def amount_due(self) -> Decimal:
        """The total of the invoice lines."""
        return sum((amount for _, amount in self.invoice_lines()), Decimal(0))


def upgrade_payload(payload: dict[str, Any], schema_version: int) -> dict[str, Any]:
    """A version 1 payload (one 'what was delivered' text and a final amount) in today's shape."""
    data = dict(payload)
    if schema_version < 2:
        delivered = str(data.pop("what_was_delivered", "") or NOT_ASKED)
        data["deliverables"] = [{"state": "delivered", "name": delivered[:500], "notes": None}]
        amount = data.pop("final_invoice_amount", None)
        data.setdefault("contract_value", amount)
        data.setdefault("balance_due", amount)
        data.setdefault("payment_terms_days", 30)  # what version 1 always invoiced
    return data


def _stored_before(info: ValidationInfo, version: int) -> bool:
    context = info.context if isinstance(info.context, dict) else {}
    stored = context.get("stored_version")
    return isinstance(stored, int) and stored < version


def _money(amount: Decimal | None, form: DeliveryToFinanceForm) -> str:
    return format_money(amount, form.currency) if amount is not None else EMPTY


def _billable(lines: list[BillableLine], form: DeliveryToFinanceForm) -> str:
    rows = [f"{format_money(line.amount, form.currency)} — {line.description}" for line in lines]
    return "\n".join(rows) or EMPTY


def _due(form: DeliveryToFinanceForm) -> str:
    return "Nothing more to invoice" if form.nothing_due else _money(form.amount_due(), form)


DELIVERY = Section(
    "What was delivered",
    (
        Input(
            F.ACCOUNT_NAME,
            "Account",
            Kind.TEXT,
            max_length=limits.ACCOUNT_NAME.max_length,
            hint=limits.ACCOUNT_NAME.hint(),
        ),
        Input(
            F.DELIVERABLES,
            "Deliverables",
            Kind.MULTILINE,
            hint=f"One per line, as agreed at the sale: {DELIVERED_FORMAT}.",
            placeholder="delivered; Dashboard; signed off by Dana",
        ),
        Input(F.ACCEPTANCE_DATE, "Client accepted on", Kind.DATE),
        Input(
            F.ACCEPTANCE_EVIDENCE_URL,
            "Evidence of acceptance",
            Kind.URL,
            hint="A link to the sign-off email, ticket or signed document.",
        ),
        Input(
            F.OUTSTANDING_ITEMS,
            "Outstanding items",
            Kind.MULTILINE,
            hint="Anything still open that finance should know before invoicing.",
        ),
    ),
    rows=(
        Row("Account", lambda form: form.account_name),
        Row("Deliverables", lambda form: "\n".join(delivered_line(d) for d in form.deliverables)),
        Row("Client accepted on", lambda form: fmt_date(form.acceptance_date)),
        Row("Evidence of acceptance", lambda form: or_empty(form.acceptance_evidence_url)),
        Row("Outstanding items", lambda form: or_empty(form.outstanding_items)),
    ),
)
AGREED = Section(
    "Billing as agreed",
    (
        Input(F.CURRENCY, "Currency", Kind.SELECT, choices_for=choices_from),
        Input(F.CONTRACT_VALUE, "Contract value", Kind.NUMBER, hint="As agreed, before tax."),
        Input(
            F.ALREADY_INVOICED,
            "Already invoiced",
            Kind.NUMBER,
            hint="Prefilled with the agreed invoices dated up to today; correct it if finance "
            "says otherwise.",
        ),
        Input(F.PAYMENT_TERMS_DAYS, "Payment terms", Kind.SELECT, choices=PAYMENT_TERMS),
        Input(
            F.PO_NUMBER,
            "PO number",
            Kind.TEXT,
            max_length=limits.PO_NUMBER.max_length,
            hint=limits.PO_NUMBER.hint(),
        ),
    ),
    rows=(
        Row("Contract value", lambda form: _money(form.contract_value, form)),
        Row("Already invoiced", lambda form: _money(form.already_invoiced, form)),
        Row("Payment terms", lambda form: f"{form.payment_terms_days} days"),
        Row("PO number", lambda form: or_empty(form.po_number)),
    ),
)
NOW = Section(
    "To invoice now",
    (
        Input(
            F.BALANCE_DUE,
            "Agreed balance due now",
            Kind.NUMBER,
            hint="Only what the agreed schedule does not bill already (finance set up the "
            "agreed invoices when the deal was won).",
        ),
        Input(
            F.VARIATIONS,
            "Variations",
            Kind.MULTILINE,
            hint=f"Agreed changes to the scope, one per line: {BILLABLE_FORMAT}.",
            placeholder="1200; Extra report for the board (change request 4)",
        ),
        Input(
            F.BILLABLE_EXTRAS,
            "Billable extras",
            Kind.MULTILINE,
            hint=f"Work or expenses billed on top, one per line: {BILLABLE_FORMAT}.",
            placeholder="350; Travel to the client's Leeds office",
        ),
        Input(F.NOTHING_DUE, "Nothing due?", Kind.CHECKBOX, choices=NOTHING_DUE),
        Input(F.INVOICE_DATE, "Invoice date", Kind.DATE),
        Input(F.NOTES, "Notes for finance", Kind.MULTILINE),
    ),
    rows=(
        Row("Agreed balance due now", lambda form: _money(form.balance_due, form)),
        Row("Variations", lambda form: _billable(form.variations, form)),
        Row("Billable extras", lambda form: _billable(form.billable_extras, form)),
        Row("Total to invoice now", _due),
        Row("Invoice date", lambda form: fmt_date(form.invoice_date)),
        Row("Notes for finance", lambda form: or_empty(form.notes)),
    ),
)

SPEC: DeclarativeForm[DeliveryToFinanceForm] = DeclarativeForm(
    kind="delivery_to_finance",
    title="Delivery to finance handoff",
    callback_id=CallbackId.DELIVERY_TO_FINANCE,
    model=DeliveryToFinanceForm,
    layout=(DELIVERY, AGREED, NOW),
    title_prefix="Delivered",
    schema_version=SCHEMA_VERSION,
    upgrade=upgrade_payload,
    intro="Delivery is complete: mark what was delivered against what was agreed, and tell "
    "finance what to invoice now. Prefilled from the sale's handoff.",
)
