"""The deal's lines as sold: one priced line per row, which finance turns into invoice lines.

A row reads "12 x Analytics licence at 1,000.00 less 1,200.00 = 10,800.00, monthly": quantity,
item, unit (list) price, then optionally the discount on the whole line, the line's total and
how often it bills (the last two are for reading; a total is checked when given). Amounts are in
the contract currency; a currency code before an amount must be that one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from forms.errors import clip, form_error
from forms.lines import numbered_lines
from forms.money import format_money, places_problem
from forms.terms import STEP_MONTHS, term_periods

SOLD_LINE_FORMAT = "quantity x item at unit price [less discount]"
_MONEY = r"(?:[A-Z]{3}\s*)?[0-9][0-9,]*(?:\.[0-9]+)?"
_ROW = re.compile(
    rf"^(?P<quantity>[0-9]+(?:\.[0-9]+)?)\s*[xX\u00d7]\s+(?P<item>.+?)\s+at\s+(?P<price>{_MONEY})"
    rf"(?:\s+less\s+(?P<less>{_MONEY}))?"
    rf"(?:\s*=\s*(?P<total>{_MONEY}))?"
    rf"(?:\s*\(discount\s+(?P<discount>{_MONEY})\))?"
    r"(?:\s*,\s*(?P<every>[A-Za-z][A-Za-z _-]*))?$"
)
_AMOUNT = re.compile(r"^(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?$")
_BULLET = re.compile(r"^\s*[-*•·]\s+")


@dataclass(frozen=True)
class SoldLine:
    """One row as sold: `quantity` x `unit_price`, less `discount` on the whole row."""

    description: str
    quantity: Decimal
    unit_price: Decimal
    discount: Decimal

    @property
    def gross(self) -> Decimal:
        return self.quantity * self.unit_price

    @property
    def net(self) -> Decimal:
        return self.gross - self.discount


def parse(text: str, currency: str) -> list[SoldLine]:
    """The rows of `text`, or a form error naming the first bad row by its line number."""
    return [_row(n, _BULLET.sub("", line), currency) for n, line in numbered_lines(text)]


def parse_or_empty(text: str | None, currency: str) -> list[SoldLine]:
    """The rows, or none when the text does not parse (a payload stored before the rule)."""
    if not text:
        return []
    try:
        return parse(text, currency)
    except ValueError:  # PydanticCustomError is a ValueError
        return []


def check_totals(
    lines: list[SoldLine],
    *,
    value: Decimal,
    currency: str,
    schedule: str,
    term: tuple[date, date] | None,
    discount_amount: Decimal | None,
) -> None:
    """The rows must bill the contract value: in total, or (monthly/quarterly) per instalment;
    and their discounts, over the contract, must be the discount amount."""
    total = sum((line.net for line in lines), Decimal(0))
    step = STEP_MONTHS.get(schedule)
    periods = term_periods(term[0], term[1], step) if step and term else 1
    # (With one period this is the whole-contract rule again.)
    per_instalment = total * periods == value
    if total != value and not per_instalment:
        each = f" or {periods} x {_money(value / periods, currency)}" if periods > 1 else ""
        raise form_error(
            clip(
                f"The lines come to {_money(total, currency)}, not the contract value "
                f"({_money(value, currency)}{each}). Fix a line or the value, or clear the lines"
            )
        )
    discounts = sum((line.discount for line in lines), Decimal(0))
    over_contract = discounts * periods if per_instalment else discounts
    if over_contract and discount_amount is None:
        raise form_error(
            f"The lines' discounts come to {_money(over_contract, currency)}: enter that as "
            "the discount amount below"
        )
    if over_contract and discount_amount != over_contract:
        assert discount_amount is not None
        raise form_error(
            f"The lines' discounts come to {_money(over_contract, currency)}, but the discount "
            f"amount below is {_money(discount_amount, currency)}"
        )


def _row(n: int, line: str, currency: str) -> SoldLine:
    match = _ROW.match(line)
    if not match:
        raise form_error(clip(f"Line {n}: write it as “{SOLD_LINE_FORMAT}”"))
    quantity = Decimal(match["quantity"])
    if quantity <= 0:
        raise form_error(f"Line {n}: the quantity must be more than 0")
    price = _amount(n, match["price"], currency)
    discount_text = match["less"] or match["discount"]
    discount = _amount(n, discount_text, currency) if discount_text else Decimal(0)
    row = SoldLine(match["item"].strip(), quantity, price, discount)
    gross = f"{quantity.normalize():f} x {_money(price, currency)}"
    if places_problem(row.gross, currency):
        raise form_error(clip(f"Line {n}: {gross} is {row.gross:f}, not a whole {currency} amount"))
    if discount > row.gross:
        raise form_error(clip(f"Line {n}: the discount is more than {gross}"))
    if match["total"] is not None:
        stated = _amount(n, match["total"], currency)
        if stated != row.net:
            less = f" less {_money(discount, currency)}" if discount else ""
            raise form_error(
                clip(
                    f"Line {n}: {gross}{less} is {_money(row.net, currency)}, "
                    f"not {_money(stated, currency)}"
                )
            )
    return row


def _amount(n: int, text: str, currency: str) -> Decimal:
    code, digits = text[:3], text
    if code.isalpha():
        digits = text[3:].strip()
        if code != currency:
            raise form_error(f"Line {n}: the contract is in {currency}, not {code}")
    if not _AMOUNT.match(digits):
        raise form_error(clip(f"Line {n}: “{text}” is not an amount like 1,000.00"))
    amount = Decimal(digits.replace(",", ""))
    problem = places_problem(amount, currency)
    if problem:
        raise form_error(f"Line {n}: {problem}")
    return amount


def _money(amount: Decimal, currency: str) -> str:
    return format_money(amount, currency)
