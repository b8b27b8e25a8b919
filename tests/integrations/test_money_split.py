"""Instalments add up to the contract value to the minor unit, on the dates the term allows.

Examples pin the cases finance asked about; the Hypothesis properties check the same rules over
value x currency x schedule x term dates, on the neutral plan and on the bodies the QuickBooks
and Xero adapters send.
"""

from __future__ import annotations

import calendar
import itertools
import json
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from forms import money as form_money
from forms import schedule as form_schedule
from integrations import quickbooks, xero
from integrations.billing import (
    PlannedInvoice,
    Recurring,
    describe_terms,
    money_json,
    plan,
)
from integrations.brief_text import billing_lines
from integrations.ports import (
    MINOR_UNITS,
    BillingSchedule,
    BillingTerms,
    Contact,
    HandoffBrief,
    SoldLine,
    VendorRejected,
    VendorUnavailable,
    minor_units,
    schedule_dates,
)
from tests.integrations.fakes import make_brief, qbo_total, xero_total

Remainder = Literal["first", "last"]
CURRENCIES = ("GBP", "JPY", "KWD", "USD", "BHD", "EUR")


def terms(**overrides: Any) -> BillingTerms:
    """Monthly terms for 2027 (the shared fake brief's), with BillingTerms fields overridden."""
    billing = make_brief("monthly", **overrides).billing
    assert billing is not None
    return billing


def billed(planned: list[Recurring | PlannedInvoice]) -> list[tuple[date, Decimal]]:
    """Every instalment the plan bills, as (date, amount), in date order."""
    out: list[tuple[date, Decimal]] = []
    for doc in planned:
        if isinstance(doc, Recurring):
            days = template_dates(doc.start, doc.end, doc.step_months, doc.day_of_month)
            assert len(days) == doc.occurrences
            out += [(day, doc.amount) for day in days]
        else:
            out.append((doc.issued, doc.amount))
        # Lines itemise a document's amount, never change it.
        assert not doc.lines or sum(line.net for line in doc.lines) == doc.amount
    return sorted(out)


def template_dates(start: date, end: date, step: int, day_of_month: int) -> list[date]:
    """The dates a vendor's monthly template bills: every `step` months on `day_of_month`
    (the month's last day when shorter), from `start` up to `end`. Written independently of
    the code under test on purpose."""
    days, year, month = [], start.year, start.month
    while True:
        day = date(year, month, min(day_of_month, calendar.monthrange(year, month)[1]))
        if day > end:
            return days
        days.append(day)
        year, month = year + (month - 1 + step) // 12, (month - 1 + step) % 12 + 1


# --- examples ---------------------------------------------------------------------------------


def test_split_ten_thousand_over_twelve_puts_the_four_cents_on_the_last_instalment() -> None:
    billing = terms(contract_value=Decimal("10000.00"))

    assert billing.instalments() == (Decimal("833.33"),) * 11 + (Decimal("833.37"),)
    assert sum(billing.instalments()) == Decimal("10000.00")


def test_split_remainder_first_when_finance_prefers() -> None:
    billing = terms(contract_value=Decimal("10000.00"), remainder="first")

    assert billing.instalments() == (Decimal("833.37"),) + (Decimal("833.33"),) * 11
    assert billing.instalment_amount() == Decimal("833.33")


@pytest.mark.parametrize(
    ("currency", "value", "regular", "odd"),
    [
        ("JPY", "100000", "8333", "8337"),
        ("KWD", "1000.000", "83.333", "83.337"),
        ("USD", "10000.00", "833.33", "833.37"),
    ],
)
def test_split_uses_the_currency_minor_units(
    currency: str, value: str, regular: str, odd: str
) -> None:
    billing = terms(contract_value=Decimal(value), currency=currency)

    assert billing.instalments() == (Decimal(regular),) * 11 + (Decimal(odd),)


def test_instalment_of_36000_60_over_twelve_is_3000_05() -> None:
    billing = terms(contract_value=Decimal("36000.60"))

    [template] = plan(billing, "Acme", "test")

    assert billing.instalment_amount() == Decimal("3000.05")
    assert isinstance(template, Recurring)
    assert (template.amount, template.occurrences) == (Decimal("3000.05"), 12)


def test_monthly_from_31_jan_to_31_dec_is_twelve_instalments_ending_31_dec() -> None:
    billing = terms(
        term_start=date(2027, 1, 31),
        first_invoice_date=date(2027, 1, 31),
        term_end=date(2027, 12, 31),
    )

    dates = billing.instalment_dates()

    assert (len(dates), dates[-1], billing.recurring_periods()) == (12, date(2027, 12, 31), 12)
    assert dates[:3] == (date(2027, 1, 31), date(2027, 2, 28), date(2027, 3, 31))
    assert [day for day, _ in billed(plan(billing, "Acme", "test"))] == list(dates)


def test_month_end_schedule_in_a_leap_year_bills_29_feb() -> None:
    billing = terms(
        term_start=date(2028, 1, 31),
        first_invoice_date=date(2028, 1, 31),
        term_end=date(2028, 4, 30),
    )

    assert billing.instalment_dates() == (
        date(2028, 1, 31),
        date(2028, 2, 29),
        date(2028, 3, 31),
        date(2028, 4, 30),
    )


def test_term_ending_on_an_instalment_date_counts_it() -> None:
    billing = terms(term_end=date(2028, 1, 1), contract_value=Decimal("13000.00"))

    assert billing.recurring_periods() == 13
    assert billing.instalment_dates()[-1] == date(2028, 1, 1)


def test_quarterly_from_a_mid_month_start() -> None:
    billing = make_brief(
        "quarterly",
        term_start=date(2027, 3, 15),
        first_invoice_date=date(2027, 3, 15),
        term_end=date(2028, 3, 14),
    ).billing
    assert billing is not None

    assert billing.instalment_dates() == (
        date(2027, 3, 15),
        date(2027, 6, 15),
        date(2027, 9, 15),
        date(2027, 12, 15),
    )


def test_uneven_split_is_a_template_for_the_regular_amount_and_one_invoice_for_the_last() -> None:
    planned = plan(terms(contract_value=Decimal("10000.00")), "Acme", "test")

    assert planned == [
        Recurring(
            "Acme: monthly instalment",
            Decimal("833.33"),
            1,
            date(2027, 1, 1),
            date(2027, 11, 1),
            11,
            1,
        ),
        PlannedInvoice(
            2,
            "Acme: monthly instalment 12 of 12",
            Decimal("833.37"),
            date(2027, 12, 1),
            date(2027, 12, 31),
        ),
    ]


def test_uneven_split_with_remainder_first_invoices_the_first_and_templates_the_rest() -> None:
    billing = terms(contract_value=Decimal("10000.00"), remainder="first")

    template, single = plan(billing, "Acme", "test")

    assert isinstance(template, Recurring)
    assert isinstance(single, PlannedInvoice)
    assert (single.issued, single.amount) == (date(2027, 1, 1), Decimal("833.37"))
    assert (template.start, template.end, template.occurrences) == (
        date(2027, 2, 1),
        date(2027, 12, 1),
        11,
    )


def test_finance_record_states_the_split() -> None:
    text = describe_terms(terms(contract_value=Decimal("10000.00")))

    assert "11 x 833.33 and the last 833.37 (separate invoice; instalments total 10,000.00)" in (
        text
    )


def test_finance_record_writes_amounts_in_the_currency_decimals() -> None:
    text = describe_terms(terms(contract_value=Decimal("120000"), currency="JPY"))

    assert text.startswith("JPY 120,000 monthly") and "12 x 10,000," in text


@pytest.mark.parametrize(
    ("overrides", "field", "reason"),
    [
        ({"contract_value": Decimal("0.11")}, "contract_value", "too small to split into 12"),
        ({"first_invoice_date": date(2026, 12, 1)}, "first_invoice_date", "outside the term"),
        ({"first_invoice_date": date(2027, 2, 1)}, "first_invoice_date", "makes 11 invoices"),
        ({"contract_value": Decimal("1.5"), "currency": "JPY"}, "contract_value", "0 decimals"),
    ],
)
def test_recurring_terms_that_cannot_bill_exactly_are_refused(
    overrides: dict[str, Any], field: str, reason: str
) -> None:
    with pytest.raises(VendorRejected, match=reason) as raised:
        plan(terms(**overrides), "Acme", "test")

    assert raised.value.field == field


def test_money_json_keeps_three_decimal_currencies_exact() -> None:
    assert money_json({"a": Decimal("83.337"), "b": Decimal("8333"), "c": Decimal("1.5")}) == (
        b'{"a":83.337,"b":8333.00,"c":1.50}'
    )


def test_forms_and_integrations_agree_on_minor_units() -> None:
    for code in {
        *MINOR_UNITS,
        *form_money._MINOR_UNITS,
        *(c for c, _ in form_money.COMMON_CURRENCIES),
    }:
        assert form_money.minor_units(code) == minor_units(code), code


# --- properties -------------------------------------------------------------------------------


@st.composite
def recurring_briefs(draw: st.DrawFn) -> HandoffBrief:
    """Briefs billed monthly or quarterly on terms the form accepts (first invoice at the start)."""
    currency = draw(st.sampled_from(CURRENCIES))
    schedule = draw(st.sampled_from(["monthly", "quarterly"]))
    start = draw(st.dates(min_value=date(2024, 1, 1), max_value=date(2032, 12, 31)))
    end = start + timedelta(days=draw(st.integers(min_value=0, max_value=1200)))
    remainder: Remainder = draw(st.sampled_from(["first", "last"]))
    periods = len(form_schedule.schedule_dates(start, end, 1 if schedule == "monthly" else 3))
    units = draw(st.integers(min_value=periods, max_value=10**12))
    value = Decimal(units).scaleb(-minor_units(currency))
    return make_brief(
        schedule,
        contract_value=value,
        currency=currency,
        term_start=start,
        first_invoice_date=start,
        term_end=end,
        remainder=remainder,
        payment_terms_days=30,
    )


@st.composite
def sold_lines(draw: st.DrawFn, total: int, places: int) -> tuple[SoldLine, ...]:
    """One to four lines as sold whose nets add up to `total` minor units, some discounted."""
    count = draw(st.integers(min_value=1, max_value=4))
    lines, left = [], total
    for number in range(count):
        net = left if number == count - 1 else draw(st.integers(min_value=0, max_value=left))
        quantity = draw(st.integers(min_value=1, max_value=24))
        price = -(-net // quantity) + draw(st.integers(min_value=0, max_value=500))
        lines.append(
            SoldLine(
                description=f"Line {number + 1}",
                quantity=Decimal(quantity),
                unit_price=Decimal(price).scaleb(-places),
                discount=Decimal(quantity * price - net).scaleb(-places),
            )
        )
        left -= net
    return tuple(lines)


@st.composite
def priced_briefs(
    draw: st.DrawFn, schedules: tuple[str, ...] = ("monthly", "quarterly")
) -> HandoffBrief:
    """Briefs as `recurring_briefs` (or one-off), priced by lines as sold for the whole contract
    or per instalment, by a discount alone, or not at all."""
    brief = draw(recurring_briefs())
    billing = billing_of(brief)
    if billing.schedule not in schedules:  # the recurring briefs' value fits their own periods
        billing = billing.model_copy(update={"schedule": draw(st.sampled_from(schedules))})
    places = minor_units(billing.currency)
    periods = billing.recurring_periods()
    mode = draw(st.sampled_from(["none", "discount", "whole", "per_instalment"]))
    value = int(billing.contract_value.scaleb(places))
    update: dict[str, Any] = {}
    if mode == "discount":
        off = draw(st.integers(min_value=1, max_value=10**6))
        update["discount_amount"] = Decimal(off).scaleb(-places)
    elif mode == "whole":
        update["lines"] = draw(sold_lines(value, places))
    elif mode == "per_instalment":
        each = draw(st.integers(min_value=1, max_value=10**9))
        update["contract_value"] = Decimal(each * periods).scaleb(-places)
        update["lines"] = draw(sold_lines(each, places))
    if update.get("lines"):
        discount = sum(line.discount for line in update["lines"])
        update["discount_amount"] = discount * (periods if mode == "per_instalment" else 1)
    return brief.model_copy(update={"billing": billing.model_copy(update=update)})


def billing_of(brief: HandoffBrief) -> BillingTerms:
    assert brief.billing is not None
    return brief.billing


def assert_exact_schedule(billing: BillingTerms, instalments: list[tuple[date, Decimal]]) -> None:
    """The rules every bill obeys: exact total, positive whole minor units, dates in the term."""
    assert billing.term_start is not None and billing.term_end is not None
    unit = Decimal(1).scaleb(-minor_units(billing.currency))
    amounts = [amount for _, amount in instalments]
    days = [day for day, _ in instalments]
    assert sum(amounts) == billing.contract_value
    assert all(amount > 0 and amount % unit == 0 for amount in amounts)
    assert all(billing.term_start <= day <= billing.term_end for day in days)
    assert all(a < b for a, b in itertools.pairwise(days))
    step = 1 if billing.schedule == "monthly" else 3
    assert len(instalments) == billing.recurring_periods()
    # The count is the schedule's: one more step would leave the term.
    assert form_schedule.add_months(days[0], len(days) * step) > billing.term_end
    # Only the remainder instalment may differ, by less than one unit per instalment.
    regular = billing.instalment_amount()
    assert sum(1 for amount in amounts if amount != regular) <= 1
    assert all(0 <= amount - regular < unit * len(amounts) for amount in amounts)
    # And they are the agreed dates: what the vendor bills is what the finance record states.
    assert days == list(billing.instalment_dates())


@given(priced_briefs())
def test_property_plan_bills_the_contract_value_exactly(brief: HandoffBrief) -> None:
    billing = billing_of(brief)
    assert_exact_schedule(billing, billed(plan(billing, "Acme", "test")))


@given(priced_briefs(schedules=("one_off",)))
def test_property_one_off_lines_bill_the_contract_value_exactly(brief: HandoffBrief) -> None:
    billing = billing_of(brief)
    [invoice] = plan(billing, "Acme", "test")
    assert invoice.amount == billing.contract_value
    # Lines as sold that add up to the value are the invoice's lines, discounts included.
    if billing.lines:
        assert [line.description for line in invoice.lines] == [
            line.description for line in billing.lines
        ]
    config = quickbooks.QuickBooksConfig(realm_id="1", item_ref="7", term_refs={30: "3"})
    [qbo_doc] = quickbooks.plan_documents(brief, billing, config)
    assert qbo_total(_wire(quickbooks.with_customer(qbo_doc, "9"))) == billing.contract_value
    [xero_doc] = xero.plan_documents(
        brief, billing, xero.XeroConfig(tenant_id="t", account_code="2")
    )
    [body] = _wire(xero.with_contact(xero_doc, "c"))["Invoices"]
    assert xero_total(body) == billing.contract_value


@given(
    first=st.dates(min_value=date(2024, 1, 1), max_value=date(2032, 12, 31)),
    end_after=st.integers(min_value=0, max_value=1200),
    step=st.sampled_from([1, 3]),
)
def test_property_forms_and_integrations_compute_the_same_dates(
    first: date, end_after: int, step: int
) -> None:
    end = first + timedelta(days=end_after)
    assert form_schedule.schedule_dates(first, end, step) == schedule_dates(first, end, step)


def _wire(body: dict[str, Any]) -> dict[str, Any]:
    """The body as the vendor parses it from what money_json puts on the wire."""
    parsed: dict[str, Any] = json.loads(money_json(body), parse_float=Decimal)
    return parsed


def _iso(text: str) -> date:
    return date.fromisoformat(text)


@given(priced_briefs())
def test_property_quickbooks_bodies_bill_the_contract_value_exactly(brief: HandoffBrief) -> None:
    billing = billing_of(brief)
    config = quickbooks.QuickBooksConfig(realm_id="1", item_ref="7", term_refs={30: "3"})
    instalments: list[tuple[date, Decimal]] = []
    for doc in quickbooks.plan_documents(brief, billing, config):
        body = _wire(quickbooks.with_customer(doc, "99"))
        if doc.endpoint == "recurringtransaction":
            invoice = body["Invoice"]
            info = invoice["RecurringInfo"]["ScheduleInfo"]
            days = template_dates(
                _iso(info["StartDate"]),
                _iso(info["EndDate"]),
                info["NumInterval"],
                info["DayOfMonth"],
            )
        else:
            invoice = body
            days = [_iso(invoice["TxnDate"])]
        instalments += [(day, qbo_total(invoice)) for day in days]
    assert_exact_schedule(billing, sorted(instalments))


@given(priced_briefs())
def test_property_xero_bodies_bill_the_contract_value_exactly(brief: HandoffBrief) -> None:
    billing = billing_of(brief)
    config = xero.XeroConfig(tenant_id="t", account_code="200")
    instalments: list[tuple[date, Decimal]] = []
    try:
        documents = xero.plan_documents(brief, billing, config)
    except VendorRejected:
        # Xero repeats on its start date's day, so a template starting on a clamped day (Feb 28
        # for the 31st) is refused rather than billed on the wrong dates; nothing else is.
        assert billing.remainder == "first" and billing.first_invoice_date.day > 28
        return
    for doc in documents:
        [body] = _wire(xero.with_contact(doc, "c"))[doc.collection]
        if doc.collection == "RepeatingInvoices":
            schedule = body["Schedule"]
            start = _iso(schedule["StartDate"])
            assert schedule["Unit"] == "MONTHLY"
            # Xero has no day-of-month field: the schedule repeats on its start date's day.
            days = template_dates(start, _iso(schedule["EndDate"]), schedule["Period"], start.day)
        else:
            days = [_iso(body["Date"])]
        instalments += [(day, xero_total(body)) for day in days]
    assert_exact_schedule(billing, sorted(instalments))


def test_xero_refuses_a_template_it_would_repeat_on_a_clamped_day() -> None:
    brief = make_brief(
        "monthly",
        contract_value=Decimal("10000.00"),
        remainder="first",
        term_start=date(2027, 1, 31),
        first_invoice_date=date(2027, 1, 31),
        term_end=date(2027, 12, 31),
    )
    assert brief.billing is not None
    config = xero.XeroConfig(tenant_id="t", account_code="200")

    with pytest.raises(VendorRejected, match=r"set billing\.remainder to last"):
        xero.plan_documents(brief, brief.billing, config)


@pytest.mark.parametrize(
    ("overrides", "line"),
    [
        (
            {"contract_value": Decimal("10000.00")},
            "Schedule: Monthly, 11 invoices of GBP 833.33 and the last of GBP 833.37",
        ),
        (
            {"contract_value": Decimal("100000"), "currency": "JPY", "remainder": "first"},
            "Schedule: Monthly, 11 invoices of JPY 8,333 and the first of JPY 8,337",
        ),
        ({}, "Schedule: Monthly, 12 invoices of GBP 3,000.00"),
    ],
)
def test_brief_text_states_the_split_for_the_ops_tools(
    overrides: dict[str, Any], line: str
) -> None:
    assert line in billing_lines(make_brief("monthly", **overrides))


# --- found alive by ./scripts/mutation (integrations/ports.py) -----------------------------------


@pytest.mark.parametrize("schedule", ["one_off", "milestones"])
def test_non_recurring_terms_are_one_date_and_one_period_even_with_a_term(
    schedule: BillingSchedule,
) -> None:
    billing = make_brief(schedule).billing
    assert billing is not None and billing.term_end is not None

    assert billing.instalment_dates() == (billing.first_invoice_date,)
    assert billing.recurring_periods() == 1


@pytest.mark.parametrize(
    "overrides", [{"term_start": None}, {"term_end": None}, {"term_start": None, "term_end": None}]
)
def test_recurring_terms_without_a_whole_term_are_one_period(overrides: dict[str, Any]) -> None:
    billing = terms(**overrides)

    assert billing.recurring_periods() == 1
    if billing.term_end is None:
        assert billing.instalment_dates() == (billing.first_invoice_date,)


def test_instalments_refuse_a_value_finer_than_the_currency() -> None:
    with pytest.raises(ValueError, match=r"^1\.5 has more decimals than JPY has$"):
        terms(contract_value=Decimal("1.5"), currency="JPY").instalments()


def test_vendor_error_keeps_what_the_outbox_reads() -> None:
    error = VendorUnavailable("asana", "busy", status=503, field="name", retry_after=2.5)

    assert (error.vendor, error.message, error.status, error.field, error.retry_after) == (
        "asana",
        "busy",
        503,
        "name",
        2.5,
    )
    assert str(error) == "asana: busy" and error.retryable


@pytest.mark.parametrize(
    ("roles", "expected"),
    [
        (("Project lead", "Accounts payable"), "Accounts payable"),
        (("CFO", "Head of Billing"), "Head of Billing"),
        (("Project lead", "CFO"), "Project lead"),
        ((), None),
    ],
)
def test_billing_contact_is_the_billing_role_else_the_first(
    roles: tuple[str, ...], expected: str | None
) -> None:
    contacts = tuple(Contact(name=f"P{i}", role=role) for i, role in enumerate(roles))
    brief = make_brief("monthly").model_copy(update={"contacts": contacts})

    contact = brief.billing_contact()

    assert (contact.role if contact else None) == expected
