"""Currencies and money amounts as the forms offer, check and print them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pydantic import AfterValidator

from forms.errors import form_error

COMMON_CURRENCIES: tuple[tuple[str, str], ...] = (
    ("GBP", "GBP (Pound sterling)"),
    ("EUR", "EUR (Euro)"),
    ("USD", "USD (US dollar)"),
    ("CAD", "CAD (Canadian dollar)"),
    ("AUD", "AUD (Australian dollar)"),
    ("NZD", "NZD (New Zealand dollar)"),
    ("CHF", "CHF (Swiss franc)"),
    ("SEK", "SEK (Swedish krona)"),
    ("NOK", "NOK (Norwegian krone)"),
    ("DKK", "DKK (Danish krone)"),
    ("PLN", "PLN (Polish złoty)"),
    ("CZK", "CZK (Czech koruna)"),
    ("JPY", "JPY (Japanese yen)"),
    ("SGD", "SGD (Singapore dollar)"),
    ("HKD", "HKD (Hong Kong dollar)"),
    ("INR", "INR (Indian rupee)"),
    ("ZAR", "ZAR (South African rand)"),
    ("AED", "AED (UAE dirham)"),
)
# ISO 4217 currencies we may meet whose minor unit is not 2 (KRW and friends have none).
_MINOR_UNITS = {"JPY": 0, "KRW": 0, "ISK": 0, "CLP": 0, "VND": 0, "BHD": 3, "KWD": 3, "OMR": 3}
_ISO_CODE = re.compile(r"^[A-Z]{3}$")


def currency_choices(current: str | None = None) -> list[tuple[str, str]]:
    """The select options, plus the deal's own currency when it is not a common one."""
    choices = list(COMMON_CURRENCIES)
    if current and _ISO_CODE.match(current) and all(code != current for code, _ in choices):
        choices.insert(0, (current, current))
    return choices


def choices_from(values: Mapping[str, Any], field_name: str = "currency") -> list[tuple[str, str]]:
    """Currency choices for a form whose currency field holds this value."""
    current = values.get(field_name)
    return currency_choices(current if isinstance(current, str) else None)


def is_currency_code(text: str) -> bool:
    """Whether text has the shape of an ISO 4217 code ('GBP')."""
    return bool(_ISO_CODE.match(text))


def minor_units(currency: str) -> int:
    """How many decimal places the currency's amounts may have."""
    return _MINOR_UNITS.get(currency, 2)


def decimal_places(amount: Decimal) -> int:
    """Decimal places written in the amount (trailing zeros count: 10.50 has 2)."""
    exponent = amount.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def places_problem(amount: Decimal, currency: str) -> str | None:
    """What is wrong when the amount has more decimals than the currency has, else None."""
    allowed = minor_units(currency)
    if decimal_places(amount.normalize()) <= allowed:
        return None
    if allowed == 0:
        return f"{currency} amounts are whole numbers"
    return f"{currency} amounts have at most {allowed} decimal places"


def fits_currency(amount: Decimal, currency: object) -> Decimal:
    """The amount, or a form error when it has more decimals than the currency (if known) has."""
    problem = places_problem(amount, currency) if isinstance(currency, str) else None
    if problem:
        raise form_error(problem)
    return amount


def format_money(amount: Decimal, currency: str) -> str:
    """'GBP 12,500.00' (or 'JPY 1,250,000'), exactly as finance will invoice it."""
    return f"{currency} {amount:,.{minor_units(currency)}f}"


def _upper_code(value: str) -> str:
    code = value.strip().upper()
    if not _ISO_CODE.match(code):
        raise form_error("Pick a currency (a three-letter code such as GBP)")
    return code


CurrencyCheck = AfterValidator(_upper_code)
"""Annotate a `str` currency field with this to get an upper-case ISO code or a form error."""
