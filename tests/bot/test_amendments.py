"""Amending a submitted handoff, through signed Slack requests against the stand-ins.

The salesperson clicks Amend on the handoff message (a real block_actions payload), the form
reopens with the submitted answers, and the steps are submitted as view_submission payloads.
The outbox is drained as the worker would; Asana, Jira, QuickBooks and Xero are played by the
stand-ins of tests/bot/test_delivery.py, which check every request against the vendors' specs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.services import actions
from storage.models import HandoffStatus
from tests.bot.conftest import (
    ADMIN,
    FIN_MEMBER,
    HANDOFF_CHANNEL,
    OPS_MEMBER,
    SELLER,
    Harness,
    load_payload,
)
from tests.bot.test_delivery import (
    FULL,
    XERO_PREFIX,
    XERO_SPEC,
    World,
    WorldFactory,
    world_factory,
)
from tests.bot.test_handoff_flow import click, submit_one
from tests.support import fake_asana, fake_jira
from tests.support.fake_slack import Posted
from tests.support.openapi_check import assert_matches_spec
from tests.support.qbo_schema import assert_matches_qbo_schema
from tests.support.slack_state import initial_values, state_from_values
from tests.support.stub_server import Reply

AMEND_CALLBACK = "handoff_amend"


# --- driving the app ----------------------------------------------------------------------------


def submitted(world: World, *, confirm: bool = True) -> int:
    """A handoff submitted, its records made, and (by default) confirmed by both teams."""
    world.h.services.amendments.kick = lambda: None  # the test drains, as the worker would
    handoff_id = world.submit()
    world.settle()
    if confirm:
        click(world.h, "confirm_handoff:ops", f"{handoff_id}:ops", user=OPS_MEMBER)
        click(world.h, "confirm_handoff:finance", f"{handoff_id}:finance", user=FIN_MEMBER)
        world.settle()
        assert world.handoff(handoff_id).status == HandoffStatus.CONFIRMED
    return handoff_id


def open_amendment(world: World, handoff_id: int, user: str = SELLER) -> tuple[str, dict[str, Any]]:
    """Click Amend on the handoff message; the modal Slack opened."""
    before = len(world.h.slack.view_calls)
    response = click(world.h, "amend_handoff", str(handoff_id), user=user)
    assert response.status == 200
    assert len(world.h.slack.view_calls) == before + 1, "no modal opened"
    view_id = list(world.h.slack.views)[-1]
    return view_id, world.h.slack.views[view_id]


def amend(
    world: World, handoff_id: int, changes: dict[str, Any], user: str = SELLER
) -> dict[str, Any]:
    """Amend through every step with the submitted answers plus `changes`; Slack's last answer.

    A step drawn again (a field appeared, e.g. milestones) is submitted again, as a person would.
    """
    view_id, view = open_amendment(world, handoff_id, user)
    for _ in range(6):
        response = submit_one(world.h, view_id, view, {**FULL, **changes}, user)
        assert response.status == 200, response.body
        body = dict(json.loads(response.body or "{}"))
        following = body.get("view") or {}
        if body.get("response_action") != "update" or following["callback_id"] != AMEND_CALLBACK:
            return body
        view = {**view, **following}
    raise AssertionError("the amendment never finished")


def thread_posts(world: World, handoff_id: int) -> list[Posted]:
    ts = world.handoff(handoff_id).thread_ts
    return [m for m in world.h.slack.messages if m.channel == HANDOFF_CHANNEL and m.thread_ts == ts]


def amendment_posts(world: World, handoff_id: int) -> list[Posted]:
    return [m for m in thread_posts(world, handoff_id) if m.text.startswith("Handoff amended")]


def buttons(world: World, handoff_id: int) -> list[tuple[str, str]]:
    """(action_id, value) of each button on the handoff message as it reads now."""
    ts = world.handoff(handoff_id).thread_ts
    assert ts is not None
    blocks = world.h.slack.latest(HANDOFF_CHANNEL, ts).blocks
    return [
        (element["action_id"], element["value"])
        for block in blocks
        if block["type"] == "actions"
        for element in block["elements"]
    ]


def shown(posted: Posted) -> str:
    return json.dumps(posted.blocks, ensure_ascii=False)


def view_handoff_text(world: World, handoff_id: int) -> str:
    click(world.h, "view_handoff", str(handoff_id), user=FIN_MEMBER)
    return json.dumps(list(world.h.slack.views.values())[-1], ensure_ascii=False)


@pytest.fixture
def worlds(make_harness: Callable[..., Harness]) -> Iterator[WorldFactory]:
    with world_factory(make_harness) as factory:
        yield factory


@pytest.fixture
def asana_qbo(worlds: WorldFactory) -> World:
    return worlds("asana", "quickbooks")


# --- opening ------------------------------------------------------------------------------------


def test_amend_button_reopens_the_form_with_the_submitted_answers(asana_qbo: World) -> None:
    world = asana_qbo
    handoff_id = submitted(world)
    assert ("amend_handoff", str(handoff_id)) in buttons(world, handoff_id)

    _, view = open_amendment(world, handoff_id)

    assert view["callback_id"] == AMEND_CALLBACK
    assert view["title"]["text"] == "Amend: Acme Ltd"
    assert "You are amending version 1" in json.dumps(view)
    typed = initial_values(view)
    for field in ("account_name", "why_they_bought", "buyer_name", "buyer_phone", "competitors"):
        assert typed[field] == FULL[field]
    assert typed["other_contacts"] == FULL["other_contacts"]
    assert world.h.slack.problems == []


# --- a billing change ---------------------------------------------------------------------------

BILLING_CHANGE = {
    "contract_value": "40000",
    # The lines as sold must still come to the value: the workshop is now 8,000.00.
    "sold_lines": (
        "12 x Reporting licence at 3,000.00 less 4,000.00\n1 x Onboarding workshop at 8,000.00"
    ),
    "po_number": "PO-9911",
    "billing_conditions": "Upload to <Coupa> & email ap@acme.example",
}


def test_amendment_posts_the_diff_and_asks_only_finance_to_confirm_again(
    asana_qbo: World,
) -> None:
    world = asana_qbo
    handoff_id = submitted(world)

    answer = amend(world, handoff_id, BILLING_CHANGE)
    world.settle()

    assert answer["response_action"] == "update"
    assert "now *version 2*" in json.dumps(answer["view"])
    assert "Finance will confirm again" in json.dumps(answer["view"])
    # The thread: every changed field, before and after, escaped; finance mentioned, ops not.
    [post] = amendment_posts(world, handoff_id)
    text = shown(post)
    assert "now *version 2*. 4 changes:" in text
    assert "*Contract value:* GBP 36,000.00 → GBP 40,000.00" in text
    assert "*PO number:* PO-7781 → PO-9911" in text
    assert (
        "*Billing conditions:* Invoices must quote the PO number → "
        "Upload to &lt;Coupa&gt; &amp; email ap@acme.example"
    ) in text
    assert "<Coupa>" not in text and "<Coupa>" not in post.text
    assert f"<@{FIN_MEMBER}> the answers you read changed" in text
    assert "S0OPS" not in text
    assert ("view_handoff", str(handoff_id)) in [
        (e["action_id"], e["value"])
        for b in post.blocks
        if b["type"] == "actions"
        for e in b["elements"]
    ]
    # Only finance confirms again; ops's confirmation stands.
    handoff = world.handoff(handoff_id)
    assert handoff.status == HandoffStatus.DELIVERED
    ops, finance = handoff.receipt("ops"), handoff.receipt("finance")
    assert ops is not None and ops.confirmed_by == OPS_MEMBER
    assert finance is not None and finance.confirmed_at is None
    # Finance's confirm deadline starts again (a new obligation, so its reminders go out anew).
    with world.h.services.uow() as uow:
        open_now = [(o.sla, o.subject) for o in uow.repo.open_obligations(handoff_id)]
        assert open_now == [("confirm", "finance")]
        [fresh] = [o for o in uow.repo.open_obligations(handoff_id)]
        assert fresh.started_at == world.h.clock.now and fresh.step == 0
    assert ("confirm_handoff:finance", f"{handoff_id}:finance") in buttons(world, handoff_id)
    assert ("confirm_handoff:ops", f"{handoff_id}:ops") not in buttons(world, handoff_id)
    assert world.h.slack.problems == []


def test_amendment_updates_the_quickbooks_and_asana_records_in_place(asana_qbo: World) -> None:
    world = asana_qbo
    handoff_id = submitted(world)
    [template_id] = world.qbo.recurring
    project = world.record(handoff_id, "ops")

    amend(world, handoff_id, BILLING_CHANGE)
    world.settle()

    # QuickBooks: the same customer and template, updated (sparse), nothing created.
    assert len(world.qbo.customers) == 1 and list(world.qbo.recurring) == [template_id]
    assert world.qbo.invoices == {}
    assert [endpoint for endpoint, _ in world.qbo.updates] == ["customer", "recurringtransaction"]
    template = world.qbo.recurring[template_id]
    assert template["SyncToken"] == "1"
    # 4 quarterly instalments of 40,000.00: each template bills the lines' quarterly shares.
    amounts = [line["Amount"] for line in template["Line"] if "DiscountLineDetail" not in line]
    discounts = [line["Amount"] for line in template["Line"] if "DiscountLineDetail" in line]
    assert sum(amounts) - sum(discounts) == 10000.0
    assert "PO number: PO-9911" in template["CustomerMemo"]["value"]
    first, second = template["PrivateNote"].split("\n")[:2]
    assert first == f"Created by Handoff (ref handoff-{handoff_id}/1)"
    assert second == (
        "Amended to version 2 on 2026-11-23 14:00 UTC: Contract value, Lines as sold, PO number, "
        "Billing conditions"
    )
    assert "Upload to <Coupa> & email ap@acme.example" in template["PrivateNote"]
    [customer] = world.qbo.customers.values()
    assert customer["SyncToken"] == "1" and "PO number: PO-9911" in customer["Notes"]
    for recorded in world.requests("quickbooks", "POST", "/recurringtransaction"):
        if recorded.query.get("operation") == ["update"]:
            assert recorded.json["Invoice"]["sparse"] is True
            assert_matches_qbo_schema("Invoice", recorded.json["Invoice"])
    for recorded in world.requests("quickbooks", "POST", "/customer"):
        assert_matches_qbo_schema("Customer", recorded.json)
    assert world.record(handoff_id, "finance").external_id == template_id

    # Asana: the same project, its notes rewritten, the change noted on the conversation task.
    assert world.asana.created_projects == 1
    [put] = world.requests("asana", "PUT", f"/projects/{project.external_id}")
    assert "PO-9911" in put.json["data"]["html_notes"]
    notes = world.asana.projects[project.external_id or ""]["notes"]
    assert "PO-9911" in notes and f"(ref: handoff-{handoff_id})" in notes.splitlines()[-1]
    conversation = world.asana.stories[world.record(handoff_id, "ops").detail["extra_ids"][0]]
    [story] = [s for s in conversation if f"(ref: handoff-{handoff_id}-v2)" in s["text"]]
    assert "Handoff amended to version 2 by Sam Seller on 2026-11-23 14:00 UTC:" in story["text"]
    assert "- Billing > Contract value: GBP 36,000.00 -> GBP 40,000.00" in story["text"]
    fake_asana.assert_requests_match_spec(world.servers["asana"])
    assert world.h.slack.problems == []


def test_amendment_shows_every_version_on_the_timeline_and_finance_confirms_again(
    asana_qbo: World,
) -> None:
    world = asana_qbo
    handoff_id = submitted(world)
    amend(world, handoff_id, {"po_number": "PO-9911"})
    world.settle()
    world.h.clock.advance(hours=1)
    amend(world, handoff_id, {"po_number": "PO-9912", "month_one": "Daily stand-up at 9"})
    world.settle()

    versions = world.h.services.amendments.versions(handoff_id)
    assert [(v.number, v.submitted_by) for v in versions] == [(1, SELLER), (2, SELLER), (3, SELLER)]
    assert versions[0].payload["po_number"] == "PO-7781"
    assert [c["label"] for c in versions[2].changes] == [
        "What month one must feel like",
        "PO number",
    ]
    assert versions[2].teams == ["ops", "finance"]
    timeline = view_handoff_text(world, handoff_id)
    assert f"submitted by <@{SELLER}> (version 1)" in timeline
    assert (
        f"amended to version 2 by <@{SELLER}>: Billing: PO number; to confirm again: finance"
    ) in timeline
    assert (
        f"amended to version 3 by <@{SELLER}>: Context: What month one must feel like, "
        "Billing: PO number; to confirm again: ops, finance"
    ) in timeline
    assert "record amended (finance, version 3) by system" in timeline
    # The records went through the versions in order: the template's note says version 3.
    [template] = world.qbo.recurring.values()
    assert "Amended to version 3" in template["PrivateNote"].split("\n")[1]
    assert "PO number: PO-9912" in template["CustomerMemo"]["value"]

    click(world.h, "confirm_handoff:ops", f"{handoff_id}:ops", user=OPS_MEMBER)
    click(world.h, "confirm_handoff:finance", f"{handoff_id}:finance", user=FIN_MEMBER)
    world.settle()
    assert world.handoff(handoff_id).status == HandoffStatus.CONFIRMED
    assert ":tada: *Handoff complete*" in world.message(handoff_id)
    # The thread hears it for the first submission and again for the confirmed amendment.
    assert [p.text for p in thread_posts(world, handoff_id) if ":tada:" in p.text] == [
        f":tada: <@{SELLER}> every team confirmed: this handoff is complete.",
        f":tada: <@{SELLER}> every team confirmed the amendment (version 3): "
        "this handoff is complete again.",
    ]


def test_a_delivery_only_change_leaves_finance_confirmed_and_its_record_alone(
    asana_qbo: World,
) -> None:
    world = asana_qbo
    handoff_id = submitted(world)

    deliverables = "Reporting pipeline\nDashboard\nTraining session\nAudit"
    amend(world, handoff_id, {"deliverables": deliverables})
    world.settle()

    handoff = world.handoff(handoff_id)
    finance, ops = handoff.receipt("finance"), handoff.receipt("ops")
    assert finance is not None and finance.confirmed_by == FIN_MEMBER
    assert ops is not None and ops.confirmed_at is None
    [post] = amendment_posts(world, handoff_id)
    assert "<!subteam^S0OPS> the answers you read changed" in shown(post)
    assert "(Operations)" in shown(post)
    assert world.qbo.updates == []  # the finance record shows none of it
    project = world.record(handoff_id, "ops").external_id or ""
    assert world.asana.project_tasks(project) == [
        "Handoff conversation",
        "Reporting pipeline",
        "Dashboard",
        "Training session",
        "Audit",
    ]


def test_a_double_submission_or_a_lost_reply_never_updates_twice(asana_qbo: World) -> None:
    world = asana_qbo
    handoff_id = submitted(world)
    view_id, view = open_amendment(world, handoff_id)
    values = {**FULL, **BILLING_CHANGE}
    for _ in range(2):  # steps 1 and 2 answer with the next step
        view = {**view, **json.loads(submit_one(world.h, view_id, view, values).body)["view"]}
    assert view["submit"]["text"] == "Submit amendment"
    first = submit_one(world.h, view_id, view, values)
    # QuickBooks acts on the template update but the answer is lost, and QuickBooks stays down
    # for the adapter's in-call retries: the job runs again later. Asana adds the story but its
    # answer is lost too.
    world.qbo.lose_reply_once("POST", "/recurringtransaction")
    world.qbo.fail("POST", "/recurringtransaction", Reply(503, {}), Reply(503, {}))
    story_lost = fake_asana.Fault("POST", r"/tasks/\d+/stories", Reply(503, None), act=True)
    world.asana.faults.append(story_lost)

    again = submit_one(world.h, view_id, view, values)  # Slack redelivers it, or a double click
    world.settle()

    assert "now *version 2*" in json.dumps(json.loads(first.body)["view"])
    assert "amended by someone else meanwhile (it is now version 2)" in json.dumps(
        json.loads(again.body)["view"]
    )
    assert story_lost.times == 0  # both faults happened
    assert world.qbo._lose_reply == [] and world.qbo._script == []
    assert len(world.h.services.amendments.versions(handoff_id)) == 2
    assert len(amendment_posts(world, handoff_id)) == 1
    updates = [endpoint for endpoint, _ in world.qbo.updates]
    assert updates == ["customer", "recurringtransaction"]  # the retry got QBO's first answer
    [template] = world.qbo.recurring.values()
    assert template["SyncToken"] == "1"
    conversation = world.record(handoff_id, "ops").detail["extra_ids"][0]
    notes = [s for s in world.asana.stories[conversation] if "-v2)" in s["text"]]
    assert len(notes) == 1
    with world.h.services.uow() as uow:
        jobs = [j for j in uow.repo.jobs_for(handoff_id) if j.action == actions.AMEND_RECORD]
    assert sorted(j.payload["team"] for j in jobs) == ["finance", "ops"]
    assert all(j.status == "done" for j in jobs)
    finance_job = next(j for j in jobs if j.payload["team"] == "finance")
    assert finance_job.attempts == 2  # the retry got QuickBooks' first answer for its requestid


MILESTONES = "2027-03-01; 16000; Pipeline live\n2027-09-01; 20000; Dashboard signed off"


# --- Jira and Xero ------------------------------------------------------------------------------


def test_amendment_updates_the_jira_issue_and_replaces_the_xero_repeating_invoice(
    worlds: WorldFactory,
) -> None:
    world = worlds("jira", "xero")
    handoff_id = submitted(world)
    [old_id] = world.xero.repeating
    [contact_id] = world.xero.contacts

    amend(
        world,
        handoff_id,
        {
            "deliverables": "Reporting pipeline\nDashboard\nTraining session\nData audit",
            "po_number": "PO-9911",
            "tax_id": "GB999999999",
        },
    )
    world.settle()

    # Jira: the same issue, its description rewritten, one comment listing the changes.
    [issue] = world.jira.issues.values()
    [edit] = world.jira.edits[issue["key"]]
    assert "Data audit" in fake_jira.adf_text(edit["description"])
    fake_jira.assert_valid_adf(edit["description"])
    assert f"handoff-{handoff_id}" in issue["fields"]["labels"]  # look-first still finds it
    [comment] = [
        c
        for c in world.jira.comments[issue["key"]]
        if f"(ref: handoff-{handoff_id}-v2)" in fake_jira.adf_text(c["body"])
    ]
    said = fake_jira.adf_text(comment["body"])
    assert "Handoff amended to version 2 by Sam Seller" in said
    assert "Agreed scope > Deliverables:" in said and "PO-7781 -> PO-9911" in said
    fake_jira.assert_valid_adf(comment["body"])
    fake_jira.assert_requests_match_spec(world.servers["jira"])

    # Xero: the repeating invoice (it cannot be edited through the API) replaced, then deleted.
    live = [r for r in world.xero.repeating.values() if r.get("Status") != "DELETED"]
    [new] = live
    assert world.xero.repeating[old_id]["Status"] == "DELETED"
    assert new["Reference"] == "PO-9911" and new["Contact"] == {"ContactID": contact_id}
    assert world.record(handoff_id, "finance").external_id == new["RepeatingInvoiceID"]
    assert list(world.xero.contacts) == [contact_id]
    assert world.xero.contacts[contact_id]["TaxNumber"] == "GB999999999"
    notes = " ".join(h["Details"] for h in world.xero.history[new["RepeatingInvoiceID"]])
    assert "Handoff amended to version 2 by Sam Seller" in notes
    assert "PO-7781 -> PO-9911" in notes
    for recorded in world.servers["xero"].requests:
        if recorded.path.startswith(XERO_PREFIX):
            assert_matches_spec(XERO_SPEC, recorded, strip_prefix=XERO_PREFIX)
    link = world.record(handoff_id, "finance").url or ""
    assert f"<{link}|open>" in world.message(handoff_id)

    handoff = world.handoff(handoff_id)
    assert all(r.confirmed_at is None for r in handoff.receipts)  # both sides read a change
    assert world.h.slack.problems == []


def test_a_xero_repeating_invoice_whose_billing_is_unchanged_is_kept(worlds: WorldFactory) -> None:
    world = worlds("jira", "xero")
    handoff_id = submitted(world)
    [kept] = world.xero.repeating

    amend(world, handoff_id, {"tax_id": "GB999999999", "billing_conditions": "Portal only"})
    world.settle()

    assert list(world.xero.repeating) == [kept]
    assert world.xero.repeating[kept].get("Status") != "DELETED"
    assert not [p for p in world.xero.posted if p[0] == "RepeatingInvoices"]
    notes = " ".join(h["Details"] for h in world.xero.history[kept])
    assert "Handoff amended to version 2" in notes and "Billing conditions: Portal only" in notes


def test_a_schedule_changed_to_milestones_supersedes_the_quickbooks_template(
    asana_qbo: World,
) -> None:
    world = asana_qbo
    handoff_id = submitted(world)
    [template_id] = world.qbo.recurring

    amend(
        world,
        handoff_id,
        {
            "schedule": "milestones",
            "milestones": MILESTONES,
        },
    )
    world.settle()

    template = world.qbo.recurring[template_id]
    assert template["RecurringInfo"]["Active"] is False
    assert (
        "SUPERSEDED by the amendment to version 2. ACTION FOR FINANCE"
        in (template["PrivateNote"].split("\n")[1])
    )
    invoices = sorted(world.qbo.invoices.values(), key=lambda i: i["DueDate"])
    assert [(i["DueDate"], i["Line"][0]["Amount"]) for i in invoices] == [
        ("2027-03-01", 16000.0),
        ("2027-09-01", 20000.0),
    ]
    assert all("Amended to version 2" in i["PrivateNote"].split("\n")[1] for i in invoices)
    record = world.record(handoff_id, "finance")
    assert [record.external_id, *record.detail["extra_ids"]] == [i["Id"] for i in invoices]
    for recorded in world.requests("quickbooks", "POST", "/invoice"):
        assert_matches_qbo_schema("Invoice", recorded.json)


def test_a_xero_schedule_changed_to_milestones_deletes_the_repeating_invoice(
    worlds: WorldFactory,
) -> None:
    world = worlds("jira", "xero")
    handoff_id = submitted(world)
    [old] = world.xero.repeating

    amend(
        world,
        handoff_id,
        {
            "schedule": "milestones",
            "milestones": MILESTONES,
        },
    )
    world.settle()

    assert world.xero.repeating[old]["Status"] == "DELETED"
    drafts = sorted(world.xero.invoices.values(), key=lambda i: i["DueDate"])
    assert [(i["DueDate"], i["Status"]) for i in drafts] == [
        ("2027-03-01", "DRAFT"),
        ("2027-09-01", "DRAFT"),
    ]
    record = world.record(handoff_id, "finance")
    assert record.external_id == drafts[0]["InvoiceID"]


def test_a_record_quickbooks_refuses_to_amend_is_told_to_finance_in_the_thread(
    asana_qbo: World,
) -> None:
    world = asana_qbo
    handoff_id = submitted(world)
    refusal = {
        "Fault": {
            "Error": [
                {
                    "Message": "Stale Object Error",
                    "Detail": "Stale Object Error : You and <Pat> were working on this at once",
                    "code": "5010",
                }
            ],
            "type": "ValidationFault",
        }
    }
    world.qbo.fail("POST", "/recurringtransaction", Reply(400, refusal))

    amend(world, handoff_id, BILLING_CHANGE)
    world.settle()

    [told] = [p for p in thread_posts(world, handoff_id) if ":warning:" in p.text]
    assert told.text.startswith(
        f":warning: <@{FIN_MEMBER}> your QuickBooks record could not be brought to version 2 "
        "of this handoff — quickbooks: HTTP 400"
    )
    assert "Stale Object Error" in told.text
    assert "&lt;Pat&gt;" in told.text and "<Pat>" not in told.text  # the vendor's words, escaped
    assert "please make the change there by hand" in told.text
    assert any("record.amend" in dm.text for dm in world.admin_dms())  # and the admin, as before


# --- who may amend, and what is refused ---------------------------------------------------------


def test_only_the_sender_or_the_admin_may_amend(asana_qbo: World) -> None:
    world = asana_qbo
    handoff_id = submitted(world)
    opened = len(world.h.slack.view_calls)

    response = click(world.h, "amend_handoff", str(handoff_id), user=OPS_MEMBER)

    assert response.status == 200
    assert len(world.h.slack.view_calls) == opened  # no form for them
    [refusal] = [e for e in world.h.slack.ephemerals if e.user == OPS_MEMBER]
    assert refusal.text == (
        f"Only <@{SELLER}> or an admin can amend this handoff. Ask in the thread instead."
    )
    # A forged submission of the amendment form is refused server-side too.
    view_id, view = open_amendment(world, handoff_id, user=ADMIN)
    forged = submit_one(world.h, view_id, view, {**FULL, "po_number": "PO-1"}, user=OPS_MEMBER)
    assert "Only <@U0SELLER> or an admin can amend" in forged.body
    assert world.h.services.amendments.versions(handoff_id) == []
    # The admin may.
    answer = amend(world, handoff_id, {"po_number": "PO-1"}, user=ADMIN)
    assert "now *version 2*" in json.dumps(answer["view"])
    [version] = world.h.services.amendments.versions(handoff_id)[1:]
    assert version.submitted_by == ADMIN


def test_an_amendment_that_changes_nothing_makes_no_version(asana_qbo: World) -> None:
    world = asana_qbo
    handoff_id = submitted(world)

    answer = amend(world, handoff_id, {})
    world.settle()

    assert "Nothing was changed, so the handoff stays as it was." in json.dumps(answer["view"])
    assert world.h.services.amendments.versions(handoff_id) == []
    assert amendment_posts(world, handoff_id) == []
    assert world.handoff(handoff_id).status == HandoffStatus.CONFIRMED


def test_a_kickoff_date_now_past_is_kept_but_cannot_be_moved_into_the_past(
    asana_qbo: World,
) -> None:
    world = asana_qbo
    handoff_id = submitted(world)
    world.h.clock.now = datetime(2027, 2, 1, 10, tzinfo=UTC)  # after the kickoff of 11 Jan

    kept = amend(world, handoff_id, {"po_number": "PO-9911"})
    moved = amend(world, handoff_id, {"po_number": "PO-9912", "earliest_kickoff": "2027-01-20"})

    assert "now *version 2*" in json.dumps(kept["view"])
    assert moved == {
        "response_action": "errors",
        "errors": {"earliest_kickoff": "Kickoff cannot be in the past (today is 1 Feb 2027)"},
    }


def test_amending_a_handoff_not_submitted_yet_is_refused(asana_qbo: World) -> None:
    world = asana_qbo
    world.h.hubspot.add_deal("332507367156")
    world.h.hubspot_webhook([load_payload_won()])
    world.h.drain()
    [dm] = world.h.slack.dms_to(SELLER)
    handoff_id = int(dm.blocks[1]["elements"][0]["value"])

    click(world.h, "amend_handoff", str(handoff_id))

    [refusal] = [e for e in world.h.slack.ephemerals if e.user == SELLER]
    assert "has not been submitted yet" in refusal.text


def load_payload_won() -> dict[str, Any]:
    from tests.bot.conftest import won_event

    return won_event("332507367156", 1)


# --- drafts, long diffs, records not made yet ---------------------------------------------------


def test_closing_the_amendment_keeps_a_draft_that_reopens(asana_qbo: World) -> None:
    world = asana_qbo
    handoff_id = submitted(world)
    view_id, view = open_amendment(world, handoff_id)
    closed = load_payload("view_closed.json")
    closed["user"] = {"id": SELLER, "username": "s", "team_id": "T111"}
    typed = {**FULL, "why_they_bought": "They also want forecasting"}
    closed["view"] = {
        **closed["view"],
        **view,
        "id": view_id,
        "state": {"values": state_from_values(view, typed)},
    }

    assert world.h.interact(closed).status == 200
    _, reopened = open_amendment(world, handoff_id)

    assert initial_values(reopened)["why_they_bought"] == "They also want forecasting"
    assert "Your draft of this amendment was restored." in json.dumps(reopened)
    # Someone else amending meanwhile makes that draft stale: the newest version opens instead.
    amend(world, handoff_id, {"po_number": "PO-2"}, user=ADMIN)
    _, fresh = open_amendment(world, handoff_id)
    assert initial_values(fresh)["why_they_bought"] == FULL["why_they_bought"]
    assert "You are amending version 2" in json.dumps(fresh)


def test_long_answers_in_a_diff_are_shortened_and_escaped(
    asana_qbo: World,
) -> None:
    world = asana_qbo
    handoff_id = submitted(world)
    long = "<!channel> " + "word & more " * 120  # 1,400 characters with markup to escape
    essays = ("why_they_bought", "success_criteria", "month_one", "promises_made", "out_of_scope")

    amend(world, handoff_id, {field: f"{field}: {long}" for field in essays})
    world.settle()

    [post] = amendment_posts(world, handoff_id)
    text = shown(post)
    assert "5 changes" in text
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text
    assert text.count("…") >= 5  # each long answer shortened; View handoff has it whole
    for block in post.blocks:
        assert len(block.get("text", {}).get("text", "")) <= 3000
    assert world.h.slack.problems == []  # slack_sdk's and the Block Kit schema's limits


def test_an_amendment_before_the_records_exist_is_what_they_are_created_from(
    asana_qbo: World,
) -> None:
    world = asana_qbo
    world.h.services.amendments.kick = lambda: None
    handoff_id = world.submit()
    world.h.services.outbox.drain(lanes=["slack"])  # the thread is posted, no record made yet
    finance = world.handoff(handoff_id).record("finance")
    assert finance is not None and finance.status == "pending"

    amend(world, handoff_id, {"po_number": "PO-9911"})
    world.settle()

    [template] = world.qbo.recurring.values()
    assert "PO number: PO-9911" in template["CustomerMemo"]["value"]
    assert len(world.qbo.customers) == 1 and len(world.qbo.recurring) == 1
    assert world.asana.created_projects == 1


def test_save_draft_inside_the_amendment_keeps_it_and_redraws_the_amendment(
    asana_qbo: World,
) -> None:
    world = asana_qbo
    handoff_id = submitted(world)
    view_id, view = open_amendment(world, handoff_id)
    envelope = load_payload("socket_mode_envelope.block_actions.modal_static_select.json")
    payload = envelope["payload"]  # a block_actions from a modal, as Slack sends it
    payload["user"] = {"id": SELLER, "username": "s", "name": "s", "team_id": "T111"}
    typed = {**FULL, "month_one": "Daily stand-up"}
    payload["view"] = {
        **payload["view"],
        **view,
        "id": view_id,
        "state": {"values": state_from_values(view, typed)},
    }
    payload["actions"] = [
        {
            "type": "button",
            "action_id": "save_draft",
            "block_id": "draft_actions",
            "value": "sales_to_delivery",
            "text": {"type": "plain_text", "text": "Save draft"},
            "action_ts": "1.2",
        }
    ]

    assert world.h.interact(payload).status == 200

    name, redrawn = world.h.slack.view_calls[-1]
    assert name == "views.update" and redrawn["callback_id"] == AMEND_CALLBACK
    assert "Draft saved." in json.dumps(redrawn)
    assert world.handoff(handoff_id).draft_payload is None  # not the first submission's draft
    _, reopened = open_amendment(world, handoff_id)
    assert initial_values(reopened)["month_one"] == "Daily stand-up"
    assert world.h.slack.problems == []
