"""The outbox worker: backoff honouring Retry-After, parking refused jobs, leases, races."""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.slack_response import SlackResponse

from bot.services import outbox as outbox_module
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
    told: list[tuple[str, str, datetime]] = []

    def limited(ctx: JobContext) -> None:
        raise VendorUnavailable("asana", "rate limited", status=429, retry_after=90)

    outbox = worker(uow_factory, limited, clock)
    outbox.on_retry = lambda ctx, error, at: told.append((ctx.key, error, at))
    outbox.drain()

    [(key, error, at)] = told
    assert key == "key-0"
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


# --- found alive by ./scripts/mutation ------------------------------------------------------------
# Equivalent mutants left alive in the worker: drain's default batch of 25 (26: it drains until
# nothing is due either way); RetryLater's `count_attempt=None` (falsy, like False);
# `_slack_retry_after` reading the header even when
# there are no headers (slack_sdk gives a dict, and {}.get answers None) or calling float(None)
# (TypeError, caught: None again); `RetryPolicy.delay` capping the exponent at 31 instead of 30
# (15 s x 2^30 is far past the 900 s ceiling either way) or flooring Retry-After at 1.0 instead
# of 0.0 (the jittered delay is at least 7.5 s).


def slack_error(status: int, error: str, headers: dict[str, str] | None = None) -> SlackApiError:
    """What slack_sdk raises for an HTTP answer of `status` with Slack's error code."""
    response = SlackResponse(
        client=None,
        http_verb="POST",
        api_url="https://slack.com/api/chat.postMessage",
        req_args={},
        data={"ok": False, "error": error},
        headers=headers or {},
        status_code=status,
    )
    return SlackApiError(error, response)


@pytest.mark.parametrize(
    ("error", "status", "next_at_least"),
    [
        (slack_error(429, "ratelimited", {"Retry-After": "120"}), "pending", 120),
        (slack_error(503, "service_unavailable"), "pending", 15 / 2),  # first backoff: 7.5-15 s
        (slack_error(500, "internal_error", {"Retry-After": "soon"}), "pending", 15 / 2),
        (slack_error(200, "channel_not_found"), "dead", None),
        (slack_error(499, "invalid_auth"), "dead", None),
    ],
)
def test_outbox_slack_errors_retry_on_429_and_5xx_and_park_refusals(
    uow_factory: UnitOfWorkFactory, error: SlackApiError, status: str, next_at_least: float | None
) -> None:
    clock = FakeClock(START)
    enqueue(uow_factory)
    dead: list[tuple[str, str]] = []

    def post(ctx: JobContext) -> None:
        raise error

    worker(uow_factory, post, clock, dead).drain()

    stored = job(uow_factory)
    assert stored.status == status
    assert stored.last_error == f"slack: {error.response['error']}"
    assert stored.uncertain is False  # Slack answered: nothing to look for before posting again
    if next_at_least is None:
        assert dead == [("key-0", f"slack: {error.response['error']}")]
    else:
        assert dead == []
        assert stored.next_attempt_at >= START + timedelta(seconds=next_at_least)
        assert stored.next_attempt_at <= START + timedelta(seconds=max(15, next_at_least))


def test_outbox_slack_error_without_a_code_is_named_unknown(
    uow_factory: UnitOfWorkFactory,
) -> None:
    clock = FakeClock(START)
    enqueue(uow_factory)
    error = slack_error(404, "x")
    error.response.data = {"ok": False}

    def post(ctx: JobContext) -> None:
        raise error

    worker(uow_factory, post, clock).drain()

    assert job(uow_factory).last_error == "slack: unknown_error"


def test_outbox_job_without_a_handler_is_parked_with_the_reason(
    uow_factory: UnitOfWorkFactory,
) -> None:
    clock = FakeClock(START)
    enqueue(uow_factory, action="test.unknown")
    dead: list[tuple[str, str]] = []

    worker(uow_factory, lambda ctx: None, clock, dead).drain()

    with uow_factory() as uow:
        [stored] = uow.repo.jobs_for(1)
    assert (stored.status, stored.last_error) == ("dead", "no handler for action 'test.unknown'")
    assert dead == [("key-0", "no handler for action 'test.unknown'")]


def test_outbox_logs_one_line_per_outcome_with_job_handoff_and_action(
    uow_factory: UnitOfWorkFactory, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock(START)
    enqueue(uow_factory, count=3)
    outcomes: dict[str, Exception | None] = {
        "key-0": VendorUnavailable("asana", "rate limited", status=429, retry_after=600),
        "key-1": VendorRejected("xero", "Account code is archived", status=400),
        "key-2": None,
    }

    def act(ctx: JobContext) -> dict[str, Any]:
        outcome = outcomes[ctx.key]
        if outcome is not None:
            raise outcome
        return {"gid": "1"}

    with caplog.at_level(logging.INFO, logger="bot.services.outbox"):
        assert worker(uow_factory, act, clock).drain() == 3  # how many were tried

    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        (
            "WARNING",
            "outbox_retry job=1 handoff=1 action=test.act attempt=1 delay=600s "
            "error=asana: rate limited",
        ),
        (
            "ERROR",
            "outbox_dead job=2 handoff=1 action=test.act attempts=1 "
            "error=xero: Account code is archived",
        ),
        ("INFO", "outbox_done job=3 handoff=1 action=test.act"),
    ]
    assert (job(uow_factory, "key-2").result, job(uow_factory, "key-2").finished_at) == (
        {"gid": "1"},
        START,
    )
    assert job(uow_factory, "key-1").finished_at == START


def test_outbox_crashing_handler_is_logged_and_retried_as_uncertain(
    uow_factory: UnitOfWorkFactory, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock(START)
    enqueue(uow_factory)

    def buggy(ctx: JobContext) -> None:
        raise KeyError("deal")

    with caplog.at_level(logging.INFO, logger="bot.services.outbox"):
        worker(uow_factory, buggy, clock).drain()

    stored = job(uow_factory)
    assert (stored.status, stored.uncertain) == ("pending", True)
    assert stored.last_error == "internal error: KeyError"
    assert caplog.records[0].getMessage() == "outbox_handler_crashed job=1 action=test.act"
    assert caplog.records[0].exc_info is not None  # the traceback, for whoever fixes the bug


def test_outbox_worker_whose_lease_moved_on_leaves_the_job_to_its_new_holder(
    uow_factory: UnitOfWorkFactory, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock(START)
    enqueue(uow_factory, count=2)
    told: list[str] = []

    def late(ctx: JobContext) -> dict[str, Any]:
        if ctx.key == "key-1":
            raise VendorUnavailable("asana", "HTTP 503", status=503)
        return {"by": "slow"}

    slow = worker(uow_factory, late, clock, name="slow")
    slow.on_retry = lambda ctx, error, at: told.append(ctx.key)
    claimed = slow.claim(10)  # then stalls past its lease
    clock.advance(minutes=6)
    worker(uow_factory, lambda ctx: {"by": "fast"}, clock, name="fast").drain()

    with caplog.at_level(logging.INFO, logger="bot.services.outbox"):
        for ctx in claimed:
            slow.perform(ctx)  # finishes late: the new holder's outcome stands

    assert [job(uow_factory, k).result for k in ("key-0", "key-1")] == [{"by": "fast"}] * 2
    assert [job(uow_factory, k).status for k in ("key-0", "key-1")] == ["done"] * 2
    assert told == []  # no "retrying at ..." for a job this worker no longer holds
    assert [r.getMessage() for r in caplog.records] == [
        "outbox_lease_lost job=1 worker=slow",
        "outbox_lease_lost job=2 worker=slow",
    ]


def test_outbox_failing_retry_hook_still_reschedules_the_job(
    uow_factory: UnitOfWorkFactory, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock(START)
    enqueue(uow_factory)

    def down(ctx: JobContext) -> None:
        raise VendorUnavailable("jira", "HTTP 502", status=502)

    def broken_hook(ctx: JobContext, error: str, at: datetime) -> None:
        raise RuntimeError("Slack is down too")

    outbox = worker(uow_factory, down, clock)
    outbox.on_retry = broken_hook
    with caplog.at_level(logging.INFO, logger="bot.services.outbox"):
        outbox.drain()

    assert (job(uow_factory).status, job(uow_factory).attempts) == ("pending", 1)
    assert "outbox_retry_hook_failed job=1" in [r.getMessage() for r in caplog.records]


@pytest.mark.parametrize(("draw", "share"), [("lowest", 0.5), ("highest", 1.0)])
def test_outbox_backoff_doubles_from_15_seconds_up_to_15_minutes(
    uow_factory: UnitOfWorkFactory, monkeypatch: pytest.MonkeyPatch, draw: str, share: float
) -> None:
    clock = FakeClock(START)
    uow_factory = UnitOfWorkFactory(uow_factory.sessions, clock)
    enqueue(uow_factory)
    delays: list[float] = []
    # Full jitter draws between half and all of each step; pin the draw to either end.
    monkeypatch.setattr(outbox_module.random, "uniform", lambda a, b: a if draw == "lowest" else b)

    def down(ctx: JobContext) -> None:
        raise VendorUnavailable("xero", "HTTP 503", status=503)

    outbox = worker(uow_factory, down, clock)
    for _ in range(9):
        outbox.drain()
        due = job(uow_factory).next_attempt_at
        delays.append((due - clock.now).total_seconds())
        clock.now = due

    ceilings = [15, 30, 60, 120, 240, 480, 900, 900, 900]
    assert delays == [c * share for c in ceilings]
    assert job(uow_factory).attempts == 9


def test_outbox_gives_up_on_an_outage_exactly_26_hours_after_its_first_failed_try(
    uow_factory: UnitOfWorkFactory,
) -> None:
    clock = FakeClock(START - timedelta(days=3))  # enqueued long before: the outage counts
    uow_factory = UnitOfWorkFactory(uow_factory.sessions, clock)
    enqueue(uow_factory, count=2)

    def down(ctx: JobContext) -> None:
        raise VendorUnavailable("xero", "HTTP 503", status=503)

    outbox = worker(uow_factory, down, clock)
    clock.now = START
    outbox.drain(limit=2)  # both fail for the first time
    clock.now = START + timedelta(hours=26) - timedelta(seconds=1)
    [one_second_early] = outbox.claim(1)
    outbox.perform(one_second_early)
    clock.now = START + timedelta(hours=26)
    [on_time] = outbox.claim(1)
    outbox.perform(on_time)

    assert job(uow_factory, one_second_early.key).status == "pending"
    assert job(uow_factory, on_time.key).status == "dead"


def test_outbox_retry_later_waits_30_seconds_by_default_and_frees_the_job(
    uow_factory: UnitOfWorkFactory,
) -> None:
    clock = FakeClock(START)
    enqueue(uow_factory)

    def outside_hours(ctx: JobContext) -> None:
        raise RetryLater("outside the recipient's working hours")

    worker(uow_factory, outside_hours, clock).drain()

    stored = job(uow_factory)
    assert (stored.status, stored.next_attempt_at) == ("pending", START + timedelta(seconds=30))
    assert stored.last_error == "outside the recipient's working hours"
    assert (stored.uncertain, stored.claimed_by, stored.claimed_until) == (False, None, None)


def test_outbox_finished_job_is_held_by_no_worker(uow_factory: UnitOfWorkFactory) -> None:
    clock = FakeClock(START)
    enqueue(uow_factory)

    worker(uow_factory, lambda ctx: None, clock).drain()

    stored = job(uow_factory)
    assert (stored.status, stored.claimed_by, stored.claimed_until) == ("done", None, None)


def test_outbox_drain_holds_only_one_batch_of_jobs_at_a_time(
    uow_factory: UnitOfWorkFactory,
) -> None:
    clock = FakeClock(START)
    enqueue(uow_factory, count=3)
    seen: list[list[str]] = []

    def look(ctx: JobContext) -> None:
        with uow_factory() as uow:
            seen.append([str(j.status) for j in uow.repo.jobs_for(1)])

    assert worker(uow_factory, look, clock).drain(limit=1) == 3

    # The jobs not yet in hand stay pending, free for another worker, instead of waiting under
    # this worker's lease.
    assert seen[0] == ["running", "pending", "pending"]
    assert seen[1] == ["done", "running", "pending"]


def test_outbox_drain_of_some_lanes_leaves_the_others_to_their_own_workers(
    uow_factory: UnitOfWorkFactory,
) -> None:
    clock = FakeClock(START)
    lanes = UnitOfWorkFactory(uow_factory.sessions, clock, lambda action, p: str(p["lane"]))
    with lanes() as uow:
        uow.repo.enqueue(None, "test.act", "post", {"lane": "slack"})
        uow.repo.enqueue(None, "test.act", "project", {"lane": "asana"})
        uow.commit()
    performed: list[str] = []

    worker(lanes, lambda ctx: performed.append(ctx.key), clock).drain(lanes=["slack"])

    assert performed == ["post"]
    with lanes() as uow:
        assert {j.idempotency_key: str(j.status) for j in uow.session.query(OutboxJob)} == {
            "post": "done",
            "project": "pending",
        }
