"""Delivery complete -> finance, started by the delivery itself (issue 9), through the real
entry points: Asana's webhook handshake and signed events over HTTP, a signed Jira webhook, the
periodic check, the Delivery complete button in the thread and on the App Home; then the form,
prefilled from the sale, and the invoice finance receives.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
import requests

from bot.jira_webhook import run_jira_webhook
from bot.services.delivery_complete import DeliveryStart
from bot.worker import delivery_check
from storage.models import AuditEvent, HandoffStatus
from tests.bot.conftest import FIN_MEMBER, OPS_MEMBER, SELLER, Harness, load_payload
from tests.bot.delivery_world import (
    PO_FIELD,
    DeliveryWorld,
    DeliveryWorldFactory,
    delivery_world_factory,
)
from tests.bot.test_delivery import XERO_SPEC
from tests.bot.test_handoff_flow import DEAL, click
from tests.integrations.fakes import XERO_PREFIX, history_text
from tests.support import fake_asana, fake_jira
from tests.support.fake_asana import project_changed
from tests.support.openapi_check import assert_matches_spec
from tests.support.qbo_schema import assert_matches_qbo_schema
from tests.support.slack_state import initial_values


@pytest.fixture
def worlds(make_harness: Callable[..., Harness]) -> Iterator[DeliveryWorldFactory]:
    with delivery_world_factory(make_harness) as factory:
        yield factory


def _audit_sources(world: DeliveryWorld, handoff_id: int) -> list[str]:
    with world.h.services.uow() as uow:
        return [
            str(e.detail.get("source"))
            for e in uow.repo.timeline(handoff_id)
            if isinstance(e, AuditEvent) and e.event == "delivery_complete"
        ]


def _button(post: Any) -> dict[str, Any]:
    return next(
        element
        for block in post.blocks
        if block["type"] == "actions"
        for element in block["elements"]
    )


# --- Asana: webhook, handshake, signature ------------------------------------------------------


def test_asana_project_marked_complete_starts_one_delivery_handoff(
    worlds: DeliveryWorldFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    world = worlds("asana", "quickbooks", http=True)
    origin = world.sale()
    project = world.record(origin, "ops").external_id or ""

    # The periodic job registers the project's webhook; Asana handshakes while it waits.
    assert delivery_check(world.h.services) == 2  # one registration, one read
    world.settle()
    [hook] = world.asana.webhooks.values()
    assert world.server is not None
    assert hook["resource"]["gid"] == project
    assert hook["target"].startswith(f"{world.server.url}/webhooks/asana/")
    assert hook["filters"] == [{"resource_type": "project", "action": "changed"}]
    [row] = world.hook_rows()
    assert (row.vendor, row.team, row.resource, row.status) == ("asana", "ops", project, "active")
    assert row.secret == hook["secret"] and row.external_id == hook["gid"]
    assert world.deliveries() == []  # read once: the project is not complete yet
    assert '"delivery_complete"' in world.message(origin)

    world.asana.complete_project(project)
    assert world.asana.deliveries[-1][1] == 200
    world.settle()
    assert '"delivery_complete"' not in world.message(origin)  # its job is done

    delivery = world.delivery()
    assert delivery.sender_user_id == OPS_MEMBER  # the sale's delivery lead, a member of ops
    assert delivery.status == HandoffStatus.AWAITING_FORM
    assert delivery.receiving_teams == ["finance"]
    assert _audit_sources(world, delivery.id) == ["asana_webhook"]
    [dm] = world.requests_for_form()
    assert dm.channel == f"D-{OPS_MEMBER}"
    assert "Acme Ltd" in dm.text
    assert _button(dm)["action_id"] == "open_form"
    assert _button(dm)["value"] == str(delivery.id)
    [note] = world.thread_notes(origin)
    assert "the Asana project was marked complete" in note.text
    assert f"<@{OPS_MEMBER}> has the delivery → finance handoff (#{delivery.id})" in note.text

    # Asana redelivers, the periodic check runs and someone presses the button: still one
    # handoff, one DM, one note in the thread.
    assert world.asana.deliver(project, project_changed(project, "completed")) == [200]
    delivery_check(world.h.services)
    click(world.h, "delivery_complete", str(origin), user=OPS_MEMBER)
    world.settle()
    assert [h.id for h in world.deliveries()] == [delivery.id]
    assert len(world.requests_for_form()) == 1
    assert len(world.thread_notes(origin)) == 1
    assert world.h.slack.views[list(world.h.slack.views)[-1]]["callback_id"] == (
        "handoff_form.delivery_to_finance"
    )

    assert hook["secret"] not in caplog.text  # stored, never logged
    fake_asana.assert_requests_match_spec(world.servers["asana"])
    assert world.h.slack.problems == []


def test_asana_requests_without_the_secret_change_nothing(worlds: DeliveryWorldFactory) -> None:
    world = worlds("asana", "quickbooks", http=True)
    origin = world.sale()
    project = world.record(origin, "ops").external_id or ""
    delivery_check(world.h.services)
    world.settle()
    [hook] = world.asana.webhooks.values()
    world.asana.projects[project]["completed"] = True  # complete, but nobody proves it to us
    checks = len(world.check_jobs())

    forged = world.asana.deliver(project, project_changed(project, "completed"), secret="guess")
    again = requests.post(hook["target"], headers={"X-Hook-Secret": "attacker"}, timeout=5)
    unknown = requests.post(
        f"{hook['target'].rsplit('/', 1)[0]}/AAAAAAAAAAAAAAAAAAAAAAAA",
        data=project_changed(project, "completed"),
        timeout=5,
    )
    world.settle()

    assert forged == [401]
    assert again.status_code == 403  # a handshake only while we register that webhook
    assert unknown.status_code == 404
    [row] = world.hook_rows()
    assert row.secret == hook["secret"]
    assert len(world.check_jobs()) == checks
    assert world.deliveries() == []


def test_asana_status_set_to_complete_is_seen_by_the_periodic_check_in_socket_mode(
    worlds: DeliveryWorldFactory,
) -> None:
    world = worlds("asana", "xero")  # no PUBLIC_URL: Asana cannot reach us
    origin = world.sale()
    project = world.record(origin, "ops").external_id or ""

    delivery_check(world.h.services)
    world.settle()
    assert world.asana.webhooks == {} and world.hook_rows() == []
    assert world.deliveries() == []

    world.asana.complete_project(project, by_status=True)  # the status, not the checkbox
    world.h.clock.advance(seconds=world.h.services.org.delivery.check_seconds)
    delivery_check(world.h.services)
    world.settle()

    delivery = world.delivery()
    assert _audit_sources(world, delivery.id) == ["asana_check"]
    [note] = world.thread_notes(origin)
    assert "(seen by the periodic check)" in note.text
    assert len(world.requests_for_form()) == 1


def test_a_webhook_asana_cannot_confirm_leaves_the_project_to_the_periodic_check(
    worlds: DeliveryWorldFactory, caplog: pytest.LogCaptureFixture
) -> None:
    world = worlds("asana", "quickbooks", http=True)
    origin = world.sale()
    project = world.record(origin, "ops").external_id or ""
    assert world.server is not None
    app = world.server.app

    def unreachable(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        start_response("502 Bad Gateway", [("Content-Type", "text/plain")])
        return [b"proxy error"]

    world.server.app = unreachable  # e.g. PUBLIC_URL points at a proxy that is down
    delivery_check(world.h.services)
    world.settle()
    world.server.app = app

    [row] = world.hook_rows()
    assert (row.status, row.secret) == ("failed", None)
    assert world.asana.webhooks == {}
    assert "asana_webhook_refused" in caplog.text
    assert delivery_check(world.h.services) == 0  # not registered again; read next period

    world.asana.complete_project(project)
    world.h.clock.advance(seconds=world.h.services.org.delivery.check_seconds)
    delivery_check(world.h.services)
    world.settle()
    assert _audit_sources(world, world.delivery().id) == ["asana_check"]


# --- Jira: a signed admin webhook ---------------------------------------------------------------


def test_jira_issue_reaching_done_starts_it_through_a_signed_webhook(
    worlds: DeliveryWorldFactory,
) -> None:
    world = worlds("jira", "quickbooks", http=True)
    origin = world.sale()
    key = world.record(origin, "ops").external_id or ""
    printed: list[str] = []
    services = world.h.services
    assert run_jira_webhook(services.settings, services.org, "ops", printed.append) == 0
    url = next(line.split()[-1] for line in printed if line.strip().startswith("URL:"))
    secret = next(line.split()[-1] for line in printed if line.strip().startswith("Secret:"))
    assert world.server is not None
    assert url.startswith(f"{world.server.url}/webhooks/jira/")
    assert 'labels = "handoff"' in "\n".join(printed)

    def post(body: dict[str, Any], key_used: str = secret) -> int:
        raw = json.dumps(body).encode()
        signature = hmac.new(key_used.encode(), raw, hashlib.sha256).hexdigest()
        answer = requests.post(url, data=raw, headers={"X-Hub-Signature": f"sha256={signature}"})
        return answer.status_code

    assert post(world.jira.set_status(key, "In Progress", "indeterminate")) == 200
    world.settle()
    assert world.deliveries() == []  # read, and not done

    done = world.jira.set_status(key, "Done", "done")
    assert post(done, key_used="not-the-secret") == 401
    world.settle()
    assert world.deliveries() == []

    assert post(done) == 200
    world.settle()
    delivery = world.delivery()
    assert _audit_sources(world, delivery.id) == ["jira_webhook"]
    [note] = world.thread_notes(origin)
    assert "the Jira issue reached Done" in note.text
    reads = [r for r in world.servers["jira"].requests if r.path.endswith(f"/issue/{key}")]
    assert reads and all(r.query["fields"] == ["status"] for r in reads)
    fake_jira.assert_requests_match_spec(world.servers["jira"])
    [row] = world.hook_rows()
    assert (row.vendor, row.team, row.secret) == ("jira", "ops", secret)


def test_jira_issue_done_is_seen_by_the_periodic_check_without_a_webhook(
    worlds: DeliveryWorldFactory,
) -> None:
    world = worlds("jira", "xero")
    origin = world.sale()
    key = world.record(origin, "ops").external_id or ""
    world.jira.set_status(key, "Accepted by client", "done")  # any status in the Done category

    delivery_check(world.h.services)
    world.settle()

    assert _audit_sources(world, world.delivery().id) == ["jira_check"]
    [note] = world.thread_notes(origin)
    assert "the Jira issue reached Done (seen by the periodic check)" in note.text


# --- the button, the App Home, permissions ------------------------------------------------------


def test_delivery_complete_button_is_for_the_ops_team(worlds: DeliveryWorldFactory) -> None:
    world = worlds("asana", "quickbooks")
    origin = world.sale()
    root = world.h.slack.latest("C0HANDOFF", world.handoff(origin).thread_ts or "")
    buttons = [e for b in root.blocks if b["type"] == "actions" for e in b["elements"]]
    assert {"action_id": "delivery_complete", "value": str(origin)}.items() <= next(
        b for b in buttons if b["action_id"] == "delivery_complete"
    ).items()

    click(world.h, "delivery_complete", str(origin), user=SELLER)
    world.settle()

    refusal = world.h.slack.views[list(world.h.slack.views)[-1]]
    assert "Only members of Operations start this kind of handoff." in json.dumps(refusal)
    assert world.deliveries() == []
    assert world.requests_for_form() == []


def test_app_home_lists_the_accounts_in_delivery_with_their_button(
    worlds: DeliveryWorldFactory,
) -> None:
    world = worlds("asana", "quickbooks")
    origin = world.sale()
    home = world.h.services.home
    assert "In delivery" not in json.dumps(home.render(OPS_MEMBER))  # not confirmed yet
    click(world.h, "confirm_handoff:ops", f"{origin}:ops", user=OPS_MEMBER)

    shown = home.render(OPS_MEMBER)
    assert "In delivery (1)" in json.dumps(shown)
    [item] = [
        b for b in shown["blocks"] if b.get("accessory", {}).get("action_id") == "delivery_complete"
    ]
    assert item["accessory"]["value"] == str(origin)
    assert "In delivery" not in json.dumps(home.render(SELLER))

    payload = load_payload("block_actions.app_home_button.json")
    payload["user"] = {"id": OPS_MEMBER, "username": "dana", "team_id": "T111"}
    payload["actions"] = [
        {
            "type": "button",
            "action_id": "delivery_complete",
            "block_id": "b",
            "value": str(origin),
            "text": {"type": "plain_text", "text": "Delivery complete"},
            "action_ts": "1.2",
        }
    ]
    assert world.h.interact(payload).status == 200
    world.settle()

    delivery = world.delivery()
    assert delivery.sender_user_id == OPS_MEMBER
    assert _audit_sources(world, delivery.id) == ["app_home"]
    form = world.h.slack.views[list(world.h.slack.views)[-1]]
    assert form["callback_id"] == "handoff_form.delivery_to_finance"
    assert len(world.requests_for_form()) == 1
    assert "In delivery" not in json.dumps(home.render(OPS_MEMBER))
    assert world.h.slack.problems == []


# --- exactly once, whatever starts it -----------------------------------------------------------


def test_webhook_check_and_button_at_the_same_time_make_one_handoff_and_one_dm(
    worlds: DeliveryWorldFactory,
) -> None:
    world = worlds("asana", "quickbooks")
    origin = world.sale()
    delivery = world.h.services.delivery
    starts: list[Callable[[], DeliveryStart]] = [
        lambda: delivery.start(origin, source="asana_webhook"),
        lambda: delivery.start(origin, source="asana_check"),
        lambda: delivery.start(origin, source="button", actor=OPS_MEMBER),
        lambda: delivery.start(origin, source="app_home", actor=OPS_MEMBER),
    ]
    results: list[DeliveryStart] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(starts))

    def run(start: Callable[[], DeliveryStart]) -> None:
        barrier.wait()
        try:
            results.append(start())
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(start,)) for start in starts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    world.settle()

    assert errors == []
    assert [r.created for r in results].count(True) == 1
    assert {r.handoff_id for r in results} == {h.id for h in world.deliveries()}
    assert len(world.deliveries()) == 1
    assert len(world.requests_for_form()) == 1
    assert len(world.thread_notes(origin)) == 1


# --- the form, prefilled from the sale, and the invoice finance receives ------------------------


def test_form_prefilled_from_the_sale_raises_a_quickbooks_invoice_on_the_agreed_terms(
    worlds: DeliveryWorldFactory,
) -> None:
    world = worlds("asana", "quickbooks")
    origin = world.sale()
    [customer] = world.qbo.customers.values()
    # Mid-May 2027: the quarterly schedule has invoiced 1 January and 1 April.
    world.h.clock.now = datetime(2027, 5, 14, 10, tzinfo=world.h.clock.now.tzinfo)
    world.h.services.delivery.start(origin, source="button", actor=OPS_MEMBER)
    world.settle()

    view_id, form = world.open_delivery_form()
    shown = initial_values(form)
    assert shown["deliverables"] == (
        "delivered; Reporting pipeline\ndelivered; Dashboard\ndelivered; Training session"
    )
    assert shown["currency"] == "GBP"
    assert shown["contract_value"] == "36000"
    assert shown["already_invoiced"] == "18000.00"
    assert shown["payment_terms_days"] == "45"
    assert shown["po_number"] == "PO-7781"
    assert shown["invoice_date"] == "2027-05-14"
    assert f"Prefilled from the sale's handoff #{origin}" in json.dumps(form)

    answer = world.submit_delivery(
        view_id,
        form,
        {
            "deliverables": "delivered; Reporting pipeline\ndelivered; Dashboard\n"
            "partly; Training session; second session in June",
            "acceptance_evidence_url": "https://mail.example.com/acme-sign-off",
            "variations": "1200; Board report (change request 4)",
            "billable_extras": "350.50; Travel to Leeds",
        },
    )
    assert answer["response_action"] == "update"
    world.settle()

    delivery = world.delivery()
    [invoice] = world.requests("quickbooks", "POST", "/invoice")
    body = invoice.json
    assert_matches_qbo_schema("Invoice", body)
    assert body["CustomerRef"] == {"value": customer["Id"]}  # the sale's customer
    assert body["CurrencyRef"] == {"value": "GBP"}
    assert body["TxnDate"] == "2027-05-14"
    assert body["DueDate"] == "2027-06-28"  # 45 days, as agreed (not net 30)
    assert body["SalesTermRef"] == {"value": "4"}
    assert body["CustomerMemo"]["value"] == (
        "PO number: PO-7781. Payment due within 45 days, by 2027-06-28."
    )
    assert body["CustomField"] == [
        {
            "DefinitionId": PO_FIELD,
            "Name": "PO Number",
            "Type": "StringType",
            "StringValue": "PO-7781",
        }
    ]
    assert [(line["Description"], line["Amount"]) for line in body["Line"]] == [
        ("Variation: Board report (change request 4)", 1200.00),
        ("Billable extra: Travel to Leeds", 350.50),
    ]
    note = body["PrivateNote"]
    assert note.splitlines()[0] == f"Created by Handoff (ref handoff-{delivery.id}/1)"
    for fact in (
        "Invoiced now: GBP 1,550.50",
        "Payment terms: 45 days (due 2027-06-28)",
        "Already invoiced under the agreed schedule: GBP 18,000.00",
        "Evidence of acceptance: https://mail.example.com/acme-sign-off",
        "Deliverable: ◐ Training session — partly delivered (second session in June)",
    ):
        assert fact in note, fact
    record = world.record(delivery.id, "finance")
    assert record.status == "done" and record.external_id == invoice.json.get(
        "Id", record.external_id
    )

    # Finance confirms in the delivery handoff's own thread.
    assert "Confirm for Finance" in world.message(delivery.id)
    click(world.h, "confirm_handoff:finance", f"{delivery.id}:finance", user=FIN_MEMBER)
    assert world.handoff(delivery.id).status == HandoffStatus.CONFIRMED


def test_xero_gets_a_draft_invoice_with_the_po_as_reference(worlds: DeliveryWorldFactory) -> None:
    world = worlds("jira", "xero")
    origin = world.sale()
    world.h.services.delivery.start(origin, source="button", actor=OPS_MEMBER)
    world.settle()
    view_id, form = world.open_delivery_form()

    world.submit_delivery(
        view_id,
        form,
        {
            "acceptance_date": "2027-06-30",
            "invoice_date": "2027-07-01",
            "acceptance_evidence_url": "https://mail.example.com/acme-sign-off",
            "already_invoiced": "27000",
            "balance_due": "9000",
            "billable_extras": "350.50; Travel to Leeds",
        },
    )
    world.settle()

    delivery = world.delivery()
    [put] = world.requests("xero", "PUT", "/Invoices")
    [body] = put.json["Invoices"]
    assert body["Type"] == "ACCREC" and body["Status"] == "DRAFT"
    assert body["Reference"] == "PO-7781"
    assert (body["Date"], body["DueDate"]) == ("2027-07-01", "2027-08-15")
    assert body["CurrencyCode"] == "GBP"
    assert [(i["Description"], i["UnitAmount"]) for i in body["LineItems"]] == [
        (f"Agreed balance due on acceptance (ref handoff-{delivery.id}/1)", 9000.00),
        ("Billable extra: Travel to Leeds", 350.50),
    ]
    [invoice] = [i for i in world.xero.invoices.values() if i["Reference"] == "PO-7781"]
    lines = history_text(world.xero.history[invoice["InvoiceID"]])
    assert "Payment terms: 45 days (due 2027-08-15)" in lines
    assert "Invoiced now: GBP 9,350.50" in lines
    for recorded in world.servers["xero"].requests:
        if recorded.path.startswith(XERO_PREFIX):
            assert_matches_spec(XERO_SPEC, recorded, strip_prefix=XERO_PREFIX)
    assert world.record(delivery.id, "finance").url == (
        f"https://go.xero.com/AccountsReceivable/View.aspx?InvoiceID={invoice['InvoiceID']}"
    )


def test_nothing_more_to_invoice_writes_nothing_to_the_finance_tool(
    worlds: DeliveryWorldFactory,
) -> None:
    world = worlds("asana", "quickbooks")
    origin = world.sale()
    invoices_before = len(world.requests("quickbooks", "POST", "/invoice"))
    world.h.services.delivery.start(origin, source="button", actor=OPS_MEMBER)
    world.settle()
    view_id, form = world.open_delivery_form()

    world.submit_delivery(
        view_id,
        form,
        {
            "acceptance_evidence_url": "https://mail.example.com/acme-sign-off",
            "nothing_due": ["yes"],
        },
    )
    world.settle()

    delivery = world.delivery()
    assert delivery.record("finance") is None
    assert len(world.requests("quickbooks", "POST", "/invoice")) == invoices_before
    assert "Nothing more to invoice" in world.message(delivery.id)
    click(world.h, "confirm_handoff:finance", f"{delivery.id}:finance", user=FIN_MEMBER)
    assert world.handoff(delivery.id).status == HandoffStatus.CONFIRMED


def test_amounts_due_never_exceed_what_the_sale_left_to_invoice(
    worlds: DeliveryWorldFactory,
) -> None:
    world = worlds("asana", "quickbooks")
    origin = world.sale()
    world.h.clock.advance(days=200)
    world.h.services.delivery.start(origin, source="button", actor=OPS_MEMBER)
    world.settle()
    view_id, form = world.open_delivery_form()
    left = Decimal("36000") - Decimal(initial_values(form)["already_invoiced"])

    answer = world.submit_delivery(
        view_id,
        form,
        {
            "acceptance_evidence_url": "https://mail.example.com/acme-sign-off",
            "balance_due": str(left + Decimal("0.01")),
        },
    )

    assert answer["response_action"] == "errors"
    assert answer["errors"]["balance_due"].startswith(f"Only GBP {left:,.2f} of the agreed")
    assert world.requests("quickbooks", "POST", "/invoice") == []


def test_handoff_delivery_command_opens_the_form_prefilled_from_the_sale(
    worlds: DeliveryWorldFactory,
) -> None:
    world = worlds("asana", "quickbooks")
    world.sale()

    world.h.command(f"delivery {DEAL}", user_id=OPS_MEMBER)

    form = world.h.slack.views[list(world.h.slack.views)[-1]]
    assert form["callback_id"] == "handoff_form.delivery_to_finance"
    shown = initial_values(form)
    assert shown["deliverables"].startswith("delivered; Reporting pipeline")
    assert (shown["payment_terms_days"], shown["po_number"]) == ("45", "PO-7781")
