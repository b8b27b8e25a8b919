"""The nightly money-leak check (issue 9), run as the worker runs it, against the stand-ins.

A sale is submitted through signed Slack requests and its records created through the outbox
(QuickBooks or Xero, HubSpot, Slack all on 127.0.0.1); then the test changes what the CRM or the
finance tool holds, as a person would, and runs the worker's job at night.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.worker import periodic_jobs
from storage.models import MoneyCheck, MoneyMismatch
from tests.bot.conftest import FIN_MEMBER, SELLER, Harness, load_payload
from tests.bot.test_delivery import FULL, World, WorldFactory, world_factory
from tests.bot.test_handoff_flow import DEAL
from tests.support.fake_slack import Posted
from tests.support.stub_server import Reply

FIN_MANAGER = "U0FINMGR"
MONTHLY = {**FULL, "schedule": "monthly"}  # GBP 36,000 as 12 x 3,000 from 2027-01-01


@pytest.fixture
def worlds(make_harness: Callable[..., Harness]) -> Iterator[WorldFactory]:
    with world_factory(make_harness) as factory:
        yield factory


def sold(worlds: WorldFactory, finance: str, answers: dict[str, Any]) -> tuple[World, int]:
    """A sale submitted in Slack, its records created, and the manager's DMs so far noted."""
    world = worlds("asana", finance)
    handoff_id = world.submit(answers)
    world.settle()
    assert world.record(handoff_id, "finance").status == "done"
    return world, handoff_id


def night(world: World, days: int = 1) -> int:
    """Run the worker's money check at 02:30 (the finance team's time, UTC) `days` later, then
    let the outbox deliver what it queued; returns how many handoffs it checked."""
    today = world.h.clock.now.date()
    world.h.clock.now = datetime(today.year, today.month, today.day, 2, 30, tzinfo=UTC) + timedelta(
        days=days
    )
    [job] = [j for j in periodic_jobs(world.h.services) if j.id == "money_check"]
    checked = job.run(world.h.services)
    world.settle()
    assert isinstance(checked, int)
    return checked


def manager_dms(world: World) -> list[Posted]:
    return [m for m in world.h.slack.dms_to(FIN_MANAGER) if "Money check" in m.text]


def home_text(world: World, user: str) -> str:
    return json.dumps(world.h.services.home.render(user), ensure_ascii=False)


def mismatches(world: World) -> list[MoneyMismatch]:
    with world.h.services.uow() as uow:
        return list(uow.session.query(MoneyMismatch).order_by(MoneyMismatch.id))


def template_id(world: World, handoff_id: int) -> str:
    record = world.record(handoff_id, "finance")
    assert record.external_id is not None
    return record.external_id


def test_money_check_everything_matching_sends_nothing(worlds: WorldFactory) -> None:
    world, _ = sold(worlds, "quickbooks", MONTHLY)

    assert night(world) == 1

    assert manager_dms(world) == []
    assert mismatches(world) == []
    assert "Money check" not in home_text(world, FIN_MEMBER)


def test_money_check_crm_amount_above_the_template_dms_the_finance_manager_once(
    worlds: WorldFactory,
) -> None:
    world, handoff_id = sold(worlds, "quickbooks", MONTHLY)
    world.h.hubspot.deals[DEAL]["properties"]["amount"] = "48000"

    night(world)

    [dm] = manager_dms(world)
    body = json.dumps(dm.blocks, ensure_ascii=False)
    assert "GBP 48,000.00" in body  # the CRM's value
    assert "GBP 36,000.00 (12 x GBP 3,000.00 every 1 month(s) from 2027-01-01)" in body
    assert "Amount: CRM deal vs QuickBooks" in body
    # Links to the deal, the finance record and the handoff's thread.
    assert f"/contacts/48975575/record/0-3/{DEAL}|CRM deal>" in body
    assert "app.qbo.intuit.com/app/customerdetail?nameId=" in body
    assert f"{world.thread_url(handoff_id)}|handoff thread>" in body
    # ...and on the finance team's App Home, with its button, not on the seller's.
    shown = home_text(world, FIN_MEMBER)
    assert "Money check: billing to fix (1)" in shown
    assert "GBP 48,000.00" in shown and "resolve_money_mismatch" in shown
    assert "Money check" not in home_text(world, SELLER)
    assert world.h.slack.problems == []

    # The same night again, and the next night: nothing new to say.
    assert night(world, days=0) == 0
    night(world)
    assert len(manager_dms(world)) == 1
    assert len(mismatches(world)) == 1


def test_money_check_deleted_template_is_reported_and_disappears_when_fixed(
    worlds: WorldFactory,
) -> None:
    world, handoff_id = sold(worlds, "quickbooks", MONTHLY)
    template = template_id(world, handoff_id)
    kept = dict(world.qbo.recurring[template])
    world.qbo.delete("recurringtransaction", template)

    night(world)

    [dm] = manager_dms(world)
    body = json.dumps(dm.blocks, ensure_ascii=False)
    assert f"QuickBooks recurring template {template}" in body
    assert "not found (deleted?)" in body
    assert "Money check: billing to fix (1)" in home_text(world, FIN_MEMBER)

    world.qbo.recurring[template] = kept  # finance puts it back
    night(world)

    assert "Money check" not in home_text(world, FIN_MEMBER)
    [row] = mismatches(world)
    assert row.resolved_by == "check"
    assert len(manager_dms(world)) == 1


def test_money_check_a_changed_mismatch_is_new(worlds: WorldFactory) -> None:
    world, _ = sold(worlds, "quickbooks", MONTHLY)
    world.h.hubspot.deals[DEAL]["properties"]["amount"] = "48000"
    night(world)
    world.h.hubspot.deals[DEAL]["properties"]["amount"] = "50000"

    night(world)

    assert ["GBP 50,000.00" in json.dumps(dm.blocks) for dm in manager_dms(world)] == [False, True]
    assert [row.resolved_by for row in mismatches(world)] == ["changed", None]
    assert home_text(world, FIN_MEMBER).count("resolve_money_mismatch") == 1


def test_money_check_vendor_failure_is_retried_next_night_never_reported(
    worlds: WorldFactory, caplog: pytest.LogCaptureFixture
) -> None:
    world, handoff_id = sold(worlds, "quickbooks", MONTHLY)
    template = template_id(world, handoff_id)
    world.h.hubspot.deals[DEAL]["properties"]["amount"] = "48000"
    unavailable = Reply(503, {"Fault": {"Error": [{"Message": "down"}], "type": "SystemFault"}})
    world.qbo.fail("GET", f"/recurringtransaction/{template}", *[unavailable] * 3)

    with caplog.at_level(logging.INFO):
        assert night(world) == 0

    assert manager_dms(world) == []
    assert mismatches(world) == []
    with world.h.services.uow() as uow:
        check = uow.session.get(MoneyCheck, handoff_id)
        assert check is not None and check.outcome == "error"
    lines = [r.getMessage() for r in caplog.records if "money_check" in r.getMessage()]
    assert lines == [
        f"money_check_vendor_failed handoff={handoff_id} vendor=quickbooks status=503 "
        "retryable=True"
    ]

    night(world)  # the next night QuickBooks answers
    assert len(manager_dms(world)) == 1


def test_money_check_logs_one_line_per_handoff_without_amounts(
    worlds: WorldFactory, caplog: pytest.LogCaptureFixture
) -> None:
    world, handoff_id = sold(worlds, "quickbooks", MONTHLY)
    world.h.hubspot.deals[DEAL]["properties"]["amount"] = "48000"

    with caplog.at_level(logging.INFO, logger="bot.services.money_check"):
        night(world)

    lines = [r.getMessage() for r in caplog.records if r.name == "bot.services.money_check"]
    assert lines == [
        f"money_checked handoff={handoff_id} team=finance outcome=mismatch differences=Amount"
    ]


@pytest.mark.parametrize("schedule", ["quarterly", "one_off"])
def test_money_check_xero_lines_with_discounts_match_when_they_total_the_contract(
    worlds: WorldFactory, schedule: str
) -> None:
    world, _ = sold(worlds, "xero", {**FULL, "schedule": schedule})
    [document] = [*world.xero.repeating.values(), *world.xero.invoices.values()]
    assert len(document["LineItems"]) == 2  # the lines as sold...
    assert any(line.get("DiscountAmount") for line in document["LineItems"])  # ...less discount

    night(world)

    assert manager_dms(world) == []
    assert mismatches(world) == []


def test_money_check_quickbooks_discount_line_matches_when_it_totals_the_contract(
    worlds: WorldFactory,
) -> None:
    world, _ = sold(worlds, "quickbooks", {**FULL, "schedule": "one_off"})
    [invoice] = world.qbo.invoices.values()
    kinds = [line["DetailType"] for line in invoice["Line"]]
    assert kinds.count("SalesItemLineDetail") == 2 and "DiscountLineDetail" in kinds

    night(world)

    assert manager_dms(world) == []


def test_money_check_xero_deleted_repeating_invoice_and_other_currency_are_reported(
    worlds: WorldFactory,
) -> None:
    world, _ = sold(worlds, "xero", FULL)
    [repeating_id] = world.xero.repeating
    world.xero.delete_repeating(repeating_id)

    night(world)

    [dm] = manager_dms(world)
    assert f"Xero repeating invoice {repeating_id}" in json.dumps(dm.blocks)

    world.xero.repeating[repeating_id]["Status"] = "AUTHORISED"
    world.xero.repeating[repeating_id]["CurrencyCode"] = "EUR"
    night(world)

    assert len(manager_dms(world)) == 2
    assert "Currency: handoff vs Xero" in json.dumps(manager_dms(world)[-1].blocks)


def test_money_check_customer_renamed_in_the_tool_is_reported_escaped(
    worlds: WorldFactory,
) -> None:
    world, _ = sold(worlds, "quickbooks", MONTHLY)
    [customer] = world.qbo.customers.values()
    customer["DisplayName"] = "<!channel> Other & Co"

    night(world)

    [dm] = manager_dms(world)
    body = json.dumps(dm.blocks, ensure_ascii=False)
    assert "Customer: handoff vs QuickBooks" in body
    assert "&lt;!channel&gt; Other &amp; Co" in body and "<!channel>" not in body


def resolve_click(h: Harness, user: str, mismatch_id: int) -> None:
    payload = load_payload("block_actions.app_home_button.json")
    payload["user"] = {"id": user, "username": user.lower(), "team_id": "T111"}
    payload["actions"] = [
        {
            "type": "button",
            "action_id": "resolve_money_mismatch",
            "block_id": "b",
            "value": str(mismatch_id),
            "text": {"type": "plain_text", "text": "Mark resolved"},
            "action_ts": "1.2",
        }
    ]
    assert h.interact(payload).status == 200


def test_money_check_mark_resolved_is_for_finance_and_keeps_it_closed(
    worlds: WorldFactory,
) -> None:
    world, _ = sold(worlds, "quickbooks", MONTHLY)
    world.h.hubspot.deals[DEAL]["properties"]["amount"] = "48000"
    night(world)
    [row] = mismatches(world)

    resolve_click(world.h, SELLER, row.id)  # not in finance
    refusal = world.h.slack.views[list(world.h.slack.views)[-1]]
    assert "Only members of Finance" in json.dumps(refusal)
    assert "Money check: billing to fix (1)" in home_text(world, FIN_MEMBER)

    resolve_click(world.h, FIN_MEMBER, row.id)
    assert "Money check" not in json.dumps(world.h.slack.homes[FIN_MEMBER])  # republished
    assert "Money check" not in home_text(world, FIN_MEMBER)
    [row] = mismatches(world)
    assert row.resolved_by == FIN_MEMBER

    night(world)  # the same disagreement was accepted by finance: not raised again
    assert len(manager_dms(world)) == 1
    assert len(mismatches(world)) == 1


def test_money_check_the_finance_manager_may_mark_resolved_too(worlds: WorldFactory) -> None:
    world, _ = sold(worlds, "quickbooks", MONTHLY)
    world.h.hubspot.deals[DEAL]["properties"]["amount"] = "48000"
    night(world)

    resolve_click(world.h, "U0FINMGR", mismatches(world)[0].id)  # not a member: the manager

    [row] = mismatches(world)
    assert row.resolved_by == "U0FINMGR"
