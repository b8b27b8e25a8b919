"""The rules of each billing model beyond fixed price, checked against the rest of the form.

Each rule sees the answers validated so far (`data`, pydantic's ValidationInfo.data): a field of
a model that was not chosen is dropped (None), and one of the chosen model is required.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from forms.display import fmt_date
from forms.errors import form_error
from forms.money import format_money
from forms.terms import term_periods

ARREARS_GRACE_DAYS = 31
"""An invoice in arrears for the term's last period (or a balance) may follow the term's end."""


def _retainer_amount(amount: Decimal | None, data: Mapping[str, Any]) -> Decimal | None:
    if data.get("billing_model") != "retainer":
        return None
    if amount is None:
        raise form_error("Enter the monthly retainer amount")
    if data.get("schedule") != "monthly":
        raise form_error("A retainer is billed monthly: choose Monthly as the schedule")
    start, end = data.get("term_start"), data.get("term_end")
    value, currency = data.get("contract_value"), data.get("currency")
    if start is None or end is None or value is None or currency is None:
        return amount
    months = term_periods(start, end, 1)
    if amount * months != value:
        raise form_error(
            f"{months} months x {format_money(amount, currency)} is "
            f"{format_money(amount * months, currency)}, not the contract value "
            f"({format_money(value, currency)})"
        )
    return amount


def _rate_card(text: str | None, data: Mapping[str, Any]) -> str | None:
    if data.get("billing_model") != "time_and_materials":
        return None
    if not text:
        raise form_error("List the rates, e.g. 'Consultant: GBP 900 a day'")
    return text


def _spend_cap(cap: Decimal | None, data: Mapping[str, Any]) -> Decimal | None:
    if data.get("billing_model") != "time_and_materials":
        return None
    value, currency = data.get("contract_value"), data.get("currency")
    if cap is not None and value is not None and currency is not None and cap < value:
        raise form_error(f"The cap is below the contract value ({format_money(value, currency)})")
    return cap


def _deposit_amount(deposit: Decimal | None, data: Mapping[str, Any]) -> Decimal | None:
    if data.get("billing_model") != "deposit_balance":
        return None
    if deposit is None:
        raise form_error("Enter the deposit amount")
    if data.get("schedule") != "one_off":
        raise form_error(
            "Deposit + balance makes its own two invoices: choose One-off as the schedule"
        )
    value, currency = data.get("contract_value"), data.get("currency")
    if value is not None and currency is not None and not deposit < value:
        total = format_money(value, currency)
        raise form_error(f"The deposit must be less than the contract value ({total})")
    return deposit


def _balance_date(balance: date | None, data: Mapping[str, Any]) -> date | None:
    if data.get("billing_model") != "deposit_balance":
        return None
    if balance is None:
        raise form_error("Pick the date the balance is invoiced")
    first, end = data.get("first_invoice_date"), data.get("term_end")
    if first is not None and balance <= first:
        raise form_error(f"Must be after the deposit's invoice date ({fmt_date(first)})")
    if end is not None and balance > end + timedelta(days=ARREARS_GRACE_DAYS):
        raise form_error(f"Must be within a month of the term end ({fmt_date(end)})")
    return balance


def _usage_terms(text: str | None, data: Mapping[str, Any]) -> str | None:
    if data.get("billing_model") != "usage":
        return None
    if not text:
        raise form_error("Say what is metered and at what price, e.g. 'GBP 0.40 per order'")
    return text


_RULES: dict[str, Callable[[Any, Mapping[str, Any]], Any]] = {
    "retainer_amount": _retainer_amount,
    "rate_card": _rate_card,
    "spend_cap": _spend_cap,
    "deposit_amount": _deposit_amount,
    "balance_date": _balance_date,
    "usage_terms": _usage_terms,
}
TERM_FIELDS = tuple(_RULES)
"""The form fields that belong to one billing model."""


def check(field: str, value: Any, data: Mapping[str, Any]) -> Any:
    """`value` of a billing-model field, checked against the chosen model and the other answers."""
    return _RULES[field](value, data)
