"""Billing models beyond fixed price: each one's own fields, its rules, and its finance terms."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from forms.ids import SalesToDeliveryField as F
from forms.sales_to_delivery import SPEC, SalesToDeliveryForm, billing
from integrations.ports import BillingTerms


def _parse(values: dict[str, Any]) -> SalesToDeliveryForm | dict[str, str]:
    return SPEC.parse({k: v for k, v in values.items() if v is not None})


def test_retainer_bills_the_monthly_amount_over_the_term(sales_values: dict[str, Any]) -> None:
    # Term 12 Mar 2027 - 11 Mar 2028 is 12 months; 12 x 8,000 is 96,000.
    sales_values.update(
        {
            F.BILLING_MODEL: "retainer",
            F.SCHEDULE: "monthly",
            F.CONTRACT_VALUE: "96000",
            F.RETAINER_AMOUNT: "8000",
            F.FIRST_INVOICE_DATE: "2027-03-12",
        }
    )
    form = _parse(sales_values)
    assert isinstance(form, SalesToDeliveryForm), form
    terms = BillingTerms.model_validate(billing(form))
    assert (terms.schedule, terms.instalment_amount()) == ("monthly", Decimal("8000.00"))
    assert terms.model_terms == "GBP 8,000.00 a month"

    sales_values[F.RETAINER_AMOUNT] = "7000"
    assert _parse(sales_values) == {
        F.RETAINER_AMOUNT: "12 months x GBP 7,000.00 is GBP 84,000.00, not the contract value "
        "(GBP 96,000.00)"
    }


def test_deposit_and_balance_become_two_dated_invoices(sales_values: dict[str, Any]) -> None:
    sales_values.update(
        {
            F.BILLING_MODEL: "deposit_balance",
            F.SCHEDULE: "one_off",
            F.DEPOSIT_AMOUNT: "30000",
            F.BALANCE_DATE: "2027-09-30",
        }
    )
    form = _parse(sales_values)
    assert isinstance(form, SalesToDeliveryForm), form
    terms = BillingTerms.model_validate(billing(form))
    assert terms.schedule == "milestones"
    assert [(m.description, m.amount, m.due_date) for m in terms.milestones] == [
        ("Deposit", Decimal("30000"), date(2027, 4, 1)),
        ("Balance", Decimal("70000.00"), date(2027, 9, 30)),
    ]


@pytest.mark.parametrize(
    ("changes", "block_id", "message"),
    [
        (
            {
                F.BILLING_MODEL: "deposit_balance",
                F.SCHEDULE: "one_off",
                F.BALANCE_DATE: "2027-09-30",
            },
            F.DEPOSIT_AMOUNT,
            "Enter the deposit amount",
        ),
        (
            {
                F.BILLING_MODEL: "deposit_balance",
                F.DEPOSIT_AMOUNT: "1000",
                F.BALANCE_DATE: "2027-09-30",
            },
            F.DEPOSIT_AMOUNT,
            "Deposit + balance makes its own two invoices: choose One-off as the schedule",
        ),
        (
            {F.BILLING_MODEL: "time_and_materials"},
            F.RATE_CARD,
            "List the rates, e.g. 'Consultant: GBP 900 a day'",
        ),
        (
            {F.BILLING_MODEL: "time_and_materials", F.RATE_CARD: "PM: 800/day", F.SPEND_CAP: "5"},
            F.SPEND_CAP,
            "The cap is below the contract value (GBP 100,000.00)",
        ),
        (
            {F.BILLING_MODEL: "usage"},
            F.USAGE_TERMS,
            "Say what is metered and at what price, e.g. 'GBP 0.40 per order'",
        ),
        (
            {F.BILLING_MODEL: "retainer", F.RETAINER_AMOUNT: "8000"},
            F.RETAINER_AMOUNT,
            "A retainer is billed monthly: choose Monthly as the schedule",
        ),
    ],
)
def test_billing_model_rules_show_beside_their_field(
    sales_values: dict[str, Any], changes: dict[str, Any], block_id: str, message: str
) -> None:
    sales_values.update(changes)
    assert _parse(sales_values) == {block_id: message}


def test_time_and_materials_tells_finance_the_amounts_are_estimates(
    sales_values: dict[str, Any],
) -> None:
    sales_values.update(
        {
            F.BILLING_MODEL: "time_and_materials",
            F.RATE_CARD: "Consultant: GBP 900 a day",
            F.SPEND_CAP: "120000",
        }
    )
    form = _parse(sales_values)
    assert isinstance(form, SalesToDeliveryForm), form
    terms = BillingTerms.model_validate(billing(form))
    assert terms.billing_model == "time_and_materials"
    assert terms.model_terms == "Consultant: GBP 900 a day; capped at GBP 120,000.00"
