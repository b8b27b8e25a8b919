"""The vendor-neutral billing plan: which documents a schedule needs, their amounts and dates."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from integrations.billing import (
    PlannedInvoice,
    Recurring,
    build_documents,
    describe_terms,
    document_tag,
    money_json,
    plan,
    require_billing,
)
from integrations.ports import BillingSchedule, BillingTerms, Milestone, VendorRejected
from tests.integrations.fakes import make_brief


def terms(schedule: BillingSchedule = "monthly", **overrides: Any) -> BillingTerms:
    """The shared fake brief's terms on `schedule`, with BillingTerms fields overridden."""
    billing = make_brief(schedule, **overrides).billing
    assert billing is not None
    return billing


def invoices(billing: BillingTerms) -> list[PlannedInvoice]:
    """The plan for a schedule that bills by invoice, not by recurring template."""
    planned = plan(billing, "Acme rollout", "test")
    assert all(isinstance(doc, PlannedInvoice) for doc in planned)
    return [doc for doc in planned if isinstance(doc, PlannedInvoice)]


def test_monthly_over_a_year_is_one_recurring_template_of_equal_instalments() -> None:
    planned = plan(terms("monthly"), "Acme rollout", "test")

    assert planned == [
        Recurring(
            description="Acme rollout: monthly instalment",
            amount=Decimal("3000.00"),
            step_months=1,
            start=date(2027, 1, 1),
            end=date(2027, 12, 1),
            occurrences=12,
            day_of_month=1,
        )
    ]


def test_quarterly_steps_three_months() -> None:
    [planned] = plan(terms("quarterly"), "Acme rollout", "test")

    assert isinstance(planned, Recurring)
    assert (planned.step_months, planned.amount, planned.occurrences) == (3, Decimal("9000.00"), 4)


def test_recurring_that_would_bill_a_different_count_is_rejected() -> None:
    with pytest.raises(VendorRejected, match="makes 11 invoices") as raised:
        plan(terms("monthly", first_invoice_date=date(2027, 2, 1)), "Acme rollout", "test")

    assert raised.value.field == "first_invoice_date"


def test_recurring_without_a_term_end_is_rejected() -> None:
    with pytest.raises(VendorRejected) as raised:
        plan(terms("monthly", term_end=None), "Acme rollout", "test")

    assert raised.value.field == "term_end"


def test_one_off_is_one_invoice_due_after_the_payment_terms() -> None:
    assert invoices(terms("one_off")) == [
        PlannedInvoice(
            index=1,
            description="Acme rollout",
            amount=Decimal("12500.00"),
            issued=date(2027, 2, 15),
            due=date(2027, 3, 17),
        )
    ]


def test_milestones_are_one_invoice_each_issued_on_the_first_invoice_date() -> None:
    assert invoices(terms("milestones")) == [
        PlannedInvoice(
            1, "Discovery complete", Decimal("10000.00"), date(2027, 1, 1), date(2027, 2, 28)
        ),
        PlannedInvoice(2, "Pilot live", Decimal("15000.00"), date(2027, 1, 1), date(2027, 5, 31)),
        PlannedInvoice(
            3, "Rollout signed off", Decimal("11000.50"), date(2027, 1, 1), date(2027, 9, 30)
        ),
    ]


def test_milestone_due_before_the_first_invoice_date_is_issued_on_its_due_date() -> None:
    early = Milestone(description="Deposit", amount=Decimal("500.00"), due_date=date(2026, 12, 15))
    billing = terms("milestones", milestones=(early,), contract_value=Decimal("500.00"))

    [invoice] = invoices(billing)

    assert (invoice.issued, invoice.due) == (date(2026, 12, 15), date(2026, 12, 15))


def test_milestone_schedule_without_milestones_is_rejected() -> None:
    with pytest.raises(VendorRejected) as raised:
        plan(terms("milestones", milestones=()), "Acme rollout", "test")

    assert raised.value.field == "milestones"


@pytest.mark.parametrize(
    ("schedule", "overrides", "field"),
    [
        ("one_off", {"contract_value": Decimal("12500.005")}, "contract_value"),
        (
            "milestones",
            {
                "milestones": (
                    Milestone(description="A", amount=Decimal("1.00"), due_date=date(2027, 2, 1)),
                    Milestone(description="B", amount=Decimal("2.001"), due_date=date(2027, 3, 1)),
                )
            },
            "milestones[2].amount",
        ),
    ],
)
# exact_money quantizes to Decimal(1).scaleb(-places); quantize reads only the exponent, so a
# mutant quantizing to Decimal(2).scaleb(-places) (0.02) behaves the same: equivalent.
def test_amounts_with_more_than_two_decimals_are_rejected_naming_the_field(
    schedule: BillingSchedule, overrides: dict[str, Any], field: str
) -> None:
    with pytest.raises(VendorRejected, match="more than 2 decimals for GBP") as raised:
        plan(terms(schedule, **overrides), "Acme rollout", "quickbooks")

    assert (raised.value.vendor, raised.value.field) == ("quickbooks", field)


def test_document_tag_keeps_the_format_existing_vendor_records_carry() -> None:
    assert document_tag("handoff-42", 3) == "(ref handoff-42/3)"


def test_money_json_writes_decimals_as_two_decimal_numbers_and_dates_as_iso() -> None:
    body = {"Amount": Decimal("3000"), "Due": date(2027, 1, 31), "Note": "3000.00"}

    assert money_json(body) == b'{"Amount":3000.00,"Due":"2027-01-31","Note":"3000.00"}'


# --- refusals name the vendor, the field and the reason (what the admin and the message show) --

REFUSALS = [
    pytest.param(
        {"term_end": None},
        "term_end",
        "monthly billing needs a term start and end",
        id="no term end",
    ),
    pytest.param(
        {"contract_value": Decimal("10000.001")},
        "contract_value",
        "10000.001 has more than 2 decimals for GBP",
        id="finer than a cent",
    ),
    pytest.param(
        {"first_invoice_date": date(2028, 1, 1)},
        "first_invoice_date",
        "the first invoice date 2028-01-01 is outside the term (2027-01-01 to 2027-12-31)",
        id="after the term",
    ),
    pytest.param(
        {"first_invoice_date": date(2027, 3, 1)},
        "first_invoice_date",
        "a monthly schedule from 2027-03-01 to 2027-12-31 makes 10 invoices, but the contract "
        "is split into 12 instalments",
        id="count",
    ),
    pytest.param(
        {"contract_value": Decimal("0.11")},
        "contract_value",
        "GBP 0.11 is too small to split into 12 instalments",
        id="too small",
    ),
]


@pytest.mark.parametrize(("overrides", "field", "message"), REFUSALS)
def test_refusal_names_the_vendor_field_and_reason(
    overrides: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(VendorRejected) as raised:
        plan(terms("monthly", **overrides), "Acme rollout", "xero")

    assert (raised.value.vendor, raised.value.field, raised.value.message) == (
        "xero",
        field,
        message,
    )


def test_refusal_without_billing_or_milestones_names_the_vendor() -> None:
    brief = make_brief("one_off").model_copy(update={"billing": None})
    with pytest.raises(VendorRejected) as no_billing:
        require_billing(brief, "quickbooks")
    with pytest.raises(VendorRejected) as no_milestones:
        plan(terms("milestones", milestones=()), "Acme rollout", "quickbooks")

    assert (no_billing.value.vendor, no_billing.value.field, no_billing.value.message) == (
        "quickbooks",
        "billing",
        "the handoff has no billing terms",
    )
    assert (no_milestones.value.vendor, no_milestones.value.message) == (
        "quickbooks",
        "milestone billing without milestones",
    )


def test_milestone_refusal_comes_from_build_documents_with_the_vendor() -> None:
    class Builder:
        def recurring(self, planned: Recurring) -> str:
            return "template"

        def invoice(self, planned: PlannedInvoice) -> str:
            return f"invoice {planned.index}"

    with pytest.raises(VendorRejected) as raised:
        build_documents(terms("milestones", milestones=()), "Acme", "xero", Builder())
    assert raised.value.vendor == "xero"
    assert build_documents(terms("milestones"), "Acme", "xero", Builder()) == [
        "invoice 1",
        "invoice 2",
        "invoice 3",
    ]
    assert build_documents(terms("quarterly"), "Acme", "xero", Builder()) == ["template"]


# --- the finance record's wording ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("schedule", "overrides", "text"),
    [
        (
            "quarterly",
            {},
            "GBP 36,000.00 quarterly from 2027-01-01 to 2027-12-31: 4 x 9,000.00, net 30 days",
        ),
        (
            "monthly",
            {"contract_value": Decimal("10000.00"), "remainder": "first"},
            "GBP 10,000.00 monthly from 2027-01-01 to 2027-12-31: 11 x 833.33 and the first "
            "833.37 (separate invoice; instalments total 10,000.00), net 30 days",
        ),
        ("milestones", {}, "GBP 36,000.50 in 3 milestones, net 30 days"),
        ("one_off", {}, "GBP 12,500.00 one-off on 2027-02-15, net 30 days"),
        ("one_off", {"currency": "KWD", "contract_value": Decimal("12.5")}, "KWD 12.500 one-off"),
    ],
)
def test_describe_terms_states_the_schedule_and_split(
    schedule: BillingSchedule, overrides: dict[str, Any], text: str
) -> None:
    assert describe_terms(terms(schedule, **overrides)).startswith(text)


# --- money_json --------------------------------------------------------------------------------


def test_money_json_leaves_strings_alone_and_writes_utf8() -> None:
    # A string that looks like an encoded amount stays a string; only our Decimals become numbers.
    # Equivalent mutants of money_json: the nonce's length (token_hex(9) or its default), `< -2`
    # vs `<= -2` (an amount with exactly two decimals is written the same either way), and
    # ensure_ascii=None (falsy, like False).
    assert money_json({"a": "None1.50", "b": "Zoë", "c": Decimal("7")}) == (
        '{"a":"None1.50","b":"Zoë","c":7.00}'.encode()
    )


def test_money_json_refuses_what_it_cannot_write_exactly() -> None:
    with pytest.raises(TypeError, match="cannot serialise set"):
        money_json({"a": {1}})
