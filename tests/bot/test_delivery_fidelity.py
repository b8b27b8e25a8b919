"""Finance fidelity end to end: a form filled in Slack, searched for in QuickBooks and Xero.

For every schedule and billing model, the handoff is submitted through signed Slack requests
and delivered through the outbox; then every document the finance tool holds is searched for
each billing-relevant field, as typed, and what it bills (computed as the vendor computes it)
must be the contract value exactly. Quarterly billing is covered in test_delivery.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from tests.bot.conftest import Harness
from tests.bot.test_delivery import FULL, World, WorldFactory, world_factory
from tests.integrations.fakes import history_text, qbo_total, strings, xero_total

VALUE = Decimal("36000.00")
CASES: dict[str, tuple[dict[str, Any], str, str]] = {
    # name: (answers over FULL, schedule as finance reads it, billing model as finance reads it)
    "one_off": ({"schedule": "one_off"}, "one-off", "fixed price"),
    "monthly": ({"schedule": "monthly"}, "monthly", "fixed price"),
    "milestones": (
        {
            "schedule": "milestones",
            "milestones": "2027-03-31; 16000; Pipeline live\n2027-09-30; 20000; Dashboard done",
        },
        "milestones",
        "fixed price",
    ),
    "deposit_balance": (
        {
            "billing_model": "deposit_balance",
            "schedule": "one_off",
            "deposit_amount": "10000",
            "balance_date": "2027-12-31",
        },
        "milestones",
        "deposit + balance",
    ),
    "retainer": (
        {"billing_model": "retainer", "schedule": "monthly", "retainer_amount": "3000"},
        "monthly",
        "retainer",
    ),
}


@pytest.fixture
def worlds(make_harness: Callable[..., Harness]) -> Iterator[WorldFactory]:
    with world_factory(make_harness) as factory:
        yield factory


def needles(schedule: str, model: str) -> dict[str, list[str]]:
    """Each billing-relevant field of FULL -> the texts that show it in the finance tool."""
    return {
        "contract value": ["GBP 36,000.00"],
        "currency": ["GBP"],
        "schedule": [f"Schedule: {schedule}"],
        "billing model": [f"Billing model: {model}"],
        "first invoice date": ["First invoice date: 2027-01-01"],
        "arrears": ["Billed in arrears: no"],
        "payment terms": ["Payment terms: 30 days"],
        "PO": [FULL["po_number"]],
        "legal entity": [FULL["invoicing_entity"]],
        "tax ID": [FULL["tax_id"]],
        "billing address": FULL["billing_address"].splitlines(),
        "billing contact": ["Bill Payable", "ap@acme.example"],
        "billing conditions": [FULL["billing_conditions"]],
        "non-standard terms": [FULL["non_standard_terms"]],
        "discounts": [FULL["discounts"], "GBP 4,000.00"],
        "contract link": [FULL["contract_url"]],
        "lines as sold": ["Reporting licence", "Onboarding workshop"],
    }


def missing(texts: list[str], schedule: str, model: str) -> list[str]:
    haystack = "\n".join(texts)
    return [
        field
        for field, wanted in needles(schedule, model).items()
        if not all(text in haystack for text in wanted)
    ]


def months(start: str, end: str, step: int) -> int:
    """How many invoices a template from `start` to `end` every `step` months makes (day 1)."""
    first, last = date.fromisoformat(start), date.fromisoformat(end)
    return ((last.year - first.year) * 12 + last.month - first.month) // step + 1


@pytest.mark.parametrize("case", sorted(CASES))
def test_quickbooks_holds_every_billing_field_on_every_document(
    worlds: WorldFactory, case: str
) -> None:
    answers, schedule, model = CASES[case]
    world: World = worlds("asana", "quickbooks")
    world.submit({**FULL, **answers})
    world.settle()

    documents = [*world.qbo.invoices.values(), *world.qbo.recurring.values()]
    assert documents
    billed = Decimal(0)
    for document in documents:
        assert missing(strings(document), schedule, model) == [], document["PrivateNote"]
        assert "Includes the agreed discount of GBP 4,000.00" in document["CustomerMemo"]["value"]
        info = document.get("RecurringInfo", {}).get("ScheduleInfo")
        count = months(info["StartDate"], info["EndDate"], info["NumInterval"]) if info else 1
        billed += qbo_total(document) * count
    assert billed == VALUE  # never a different total than agreed
    [customer] = world.qbo.customers.values()
    assert (customer["CompanyName"], customer["BillAddr"]["Line1"]) == (
        FULL["invoicing_entity"],
        "1 Market Street",
    )


@pytest.mark.parametrize("case", sorted(CASES))
def test_xero_holds_every_billing_field_on_every_document(worlds: WorldFactory, case: str) -> None:
    answers, schedule, model = CASES[case]
    world: World = worlds("asana", "xero")
    world.submit({**FULL, **answers})
    world.settle()

    documents = {**world.xero.invoices, **world.xero.repeating}
    assert documents
    billed = Decimal(0)
    for document_id, document in documents.items():
        history = history_text(world.xero.history[document_id])
        assert missing([*strings(document), *history], schedule, model) == [], history
        assert document["Reference"] == FULL["po_number"]
        lines = document["LineItems"]
        # The discount is a discount on the lines, or stated on the printed line.
        discounted = any(line.get("DiscountAmount") for line in lines)
        stated = "Includes the agreed discount of GBP 4,000.00" in lines[0]["Description"]
        assert discounted or stated
        plan = document.get("Schedule")
        count = months(plan["StartDate"], plan["EndDate"], plan["Period"]) if plan else 1
        billed += xero_total(document) * count
    assert billed == VALUE
    [contact] = world.xero.contacts.values()
    assert (contact["TaxNumber"], contact["Addresses"][0]["AddressLine1"]) == (
        FULL["tax_id"],
        "1 Market Street",
    )
