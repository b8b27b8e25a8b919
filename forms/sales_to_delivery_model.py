"""The sales -> delivery handoff as data: the single source of its validation rules.

Fields that a rule compares (term dates, currency and value, schedule, PO) come before the field
whose validator reads them, because pydantic validates in declaration order.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

from forms.display import fmt_date
from forms.errors import form_error
from forms.lines import (
    MILESTONE_FORMAT,
    Milestone,
    Person,
    split_items,
    split_milestones,
    split_people,
)
from forms.money import CurrencyCheck, fits_currency, format_money, places_problem
from forms.validators import (
    AccountName,
    LongText,
    OptionalAddress,
    OptionalFinanceEssay,
    OptionalLegalEntity,
    OptionalLinkUrl,
    OptionalLongText,
    OptionalShortText,
    OptionalSlackUserId,
    OptionalTaxId,
    blank_to_none,
)

Schedule = Literal["one_off", "monthly", "quarterly", "milestones"]
PAYMENT_TERMS_DAYS = (0, 7, 14, 30, 45, 60, 90)


def _at_least_one(items: list[str]) -> list[str]:
    if not items:
        raise form_error("List at least one deliverable, one per line")
    return items


def _allowed_terms(days: int) -> int:
    if days not in PAYMENT_TERMS_DAYS:
        raise form_error("Pick one of the payment terms offered")
    return days


Deliverable = Annotated[str, Field(max_length=500)]


class SalesToDeliveryForm(BaseModel):
    """What sales hands to delivery and finance when a deal closes."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    # Context
    account_name: AccountName
    why_they_bought: LongText
    success_criteria: LongText
    month_one: LongText
    promises_made: LongText
    # Key contacts
    buyer: Person
    day_to_day: Person
    billing_contact: Person
    other_contacts: Annotated[list[Person], BeforeValidator(split_people)] = []
    account_manager: OptionalSlackUserId = None
    delivery_lead: OptionalSlackUserId = None
    # Agreed scope
    deliverables: Annotated[
        list[Deliverable], BeforeValidator(split_items), AfterValidator(_at_least_one)
    ]
    out_of_scope: LongText
    term_start: date
    term_end: date
    contract_url: OptionalLinkUrl = None
    # Billing
    currency: Annotated[str, CurrencyCheck]
    contract_value: Annotated[Decimal, Field(gt=0, max_digits=18)]
    discount_amount: Annotated[
        Decimal | None, Field(ge=0, max_digits=18), BeforeValidator(blank_to_none)
    ] = None
    schedule: Schedule
    milestones: Annotated[list[Milestone], BeforeValidator(split_milestones)] = Field(
        default=[], validate_default=True
    )
    billing_in_arrears: bool = False
    first_invoice_date: date
    payment_terms_days: Annotated[int, AfterValidator(_allowed_terms)]
    po_required: bool = False
    po_number: OptionalShortText = Field(default=None, validate_default=True)
    invoicing_entity: OptionalLegalEntity = None
    tax_id: OptionalTaxId = None
    billing_address: OptionalAddress = None
    billing_conditions: OptionalFinanceEssay = None
    # Kickoff and access
    earliest_kickoff: date
    kickoff_waits_on: OptionalShortText = None
    access_needed: OptionalLongText = None
    client_tools: OptionalLongText = None
    # Anomalies
    non_standard_terms: OptionalFinanceEssay = None
    discounts: OptionalFinanceEssay = None
    risks: OptionalLongText = None

    @field_validator("term_end")
    @classmethod
    def _end_after_start(cls, term_end: date, info: ValidationInfo) -> date:
        start = info.data.get("term_start")
        if start is not None and term_end <= start:
            raise form_error(f"Must be after the term start ({fmt_date(start)})")
        return term_end

    @field_validator("contract_value")
    @classmethod
    def _value_fits_currency(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        return fits_currency(value, info.data.get("currency"))

    @field_validator("discount_amount")
    @classmethod
    def _discount_below_value(cls, amount: Decimal | None, info: ValidationInfo) -> Decimal | None:
        value, currency = info.data.get("contract_value"), info.data.get("currency")
        if amount is None or value is None or currency is None:
            return amount
        problem = places_problem(amount, currency)
        if problem:
            raise form_error(problem)
        if amount >= value:
            raise form_error(
                "The discount is the amount already taken off the list price: it must be less "
                f"than the contract value ({format_money(value, currency)})"
            )
        return amount

    @field_validator("milestones")
    @classmethod
    def _milestones_add_up(
        cls, milestones: list[Milestone], info: ValidationInfo
    ) -> list[Milestone]:
        if info.data.get("schedule") != "milestones":
            return []  # a milestone list typed before switching schedule is not billed
        if not milestones:
            raise form_error(f"Add at least one milestone, one per line: {MILESTONE_FORMAT}")
        value, currency = info.data.get("contract_value"), info.data.get("currency")
        if value is None or currency is None:
            return milestones
        for number, milestone in enumerate(milestones, 1):
            problem = places_problem(milestone.amount, currency)
            if problem:
                raise form_error(f"Milestone {number}: {problem}")
        total = sum((m.amount for m in milestones), Decimal(0))
        if total != value:
            gap = format_money(abs(total - value), currency)
            direction = "more" if total > value else "less"
            raise form_error(
                f"Milestones add up to {format_money(total, currency)}: {gap} {direction} than "
                f"the contract value ({format_money(value, currency)})"
            )
        return milestones

    @field_validator("po_number")
    @classmethod
    def _po_number_when_required(cls, po_number: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("po_required") and not po_number:
            raise form_error("Enter the PO number, or untick “PO required”")
        return po_number

    @field_validator("earliest_kickoff")
    @classmethod
    def _kickoff_within_term(cls, kickoff: date, info: ValidationInfo) -> date:
        end = info.data.get("term_end")
        if end is not None and kickoff > end:
            raise form_error(f"Must be on or before the term end ({fmt_date(end)})")
        return kickoff
