"""The renewal handoff (ops -> sales): how the account stands before its renewal date."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from forms import limits
from forms.declarative import DeclarativeForm
from forms.display import fmt_date
from forms.ids import CallbackId
from forms.ids import RenewalToSalesField as F
from forms.layout import Field as Input
from forms.layout import Kind, Row, Section
from forms.money import CurrencyCheck, choices_from, fits_currency, format_money
from forms.validators import AccountName, LongText, OptionalLongText

HEALTH = (
    ("green", "Green: happy, likely to renew"),
    ("amber", "Amber: some concerns"),
    ("red", "Red: at risk"),
)


class RenewalToSalesForm(BaseModel):
    """What sales needs from ops to prepare a renewal conversation."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    account_name: AccountName
    renewal_date: date
    currency: Annotated[str, CurrencyCheck]
    current_value: Annotated[Decimal, Field(gt=0, max_digits=18)]
    health: Literal["green", "amber", "red"]
    client_feedback: LongText
    expansion_opportunities: OptionalLongText = None
    risks: OptionalLongText = None

    @field_validator("current_value")
    @classmethod
    def _value_fits_currency(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        return fits_currency(value, info.data.get("currency"))


def _value(form: RenewalToSalesForm) -> str:
    return format_money(form.current_value, form.currency)


ACCOUNT = Section(
    "The account",
    (
        Input(
            F.ACCOUNT_NAME,
            "Account",
            Kind.TEXT,
            max_length=limits.ACCOUNT_NAME.max_length,
            hint=limits.ACCOUNT_NAME.hint(),
        ),
        Input(F.RENEWAL_DATE, "Renewal date", Kind.DATE),
        Input(F.CURRENT_VALUE, "Current contract value", Kind.NUMBER, hint="Per term, before tax."),
        Input(F.CURRENCY, "Currency", Kind.SELECT, choices_for=choices_from),
        Input(F.HEALTH, "Account health", Kind.SELECT, choices=HEALTH),
    ),
    rows=(
        Row("Account", lambda form: form.account_name),
        Row("Renewal date", lambda form: fmt_date(form.renewal_date)),
        Row("Current contract value", _value),
        Row("Account health", lambda form: dict(HEALTH)[form.health]),
    ),
)
OUTLOOK = Section(
    "What sales should know",
    (
        Input(
            F.CLIENT_FEEDBACK,
            "Client feedback",
            Kind.MULTILINE,
            hint="What they said about the work and the relationship, in their words.",
        ),
        Input(F.EXPANSION_OPPORTUNITIES, "Expansion opportunities", Kind.MULTILINE),
        Input(F.RISKS, "Risks to the renewal", Kind.MULTILINE),
    ),
)

SPEC: DeclarativeForm[RenewalToSalesForm] = DeclarativeForm(
    kind="renewal_to_sales",
    title="Renewal handoff",
    callback_id=CallbackId.RENEWAL_TO_SALES,
    model=RenewalToSalesForm,
    layout=(ACCOUNT, OUTLOOK),
    title_prefix="Renewal",
    intro="The renewal is coming up: tell sales how the account stands.",
)
