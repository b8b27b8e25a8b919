"""The form refuses a recurring schedule finance could not bill as agreed, saying why."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from forms.ids import SalesToDeliveryField as F
from forms.money import minor_units
from forms.sales_to_delivery import SPEC, SalesToDeliveryForm, billing
from forms.schedule import schedule_dates
from integrations.billing import plan
from integrations.ports import BillingTerms, VendorRejected
from tests.forms.conftest import SALES_VALUES

MONTHLY_2027 = {
    F.SCHEDULE: "monthly",
    F.TERM_START: "2027-01-31",
    F.TERM_END: "2027-12-31",
    F.FIRST_INVOICE_DATE: "2027-01-31",
    F.EARLIEST_KICKOFF: "2027-02-01",
    F.CONTRACT_VALUE: "10000.00",
    F.DISCOUNT_AMOUNT: "0",  # the shared values' discount is for a larger contract
}


def _parse(sales_values: dict[str, Any], **changes: str) -> SalesToDeliveryForm | dict[str, str]:
    values = {**sales_values, **MONTHLY_2027, **changes}
    return SPEC.parse({k: v for k, v in values.items() if v is not None})


def test_schedule_month_end_term_is_accepted(sales_values: dict[str, Any]) -> None:
    parsed = _parse(sales_values)

    assert isinstance(parsed, SalesToDeliveryForm), parsed


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param(
            {F.FIRST_INVOICE_DATE: "2027-02-01"},
            "The term holds 12 monthly instalments; from 1 Feb 2027 only 11 fit. "
            "Invoice from 31 Jan 2027",
            id="one short",
        ),
        pytest.param(
            {F.FIRST_INVOICE_DATE: "2027-01-30"},
            "Must fall inside the term (31 Jan 2027 to 31 Dec 2027)",
            id="before the term",
        ),
        pytest.param(
            {F.CONTRACT_VALUE: "0.11"},
            "GBP 0.11 cannot be split into 12 instalments of at least GBP 0.01",
            id="too small",
        ),
        pytest.param(
            {F.CONTRACT_VALUE: "11", F.CURRENCY: "JPY"},
            "JPY 11 cannot be split into 12 instalments of at least JPY 1",
            id="too small in yen",
        ),
        pytest.param(
            {F.SCHEDULE: "quarterly", F.FIRST_INVOICE_DATE: "2027-05-01"},
            "The term holds 4 quarterly instalments; from 1 May 2027 only 3 fit. "
            "Invoice from 31 Jan 2027",
            id="quarterly one short",
        ),
    ],
)
def test_schedule_that_cannot_bill_the_term_is_refused_on_the_first_invoice_date(
    sales_values: dict[str, Any], changes: dict[str, str], message: str
) -> None:
    assert _parse(sales_values, **changes) == {F.FIRST_INVOICE_DATE: message}


def test_schedule_one_off_invoice_date_is_free_within_the_term(
    sales_values: dict[str, Any],
) -> None:
    parsed = _parse(sales_values, **{F.SCHEDULE: "one_off", F.FIRST_INVOICE_DATE: "2027-06-01"})

    assert isinstance(parsed, SalesToDeliveryForm), parsed
    refused = _parse(sales_values, **{F.SCHEDULE: "one_off", F.FIRST_INVOICE_DATE: "2028-06-01"})
    assert isinstance(refused, dict)
    assert refused[F.FIRST_INVOICE_DATE].startswith("Must fall inside the term (31 Jan 2027 to")


@pytest.mark.parametrize(
    ("first", "end", "step", "expected"),
    [
        (
            date(2027, 1, 31),
            date(2027, 3, 31),
            1,
            [date(2027, 1, 31), date(2027, 2, 28), date(2027, 3, 31)],
        ),
        (date(2028, 1, 31), date(2028, 2, 29), 1, [date(2028, 1, 31), date(2028, 2, 29)]),
        (date(2027, 1, 1), date(2027, 12, 31), 1, [date(2027, m, 1) for m in range(1, 13)]),
        (
            date(2027, 11, 30),
            date(2028, 5, 30),
            3,
            [date(2027, 11, 30), date(2028, 2, 29), date(2028, 5, 30)],
        ),
    ],
)
def test_schedule_dates_clamp_to_month_ends_and_count_the_last_day(
    first: date, end: date, step: int, expected: list[date]
) -> None:
    assert list(schedule_dates(first, end, step)) == expected


# --- the form and the adapters agree --------------------------------------------------------------


@given(
    start=st.dates(min_value=date(2025, 1, 1), max_value=date(2031, 12, 31)),
    length=st.integers(min_value=1, max_value=1100),
    first_offset=st.integers(min_value=-40, max_value=400),
    schedule=st.sampled_from(["monthly", "quarterly"]),
    currency=st.sampled_from(["GBP", "JPY", "KWD"]),
    units=st.integers(min_value=1, max_value=10**9),
)
def test_property_form_accepts_exactly_the_schedules_finance_can_bill(
    start: date, length: int, first_offset: int, schedule: str, currency: str, units: int
) -> None:
    end, first = start + timedelta(days=length), start + timedelta(days=first_offset)
    value = Decimal(units).scaleb(-minor_units(currency))
    values = {
        **SALES_VALUES,
        F.SCHEDULE: schedule,
        F.CURRENCY: currency,
        F.CONTRACT_VALUE: f"{value:f}",
        F.TERM_START: start.isoformat(),
        F.TERM_END: end.isoformat(),
        F.FIRST_INVOICE_DATE: first.isoformat(),
        F.EARLIEST_KICKOFF: start.isoformat(),
        F.DISCOUNT_AMOUNT: "0",
        F.GO_LIVE_DATE: end.isoformat(),
    }

    parsed = SPEC.parse(values)

    terms = BillingTerms.model_validate(
        billing(parsed)
        if isinstance(parsed, SalesToDeliveryForm)
        else {
            "contract_value": value,
            "currency": currency,
            "schedule": schedule,
            "first_invoice_date": first,
            "payment_terms_days": 30,
            "term_start": start,
            "term_end": end,
        }
    )
    try:
        plan(terms, "Acme", "quickbooks")
    except VendorRejected:
        assert isinstance(parsed, dict) and set(parsed) == {F.FIRST_INVOICE_DATE}
    else:
        assert isinstance(parsed, SalesToDeliveryForm), parsed
