"""The lines as sold: prefilled from the CRM, checked in the modal, handed to finance as lines.

Mutants of forms/sold_lines.py left alive are equivalent: `sum(..., Decimal(0))` without its
start value (a Decimal plus the int 0 is the same Decimal).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from forms.ids import SalesToDeliveryField as F
from forms.sales_to_delivery import SPEC, SalesToDeliveryForm, billing, prefill_values
from integrations.ports import BillingTerms
from tests.forms.test_prefill_full_crm import FULL_CRM

ESSAYS = {
    F.WHY_THEY_BOUGHT: "Reporting takes a week",
    F.SUCCESS_CRITERIA: "Pack by day 3",
    F.MONTH_ONE: "Tuesday calls",
    F.PROMISES_MADE: "None",
    F.OUT_OF_SCOPE: "Forecasting",
    F.ACCEPTANCE_CRITERIA: "CFO signs off March",
    F.GO_LIVE_DATE: "2027-05-03",
    F.RISKS: "CFO leaves in June",
}
# sales_values bills GBP 100,000.00 quarterly (four quarters) with a 10,000.00 discount.
WHOLE = "10 x Analytics licence at 10,000.00 less 10,000.00\n1 x Onboarding at 10,000.00"
PER_QUARTER = "10 x Analytics licence at 2,500.00 less 2,500.00\n1 x Onboarding at 2,500.00"


def _errors(values: dict[str, Any]) -> dict[str, str]:
    result = SPEC.parse(values)
    assert isinstance(result, dict), "expected the modal to refuse it"
    return result


def test_crm_line_items_reach_finance_as_priced_lines() -> None:
    form = SPEC.parse({**prefill_values(**FULL_CRM), **ESSAYS})
    assert isinstance(form, SalesToDeliveryForm), form

    terms = BillingTerms.model_validate(billing(form))

    assert [
        (line.description, line.quantity, line.unit_price, line.discount) for line in terms.lines
    ] == [
        ("Analytics licence", Decimal(12), Decimal("1000.00"), Decimal("1200.00")),
        ("Onboarding workshop", Decimal(1), Decimal("3000.00"), Decimal(0)),
    ]
    assert sum(line.net for line in terms.lines) == terms.contract_value == Decimal("13800")
    assert terms.discount_amount == Decimal("1200.00")


@pytest.mark.parametrize(
    ("text", "overrides"),
    [
        (WHOLE, {}),
        (PER_QUARTER, {}),
        # Bullets, currency codes (with or without a space), totals, and a free line.
        (
            "- 10 x Analytics licence at GBP 10,000.00 less GBP10,000.00 = GBP 90,000.00\n"
            "- 1 x Onboarding at 10,000.00\n"
            "- 1 x Free workshop at 500.00 less 500.00",
            {F.DISCOUNT_AMOUNT: "10500"},
        ),
        # Two quarters, priced per quarter.
        (
            "10 x Licence at 5,000.00 less 5,000.00\n1 x Onboarding at 5,000.00",
            {F.TERM_END: "2027-09-11", F.FIRST_INVOICE_DATE: "2027-03-12"},
        ),
    ],
)
def test_lines_for_the_contract_or_for_one_instalment_are_accepted(
    sales_values: dict[str, Any], text: str, overrides: dict[str, Any]
) -> None:
    form = SPEC.parse({**sales_values, **overrides, F.SOLD_LINES: text})

    assert isinstance(form, SalesToDeliveryForm), form
    lines = BillingTerms.model_validate(billing(form)).lines
    assert len(lines) == len(text.splitlines())


def test_yen_lines_with_currency_codes_reach_finance(sales_values: dict[str, Any]) -> None:
    values = {
        **sales_values,
        F.CURRENCY: "JPY",
        F.CONTRACT_VALUE: "100000",
        F.SOLD_LINES: "10 x Licence at JPY 10,000 less JPY 10,000\n1 x Onboarding at JPY 10,000",
    }
    form = SPEC.parse(values)
    assert isinstance(form, SalesToDeliveryForm), form

    lines = BillingTerms.model_validate(billing(form)).lines

    assert [(line.unit_price, line.discount) for line in lines] == [
        (Decimal(10000), Decimal(10000)),
        (Decimal(10000), Decimal(0)),
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "Analytics licence for 10,000",
            "Line 1: write it as “quantity x item at unit price [less discount]”",
        ),
        (
            "1 x Onboarding at 10,000.00\n1.5 x Training at 33.33",
            "Line 2: 1.5 x GBP 33.33 is 49.995, not a whole GBP amount",
        ),
        (
            "10 x Licence at 10,000.00 less 10,000.00 = 80,000.00",
            "Line 1: 10 x GBP 10,000.00 less GBP 10,000.00 is GBP 90,000.00, not GBP 80,000.00",
        ),
        ("1 x Licence at EUR 100,000.00", "Line 1: the contract is in GBP, not EUR"),
        ("1 x Licence at 100,000.005", "Line 1: GBP amounts have at most 2 decimal places"),
        ("2 x Licence at 100.00 less 300.00", "Line 1: the discount is more than 2 x GBP 100.00"),
        (
            "10 x Licence at 10,000.00 less 10,000.00",
            "The lines come to GBP 90,000.00, not the contract value (GBP 100,000.00 or 4 x "
            "GBP 25,000.00). Fix a line or the value, or clear the lines",
        ),
        ("0 x Licence at 100,000.00", "Line 1: the quantity must be more than 0"),
        (
            "1 x Onboarding at 10,000.00\n10 x Licence at 10,000.00 less 1,00",
            "Line 2: “1,00” is not an amount like 1,000.00",
        ),
        (
            "1 x Onboarding at 10,000.00\n10 x Licence at 10,000.00 = 9,0000.00",
            "Line 2: “9,0000.00” is not an amount like 1,000.00",
        ),
        (
            "1 x Licence at 100,000.00 = 90,000.00",
            "Line 1: 1 x GBP 100,000.00 is GBP 100,000.00, not GBP 90,000.00",
        ),
        (
            "10 x Licence at 10,000.00 less 5,000.00\n1 x Onboarding at 5,000.00",
            "The lines' discounts come to GBP 5,000.00, but the discount amount below is "
            "GBP 10,000.00",
        ),
    ],
)
def test_lines_that_finance_could_not_bill_are_refused_next_to_the_field(
    sales_values: dict[str, Any], text: str, message: str
) -> None:
    errors = _errors({**sales_values, F.SOLD_LINES: text})

    assert errors == {F.SOLD_LINES: message}


def test_one_off_lines_must_come_to_the_value(sales_values: dict[str, Any]) -> None:
    values = {**sales_values, F.SCHEDULE: "one_off", F.SOLD_LINES: "1 x Licence at 90,000.00"}

    assert _errors(values) == {
        F.SOLD_LINES: "The lines come to GBP 90,000.00, not the contract value (GBP 100,000.00). "
        "Fix a line or the value, or clear the lines"
    }


def test_a_two_quarter_term_offers_both_ways_to_price_the_lines(
    sales_values: dict[str, Any],
) -> None:
    values = {
        **sales_values,
        F.TERM_END: "2027-09-11",
        F.FIRST_INVOICE_DATE: "2027-03-12",
        F.SOLD_LINES: "1 x Licence at 90,000.00",
    }

    assert "(GBP 100,000.00 or 2 x GBP 50,000.00)" in _errors(values)[F.SOLD_LINES]


def test_yen_rows_must_be_whole_yen(sales_values: dict[str, Any]) -> None:
    values = {
        **sales_values,
        F.CURRENCY: "JPY",
        F.CONTRACT_VALUE: "100000",
        F.SOLD_LINES: "1.5 x Calls at 3",
    }

    assert _errors(values) == {F.SOLD_LINES: "Line 1: 1.5 x JPY 3 is 4.5, not a whole JPY amount"}


def test_line_discounts_need_the_discount_amount(sales_values: dict[str, Any]) -> None:
    values = {**sales_values, F.SOLD_LINES: WHOLE}
    del values[F.DISCOUNT_AMOUNT], values[F.DISCOUNTS]

    errors = _errors(values)

    assert errors == {
        F.SOLD_LINES: "The lines' discounts come to GBP 10,000.00: enter that as the discount "
        "amount below"
    }


def test_per_instalment_discounts_count_over_the_whole_contract(
    sales_values: dict[str, Any],
) -> None:
    # 2,500.00 off each of four quarters is the 10,000.00 agreed; 2,500.00 alone is not.
    wrong = {**sales_values, F.SOLD_LINES: PER_QUARTER, F.DISCOUNT_AMOUNT: "2500"}

    assert "is GBP 2,500.00" in _errors(wrong)[F.SOLD_LINES]


def test_a_payload_stored_before_the_rule_loads_and_bills_one_line(
    sales_values: dict[str, Any],
) -> None:
    form = SPEC.parse(sales_values)
    assert isinstance(form, SalesToDeliveryForm)
    stored = {**form.model_dump(mode="json"), "sold_lines": "Licence and onboarding, as quoted"}

    loaded = SPEC.load(stored, schema_version=2)

    assert loaded.sold_lines == "Licence and onboarding, as quoted"
    assert BillingTerms.model_validate(billing(loaded)).lines == ()


def test_a_line_item_without_a_unit_price_is_priced_from_its_total() -> None:
    items = [
        {"name": "Seats", "quantity": Decimal(4), "amount": Decimal("1000.00")},
        {"name": "Setup", "quantity": Decimal(3), "amount": Decimal("100.00")},
    ]

    values = prefill_values(**{**FULL_CRM, "amount": Decimal("1100.00"), "line_items": items})

    assert values[F.SOLD_LINES] == (
        "4 x Seats at 250.00 = 1,000.00\n1 x Setup (3 units) at 100.00 = 100.00"
    )


def test_unpriced_or_overlong_line_items_prefill_no_lines() -> None:
    unpriced = [*FULL_CRM["line_items"], {"name": "Extra", "quantity": Decimal(1)}]
    # 0.125 written to two decimals would be 0.13: another price (rows long enough that only
    # the short form, without the total that would give it away, fits).
    fine = [
        *({"name": f"Module {n} " + "y" * 40, "unit_price": Decimal(100)} for n in range(6)),
        {"name": "Calls", "quantity": Decimal(8), "unit_price": Decimal("0.125")},
    ]
    many = [
        {"name": f"Module {n} " + "y" * 40, "quantity": 1, "unit_price": Decimal(100)}
        for n in range(12)
    ]

    for items in (unpriced, fine, many):
        values = prefill_values(**{**FULL_CRM, "line_items": items})
        assert F.SOLD_LINES not in values
        assert F.DELIVERABLES in values  # delivery still gets one deliverable per line item


def test_long_line_items_drop_their_totals_to_fit() -> None:
    items = [
        {"name": f"Module {n} " + "y" * 40, "quantity": 1, "unit_price": Decimal(100)}
        for n in range(7)
    ]

    values = prefill_values(**{**FULL_CRM, "line_items": items})

    assert values[F.SOLD_LINES].splitlines()[0] == "1 x Module 0 " + "y" * 40 + " at 100.00"
