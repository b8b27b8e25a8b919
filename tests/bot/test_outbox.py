"""The outbox worker: backoff honouring Retry-After, parking refused jobs, leases, races."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.services.outbox import JobContext, OutboxWorker, RetryLater
from integrations.ports import VendorOutcomeUnknown, VendorRejected, VendorUnavailable
from storage.models import Handoff, OutboxJob
from storage.uow import UnitOfWorkFactory
from tests.bot.conftest import FakeClock

START = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)


def enqueue(uow_factory: UnitOfWorkFactory, count: int = 1, action: str = "test.act") -> None:
    with uow_factory() as uow:
        handoff = Handoff(kind="sales_to_delivery", status="submitted", deal_id="1")
        uow.repo.add(handoff)
        uow.flush()
        for n in range(count):
            uow.repo.enqueue(handoff, action, f"key-{n}", {"n": n}, run_at=START)
        uow.commit()


def job(uow_factory: UnitOfWorkFactory, key: str = "key-0") -> OutboxJob:
    with uow_factory() as uow:
        return next(j for j in uow.repo.jobs_for(1) if j.idempotency_key == key)


def worker(
    uow_factory: UnitOfWorkFactory,
    handler: Callable[[JobContext], dict[str, Any] | None],
    clock: FakeClock,
    dead: list[tuple[str, str]] | None = None,
    name: str = "w1",
) -> OutboxWorker:
    def on_dead(ctx: JobContext, error: str) -> None:
        if dead is not None:
            dead.append((ctx.key, error))

    return OutboxWorker(
        uow=uow_factory,
        handlers={"test.act": handler},
        clock=clock,
        on_dead=on_dead,
        worker_id=name,
    )


def test_outbox_rate_limit_waits_at_least_retry_after(uow_factory: UnitOfWorkFactory) -> None:
    clock = FakeClock(START)
    enqueue(uow_factory)

    def limited(ctx: JobContext) -> None:
        raise VendorUnavailable("asana", "rate limited", status=429, retry_after=600)

    worker(uow_factory, limited, clock).drain()

    stored = job(uow_factory)
    assert stored.status == "pending"
    assert stored.next_attempt_at >= START + timedelta(seconds=600)
    assert stored.attempts == 1
    assert "rate limited" in (stored.last_error or "")


def test_outbox_refused_job_is_parked_at_once_and_reported(
    uow_factory: UnitOfWorkFactory,
) -> None:
    clock = FakeClock(START)
    enqueue(uow_factory)
    dead: list[tuple[str, str]] = []

    def refused(ctx: JobContext) -> None:
        raise VendorRejected(
            "quickbooks", "Duplicate Name Exists Error", status=400, field="DisplayName"
        )

    worker(uow_factory, refused, clock, dead).drain()

    stored = job(uow_factory)
    assert (stored.status, stored.attempts) == ("dead", 1)
    assert dead == [("key-0", "quickbooks: Duplicate Name Exists Error")]


def test_outbox_keeps_retrying_an_outage_for_a_day_then_parks_it(
    uow_factory: UnitOfWorkFactory,
) -> None:
    clock = FakeClock(START)
    uow_factory = UnitOfWorkFactory(uow_factory.sessions, clock)  # jobs stamped by the same clock
    enqueue(uow_factory)
    calls: list[datetime] = []
    dead: list[tuple[str, str]] = []

    def down(ctx: JobContext) -> None:
        calls.append(clock.now)
        raise VendorUnavailable("xero", "HTTP 503", status=503)

    outbox = worker(uow_factory, down, clock, dead)
    for _ in range(400):
        outbox.drain()
        clock.now = max(clock.now, job(uow_factory).next_attempt_at)

    assert job(uow_factory).status == "dead"
    assert len(dead) == 1
    assert calls[-1] - calls[0] >= timedelta(hours=24)  # still trying after a day
    gaps = [b - a for a, b in itertools.pairwise(calls)]
    assert max(gaps) <= timedelta(minutes=15)  # capped: a recovered vendor is seen soon


def test_outbox_outage_window_starts_at_the_first_failure_not_at_enqueue(
    uow_factory: UnitOfWorkFactory,
) -> None:
    clock = FakeClock(START)
    uow_factory = UnitOfWorkFactory(uow_factory.sessions, clock)
    enqueue(uow_factory)
    calls: list[datetime] = []

    def waits_then_down(ctx: JobContext) -> None:
        calls.append(clock.now)
        if clock.now < START + timedelta(days=2):
            raise RetryLater("outside the recipient's working hours", delay=6 * 3600)
        raise VendorUnavailable("quickbooks", "HTTP 503", status=503)

    outbox = worker(uow_factory, waits_then_down, clock)
    for _ in range(400):
        outbox.drain()
        if job(uow_factory).status == "dead":
            break
        clock.now = max(clock.now, job(uow_factory).next_attempt_at)

    first_failure = next(c for c in calls if c >= START + timedelta(days=2))
    assert job(uow_factory).status == "dead"
    # Two days waiting for its turn did not use up the outage's day of retries.
    assert calls[-1] - first_failure >= timedelta(hours=24)


def test_outbox_retryable_failure_reports_when_it_tries_next(
    uow_factory: UnitOfWorkFactory,
) -> None:
    clock = FakeClock(START)
    enqueue(uow_factory)
    told: list[tuple[str, datetime]] = []

    def limited(ctx: JobContext) -> None:
        raise VendorUnavailable("asana", "rate limited", status=429, retry_after=90)

    outbox = worker(uow_factory, limited, clock)
    outbox.on_retry = lambda ctx, error, at: told.append((error, at))
    outbox.drain()

    [(error, at)] = told
    assert "rate limited" in error
    assert at == job(uow_factory).next_attempt_at >= START + timedelta(seconds=90)


def test_outbox_uncertain_failure_is_retried_with_look_first_flag(
    uow_factory: UnitOfWorkFactory,
) -> None:
    clock = FakeClock(START)
    enqueue(uow_factory)
    seen: list[bool] = []

    def flaky(ctx: JobContext) -> dict[str, Any]:
        seen.append(ctx.uncertain)
        if len(seen) == 1:
            raise VendorOutcomeUnknown("jira", "timed out")
        return {"ok": True}

    outbox = worker(uow_factory, flaky, clock)
    outbox.drain()
    clock.advance(hours=1)
    outbox.drain()

    assert seen == [False, True]
    assert job(uow_factory).status == "done"


def test_outbox_expired_lease_is_reclaimed_as_uncertain(uow_factory: UnitOfWorkFactory) -> None:
    clock = FakeClock(START)
    enqueue(uow_factory)
    crashed = worker(uow_factory, lambda ctx: None, clock, name="crashed")
    crashed.claim(10)  # claimed, then the process died before performing it
    seen: list[bool] = []

    def record(ctx: JobContext) -> None:
        seen.append(ctx.uncertain)

    survivor = worker(uow_factory, record, clock, name="survivor")
    survivor.drain()
    assert seen == []  # the lease still holds
    clock.advance(minutes=6)
    survivor.drain()

    assert seen == [True]
    assert job(uow_factory).status == "done"


def test_outbox_retry_later_does_not_spend_an_attempt(uow_factory: UnitOfWorkFactory) -> None:
    clock = FakeClock(START)
    enqueue(uow_factory)

    def waiting(ctx: JobContext) -> None:
        raise RetryLater("waiting for the ops record", delay=30)

    outbox = worker(uow_factory, waiting, clock)
    for _ in range(3):
        outbox.drain()
        clock.advance(seconds=31)

    stored = job(uow_factory)
    assert (stored.status, stored.attempts) == ("pending", 0)


def test_outbox_two_racing_workers_perform_each_job_once(uow_factory: UnitOfWorkFactory) -> None:
    clock = FakeClock(START)
    enqueue(uow_factory, count=30)
    performed: list[int] = []
    lock = threading.Lock()

    def act(ctx: JobContext) -> None:
        with lock:
            performed.append(int(ctx.payload["n"]))

    workers = [worker(uow_factory, act, clock, name=f"w{i}") for i in range(2)]
    threads = [threading.Thread(target=w.drain, kwargs={"limit": 3}) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(performed) == list(range(30))
