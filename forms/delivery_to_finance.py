"""The delivery -> finance handoff: the work is accepted, finance raises the final invoice."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from forms import limits
from forms.declarative import DeclarativeForm
from forms.display import fmt_date, or_empty
from forms.errors import form_error
from forms.ids import CallbackId
from forms.ids import DeliveryToFinanceField as F
from forms.layout import Field as Input
from forms.layout import Kind, Row, Section
from forms.money import CurrencyCheck, choices_from, fits_currency, format_money
from forms.validators import AccountName, LongText, OptionalLinkUrl, OptionalLongText


class DeliveryToFinanceForm(BaseModel):
    """What finance needs to raise the final invoice once the client has accepted the work."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    account_name: AccountName
    what_was_delivered: LongText
    acceptance_date: date
    acceptance_evidence_url: OptionalLinkUrl = None
    outstanding_items: OptionalLongText = None
    currency: Annotated[str, CurrencyCheck]
    final_invoice_amount: Annotated[Decimal, Field(gt=0, max_digits=18)]
    invoice_date: date
    notes: OptionalLongText = None

    @field_validator("final_invoice_amount")
    @classmethod
    def _amount_fits_currency(cls, amount: Decimal, info: ValidationInfo) -> Decimal:
        return fits_currency(amount, info.data.get("currency"))

    @field_validator("invoice_date")
    @classmethod
    def _invoice_after_acceptance(cls, invoice_date: date, info: ValidationInfo) -> date:
        accepted = info.data.get("acceptance_date")
        if accepted is not None and invoice_date < accepted:
            raise form_error(f"Must be on or after the acceptance date ({fmt_date(accepted)})")
        return invoice_date


def _amount(form: DeliveryToFinanceForm) -> str:
    return format_money(form.final_invoice_amount, form.currency)


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
            F.WHAT_WAS_DELIVERED,
            "What was delivered",
            Kind.MULTILINE,
            hint="Against the agreed deliverables: what is done and signed off.",
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
)
INVOICE = Section(
    "Final invoice",
    (
        Input(F.FINAL_INVOICE_AMOUNT, "Final invoice amount", Kind.NUMBER, hint="Before tax."),
        Input(F.CURRENCY, "Currency", Kind.SELECT, choices_for=choices_from),
        Input(F.INVOICE_DATE, "Invoice date", Kind.DATE),
        Input(F.NOTES, "Notes for finance", Kind.MULTILINE),
    ),
    rows=(
        Row("Final invoice amount", _amount),
        Row("Invoice date", lambda form: fmt_date(form.invoice_date)),
        Row("Notes for finance", lambda form: or_empty(form.notes)),
    ),
)

SPEC: DeclarativeForm[DeliveryToFinanceForm] = DeclarativeForm(
    kind="delivery_to_finance",
    title="Delivery to finance handoff",
    callback_id=CallbackId.DELIVERY_TO_FINANCE,
    model=DeliveryToFinanceForm,
    layout=(DELIVERY, INVOICE),
    title_prefix="Delivered",
    intro="The work is accepted: tell finance what to invoice and what is still open.",
)
