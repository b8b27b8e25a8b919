"""One account's whole life in one test, on a controlled clock (issue 9, "done means"):

deal won in HubSpot -> sales handoff submitted -> Asana project and QuickBooks template created
-> the project marked complete in Asana (signed webhook over HTTP) -> delivery -> finance handoff,
prefilled from the sale -> QuickBooks invoice on the agreed terms, confirmed by finance -> the
renewal opened by the calendar 60 days before the agreed term end -> HubSpot renewal deal,
confirmed by the sales owner.

Every step goes through a real entry point (HubSpot's signed webhook, Slack payloads, Asana's
signed events, the worker's own periodic jobs); the vendors are the spec-checked stand-ins.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest

from bot.worker import delivery_check
from storage.models import HandoffKind, HandoffStatus
from tests.bot.conftest import FIN_MEMBER, OPS_MEMBER, SELLER, Harness
from tests.bot.delivery_world import DeliveryWorldFactory, delivery_world_factory
from tests.bot.test_handoff_flow import DEAL, click, submit
from tests.bot.test_renewals import (
    DAY_BEFORE_NOTICE,
    DEALS,
    NOTICE_DAY,
    RENEWAL_TYPED,
    hubspot_requests,
    renewals,
    run_calendar,
)
from tests.support import fake_asana
from tests.support.qbo_schema import assert_matches_qbo_schema
from tests.support.slack_state import initial_values

DELIVERED_ON = datetime(2027, 6, 30, 10, 0, tzinfo=UTC)  # a Wednesday, in working hours


@pytest.fixture
def worlds(make_harness: Callable[..., Harness]) -> Iterator[DeliveryWorldFactory]:
    with delivery_world_factory(make_harness) as factory:
        yield factory


def test_deal_won_to_renewal_deal_on_one_record(worlds: DeliveryWorldFactory) -> None:
    world = worlds("asana", "quickbooks", http=True)
    world.h.services.renewals.kick = lambda: None  # the test drains, as the worker would

    # 1. Won in HubSpot, handed off by the seller: one project, one billing template.
    sales_id = world.sale()
    sale = world.handoff(sales_id)
    assert sale.status == HandoffStatus.DELIVERED
    project = world.record(sales_id, "ops").external_id or ""
    assert [r.json["data"]["name"] for r in world.requests("asana", "POST", "/projects")] == [
        world.asana.projects[project]["name"]
    ]
    [template] = world.requests("quickbooks", "POST", "/recurringtransaction")
    assert_matches_qbo_schema("RecurringTransaction", template.json)
    [customer] = world.qbo.customers.values()
    click(world.h, "confirm_handoff:ops", f"{sales_id}:ops", user=OPS_MEMBER)
    click(world.h, "confirm_handoff:finance", f"{sales_id}:finance", user=FIN_MEMBER)
    assert world.handoff(sales_id).status == HandoffStatus.CONFIRMED

    # 2. Months later ops marks the Asana project complete: the webhook registered by the
    # periodic job carries it to the app, which opens the delivery -> finance handoff.
    world.h.clock.now = DELIVERED_ON
    delivery_check(world.h.services)
    world.settle()
    world.asana.complete_project(project)
    assert world.asana.deliveries[-1][1] == 200
    world.settle()
    delivery = world.delivery()
    assert (delivery.parent_id, delivery.sender_user_id) == (sales_id, OPS_MEMBER)
    assert delivery.receiving_teams == ["finance"]

    # 3. Ops submits the form as prefilled from the sale, adding one billable extra; finance
    # gets an invoice for it on the agreed 45-day terms with the PO, and confirms.
    view_id, form = world.open_delivery_form()
    shown = initial_values(form)
    assert (shown["contract_value"], shown["po_number"]) == ("36000", "PO-7781")
    assert shown["already_invoiced"] == "18000.00"  # January and April, as agreed quarterly
    answer = world.submit_delivery(
        view_id,
        form,
        {
            "billable_extras": "350.50; Travel to Leeds",
            "acceptance_evidence_url": "https://mail.example.com/acme-sign-off",
        },
    )
    assert answer["response_action"] == "update", answer
    world.settle()
    [invoice] = world.requests("quickbooks", "POST", "/invoice")
    assert_matches_qbo_schema("Invoice", invoice.json)
    assert invoice.json["CustomerRef"] == {"value": customer["Id"]}  # the sale's customer
    assert (invoice.json["TxnDate"], invoice.json["DueDate"]) == ("2027-06-30", "2027-08-14")
    assert [(line["Description"], line["Amount"]) for line in invoice.json["Line"]] == [
        ("Billable extra: Travel to Leeds", 350.50)
    ]
    assert "PO number: PO-7781" in invoice.json["CustomerMemo"]["value"]
    click(world.h, "confirm_handoff:finance", f"{delivery.id}:finance", user=FIN_MEMBER)
    assert world.handoff(delivery.id).status == HandoffStatus.CONFIRMED

    # 4. The calendar: nothing 61 days before the agreed term end (31 Dec 2027); on the 60th
    # day, one renewal for the account's delivery lead, prefilled from the whole record.
    assert run_calendar(world.h, DAY_BEFORE_NOTICE) == 0
    assert run_calendar(world.h, NOTICE_DAY) == 1
    world.settle()
    [renewal] = renewals(world.h)
    assert (renewal.kind, renewal.parent_id) == (HandoffKind.RENEWAL_TO_SALES, sales_id)
    dm = world.h.slack.dms_to(OPS_MEMBER)[-1]
    button = dm.blocks[1]["elements"][0]
    assert (button["action_id"], button["value"]) == ("open_form", str(renewal.id))
    click(world.h, "open_form", button["value"], user=OPS_MEMBER)
    view_id, view = next(reversed(world.h.slack.views.items()))
    shown = initial_values(view)
    assert (shown["renewal_date"], shown["current_value"]) == ("2027-12-31", "36000")
    assert "Extra billed: Travel to Leeds (GBP 350.50)" in shown["delivery_outcomes"]
    response = submit(world.h, view_id, view, {**shown, **RENEWAL_TYPED}, user=OPS_MEMBER)
    assert json.loads(response.body)["response_action"] == "update", response.body
    world.settle()

    # 5. HubSpot gets one renewal deal for the recommended value, owned by the original deal's
    # owner; the sales owner confirms and the renewal is done.
    [created] = hubspot_requests(world, "POST", DEALS)
    properties = created.json["properties"]
    assert (properties["amount"], properties["hubspot_owner_id"]) == ("43200", "501")
    assert properties["closedate"] == "2027-12-31T00:00:00.000Z"
    assert created.json["associations"][0]["to"]["id"] == world.h.hubspot.company_of(DEAL)
    click(world.h, "confirm_handoff:sales", f"{renewal.id}:sales", user=SELLER)
    world.settle()
    assert world.handoff(renewal.id).status == HandoffStatus.CONFIRMED

    # One record of each, all along; nothing malformed reached Slack or Asana.
    assert len(world.requests("asana", "POST", "/projects")) == 1
    assert len(world.requests("quickbooks", "POST", "/recurringtransaction")) == 1
    assert len(world.h.hubspot.created_deals) == 1
    fake_asana.assert_requests_match_spec(world.servers["asana"])
    assert world.h.slack.problems == []
