"""The renewal handoff (ops -> sales): the account's record beside how it stands at renewal.

The form opens prefilled from the record (`forms.renewal_prefill`): what was agreed at the start,
the amendments since, what delivery recorded and the thread's questions and answers. Ops adds
how the account stands and the recommended renewal value, which becomes the renewal deal's amount.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from forms import limits
from forms.declarative import DeclarativeForm
from forms.display import EMPTY, fmt_date
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
Money = Annotated[Decimal, Field(gt=0, max_digits=18)]


class RenewalToSalesForm(BaseModel):
    """What sales needs from ops to prepare a renewal conversation."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    account_name: AccountName
    renewal_date: date
    currency: Annotated[str, CurrencyCheck]
    current_value: Money
    recommended_value: Money
    health: Literal["green", "amber", "red"]
    client_feedback: LongText
    expansion_opportunities: OptionalLongText = None
    risks: OptionalLongText = None
    # The record, prefilled (empty when the account never had a handoff here).
    agreed_scope: OptionalLongText = None
    agreed_terms: OptionalLongText = None
    promises_made: OptionalLongText = None
    success_criteria: OptionalLongText = None
    amendments: OptionalLongText = None
    delivery_outcomes: OptionalLongText = None
    thread_qa: OptionalLongText = None

    @field_validator("current_value", "recommended_value")
    @classmethod
    def _value_fits_currency(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        return fits_currency(value, info.data.get("currency"))


SCHEMA_VERSION = 2


def upgrade_payload(payload: dict[str, Any], schema_version: int) -> dict[str, Any]:
    """A version-1 renewal (before the recommended value) recommends renewing as it is."""
    data = dict(payload)
    if schema_version < 2:
        data.setdefault("recommended_value", data.get("current_value"))
    return data


def _money(value: Decimal, form: RenewalToSalesForm) -> str:
    return format_money(value, form.currency)


FROM_RECORD = "From the account's record; correct it only if it is wrong."

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
        Input(F.RENEWAL_DATE, "Renewal date", Kind.DATE, hint="The end of the agreed term."),
        Input(F.CURRENT_VALUE, "Current contract value", Kind.NUMBER, hint="Per term, before tax."),
        Input(F.CURRENCY, "Currency", Kind.SELECT, choices_for=choices_from),
        Input(
            F.RECOMMENDED_VALUE,
            "Recommended renewal value",
            Kind.NUMBER,
            hint="What sales should propose, per term, before tax: the renewal deal's amount.",
        ),
        Input(F.HEALTH, "Account health", Kind.SELECT, choices=HEALTH),
    ),
    rows=(
        Row("Account", lambda form: form.account_name),
        Row("Renewal date", lambda form: fmt_date(form.renewal_date)),
        Row("Current contract value", lambda form: _money(form.current_value, form)),
        Row("Recommended renewal value", lambda form: _money(form.recommended_value, form)),
        Row("Account health", lambda form: dict(HEALTH)[form.health]),
    ),
)
AGREED = Section(
    "Agreed at the start",
    (
        Input(F.AGREED_SCOPE, "Scope", Kind.MULTILINE, hint=FROM_RECORD),
        Input(F.AGREED_TERMS, "Value and terms", Kind.MULTILINE, hint=FROM_RECORD),
        Input(F.PROMISES_MADE, "Promises made", Kind.MULTILINE, hint=FROM_RECORD),
        Input(F.SUCCESS_CRITERIA, "Success criteria", Kind.MULTILINE, hint=FROM_RECORD),
    ),
)
HAPPENED = Section(
    "What happened",
    (
        Input(F.AMENDMENTS, "Amendments since", Kind.MULTILINE, hint=FROM_RECORD),
        Input(
            F.DELIVERY_OUTCOMES,
            "Delivery outcomes",
            Kind.MULTILINE,
            hint="Each agreed deliverable: delivered, partly or not, and what is still open.",
        ),
        Input(F.THREAD_QA, "Questions and answers", Kind.MULTILINE, hint=FROM_RECORD),
        Input(
            F.CLIENT_FEEDBACK,
            "Client feedback",
            Kind.MULTILINE,
            hint="What they said about the work and the relationship, in their words.",
        ),
    ),
)
OUTLOOK = Section(
    "What sales should know",
    (
        Input(F.EXPANSION_OPPORTUNITIES, "Expansion opportunities", Kind.MULTILINE),
        Input(F.RISKS, "Risks to the renewal", Kind.MULTILINE),
    ),
)
COMPARED = (AGREED.title, HAPPENED.title)
"""The sections the handoff message shows side by side instead of one after the other."""


def comparison(form: RenewalToSalesForm) -> tuple[tuple[tuple[str, str], tuple[str, str]], ...]:
    """'Agreed at the start' beside 'What happened', topic by topic: ((label, text), (label,
    text)) rows, every value as typed (the renderer escapes and clips)."""
    health = dict(HEALTH)[form.health]
    return (
        (("Scope", _text(form.agreed_scope)), ("Delivered", _text(form.delivery_outcomes))),
        (
            ("Value and terms", _text(form.agreed_terms)),
            ("Amendments since", form.amendments or "None recorded"),
        ),
        (
            ("Promises made", _text(form.promises_made)),
            ("Questions and answers", _text(form.thread_qa)),
        ),
        (
            ("Success criteria", _text(form.success_criteria)),
            ("Client feedback", f"{health}\n{form.client_feedback}"),
        ),
    )


def _text(value: str | None) -> str:
    return value or EMPTY


SPEC: DeclarativeForm[RenewalToSalesForm] = DeclarativeForm(
    kind="renewal_to_sales",
    title="Renewal handoff",
    callback_id=CallbackId.RENEWAL_TO_SALES,
    model=RenewalToSalesForm,
    layout=(ACCOUNT, AGREED, HAPPENED, OUTLOOK),
    title_prefix="Renewal",
    intro="The renewal is coming up: check the record of what was agreed and what happened, "
    "then tell sales how the account stands and what to propose.",
    schema_version=SCHEMA_VERSION,
    upgrade=upgrade_payload,
)
