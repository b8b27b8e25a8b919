"""How the deal's lines as sold and the instalment plan combine on each planned document.

Mutants of integrations/invoice_lines.py left alive are equivalent: `sum(..., ZERO)` without its
start value (a Decimal plus the int 0 is the same Decimal, and an empty sum of 0 reads as "no
discount" either way).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from integrations.billing import PlannedInvoice, Recurring, plan
from integrations.invoice_lines import InvoiceLine
from integrations.ports import BillingSchedule, BillingTerms, SoldLine
from tests.integrations.fakes import make_brief

LICENCE = SoldLine(
    description="Licence",
    quantity=Decimal(10),
    unit_price=Decimal("1200.00"),
    discount=Decimal("1200.00"),
)
WORKSHOP = SoldLine(description="Workshop", quantity=Decimal(1), unit_price=Decimal("2400.00"))


def terms(schedule: BillingSchedule, **overrides: Any) -> BillingTerms:
    billing = make_brief(schedule, **overrides).billing
    assert billing is not None
    return billing


def lines_of(billing: BillingTerms) -> list[tuple[InvoiceLine, ...]]:
    """Each planned document's lines, in creation order."""
    return [doc.lines for doc in plan(billing, "Acme", "test")]


def test_one_off_carries_every_line_as_sold_with_its_discount() -> None:
    billing = terms("one_off", contract_value=Decimal("13200.00"), lines=(LICENCE, WORKSHOP))

    [lines] = lines_of(billing)

    assert lines == (
        InvoiceLine("Licence", Decimal(10), Decimal("1200.00"), Decimal("1200.00")),
        InvoiceLine("Workshop", Decimal(1), Decimal("2400.00")),
    )


def test_lines_that_do_not_add_up_leave_one_line_for_the_value() -> None:
    billing = terms("one_off", contract_value=Decimal("13000.00"), lines=(LICENCE, WORKSHOP))

    [invoice] = plan(billing, "Acme", "test")

    assert isinstance(invoice, PlannedInvoice)
    assert (invoice.amount, invoice.lines) == (Decimal("13000.00"), ())


def test_lines_priced_per_instalment_are_every_instalments_lines() -> None:
    # 12 x 13,200.00 = the contract: the lines price one month.
    billing = terms("monthly", contract_value=Decimal("158400.00"), lines=(LICENCE, WORKSHOP))

    [template] = plan(billing, "Acme", "test")

    assert isinstance(template, Recurring) and template.amount == Decimal("13200.00")
    assert [line.description for line in template.lines] == ["Licence", "Workshop"]


def test_lines_for_the_whole_contract_become_equal_shares_of_each_instalment() -> None:
    # 13,200.00 over 4 quarters: the licence's price and discount divide by 4, the workshop's
    # 2,400.00 too; quantities stay.
    billing = terms("quarterly", contract_value=Decimal("13200.00"), lines=(LICENCE, WORKSHOP))

    [template] = plan(billing, "Acme", "test")

    assert isinstance(template, Recurring) and template.amount == Decimal("3300.00")
    shared = "; billed in 4 quarterly instalments)"
    assert template.lines == (
        InvoiceLine(
            "Licence (sold as 10 x GBP 1,200.00 less GBP 1,200.00" + shared,
            Decimal(10),
            Decimal("300.00"),
            Decimal("300.00"),
        ),
        InvoiceLine("Workshop (sold as 1 x GBP 2,400.00" + shared, Decimal(1), Decimal("600.00")),
    )


def test_a_share_whose_unit_price_does_not_divide_bills_the_line_share_once() -> None:
    # 2 x 1,000.02 less 0.04 over 4 quarters: 250.005 a unit is no price; 500.01 less 0.01 a
    # quarter is.
    odd = SoldLine(
        description="Seats",
        quantity=Decimal(2),
        unit_price=Decimal("1000.02"),
        discount=Decimal("0.04"),
    )
    billing = terms("quarterly", contract_value=Decimal("2000.00"), lines=(odd,))

    [template] = plan(billing, "Acme", "test")

    assert isinstance(template, Recurring)
    [line] = template.lines
    assert (line.quantity, line.unit_price, line.discount) == (
        Decimal(1),
        Decimal("500.01"),
        Decimal("0.01"),
    )
    assert line.description.startswith(
        "Seats (sold as 2 x GBP 1,000.02 less GBP 0.04; billed in 4 quarterly"
    )


def test_shares_that_are_not_whole_minor_units_leave_one_line_per_instalment() -> None:
    # 10,000.00 over 12 months does not split evenly: a template and one remainder invoice, each
    # a single line for its amount.
    line = SoldLine(description="Service", quantity=Decimal(1), unit_price=Decimal("10000.00"))
    billing = terms("monthly", contract_value=Decimal("10000.00"), lines=(line,))

    documents = plan(billing, "Acme", "test")

    assert [doc.amount for doc in documents] == [Decimal("833.33"), Decimal("833.37")]
    assert [doc.lines for doc in documents] == [(), ()]


def test_milestones_never_carry_the_lines_as_sold() -> None:
    billing = terms("milestones", lines=(LICENCE, WORKSHOP), discount_amount=Decimal("1200.00"))

    assert lines_of(billing) == [(), (), ()]


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        ("one_off", InvoiceLine("Acme", Decimal(1), Decimal("13700.00"), Decimal("1200.00"))),
        (
            "monthly",
            InvoiceLine(
                "Acme: monthly instalment", Decimal(1), Decimal("3100.00"), Decimal("100.00")
            ),
        ),
    ],
)
def test_a_discount_without_lines_is_the_list_price_less_the_discount(
    schedule: BillingSchedule, expected: InvoiceLine
) -> None:
    value = Decimal("12500.00") if schedule == "one_off" else Decimal("36000.00")
    billing = terms(schedule, contract_value=value, discount_amount=Decimal("1200.00"))

    [lines] = lines_of(billing)

    assert lines == (expected,)
    assert expected.net == plan(billing, "Acme", "test")[0].amount


@pytest.mark.parametrize(
    "line",
    [
        # A price finer than the currency: 8 x 0.125 is 1.00, but no vendor prices 0.125 pence.
        SoldLine(description="Calls", quantity=Decimal(8), unit_price=Decimal("0.125")),
        # More discount than price: a negative line would hide a wrong total.
        SoldLine(
            description="Credit",
            quantity=Decimal(1),
            unit_price=Decimal("1.00"),
            discount=Decimal("2.00"),
        ),
    ],
)
def test_lines_no_vendor_could_bill_leave_one_line_for_the_value(line: SoldLine) -> None:
    value = Decimal("13200.00")
    rest = SoldLine(description="Licence", quantity=Decimal(1), unit_price=value - line.net)
    billing = terms("one_off", contract_value=value, lines=(line, rest))
    assert sum(sold.net for sold in billing.lines) == billing.contract_value

    assert lines_of(billing) == [()]


def test_a_discount_that_does_not_share_into_whole_units_leaves_one_line_each() -> None:
    # 1,000.01 off over four quarters is 250.0025 a quarter: no exact discount line.
    billing = terms(
        "quarterly", contract_value=Decimal("12000.00"), discount_amount=Decimal("1000.04")
    )
    assert lines_of(billing) != [()]  # 250.01 a quarter shares exactly

    uneven = terms(
        "quarterly", contract_value=Decimal("12000.00"), discount_amount=Decimal("1000.01")
    )

    assert lines_of(uneven) == [()]


def test_yen_lines_are_whole_yen_or_not_itemised() -> None:
    # JPY has no minor unit: 10 x 1,001 yen over four quarters shares as 2,502.5 yen, which no
    # invoice can bill (though the 10,012 yen contract splits evenly), while 10 x 1,000 yen
    # shares as 10 x 250.
    odd = SoldLine(description="Seats", quantity=Decimal(10), unit_price=Decimal(1001))
    fee = SoldLine(description="Fee", quantity=Decimal(1), unit_price=Decimal(2))
    even = SoldLine(description="Seats", quantity=Decimal(10), unit_price=Decimal(1000))

    uneven = terms("quarterly", currency="JPY", contract_value=Decimal(10012), lines=(odd, fee))
    shared = terms("quarterly", currency="JPY", contract_value=Decimal(10000), lines=(even,))

    assert lines_of(uneven) == [()]
    [[line]] = lines_of(shared)
    assert (line.quantity, line.unit_price) == (Decimal(10), Decimal(250))
    assert "(sold as 10 x JPY 1,000; billed in 4 quarterly instalments)" in line.description


def test_a_half_yen_price_is_not_itemised() -> None:
    half = SoldLine(description="Calls", quantity=Decimal(2), unit_price=Decimal("0.5"))
    rest = SoldLine(description="Licence", quantity=Decimal(1), unit_price=Decimal(9999))
    billing = terms("one_off", currency="JPY", contract_value=Decimal(10000), lines=(half, rest))

    assert lines_of(billing) == [()]


def test_shares_are_checked_line_by_line_before_they_are_billed() -> None:
    # A line priced below nothing (more discount than price) still adds up with the others: its
    # quarter would be a negative line, so nothing is itemised.
    credit = SoldLine(
        description="Credit",
        quantity=Decimal(1),
        unit_price=Decimal("400.00"),
        discount=Decimal("800.00"),
    )
    licence = SoldLine(description="Licence", quantity=Decimal(1), unit_price=Decimal("12400.00"))
    negative = terms("quarterly", contract_value=Decimal("12000.00"), lines=(credit, licence))
    # A free line whose discount does not share into whole pence is not silently dropped.
    free = SoldLine(
        description="Free onboarding",
        quantity=Decimal(1),
        unit_price=Decimal("1000.01"),
        discount=Decimal("1000.01"),
    )
    licence = SoldLine(description="Licence", quantity=Decimal(1), unit_price=Decimal("12000.00"))
    dropped = terms("quarterly", contract_value=Decimal("12000.00"), lines=(free, licence))

    assert lines_of(negative) == [()]
    assert lines_of(dropped) == [()]


def test_yen_lines_priced_per_instalment_are_whole_yen_or_not_itemised() -> None:
    # 2,500 yen a quarter, but 2 x 0.5 yen is no price a yen invoice can carry.
    half = SoldLine(description="Calls", quantity=Decimal(2), unit_price=Decimal("0.5"))
    rest = SoldLine(description="Licence", quantity=Decimal(1), unit_price=Decimal(2499))
    billing = terms("quarterly", currency="JPY", contract_value=Decimal(10000), lines=(half, rest))

    assert lines_of(billing) == [()]


def test_a_yen_share_whose_unit_price_is_not_whole_bills_the_line_share_once() -> None:
    # 4 x 1,001 yen over four quarters: 250.25 yen a unit is no price, 1,001 yen a quarter is.
    seats = SoldLine(description="Seats", quantity=Decimal(4), unit_price=Decimal(1001))
    billing = terms("quarterly", currency="JPY", contract_value=Decimal(4004), lines=(seats,))

    [[line]] = lines_of(billing)

    assert (line.quantity, line.unit_price) == (Decimal(1), Decimal(1001))
