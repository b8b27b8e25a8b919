"""Delivery under faults: every one ends with the right record count and a visible status.

Rate limits, 503 bursts, a timeout after the vendor acted, a worker that dies between the vendor's
reply and its commit, duplicate deliveries and two racing workers, against the vendor stand-ins.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest

from bot.services import actions
from bot.services.effects import Tools
from bot.services.outbox import JobContext, OutboxWorker
from integrations.asana import AsanaConfig, AsanaOps, asana_error_text
from integrations.http import VendorHttp
from storage.models import OutboxStatus
from tests.bot.conftest import ADMIN, FIN_MEMBER, OPS_MEMBER, SELLER, Harness, won_event
from tests.bot.test_delivery import FULL, Crash, World, WorldFactory, world_factory
from tests.bot.test_handoff_flow import DEAL, click, submit
from tests.support import fake_asana
from tests.support.fake_asana import Fault
from tests.support.stub_server import Reply

PROJECTS = rf"/workspaces/{fake_asana.WORKSPACE}/projects"
BUSY = {"errors": [{"message": "Service unavailable"}]}
REFUSAL = {  # QuickBooks refusing a customer whose name another customer already has
    "Fault": {
        "Error": [
            {
                "Message": "Duplicate Name Exists Error",
                "Detail": "The name supplied already exists. : Id=58",
                "code": "6240",
                "element": "DisplayName",
            }
        ],
        "type": "ValidationFault",
    },
    "time": "2026-11-23T06:00:00.000-08:00",
}


@pytest.fixture
def worlds(make_harness: Callable[..., Harness]) -> Iterator[WorldFactory]:
    with world_factory(make_harness) as factory:
        yield factory


def project_posts(world: World) -> int:
    return len(world.requests("asana", "POST", PROJECTS))


def assert_one_project_and_one_template(world: World, handoff_id: int) -> None:
    """The vendors hold exactly one record each, and the handoff shows both as done."""
    assert world.asana.created_projects == 1
    project = world.record(handoff_id, "ops")
    assert world.asana.project_tasks(project.external_id or "") == [
        "Handoff conversation",
        "Reporting pipeline",
        "Dashboard",
        "Training session",
    ]
    assert len(world.qbo.customers) == 1
    assert len(world.qbo.recurring) == 1
    assert world.record(handoff_id, "finance").external_id in world.qbo.recurring
    shown = world.message(handoff_id)
    assert "*Operations record (Asana):* done" in shown
    assert "*Finance record (QuickBooks):* done" in shown
    assert len(world.h.hubspot.notes) == 1


def test_delivery_rate_limit_waits_for_retry_after_then_creates_one_project(
    worlds: WorldFactory,
) -> None:
    world = worlds()
    limited = Reply(429, {"errors": [{"message": "Too many requests"}]}, {"Retry-After": "120"})
    world.asana.faults.append(Fault("POST", PROJECTS, limited, act=False))
    handoff_id = world.submit()

    world.run_until(lambda: project_posts(world) == 1)

    job = world.record_job(handoff_id, "ops")
    assert job.status == OutboxStatus.PENDING and job.attempts == 1
    assert job.next_attempt_at >= world.h.clock.now + timedelta(seconds=120)
    assert "rate limited" in (job.last_error or "")
    # Shown as retrying, with when: nobody needs to press anything.
    assert ":repeat: *Operations record (Asana):* retrying — asana: rate limited" in world.message(
        handoff_id
    )
    world.h.clock.now = job.next_attempt_at - timedelta(seconds=1)
    world.h.drain()
    assert project_posts(world) == 1  # not a moment before Retry-After

    world.settle()

    assert project_posts(world) == 2
    assert_one_project_and_one_template(world, handoff_id)


def test_delivery_503_bursts_are_retried_and_create_once(worlds: WorldFactory) -> None:
    world = worlds()
    world.asana.faults.append(Fault("POST", PROJECTS, Reply(503, BUSY), act=False, times=2))
    world.qbo.fail("POST", "/recurringtransaction", *[Reply(503, {"message": "down"})] * 5)
    handoff_id = world.submit()

    world.settle()

    assert_one_project_and_one_template(world, handoff_id)
    ops_job, finance_job = (
        world.record_job(handoff_id, "ops"),
        world.record_job(handoff_id, "finance"),
    )
    assert (ops_job.attempts, finance_job.attempts) == (3, 2)
    # A 503 on a POST without an idempotency key may hide a created project: each retry looked.
    assert len(world.requests("asana", "GET", "/projects")) >= 2
    # QuickBooks: 3 tries in the first call, 3 in the second, all under one requestid.
    posts = world.requests("quickbooks", "POST", "/recurringtransaction")
    assert len(posts) == 6
    assert len({p.query["requestid"][-1] for p in posts}) == 1
    assert len(world.requests("quickbooks", "POST", "/customer")) == 1


def test_delivery_outage_of_hours_heals_itself_without_a_retry_click(worlds: WorldFactory) -> None:
    world = worlds()
    # About six hours of 503s (backoff from 15 s, capped at 15 minutes), then Asana is back.
    world.asana.faults.append(Fault("POST", PROJECTS, Reply(503, BUSY), act=False, times=30))
    handoff_id = world.submit()
    submitted_at = world.h.clock.now

    world.run_until(lambda: project_posts(world) >= 3)
    shown = world.message(handoff_id)
    assert ":repeat: *Operations record (Asana):* retrying — asana: HTTP 503" in shown
    assert "retry_effect:ops" not in shown  # no button: it is still trying by itself
    world.settle(rounds=1000)

    assert world.h.clock.now - submitted_at > timedelta(hours=4)
    assert world.record(handoff_id, "ops").status == "done"
    assert_one_project_and_one_template(world, handoff_id)
    assert not [m for m in world.admin_dms() if "Operations record in Asana" in m.text]


def test_delivery_503s_for_more_than_a_day_park_the_job_until_retry(
    worlds: WorldFactory,
) -> None:
    world = worlds()
    world.asana.faults.append(Fault("POST", PROJECTS, Reply(503, BUSY), act=False, times=10**6))
    handoff_id = world.submit()
    submitted_at = world.h.clock.now

    world.settle(rounds=1000)

    ops_job = world.record_job(handoff_id, "ops")
    assert ops_job.status == OutboxStatus.DEAD
    assert ops_job.finished_at is not None
    assert ops_job.finished_at - submitted_at >= timedelta(hours=24)  # a day of retries first
    assert world.record(handoff_id, "ops").status == "failed"
    assert world.asana.created_projects == 0
    shown = world.message(handoff_id)
    assert ":x: *Operations record (Asana):* failed — asana: HTTP 503: Service unavailable" in shown
    assert '"action_id": "retry_effect:ops"' in shown
    [alert] = [m for m in world.admin_dms() if "Operations record in Asana" in m.text]
    assert "Service unavailable" in alert.text and "*Retry*" in alert.text

    world.asana.faults.clear()  # the vendor is back
    click(world.h, "retry_effect:ops", f"{handoff_id}:ops", user=OPS_MEMBER)
    world.settle()

    assert_one_project_and_one_template(world, handoff_id)


def test_delivery_timeout_after_asana_created_the_project_looks_before_creating(
    worlds: WorldFactory,
) -> None:
    world = worlds()
    # Asana makes the project, but answers only after our read timeout.
    slow = Reply(201, {"data": {}}, delay=2.0)
    world.asana.faults.append(Fault("POST", PROJECTS, slow, act=True))
    impatient = VendorHttp(
        "asana",
        world.servers["asana"].url + fake_asana.PREFIX,
        lambda: {"Authorization": f"Bearer {fake_asana.TOKEN}"},
        timeout=(2.0, 0.5),
        sleep=lambda _s: None,
        describe_error=asana_error_text,
    )
    ops = AsanaOps(AsanaConfig(workspace_gid=fake_asana.WORKSPACE), impatient)
    effects = world.h.services.effects
    effects.tools = Tools(effects.tools.crm, {"ops": ops}, effects.tools.finance)
    handoff_id = world.submit()

    world.run_until(lambda: project_posts(world) == 1)

    ops_job = world.record_job(handoff_id, "ops")
    assert ops_job.uncertain and "timed out" in (ops_job.last_error or "")
    assert world.record(handoff_id, "ops").status == "pending"
    world.settle()

    assert project_posts(world) == 1
    assert_one_project_and_one_template(world, handoff_id)


@pytest.mark.parametrize("target", ["ops", "finance"])
def test_delivery_crash_between_vendor_reply_and_commit_creates_once(
    worlds: WorldFactory, monkeypatch: pytest.MonkeyPatch, target: str
) -> None:
    world = worlds()
    handoffs = world.h.services.handoffs
    record_created = handoffs.record_created

    def die_once(handoff_id: int, done_target: str, created: object) -> None:
        if done_target == target:
            monkeypatch.setattr(handoffs, "record_created", record_created)
            raise Crash
        record_created(handoff_id, done_target, created)  # type: ignore[arg-type]

    monkeypatch.setattr(handoffs, "record_created", die_once)
    handoff_id = world.submit()

    with pytest.raises(Crash):
        world.settle()
    world.h.drain()  # the lease still holds: nobody touches the job yet
    assert world.record(handoff_id, target).status == "pending"
    world.h.clock.advance(minutes=5, seconds=1)  # past the dead worker's lease
    world.settle()

    job = world.record_job(handoff_id, target)
    assert job.uncertain and job.status == OutboxStatus.DONE
    assert_one_project_and_one_template(world, handoff_id)


def test_delivery_duplicate_deliveries_create_one_project_and_one_template(
    worlds: WorldFactory,
) -> None:
    world = worlds()
    handoff_id = world.submit()
    world.settle()

    world.h.hubspot_webhook([won_event(DEAL, 1)])  # HubSpot redelivers the same event
    world.h.hubspot_webhook([won_event(DEAL, 2)])  # and the deal is "won" again later
    view_id, form = next(
        (view_id, view)
        for view_id, view in world.h.slack.views.items()
        if view.get("callback_id") == "handoff_form.sales_to_delivery"
    )
    resubmitted = submit(world.h, view_id, form, FULL)  # a double submit
    world.settle()
    for job in world.jobs(handoff_id, actions.CREATE_RECORD):  # an outbox job run twice
        again = JobContext(
            job.id, handoff_id, job.action, job.idempotency_key, job.payload, 2, True
        )
        assert world.h.services.effects.create_record(again)["reused"]

    assert "already submitted" in resubmitted.body
    assert len(world.jobs(handoff_id, actions.CREATE_RECORD)) == 2
    assert_one_project_and_one_template(world, handoff_id)


def test_delivery_two_workers_racing_create_one_project_and_one_template(
    worlds: WorldFactory,
) -> None:
    world = worlds()
    handoff_id = world.submit()

    race(world)

    assert_one_project_and_one_template(world, handoff_id)
    assert all(r.status == "done" for r in world.handoff(handoff_id).external_records)
    assert world.handoff(handoff_id).status == "delivered"


def race(world: World, rounds: int = 100) -> None:
    """Two workers settle the outbox together: each round both drain the due jobs at once."""
    services = world.h.services
    workers = [
        OutboxWorker(
            uow=services.uow,
            handlers=services.outbox.handlers,
            clock=world.h.clock,
            on_dead=services.effects.on_dead,
            worker_id=f"worker-{n}",
        )
        for n in (1, 2)
    ]
    for _ in range(rounds):
        drain_together(workers)
        due = world.next_due()
        if due is None:
            return
        world.h.clock.now = max(world.h.clock.now, due)


def drain_together(workers: list[OutboxWorker]) -> None:
    """The workers drain at once, one claim at a time; an error in either surfaces here."""
    start = threading.Barrier(len(workers))
    errors: list[BaseException] = []

    def run(worker: OutboxWorker) -> None:
        try:
            start.wait()
            worker.drain(limit=1)
        except BaseException as exc:  # re-raised in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def test_delivery_quickbooks_rejection_fails_at_once_and_retry_creates_one_setup(
    worlds: WorldFactory,
) -> None:
    world = worlds()
    world.qbo.fail("POST", "/customer", Reply(400, REFUSAL))
    handoff_id = world.submit()
    submitted = world.handoff(handoff_id).form_payload

    world.settle()

    finance_job = world.record_job(handoff_id, "finance")
    assert (finance_job.status, finance_job.attempts) == (OutboxStatus.DEAD, 1)
    assert len(world.requests("quickbooks", "POST", "/customer")) == 1  # never retried
    record = world.record(handoff_id, "finance")
    words = "Duplicate Name Exists Error: The name supplied already exists. : Id=58"
    assert record.status == "failed"
    assert words in (record.last_error or "") and "DisplayName" in (record.last_error or "")
    shown = world.message(handoff_id)
    vendor_said = f"quickbooks: HTTP 400 ValidationFault: {words} (field DisplayName)"
    assert f":x: *Finance record (QuickBooks):* failed — {vendor_said}" in shown
    assert '"action_id": "retry_effect:finance"' in shown
    assert "*Operations record (Asana):* done" in shown
    [alert] = [m for m in world.admin_dms() if "Finance record in QuickBooks" in m.text]
    assert words in alert.text and "DisplayName" in alert.text
    assert world.handoff(handoff_id).form_payload == submitted  # nothing captured is lost
    assert (world.qbo.customers, world.qbo.recurring) == ({}, {})

    click(world.h, "retry_effect:finance", f"{handoff_id}:finance", user=SELLER)
    world.settle()
    [refused] = world.h.slack.ephemerals
    assert (refused.user, refused.text) == (
        SELLER,
        "Only the admin or the team that owns this record can retry it.",
    )
    assert world.record(handoff_id, "finance").status == "failed"

    # The admin, in no team, may retry too (a team's member: the renewal test's Retry).
    retry = button(world.message(handoff_id), "retry_effect:finance")
    click(world.h, retry["action_id"], retry["value"], user=ADMIN)
    world.settle()

    assert_one_project_and_one_template(world, handoff_id)
    assert world.handoff(handoff_id).status == "delivered"
    first, second = world.requests("quickbooks", "POST", "/customer")
    # A fresh requestid: QuickBooks would replay its refusal for the one it has seen.
    assert first.query["requestid"] != second.query["requestid"]
    assert "retry_effect" not in world.message(handoff_id)


def button(shown: str, action_id: str) -> dict[str, str]:
    """The button with `action_id` on the handoff message, as Slack would send it back."""
    for block in json.loads(shown):
        for element in block.get("elements", []):
            if element.get("action_id") == action_id:
                return {"action_id": element["action_id"], "value": element["value"]}
    raise AssertionError(f"no {action_id} button")


def test_delivery_retry_pressed_twice_with_racing_workers_creates_one_setup(
    worlds: WorldFactory,
) -> None:
    world = worlds()
    world.qbo.fail("POST", "/customer", Reply(400, REFUSAL))
    handoff_id = world.submit()
    world.settle()
    assert world.record(handoff_id, "finance").status == "failed"

    retry = button(world.message(handoff_id), "retry_effect:finance")
    click(world.h, retry["action_id"], retry["value"], user=FIN_MEMBER)
    click(world.h, retry["action_id"], retry["value"], user=FIN_MEMBER)  # before it re-rendered
    race(world)

    finance_jobs = [
        j for j in world.jobs(handoff_id, actions.CREATE_RECORD) if j.payload["team"] == "finance"
    ]
    # The first job, and the first click; the second click finds the record pending again.
    assert len(finance_jobs) == 2
    assert_one_project_and_one_template(world, handoff_id)


def test_delivery_retry_after_the_project_was_created_finds_it_instead_of_a_second(
    worlds: WorldFactory,
) -> None:
    world = worlds()
    # Asana makes the project, then refuses the first task: the job is parked at once, with the
    # project already in Asana. Retry must look for that project before creating one.
    refusal = Reply(400, {"errors": [{"message": "name: Missing input"}]})
    world.asana.faults.append(Fault("POST", "/tasks", refusal, act=False))
    handoff_id = world.submit()

    world.settle()

    ops_job = world.record_job(handoff_id, "ops")
    assert (ops_job.status, ops_job.attempts, ops_job.uncertain) == (OutboxStatus.DEAD, 1, False)
    assert world.record(handoff_id, "ops").status == "failed"
    assert world.asana.created_projects == 1

    retry = button(world.message(handoff_id), "retry_effect:ops")
    click(world.h, retry["action_id"], retry["value"], user=OPS_MEMBER)
    world.settle()

    assert project_posts(world) == 1
    assert_one_project_and_one_template(world, handoff_id)
