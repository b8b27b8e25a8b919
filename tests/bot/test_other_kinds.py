"""The same engine runs ops -> finance (delivery complete) and ops -> sales (renewal) handoffs."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest

from storage.models import HandoffStatus
from tests.bot.conftest import FIN_MEMBER, HANDOFF_CHANNEL, OPS_MEMBER, SELLER, Harness
from tests.bot.test_delivery import WorldFactory, world_factory
from tests.bot.test_handoff_flow import click, submit
from tests.support.slack_state import initial_values


@pytest.fixture
def worlds(make_harness: Callable[..., Harness]) -> Iterator[WorldFactory]:
    with world_factory(make_harness) as factory:
        yield factory


DELIVERY = {
    "account_name": "Acme Ltd",
    "deliverables": "delivered; Reporting pipeline\ndelivered; Dashboard; signed off by Dana",
    "acceptance_date": "2027-06-30",
    "acceptance_evidence_url": "https://mail.example.com/acme-sign-off",
    "currency": "GBP",
    "contract_value": "36000",
    "already_invoiced": "36000",
    "payment_terms_days": "30",
    "billable_extras": "4000; Extra training day",
    "invoice_date": "2027-07-01",
}


def test_delivery_handoff_from_ops_reaches_finance_and_completes(harness: Harness) -> None:
    harness.hubspot.add_deal("700", company="Acme Ltd")

    harness.command("delivery 700", user_id=OPS_MEMBER)
    view_id, form = next(reversed(harness.slack.views.items()))
    assert form["callback_id"] == "handoff_form.delivery_to_finance"
    assert initial_values(form)["account_name"] == "Acme Ltd"

    response = submit(harness, view_id, form, DELIVERY, user=OPS_MEMBER)
    assert json.loads(response.body)["response_action"] == "update"

    [root] = harness.slack.in_channel(HANDOFF_CHANNEL)
    blocks = json.dumps(root.blocks)
    assert "Confirm for Finance" in blocks
    assert "Confirm for Operations" not in blocks
    handoff_id = int(json.loads(form["private_metadata"])["handoff_id"])
    click(harness, "confirm_handoff:finance", f"{handoff_id}:finance", user=FIN_MEMBER)
    with harness.services.uow() as uow:
        handoff = uow.repo.handoff(handoff_id)
        assert handoff is not None
        assert handoff.status == HandoffStatus.CONFIRMED
        assert handoff.kind == "delivery_to_finance"
        assert handoff.sender_user_id == OPS_MEMBER


def test_renewal_handoff_prefills_current_value(harness: Harness) -> None:
    harness.hubspot.add_deal("701", amount="36000", company="Acme Ltd")

    harness.command("renewal 701", user_id=OPS_MEMBER)

    form = list(harness.slack.views.values())[-1]
    assert form["callback_id"] == "handoff_form.renewal_to_sales"
    assert initial_values(form)["current_value"] == "36000"


def test_delivery_handoff_cannot_be_started_by_sales(harness: Harness) -> None:
    harness.hubspot.add_deal("702")

    harness.command("delivery 702", user_id=SELLER)

    assert "Only members of Operations" in json.dumps(list(harness.slack.views.values())[-1])


def test_delivery_handoff_raises_one_final_invoice_in_quickbooks(worlds: WorldFactory) -> None:
    world = worlds()
    world.h.hubspot.add_deal("703", company="Acme Ltd")
    world.h.command("delivery 703", user_id=OPS_MEMBER)
    view_id, form = next(reversed(world.h.slack.views.items()))
    submit(world.h, view_id, form, DELIVERY, user=OPS_MEMBER)
    handoff_id = int(json.loads(form["private_metadata"])["handoff_id"])

    world.settle()

    invoices = world.requests("quickbooks", "POST", "/invoice")
    assert len(invoices) == 1
    body = invoices[0].json
    assert body["TxnDate"] == "2027-07-01"
    assert body["DueDate"] == "2027-07-31"
    assert body["Line"][0]["Amount"] == 4000.00
    assert world.requests("asana", "POST", "/projects") == []  # ops sent it; ops gets no record
    assert world.record(handoff_id, "finance").status == "done"
