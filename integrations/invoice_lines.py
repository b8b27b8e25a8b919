"""Which priced lines each planned document carries: the lines as sold, and the discount.

The instalment plan (`integrations.billing`) decides what each document bills; this module only
itemises that amount, and only where the itemised lines add up to it exactly. How the deal's
lines as sold and the schedule combine:

- a document that bills the whole contract (one-off) carries every line as sold, when the lines
  add up to the contract value;
- a monthly/quarterly template whose every instalment equals the lines' total (lines priced per
  period) carries every line as sold;
- a monthly/quarterly template over lines that price the whole contract carries each line's
  equal share (its price and discount divided by the instalments), when every share is whole
  minor units;
- anything else (milestones, deposit + balance, the invoice carrying an uneven split's
  remainder, lines that do not add up or do not share exactly) is one line for the document's
  amount, with the lines as sold in its note and the discount stated on it.

Without lines as sold, a discount makes one line at list price (value plus discount) less the
discount, under the same rules. Lines never change an amount: a document's lines always add up
to exactly what the plan bills.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from integrations.ports import BillingTerms, SoldLine, minor_units

ZERO = Decimal(0)


@dataclass(frozen=True)
class InvoiceLine:
    """One priced line of a document: quantity x unit price (list), less `discount`."""

    description: str
    quantity: Decimal
    unit_price: Decimal
    discount: Decimal = ZERO

    @property
    def gross(self) -> Decimal:
        """Quantity x unit price, before the discount."""
        return self.quantity * self.unit_price

    @property
    def net(self) -> Decimal:
        """What the line bills."""
        return self.gross - self.discount


def whole_contract(
    billing: BillingTerms, amount: Decimal, description: str
) -> tuple[InvoiceLine, ...]:
    """The lines of a document billing the whole contract; () when they do not add up to it."""
    lines = _contract_lines(billing, description)
    return lines if _bills_exactly(lines, amount, billing.currency) else ()


def instalment(
    billing: BillingTerms, amount: Decimal, count: int, description: str
) -> tuple[InvoiceLine, ...]:
    """The lines of each of `count` equal instalments of `amount`; () when none bill it exactly.

    Whatever the caller passes, lines are only returned when they add up to `amount`.
    """
    lines = _contract_lines(billing, description)
    if _bills_exactly(lines, amount, billing.currency):
        return lines  # priced per period: every instalment bills the lines as sold
    shares = tuple(_share(line, billing, count) for line in lines)
    return shares if _bills_exactly(shares, amount, billing.currency) else ()


def discount_of(lines: tuple[InvoiceLine, ...]) -> Decimal:
    """The discount the lines carry, in total."""
    return sum((line.discount for line in lines), ZERO)


def wire_quantity(value: Decimal) -> int | Decimal:
    """A quantity as the vendors' bodies carry it: whole numbers as integers (12, not 12.00)."""
    return int(value) if value == value.to_integral_value() else value


def sold_text(line: SoldLine, currency: str) -> str:
    """'12 x GBP 1,000.00 less GBP 1,200.00': a line's quantity, price and discount as sold."""
    text = f"{line.quantity.normalize():f} x {_money(line.unit_price, currency)}"
    if line.discount:
        text += f" less {_money(line.discount, currency)}"
    return text


def _contract_lines(billing: BillingTerms, description: str) -> tuple[InvoiceLine, ...]:
    """The contract as priced lines: the lines as sold, else one list-price line less the
    discount, else nothing (the document is one line for its amount)."""
    if billing.lines:
        return tuple(
            InvoiceLine(line.description, line.quantity, line.unit_price, line.discount)
            for line in billing.lines
        )
    discount = billing.discount_amount
    if discount:
        return (InvoiceLine(description, Decimal(1), billing.contract_value + discount, discount),)
    return ()


def _share(line: InvoiceLine, billing: BillingTerms, count: int) -> InvoiceLine:
    """1/count of a line priced for the whole contract (checked with the others afterwards)."""
    currency = billing.currency
    if billing.lines:
        sold = SoldLine(
            description=line.description,
            quantity=line.quantity,
            unit_price=line.unit_price,
            discount=line.discount,
        )
        description = (
            f"{line.description} (sold as {sold_text(sold, currency)}; "
            f"billed in {count} {billing.schedule} instalments)"
        )
    else:
        description = line.description  # the list-price line: the document's own description
    price, discount = line.unit_price / count, line.discount / count
    if _whole_units(price, currency):
        # Seats at a yearly price billed monthly read as the same seats at a monthly price.
        return InvoiceLine(description, line.quantity, price, discount)
    return InvoiceLine(description, Decimal(1), line.gross / count, discount)


def _bills_exactly(lines: tuple[InvoiceLine, ...], amount: Decimal, currency: str) -> bool:
    """Whether the lines add up to `amount`, each in whole minor units and none negative.

    (Quantities are positive already: SoldLine refuses anything else, and a share keeps the
    line's quantity or bills it as 1.)
    """
    exact = all(
        _whole_units(value, currency)
        for line in lines
        for value in (line.unit_price, line.gross, line.discount)
    )
    sane = all(ZERO <= line.discount <= line.gross for line in lines)
    return exact and sane and sum((line.net for line in lines), ZERO) == amount


def _whole_units(amount: Decimal, currency: str) -> bool:
    scaled = amount.scaleb(minor_units(currency))
    return scaled == scaled.to_integral_value()


def _money(amount: Decimal, currency: str) -> str:
    return f"{currency} {amount:,.{minor_units(currency)}f}"
