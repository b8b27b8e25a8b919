"""Renewal -> sales, started by the calendar, through the real entry points.

A sales handoff is won, submitted and discussed as in test_delivery (signed Slack requests, the
HubSpot, Asana and QuickBooks stand-ins); delivery hands it to finance with `/handoff delivery`.
Then the worker's own periodic job runs with the harness clock moved to the days around
`renewals.notice_days` before the agreed term end, and the renewal is opened, filled in and
submitted through Slack payloads while the HubSpot stand-in records the renewal deal it gets.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from bot.worker import periodic_jobs
from storage import renewals_repo
from storage.models import AuditEvent, Handoff, HandoffKind, HandoffStatus
from tests.bot.conftest import ADMIN, HANDOFF_CHANNEL, OPS_MEMBER, SELLER, Harness
from tests.bot.test_delivery import DEAL, World, WorldFactory, world_factory
from tests.bot.test_delivery_faults import button
from tests.bot.test_delivery_thread import ANSWER, converse
from tests.bot.test_handoff_flow import click, submit
from tests.bot.test_other_kinds import DELIVERY
from tests.support.slack_state import initial_values

RENEWAL = HandoffKind.RENEWAL_TO_SALES
DEALS = "/crm/v3/objects/deals"
# The agreed term (test_handoff_flow.VALID) ends 2027-12-31; 60 days before is 2027-11-01.
DAY_BEFORE_NOTICE = datetime(2027, 10, 31, 10, 0, tzinfo=UTC)
NOTICE_DAY = datetime(2027, 11, 1, 10, 0, tzinfo=UTC)  # a Monday, in ops' working hours
AMENDMENT = {
    "changes": [{"label": "Go-live date", "before": "1 Mar 2027", "after": "15 Mar 2027"}],
    "summary": "Client asked for two more weeks",
}
RENEWAL_TYPED = {
    "recommended_value": "43200",
    "health": "green",
    "client_feedback": "Happy with the dashboard; wants <faster> answers & a mobile view.",
    "expansion_opportunities": "Budgeting module for the finance team.",
}


@pytest.fixture
def worlds(make_harness: Callable[..., Harness]) -> Iterator[WorldFactory]:
    with world_factory(make_harness) as factory:
        yield factory


def run_calendar(h: Harness, at: datetime) -> int:
    """The worker's periodic renewal job, run as the scheduler runs it, at `at`."""
    h.clock.now = at
    [job] = [j for j in periodic_jobs(h.services) if j.id == "renewals_open"]
    return int(job.run(h.services))  # type: ignore[call-overload]


def renewals(h: Harness) -> list[Handoff]:
    with h.services.uow() as uow:
        ids = uow.session.scalars(
            select(Handoff.id).where(Handoff.kind == RENEWAL).order_by(Handoff.id)
        ).all()
        found = [uow.repo.handoff(i) for i in ids]
    return [f for f in found if f is not None]


def recorded_account(world: World) -> int:
    """A sales handoff with a whole record: submitted, discussed, confirmed by ops, amended,
    and handed to finance once delivered. Returns the sales handoff's id."""
    world.h.services.renewals.kick = lambda: None  # the test drains, as for the handoffs
    sales_id = world.submit()
    world.settle()
    converse(world, sales_id)
    world.settle()
    click(world.h, "confirm_handoff:ops", f"{sales_id}:ops", user=OPS_MEMBER)
    with world.h.services.uow() as uow:
        sales = uow.repo.handoff(sales_id)
        assert sales is not None
        uow.repo.audit(sales, SELLER, "amended", **AMENDMENT)  # as the amendment flow writes it
        uow.commit()
    world.h.command(f"delivery {DEAL}", user_id=OPS_MEMBER)
    view_id, form = next(reversed(world.h.slack.views.items()))
    submit(world.h, view_id, form, DELIVERY, user=OPS_MEMBER)
    world.settle()
    return sales_id


def open_renewal_form(world: World) -> tuple[int, str, dict[str, Any]]:
    """Run the calendar on the notice day, then press the DM's button as the delivery lead."""
    assert run_calendar(world.h, NOTICE_DAY) == 1
    world.settle()
    [renewal] = renewals(world.h)
    dm = world.h.slack.dms_to(OPS_MEMBER)[-1]
    button = dm.blocks[1]["elements"][0]
    assert (button["action_id"], button["value"]) == ("open_form", str(renewal.id))
    click(world.h, "open_form", button["value"], user=OPS_MEMBER)
    view_id, view = next(reversed(world.h.slack.views.items()))
    return renewal.id, view_id, view


def submit_renewal(world: World) -> int:
    renewal_id, view_id, view = open_renewal_form(world)
    # Slack submits what is on screen: the prefilled record plus what ops typed.
    values = {**initial_values(view), **RENEWAL_TYPED}
    response = submit(world.h, view_id, view, values, user=OPS_MEMBER)
    assert json.loads(response.body)["response_action"] == "update", response.body
    world.settle()
    return renewal_id


def hubspot_requests(world: World, method: str, path: str) -> list[Any]:
    server = world.h.hubspot.server
    assert server is not None
    return [r for r in server.requests if r.method == method and r.path == path]


# --- the calendar -------------------------------------------------------------------------------


def test_calendar_opens_the_renewal_once_for_the_delivery_lead(worlds: WorldFactory) -> None:
    world = worlds()
    sales_id = recorded_account(world)

    assert run_calendar(world.h, DAY_BEFORE_NOTICE) == 0  # 61 days before the term end
    assert renewals(world.h) == []

    assert run_calendar(world.h, NOTICE_DAY) == 1
    assert run_calendar(world.h, NOTICE_DAY) == 0  # the hourly re-run: nothing twice
    world.settle()
    assert run_calendar(world.h, datetime(2027, 11, 2, 10, tzinfo=UTC)) == 0  # nor the next day

    [renewal] = renewals(world.h)
    assert (renewal.parent_id, renewal.term_key, renewal.deal_id) == (sales_id, "2027-12-31", DEAL)
    assert renewal.status == HandoffStatus.AWAITING_FORM
    assert renewal.sender_user_id == OPS_MEMBER  # the account's delivery lead, a member of ops
    with world.h.services.uow() as uow:
        events = [e.event for e in uow.repo.timeline(renewal.id)]
    assert events[:2] == ["renewal_opened", "sender_assigned"]
    [dm] = world.h.slack.dms_to(OPS_MEMBER)[-1:]
    assert "Acme Ltd" in dm.text and "31 Dec 2027" in dm.text
    assert "Complete renewal handoff" in json.dumps(dm.blocks)


def test_renewal_form_opens_prefilled_from_the_record(worlds: WorldFactory) -> None:
    world = worlds()
    recorded_account(world)

    _, _, view = open_renewal_form(world)

    assert view["callback_id"] == "handoff_form.renewal_to_sales"
    shown = initial_values(view)
    assert shown["renewal_date"] == "2027-12-31"
    assert (shown["currency"], shown["current_value"]) == ("GBP", "36000")
    assert shown["recommended_value"] == "36000"  # renewing as agreed, until ops says otherwise
    # What was agreed at the start, from the submitted sales form.
    scope = shown["agreed_scope"]
    assert "• Reporting pipeline\n• Dashboard\n• Training session" in scope
    assert "Out of scope: Data warehouse migration" in scope
    terms = shown["agreed_terms"]
    assert "Term: 1 Jan 2027 to 31 Dec 2027" in terms
    assert "Value: GBP 36,000.00 (quarterly, payment in 30 days)" in terms
    assert "Non-standard terms: Net 30 instead of our net 14" in terms
    assert shown["promises_made"] == "None"
    assert shown["success_criteria"] == "Month-end report produced in under 2 hours by day 90."
    # What happened since: the amendment, delivery's hand-over, the thread (people by name).
    assert shown["amendments"] == (
        "• 24 Nov 2026, Sam Seller: Client asked for two more weeks; "
        "Go-live date: 1 Mar 2027 → 15 Mar 2027"
    )
    outcomes = shown["delivery_outcomes"]
    # The delivery form marks each deliverable; one the sale agreed and delivery did not mark
    # is shown as such.
    assert "• Reporting pipeline: delivered\n" in outcomes
    assert "• Dashboard: delivered — signed off by Dana\n" in outcomes
    assert "• Training session: not marked\n" in outcomes
    assert "Accepted by the client on 30 Jun 2027" in outcomes
    qa = shown["thread_qa"]
    assert qa.startswith("Q (Dana Smith): Can Sam Seller say who grants VPN access?")
    assert f"A (Sam Seller): {ANSWER}" in qa
    assert world.h.slack.problems == []


# --- submission: the HubSpot deal, the message, the confirmation --------------------------------


def test_submitted_renewal_creates_the_hubspot_deal_with_the_brief(worlds: WorldFactory) -> None:
    world = worlds()
    recorded_account(world)
    hubspot = world.h.hubspot

    renewal_id = submit_renewal(world)

    [created] = hubspot_requests(world, "POST", DEALS)
    body = created.json
    assert body["properties"] == {
        "dealname": "Acme Ltd — renewal 2027-12-31",
        "amount": "43200",  # the recommended renewal value
        "deal_currency_code": "GBP",
        "closedate": "2027-12-31T00:00:00.000Z",
        "pipeline": "default",
        "dealstage": "appointmentscheduled",
        "hubspot_owner_id": "501",  # the original deal's owner
        "description": "Renewal of Acme rollout, handed back by ops in Slack.\n"
        f"[ref: handoff-{renewal_id}]",
    }
    company = hubspot.company_of(DEAL)
    assert body["associations"][0] == {
        "to": {"id": company},
        "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 5}],
    }
    contacts = [a["to"]["id"] for a in body["associations"][1:]]
    assert contacts == hubspot.contacts_of(DEAL)
    assert all(a["types"][0]["associationTypeId"] == 3 for a in body["associations"][1:])

    [deal_id] = hubspot.created_deals
    [note] = [n for n in hubspot.notes.values() if n["deal"] == deal_id]
    text = note["body"]
    assert "Renewal handoff" in text and "Agreed at the start" in text
    assert "Recommended renewal value:</strong> GBP 43,200.00" in text
    assert "wants &lt;faster&gt; answers &amp; a mobile view" in text  # escaped as HTML
    assert text.endswith(f"<p>[ref: handoff-{renewal_id}]</p>")

    record = world.record(renewal_id, "crm_renewal")
    assert (record.status, record.external_id) == ("done", deal_id)
    assert record.url == f"https://app.hubspot.com/contacts/48975575/record/0-3/{deal_id}"
    assert world.handoff(renewal_id).status == HandoffStatus.DELIVERED
    # The original deal's owner is told it is theirs, with the new deal linked.
    [told] = world.h.slack.dms_to(SELLER)[-1:]
    assert record.url in told.text and "GBP 43,200.00" in told.text


def test_renewal_message_shows_agreed_beside_what_happened_and_sales_confirms(
    worlds: WorldFactory,
) -> None:
    world = worlds()
    recorded_account(world)
    renewal_id = submit_renewal(world)

    ts = world.handoff(renewal_id).thread_ts
    assert ts is not None
    blocks = world.h.slack.latest(HANDOFF_CHANNEL, ts).blocks
    columns = [b["fields"] for b in blocks if b["type"] == "section" and "fields" in b]
    assert [c["text"] for c in columns[0]] == [
        ":handshake: *Agreed at the start*",
        ":mag: *What happened*",
    ]
    scope, delivered = (c["text"] for c in columns[1])
    assert scope.startswith("*Scope*\nDeliverables:\n• Reporting pipeline")
    assert delivered.startswith("*Delivered*\n• Reporting pipeline: delivered\n")
    terms, amended = (c["text"] for c in columns[2])
    assert "Value: GBP 36,000.00" in terms
    assert "Go-live date: 1 Mar 2027 → 15 Mar 2027" in amended
    feedback = columns[4][1]["text"]
    assert "wants &lt;faster&gt; answers &amp; a mobile view" in feedback  # escaped for Slack
    text = json.dumps(blocks)
    assert "Recommended renewal value:* GBP 43,200.00" in text
    assert "Renewal deal (HubSpot):* done" in text
    assert "Confirm for Sales" in text and "Confirm for Operations" not in text

    click(world.h, "confirm_handoff:sales", f"{renewal_id}:sales", user=SELLER)
    world.settle()
    assert world.handoff(renewal_id).status == HandoffStatus.CONFIRMED


def test_renewal_deal_is_created_once_when_hubspot_loses_the_reply(worlds: WorldFactory) -> None:
    world = worlds()
    recorded_account(world)
    world.h.hubspot.lose_next_create = 1  # HubSpot makes the deal, the reply is lost (504)

    renewal_id = submit_renewal(world)

    # The retry looked through the company's deals, found its marker and created nothing more.
    assert len(hubspot_requests(world, "POST", DEALS)) == 1
    [deal_id] = world.h.hubspot.created_deals
    assert [n for n in world.h.hubspot.notes.values() if n["deal"] == deal_id] != []
    assert len([n for n in world.h.hubspot.notes.values() if n["deal"] == deal_id]) == 1
    assert world.record(renewal_id, "crm_renewal").external_id == deal_id
    assert len(world.h.slack.dms_to(SELLER)) == 2  # the won deal's DM, and the renewal's once


def test_a_refused_renewal_deal_is_retried_by_sales_once_fixed(worlds: WorldFactory) -> None:
    world = worlds(renewals={"deal_stage": "renewalstage"})  # no such stage in HubSpot yet
    recorded_account(world)

    renewal_id = submit_renewal(world)

    assert world.record(renewal_id, "crm_renewal").status == "failed"
    shown = world.message(renewal_id)
    assert "Renewal deal (HubSpot):* failed" in shown
    assert "renewalstage is not a valid deal stage" in shown
    assert any("Renewal deal record in HubSpot" in m.text for m in world.admin_dms())
    retry = button(shown, "retry_effect:crm_renewal")
    click(world.h, retry["action_id"], retry["value"], user=OPS_MEMBER)  # not ops': sales'
    assert "Only the admin or the team" in world.h.slack.ephemerals[-1].text
    assert world.record(renewal_id, "crm_renewal").status == "failed"

    world.h.hubspot.pipelines["default"]["renewalstage"] = "Renewal"  # the stage now exists
    click(world.h, retry["action_id"], retry["value"], user=SELLER)
    world.settle()

    record = world.record(renewal_id, "crm_renewal")
    assert (record.status, record.external_id) == ("done", world.h.hubspot.created_deals[0])
    assert len(world.h.hubspot.created_deals) == 1
    assert "Renewal deal (HubSpot):* done" in world.message(renewal_id)


# --- which terms get a renewal ------------------------------------------------------------------


def add_recorded(h: Harness, deal_id: str, term_end: str, **fields: Any) -> int:
    """A sales handoff already in the record (e.g. backfilled from history), and its deal."""
    h.hubspot.add_deal(deal_id, company=f"Account {deal_id}")
    values: dict[str, Any] = {
        "kind": HandoffKind.SALES_TO_DELIVERY,
        "status": HandoffStatus.CONFIRMED,
        "deal_id": deal_id,
        "account_name": f"Account {deal_id}",
        "receiving_teams": ["ops", "finance"],
        "form_payload": {
            "account_name": f"Account {deal_id}",
            "term_end": term_end,
            "contract_value": "12000",
            "currency": "EUR",
            "deliverables": ["Support"],
        },
        "won_at": datetime(2025, 1, 1, tzinfo=UTC),
        "backfilled": True,
    }
    values.update(fields)
    with h.services.uow() as uow:
        handoff = Handoff(**values)
        uow.session.add(handoff)
        uow.commit()
        return handoff.id


def test_backfilled_accounts_get_renewals_only_for_terms_in_the_notice_window(
    harness: Harness,
) -> None:
    now = datetime(2027, 3, 1, 10, tzinfo=UTC)
    due = add_recorded(harness, "9101", "2027-04-30")  # 60 days on: due today
    add_recorded(harness, "9102", "2027-05-01")  # 61 days on: not yet
    add_recorded(harness, "9103", "2027-02-28")  # the term is over: no renewal from the calendar
    add_recorded(harness, "9104", "2027-03-15", status=HandoffStatus.AWAITING_FORM)  # no record

    assert run_calendar(harness, now) == 1

    [renewal] = renewals(harness)
    assert (renewal.parent_id, renewal.deal_id, renewal.term_key) == (due, "9101", "2027-04-30")
    # No delivery lead nor ops confirmation on record: the ops team's manager is asked.
    assert renewal.sender_user_id == "U0OPSMGR"
    assert renewal.prefill is not None
    assert renewal.prefill["current_value"] == "12000"
    assert renewal.prefill["agreed_scope"] == "Deliverables:\n• Support"


@pytest.mark.parametrize(("notice_days", "opened"), [(30, ["9201"]), (0, [])])
def test_notice_days_come_from_the_organisation_file(
    make_harness: Callable[..., Harness], notice_days: int, opened: list[str]
) -> None:
    from bot.config import parse_org_config
    from tests.bot.conftest import org_dict

    h = make_harness(org=parse_org_config(org_dict(renewals={"notice_days": notice_days})))
    add_recorded(h, "9201", "2027-03-31")  # 30 days on
    add_recorded(h, "9202", "2027-04-15")  # 45 days on: inside the default 60, not inside 30

    run_calendar(h, datetime(2027, 3, 1, 10, tzinfo=UTC))

    assert [r.deal_id for r in renewals(h)] == opened


def test_each_term_gets_its_own_renewal(harness: Harness) -> None:
    sales_id = add_recorded(harness, "9301", "2027-04-30")
    assert run_calendar(harness, datetime(2027, 3, 1, 10, tzinfo=UTC)) == 1
    # The term is extended (an amendment rewrites the agreed term end): a new term.
    with harness.services.uow() as uow:
        sales = uow.repo.handoff(sales_id)
        assert sales is not None and sales.form_payload is not None
        sales.form_payload = {**sales.form_payload, "term_end": "2028-04-30"}
        uow.commit()

    assert run_calendar(harness, datetime(2027, 3, 2, 10, tzinfo=UTC)) == 0
    assert run_calendar(harness, datetime(2028, 3, 1, 10, tzinfo=UTC)) == 1

    assert [(r.deal_id, r.term_key) for r in renewals(harness)] == [
        ("9301", "2027-04-30"),
        ("9301", "2028-04-30"),
    ]


def test_renewal_started_by_hand_continues_the_record_and_the_calendar_adds_none(
    worlds: WorldFactory,
) -> None:
    world = worlds()
    sales_id = recorded_account(world)

    world.h.command(f"renewal {DEAL}", user_id=OPS_MEMBER)

    view = next(reversed(world.h.slack.views.values()))
    shown = initial_values(view)
    assert shown["renewal_date"] == "2027-12-31"
    assert "• Reporting pipeline" in shown["agreed_scope"]
    [renewal] = renewals(world.h)
    assert (renewal.parent_id, renewal.term_key) == (sales_id, "2027-12-31")

    assert run_calendar(world.h, NOTICE_DAY) == 0  # this term's renewal exists already
    assert len(renewals(world.h)) == 1
    world.h.command(f"renewal {DEAL}", user_id=OPS_MEMBER)  # reopens the same one
    assert len(renewals(world.h)) == 1


def test_renewal_with_nobody_in_ops_to_ask_tells_the_admin(
    make_harness: Callable[..., Harness],
) -> None:
    from bot.config import parse_org_config
    from tests.bot.conftest import org_dict

    raw = org_dict()
    del raw["teams"]["ops"]["manager"]
    h = make_harness(org=parse_org_config(raw))
    add_recorded(h, "9401", "2027-04-30")

    assert run_calendar(h, datetime(2027, 3, 1, 10, tzinfo=UTC)) == 1
    h.drain()

    [renewal] = renewals(h)
    assert renewal.sender_user_id is None
    [told] = h.slack.dms_to(ADMIN)
    assert "/handoff renewal 9401" in told.text
    with h.services.uow() as uow:
        opened = uow.session.scalars(
            select(AuditEvent.event).where(AuditEvent.handoff_id == renewal.id)
        ).all()
    assert "sender_assigned" not in opened  # nobody owes the form, so nobody is reminded


def test_one_account_failing_does_not_hold_back_the_others(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = add_recorded(harness, "9501", "2027-04-01")  # soonest: read first
    add_recorded(harness, "9502", "2027-04-30")
    real = renewals_repo.delivery_for

    def delivery_for(session: Any, source: Handoff) -> Handoff | None:
        if source.id == broken:
            raise RuntimeError("a row the record cannot be read from")
        return real(session, source)

    monkeypatch.setattr(renewals_repo, "delivery_for", delivery_for)

    assert run_calendar(harness, datetime(2027, 3, 1, 10, tzinfo=UTC)) == 1
    assert [r.deal_id for r in renewals(harness)] == ["9502"]

    monkeypatch.setattr(renewals_repo, "delivery_for", real)
    assert run_calendar(harness, datetime(2027, 3, 1, 11, tzinfo=UTC)) == 1  # the next run
    assert [r.deal_id for r in renewals(harness)] == ["9502", "9501"]
