"""The outbox in the background: jobs are performed as soon as they are enqueued, lane by lane, a
slow vendor never holds up Slack, and stopping lets a job in flight finish.

The runner uses real threads and the real clock; each wait below is a generous upper bound
(the runner's poll is a minute unless a test is about polling), never a measured duration.

Mutants of OutboxRunner and Kicker that ./scripts/mutation leaves alive change no outcome:
- thread names and daemon flags (names show in tracebacks; daemon only matters to a process that
  exits without calling `stop`), and `_threads` starting as None (`start` sets it before `stop`
  reads it);
- each pool's `max_workers` (`_fill` never hands a lane more jobs than its free slots, so the
  pool's size never binds), `free < 0` for `free <= 0` (claiming 0 jobs claims none), and
  `stop`'s arguments: how long it joins (the threads end once told to stop), `wait` (True is the
  default) and `cancel_futures` (no job is ever queued in a pool, for the same reason);
- the Kicker's flags starting or reset as None rather than False (both falsy); the JobContext's
  `created_at` left None (no handler reads it, and the outage limit counts from the first
  failed try);
- how soon the dispatcher looks again: the default poll of 2 s, the 0.05 s floor of a nap until
  the next due job, or napping until any lane's next job rather than its own. The same jobs are
  performed, only sooner or later, and these tests do not assert on timing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Iterator
from datetime import timedelta
from typing import Any

import pytest

from bot.services.outbox import JobContext, Kicker, OutboxRunner, OutboxWorker
from storage import sqlite_gate
from storage.models import OutboxJob, utcnow
from storage.uow import UnitOfWorkFactory

SLACK, BACKGROUND = sqlite_gate.Priority.SLACK, sqlite_gate.Priority.BACKGROUND
WAIT = 10.0  # seconds a test waits for the runner before calling it stuck
IDLE = 60.0  # a poll long enough that only a wake-up (or a due time) can explain a job done


def _lane(action: str, payload: dict[str, Any]) -> str:
    return str(payload["lane"])


class Recording(OutboxWorker):
    """A worker that also tells the test when a claim came back empty (the dispatcher is idle)."""

    idle: threading.Event
    # Whose SQLite transactions each step's thread lets go first (storage.sqlite_gate): claims
    # and Slack posts come right after people's requests, vendor jobs after those.
    priorities: dict[str, set[sqlite_gate.Priority]]

    def claim(self, limit: int, lanes: Collection[str] | None = None) -> list[JobContext]:
        self._note("claim")
        jobs = super().claim(limit, lanes)
        if not jobs:
            self.idle.set()
        return jobs

    def perform(self, ctx: JobContext) -> None:
        self._note(str(ctx.payload["lane"]))
        super().perform(ctx)

    def _note(self, step: str) -> None:
        self.priorities.setdefault(step, set()).add(sqlite_gate._priority())


@pytest.fixture
def uow(uow_factory: UnitOfWorkFactory) -> UnitOfWorkFactory:
    return UnitOfWorkFactory(uow_factory.sessions, utcnow, _lane)


@pytest.fixture
def runners() -> Iterator[list[OutboxRunner]]:
    started: list[OutboxRunner] = []
    yield started
    for runner in started:
        runner.stop()


def enqueue(uow: UnitOfWorkFactory, key: str, lane: str = "slack", in_seconds: float = 0) -> None:
    with uow() as u:
        u.repo.enqueue(
            None, "test.act", key, {"lane": lane}, run_at=utcnow() + timedelta(seconds=in_seconds)
        )
        u.commit()


def status(uow: UnitOfWorkFactory, key: str) -> str:
    with uow() as u:
        job = next(j for j in u.session.query(OutboxJob) if j.idempotency_key == key)
        return str(job.status)


def make_worker(uow: UnitOfWorkFactory, handler: Callable[[JobContext], None]) -> Recording:
    worker = Recording(uow=uow, clock=utcnow, worker_id="bg")
    worker.register({"test.act": handler})  # as each service registers its own
    worker.idle = threading.Event()
    worker.priorities = {}
    return worker


def recorder() -> tuple[dict[str, threading.Event], Callable[[JobContext], None]]:
    done: dict[str, threading.Event] = {}

    def handler(ctx: JobContext) -> None:
        done.setdefault(ctx.key, threading.Event()).set()

    return done, handler


def performed(done: dict[str, threading.Event], key: str) -> bool:
    return done.setdefault(key, threading.Event()).wait(WAIT)


def test_runner_performs_a_job_enqueued_while_it_was_idle_once_woken(
    uow: UnitOfWorkFactory, runners: list[OutboxRunner], caplog: pytest.LogCaptureFixture
) -> None:
    done, handler = recorder()
    worker = make_worker(uow, handler)
    runner = OutboxRunner(worker, {"slack": 1, "asana": 2}, poll_seconds=IDLE)
    runners.append(runner)
    with caplog.at_level(logging.INFO, logger="bot.services.outbox"):
        runner.start()
    assert worker.idle.wait(WAIT)  # nothing due: the dispatcher sleeps for a minute

    enqueue(uow, "posted")
    runner.wake()  # what an enqueue in this process does

    assert performed(done, "posted")
    assert worker.priorities == {"claim": {SLACK}, "slack": {SLACK}}
    assert caplog.records[0].getMessage() == "outbox_runner_started lanes=slack:1,asana:2"


def test_runner_wakes_on_a_notification_from_another_process(
    uow: UnitOfWorkFactory, runners: list[OutboxRunner]
) -> None:
    done, handler = recorder()
    worker = make_worker(uow, handler)
    listening = threading.Event()
    stopped = threading.Event()
    wakes: list[Callable[[], None]] = []

    def listen(wake: Callable[[], None], stop: threading.Event) -> None:
        """PostgreSQL LISTEN, reduced to handing the test the runner's wake-up."""
        wakes.append(wake)
        listening.set()
        stop.wait()
        stopped.set()

    runner = OutboxRunner(worker, {"slack": 1}, poll_seconds=IDLE, listen=listen)
    runner.start()
    assert listening.wait(WAIT) and worker.idle.wait(WAIT)

    enqueue(uow, "from-the-web-process")
    wakes[0]()  # the NOTIFY arrives

    assert performed(done, "from-the-web-process")
    runner.stop()
    assert stopped.is_set()  # the listener was told to stop, and was waited for


def test_runner_finds_a_job_whose_notification_was_missed_by_polling(
    uow: UnitOfWorkFactory, runners: list[OutboxRunner]
) -> None:
    done, handler = recorder()
    worker = make_worker(uow, handler)
    runner = OutboxRunner(worker, {"slack": 1}, poll_seconds=0.1)
    runners.append(runner)
    runner.start()
    assert worker.idle.wait(WAIT)

    enqueue(uow, "missed")  # no wake-up: the notification was lost

    assert performed(done, "missed")


def test_runner_performs_a_retry_when_it_falls_due_without_a_wake_up(
    uow: UnitOfWorkFactory, runners: list[OutboxRunner]
) -> None:
    done, handler = recorder()
    worker = make_worker(uow, handler)
    enqueue(uow, "later", in_seconds=0.5)  # e.g. a rate-limited post, retried in half a second
    runner = OutboxRunner(worker, {"slack": 1}, poll_seconds=IDLE)
    runners.append(runner)
    runner.start()

    assert performed(done, "later")


def test_runner_keeps_slack_moving_while_a_vendor_lane_is_full(
    uow: UnitOfWorkFactory, runners: list[OutboxRunner]
) -> None:
    release = {f"asana-{n}": threading.Event() for n in (1, 2, 3, 4)}  # Asana is slow today
    lock = threading.Lock()
    running = {"asana": 0, "slack": 0}
    most = {"asana": 0, "slack": 0}
    done: dict[str, threading.Event] = {}

    started = {key: threading.Event() for key in release}

    def handler(ctx: JobContext) -> None:
        lane = str(ctx.payload["lane"])
        with lock:
            running[lane] += 1
            most[lane] = max(most[lane], running[lane])
        if ctx.key in release:
            started[ctx.key].set()
            release[ctx.key].wait(WAIT)
        with lock:
            running[lane] -= 1
        done.setdefault(ctx.key, threading.Event()).set()

    worker = make_worker(uow, handler)
    for n in (1, 2, 3, 4):
        enqueue(uow, f"asana-{n}", "asana")
    runner = OutboxRunner(worker, {"asana": 2, "slack": 2}, poll_seconds=IDLE)
    runners.append(runner)
    runner.start()
    assert worker.idle.wait(WAIT)

    enqueue(uow, "slack-1", "slack")
    runner.wake()
    assert performed(done, "slack-1")  # while asana-1 and asana-2 fill their lane
    assert not any(e.is_set() for k, e in done.items() if k.startswith("asana"))
    # The jobs behind the full lane are not taken (their leases not started) while they wait:
    # another process with a free slot may still take them.
    assert [status(uow, f"asana-{n}") for n in (3, 4)] == ["pending", "pending"]

    release["asana-1"].set()
    assert started["asana-3"].wait(WAIT)  # the freed slot took the next job
    assert status(uow, "asana-4") == "pending"  # one slot freed, one job taken

    for event in release.values():
        event.set()
    assert all(performed(done, f"asana-{n}") for n in (2, 3, 4))
    assert most == {"asana": 2, "slack": 1}  # never more than the lane's cap at once
    assert worker.priorities == {"claim": {SLACK}, "slack": {SLACK}, "asana": {BACKGROUND}}


def test_runner_outlives_a_database_failure(
    uow: UnitOfWorkFactory, runners: list[OutboxRunner], caplog: pytest.LogCaptureFixture
) -> None:
    done, handler = recorder()
    worker = make_worker(uow, handler)
    failures = [RuntimeError("the database is restarting")]
    claim = worker.claim

    def flaky_claim(limit: int, lanes: Collection[str] | None = None) -> list[JobContext]:
        if failures:
            raise failures.pop()
        return claim(limit, lanes)

    worker.claim = flaky_claim  # type: ignore[method-assign]
    enqueue(uow, "posted")
    runner = OutboxRunner(worker, {"slack": 1}, poll_seconds=0.1)
    runners.append(runner)
    with caplog.at_level(logging.INFO, logger="bot.services.outbox"):
        runner.start()
        assert performed(done, "posted")  # tried again after the failure, with no wake-up

    [failed] = [r for r in caplog.records if r.levelname == "ERROR"]
    assert failed.getMessage() == "outbox_dispatch_failed" and failed.exc_info is not None


def test_runner_frees_the_slot_of_a_job_whose_outcome_could_not_be_stored(
    uow: UnitOfWorkFactory, runners: list[OutboxRunner], caplog: pytest.LogCaptureFixture
) -> None:
    done, handler = recorder()
    worker = make_worker(uow, handler)
    perform = worker.perform
    failures = [RuntimeError("the database went away while storing the outcome")]

    def flaky_perform(ctx: JobContext) -> None:
        perform(ctx)
        if failures:
            raise failures.pop()

    worker.perform = flaky_perform  # type: ignore[method-assign]
    enqueue(uow, "first")
    enqueue(uow, "second")
    runner = OutboxRunner(worker, {"slack": 1}, poll_seconds=IDLE)
    runners.append(runner)
    with caplog.at_level(logging.INFO, logger="bot.services.outbox"):
        runner.start()
        assert performed(done, "first") and performed(done, "second")  # the lane went on

    [failed] = [r for r in caplog.records if r.levelname == "ERROR"]
    assert failed.getMessage() == "outbox_perform_failed job=1" and failed.exc_info is not None


def test_runner_stop_lets_the_job_in_flight_finish(uow: UnitOfWorkFactory) -> None:
    started = threading.Event()
    release = threading.Event()

    def handler(ctx: JobContext) -> None:
        started.set()
        release.wait(WAIT)

    worker = make_worker(uow, handler)
    enqueue(uow, "in-flight")
    runner = OutboxRunner(worker, {"slack": 1}, poll_seconds=IDLE)
    runner.start()
    assert started.wait(WAIT)

    threading.Timer(0.2, release.set).start()
    runner.stop()  # a deploy: the process stops while the job is performed

    assert status(uow, "in-flight") == "done"  # finished and recorded, not left to a lease


# --- the drains kicked by a request, in a process without a runner (and in tests) ---------------


class ThreadExecutor:
    """Runs each submitted drain on a new thread, as the app's pool would."""

    def __init__(self) -> None:
        self.threads: list[threading.Thread] = []

    def submit(self, fn: Callable[[], None]) -> None:
        thread = threading.Thread(target=fn)
        self.threads.append(thread)
        thread.start()

    def join(self) -> None:
        for thread in self.threads:
            thread.join(WAIT)


def test_kick_during_a_drain_runs_one_more_drain_not_one_per_kick() -> None:
    executor = ThreadExecutor()
    in_drain = threading.Event()
    release = threading.Event()
    drains: list[int] = []

    def drain() -> int:
        drains.append(len(drains))
        if len(drains) == 1:
            in_drain.set()
            release.wait(WAIT)  # a slow first drain; requests keep enqueueing meanwhile
        return 1

    kicker = Kicker(drain, executor)  # type: ignore[arg-type]
    kicker.kick()
    assert in_drain.wait(WAIT)
    kicker.kick()
    kicker.kick()
    release.set()
    executor.join()

    assert drains == [0, 1]  # the jobs enqueued meanwhile are drained once more, by one thread
    assert len(executor.threads) == 1
    kicker.kick()  # idle again: the next request starts a drain of its own
    executor.join()
    assert drains == [0, 1, 2] and len(executor.threads) == 2


def test_kick_after_a_failed_drain_drains_again(caplog: pytest.LogCaptureFixture) -> None:
    executor = ThreadExecutor()
    drains: list[int] = []

    def drain() -> int:
        drains.append(len(drains))
        if len(drains) == 1:
            raise RuntimeError("the database is restarting")
        return 0

    kicker = Kicker(drain, executor)  # type: ignore[arg-type]
    with caplog.at_level(logging.INFO, logger="bot.services.outbox"):
        kicker.kick()
        executor.join()
    kicker.kick()
    executor.join()

    assert drains == [0, 1]
    [failed] = caplog.records
    assert failed.getMessage() == "outbox_drain_failed" and failed.exc_info is not None
