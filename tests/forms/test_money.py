"""Currencies and amounts as the form offers and checks them."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

import pytest
from pydantic import BaseModel, ValidationError

from forms.money import (
    COMMON_CURRENCIES,
    CurrencyCheck,
    choices_from,
    currency_choices,
    decimal_places,
    fits_currency,
    format_money,
    is_currency_code,
    minor_units,
    places_problem,
)


def test_money_deal_currency_that_is_not_common_comes_first() -> None:
    choices = currency_choices("BRL")

    assert choices[0] == ("BRL", "BRL")
    assert choices[1:] == list(COMMON_CURRENCIES)


@pytest.mark.parametrize("current", [None, "GBP", "brl", "BRLX", ""])
def test_money_common_or_malformed_currency_adds_nothing(current: str | None) -> None:
    assert currency_choices(current) == list(COMMON_CURRENCIES)


@pytest.mark.parametrize(
    ("values", "first"),
    [({"currency": "BRL"}, "BRL"), ({"currency": 5}, "GBP"), ({}, "GBP"), ({"cur": "BRL"}, "GBP")],
)
def test_money_choices_from_form_values(values: dict[str, object], first: str) -> None:
    assert choices_from(values)[0][0] == first


def test_money_choices_from_a_named_field() -> None:
    assert choices_from({"cur": "BRL"}, "cur")[0] == ("BRL", "BRL")


@pytest.mark.parametrize(
    ("amount", "places"),
    [("10", 0), ("10.5", 1), ("10.50", 2), ("0.001", 3), ("1E+2", 0), ("1E-2", 2)],
)
def test_money_decimal_places_as_written(amount: str, places: int) -> None:
    # An exponent of 0 gives 0 whether the check is `< 0`, `<= 0` or `< 1`: those mutants of
    # decimal_places are equivalent, not missed.
    assert decimal_places(Decimal(amount)) == places


@pytest.mark.parametrize(
    ("amount", "currency", "problem"),
    [
        ("1000", "JPY", None),
        ("1000.0", "JPY", None),
        ("1000.5", "JPY", "JPY amounts are whole numbers"),
        ("12.345", "KWD", None),
        ("12.3456", "KWD", "KWD amounts have at most 3 decimal places"),
        ("12.30", "GBP", None),
        ("12.301", "GBP", "GBP amounts have at most 2 decimal places"),
        ("1E+3", "GBP", None),
    ],
)
def test_money_places_problem(amount: str, currency: str, problem: str | None) -> None:
    assert places_problem(Decimal(amount), currency) == problem


def test_money_fits_currency_without_a_known_currency_checks_nothing() -> None:
    assert fits_currency(Decimal("1.2345"), None) == Decimal("1.2345")


def test_money_fits_currency_refuses_extra_decimals() -> None:
    with pytest.raises(ValueError, match="GBP amounts have at most 2 decimal places"):
        fits_currency(Decimal("1.234"), "GBP")


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        ("12500", "GBP", "GBP 12,500.00"),
        ("1250000", "JPY", "JPY 1,250,000"),
        ("1.5", "KWD", "KWD 1.500"),
    ],
)
def test_money_format_in_the_currency_decimals(amount: str, currency: str, text: str) -> None:
    assert format_money(Decimal(amount), currency) == text


@pytest.mark.parametrize(
    ("code", "units"), [("JPY", 0), ("KRW", 0), ("KWD", 3), ("BHD", 3), ("GBP", 2), ("XYZ", 2)]
)
def test_money_minor_units(code: str, units: int) -> None:
    assert minor_units(code) == units


class _Priced(BaseModel):
    currency: Annotated[str, CurrencyCheck]


def test_money_currency_check_upper_cases_and_refuses_non_codes() -> None:
    assert is_currency_code("GBP") and not is_currency_code("GB") and not is_currency_code("gbp")
    assert _Priced.model_validate({"currency": " gbp "}).currency == "GBP"
    with pytest.raises(ValidationError, match="Pick a currency"):
        _Priced.model_validate({"currency": "pounds"})
