"""The sales -> delivery handoff as data: the single source of its validation rules.

Fields that a rule compares (term dates, currency and value, schedule, PO) come before the field
whose validator reads them, because pydantic validates in declaration order.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

from forms import billing_models, sold_lines
from forms.billing_models import ARREARS_GRACE_DAYS
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
from forms.money import (
    CurrencyCheck,
    fits_currency,
    format_money,
    minor_units,
    places_problem,
)
from forms.schedule import STEP_MONTHS, schedule_dates
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
BillingModel = Literal["fixed", "retainer", "time_and_materials", "deposit_balance", "usage"]
OptionalMoney = Annotated[
    Decimal | None, Field(gt=0, max_digits=18), BeforeValidator(blank_to_none)
]
SecurityNeed = Literal["dpa", "sso", "data_residency", "pen_test", "security_review"]
SupportTier = Literal["standard", "business_hours_plus", "premium", "none"]
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
    competitors: OptionalShortText = None
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
    acceptance_criteria: LongText
    assumptions: OptionalLongText = None
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
    sold_lines: OptionalFinanceEssay = None
    billing_in_arrears: bool = False
    first_invoice_date: date
    billing_model: BillingModel = "fixed"
    retainer_amount: OptionalMoney = Field(default=None, validate_default=True)
    rate_card: OptionalFinanceEssay = Field(default=None, validate_default=True)
    spend_cap: OptionalMoney = None
    deposit_amount: OptionalMoney = Field(default=None, validate_default=True)
    balance_date: date | None = Field(default=None, validate_default=True)
    usage_terms: OptionalFinanceEssay = Field(default=None, validate_default=True)
    payment_terms_days: Annotated[int, AfterValidator(_allowed_terms)]
    po_required: bool = False
    po_number: OptionalShortText = Field(default=None, validate_default=True)
    invoicing_entity: OptionalLegalEntity = None
    tax_id: OptionalTaxId = None
    billing_address: OptionalAddress = None
    billing_conditions: OptionalFinanceEssay = None
    # Kickoff and access
    earliest_kickoff: date
    go_live_date: date
    go_live_promised: bool = False
    kickoff_waits_on: OptionalShortText = None
    access_needed: OptionalLongText = None
    client_tools: OptionalLongText = None
    security_needs: list[SecurityNeed] = []
    security_notes: OptionalLongText = None
    support_tier: SupportTier | None = None
    # Anomalies
    non_standard_terms: OptionalFinanceEssay = None
    discounts: OptionalFinanceEssay = None
    risks_none_known: bool = False
    risks: OptionalLongText = Field(default=None, validate_default=True)

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
        start, end = info.data.get("term_start"), info.data.get("term_end")
        in_force = not _stored_before(info, 2)
        for number, milestone in enumerate(milestones, 1):
            if (
                in_force
                and start is not None
                and end is not None
                and not start <= milestone.due_date <= end
            ):
                raise form_error(
                    f"Milestone {number} is due {fmt_date(milestone.due_date)}, outside the term "
                    f"({fmt_date(start)} to {fmt_date(end)})"
                )
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

    @field_validator("sold_lines")
    @classmethod
    def _sold_lines_bill_the_value(cls, text: str | None, info: ValidationInfo) -> str | None:
        """Each row priced exactly, and together the contract value (or each instalment)."""
        currency, value = info.data.get("currency"), info.data.get("contract_value")
        if not text or currency is None or _stored_before(info, 3):
            return text
        lines = sold_lines.parse(text, currency)
        if value is None or "discount_amount" not in info.data:
            return text  # the value or the discount has its own error
        start, end = info.data.get("term_start"), info.data.get("term_end")
        sold_lines.check_totals(
            lines,
            value=value,
            currency=currency,
            schedule=str(info.data.get("schedule")),
            term=(start, end) if start is not None and end is not None else None,
            discount_amount=info.data["discount_amount"],
        )
        return text

    @field_validator(*billing_models.TERM_FIELDS)
    @classmethod
    def _billing_model_terms(cls, value: Any, info: ValidationInfo) -> Any:
        """Each billing model's own terms: required when it is chosen, dropped otherwise."""
        return billing_models.check(str(info.field_name), value, info.data)

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
        today = _today(info)
        if today is not None and kickoff < today:
            raise form_error(f"Kickoff cannot be in the past (today is {fmt_date(today)})")
        return kickoff

    @field_validator("go_live_date")
    @classmethod
    def _go_live_after_kickoff(cls, go_live: date, info: ValidationInfo) -> date:
        kickoff, end = info.data.get("earliest_kickoff"), info.data.get("term_end")
        if _stored_before(info, 2):
            return go_live
        if kickoff is not None and go_live < kickoff:
            raise form_error(f"Must be on or after the earliest kickoff ({fmt_date(kickoff)})")
        if end is not None and go_live > end:
            raise form_error(f"Must be on or before the term end ({fmt_date(end)})")
        return go_live

    @field_validator("first_invoice_date")
    @classmethod
    def _first_invoice_in_term(cls, first: date, info: ValidationInfo) -> date:
        """Inside the term, and for a monthly/quarterly schedule one that bills all of it."""
        start, end = info.data.get("term_start"), info.data.get("term_end")
        if start is None or end is None or _stored_before(info, 2):
            return first
        schedule = info.data.get("schedule")
        step = STEP_MONTHS.get(str(schedule))
        arrears = bool(info.data.get("billing_in_arrears")) and step is None
        last = end + timedelta(days=ARREARS_GRACE_DAYS) if arrears else end
        if not start <= first <= last:
            return _raise(
                f"Must fall inside the term ({fmt_date(start)} to {fmt_date(last)})"
                + (", a month after its end when billed in arrears" if arrears else "")
            )
        if step is None:
            return first
        # The same dates integrations.billing bills (a property test keeps the two in step).
        agreed = len(schedule_dates(start, end, step))
        billed = len(schedule_dates(first, end, step))
        if billed != agreed:
            raise form_error(
                f"The term holds {agreed} {schedule} instalments; from "
                f"{fmt_date(first)} only {billed} fit. Invoice from {fmt_date(start)}"
            )
        value, currency = info.data.get("contract_value"), info.data.get("currency")
        if value is not None and currency is not None:
            smallest = Decimal(1).scaleb(-minor_units(currency))
            if value < smallest * agreed:
                raise form_error(
                    f"{format_money(value, currency)} cannot be split into {agreed} instalments "
                    f"of at least {format_money(smallest, currency)}"
                )
        return first

    @field_validator("discounts")
    @classmethod
    def _discount_has_an_amount(cls, discounts: str | None, info: ValidationInfo) -> str | None:
        # Finance states the amount on every invoice, so nobody re-raises it at list price.
        missing = "discount_amount" in info.data and info.data["discount_amount"] is None
        if discounts and missing and not _stored_before(info, 2):
            raise form_error(
                "Also enter the discount amount below (0 if it does not lower the price)"
            )
        return discounts

    @field_validator("risks")
    @classmethod
    def _risks_or_none_known(cls, risks: str | None, info: ValidationInfo) -> str | None:
        none_known = bool(info.data.get("risks_none_known"))
        if none_known and risks:
            raise form_error("Either list the risks or tick “None known”, not both")
        if not none_known and not risks:
            raise form_error("List the risks, or tick “None known” (a blank is not an answer)")
        return risks


SCHEMA_VERSION = 3
NOT_ASKED = "Not asked: submitted before the form had this question"


def upgrade_payload(payload: dict[str, Any], schema_version: int) -> dict[str, Any]:
    """A payload stored under an older schema, given what the new required fields need."""
    data = dict(payload)
    if schema_version < 2:
        data.setdefault("acceptance_criteria", NOT_ASKED)
        data.setdefault("go_live_date", data.get("earliest_kickoff"))
        if not data.get("risks") and not data.get("risks_none_known"):
            data["risks"] = NOT_ASKED
    return data


def _stored_before(info: ValidationInfo, version: int) -> bool:
    """Whether this is a stored payload from before `version` (its newer rules do not apply)."""
    context = info.context if isinstance(info.context, dict) else {}
    stored = context.get("stored_version")
    return isinstance(stored, int) and stored < version


def _today(info: ValidationInfo) -> date | None:
    """The submission day, when the caller gives one (stored payloads are re-read without it)."""
    context = info.context if isinstance(info.context, dict) else {}
    today = context.get("today")
    return today if isinstance(today, date) else None


def _raise(message: str) -> date:
    raise form_error(message)
