"""Prefill from a deal with full CRM data: line items, owner, contact roles, dates, address.

Also the measure the README quotes: how many inputs a salesperson still has to type.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from forms.ids import SalesToDeliveryField as F
from forms.sales_to_delivery import SPEC, SalesToDeliveryForm, prefill_values, typed_inputs
from forms.steps import STEPS

FULL_CRM: dict[str, Any] = {
    "deal_name": "Acme - analytics rollout",
    "account_name": "Acme Widgets Ltd",
    "amount": Decimal("13800.00"),
    "currency": "GBP",
    "close_date": date(2027, 2, 20),
    "term_start": date(2027, 3, 1),
    "term_end": date(2028, 2, 29),
    "account_manager": "U0OWNER01",
    "billing_address": "1 Market Street\nLeeds LS1 1AA\nUnited Kingdom",
    "contacts": [
        {
            "name": "Jane Doe",
            "email": "jane@acme.example",
            "job_title": "Chief Financial Officer",
            "roles": ["Decision maker"],
        },
        {
            "name": "Bob Smith",
            "email": "bob@acme.example",
            "job_title": "Finance Systems Lead",
            "roles": ["Day-to-day contact"],
        },
        {
            "name": "Amy Jones",
            "email": "ap@acme.example",
            "job_title": "Team Assistant",
            "roles": ["Billing contact"],
        },
    ],
    "line_items": [
        {
            "name": "Analytics licence",
            "quantity": Decimal(12),
            "unit_price": Decimal("1000.00"),
            "amount": Decimal("10800.00"),
            "discount": Decimal("1200.00"),
            "recurring": "monthly",
        },
        {
            "name": "Onboarding workshop",
            "quantity": Decimal(1),
            "unit_price": Decimal("3000.00"),
            "amount": Decimal("3000.00"),
            "recurring": "monthly",
        },
    ],
}


def test_prefill_uses_line_items_owner_contact_roles_dates_and_address() -> None:
    values = prefill_values(**FULL_CRM)

    assert values[F.DELIVERABLES] == "Analytics licence x 12\nOnboarding workshop"
    assert values[F.SOLD_LINES] == (
        "12 x Analytics licence at 1,000.00 less 1,200.00 = 10,800.00, monthly\n"
        "1 x Onboarding workshop at 3,000.00 = 3,000.00, monthly"
    )
    assert values[F.DISCOUNT_AMOUNT] == "1200.00"
    assert values[F.SCHEDULE] == "monthly"
    assert values[F.ACCOUNT_MANAGER] == "U0OWNER01"
    assert (values[F.TERM_START], values[F.TERM_END]) == ("2027-03-01", "2028-02-29")
    assert values[F.FIRST_INVOICE_DATE] == "2027-03-01"
    # Roles come from the CRM's labels, even where the job title says otherwise.
    assert values[F.BUYER_NAME] == "Jane Doe"
    assert values[F.DAY_TO_DAY_NAME] == "Bob Smith"
    assert values[F.BILLING_CONTACT_NAME] == "Amy Jones"
    assert values[F.BILLING_ADDRESS] == "1 Market Street\nLeeds LS1 1AA\nUnited Kingdom"


TYPED_WITH_FULL_CRM = [
    F.WHY_THEY_BOUGHT,
    F.SUCCESS_CRITERIA,
    F.MONTH_ONE,
    F.PROMISES_MADE,
    F.OUT_OF_SCOPE,
    F.ACCEPTANCE_CRITERIA,
    F.GO_LIVE_DATE,
    F.RISKS,
]


def test_with_full_crm_data_a_salesperson_types_eight_inputs() -> None:
    values = prefill_values(**FULL_CRM)

    typed = typed_inputs(values)

    assert typed == TYPED_WITH_FULL_CRM  # the count in the README
    assert len(typed) <= 8
    answers = {
        F.WHY_THEY_BOUGHT: "Reporting takes a week",
        F.SUCCESS_CRITERIA: "Pack by day 3",
        F.MONTH_ONE: "Tuesday calls",
        F.PROMISES_MADE: "None",
        F.OUT_OF_SCOPE: "Forecasting",
        F.ACCEPTANCE_CRITERIA: "CFO signs off March",
        F.GO_LIVE_DATE: "2027-05-03",
        F.RISKS: "CFO leaves in June",
    }
    form = SPEC.parse({**values, **answers})
    assert isinstance(form, SalesToDeliveryForm), form
    assert len(STEPS) == 3


def test_prefill_never_proposes_a_kickoff_in_the_past() -> None:
    values = prefill_values(**{**FULL_CRM, "term_start": None}, today=date(2027, 2, 24))

    assert values[F.TERM_START] == "2027-02-20"  # the close date
    assert values[F.EARLIEST_KICKOFF] == "2027-02-24"
