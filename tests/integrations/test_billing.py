"""The vendor-neutral billing plan: which documents a schedule needs, their amounts and dates."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from integrations.billing import PlannedInvoice, Recurring, document_tag, money_json, plan
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
