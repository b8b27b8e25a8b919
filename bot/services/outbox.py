"""The outbox: claims due effect jobs, performs them once in effect, retries or parks them.

A job is claimed in one short transaction (a lease), performed outside any transaction (vendor
calls can be slow), and finished in another. A worker that dies mid-job leaves an expired lease:
the next claim marks the job `uncertain`, so its handler looks for the vendor record before
creating one.

`OutboxWorker` performs jobs; `OutboxRunner` keeps it busy in the background, one thread pool
per lane (Slack, HubSpot, each vendor), so a slow vendor never delays a Slack post, and wakes as
soon as a job is enqueued (in this process directly; from other processes by PostgreSQL NOTIFY).
"""

from __future__ import annotations

import logging
import random
import socket
import threading
import uuid
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.services.lanes import SLACK as SLACK_LANE
from bot.services.ports import Clock
from integrations.ports import VendorError, VendorOutcomeUnknown
from storage.models import OutboxJob, OutboxStatus
from storage.sqlite_gate import Priority, mark_background_thread
from storage.uow import UnitOfWork, UnitOfWorkFactory

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobContext:
    """What a handler knows about the job it performs."""

    job_id: int
    handoff_id: int | None
    action: str
    key: str
    payload: Mapping[str, Any]
    attempt: int
    uncertain: bool  # an earlier try may have reached the vendor: look before creating
    created_at: datetime | None = None
    first_failed_at: datetime | None = None  # None until a try fails


Handler = Callable[[JobContext], dict[str, Any] | None]
FailureHook = Callable[[JobContext, str], None]
RetryHook = Callable[[JobContext, str, datetime], None]


class RetryLater(Exception):
    """Raised by a handler that must not act yet for a reason of its own (e.g. outside the
    recipient's working hours). Waiting for another job is an `after=` dependency instead."""

    def __init__(self, reason: str, delay: float = 30.0) -> None:
        super().__init__(reason)
        self.delay = delay


@dataclass
class RetryPolicy:
    """Retryable failures (timeouts, 5xx, 429) keep retrying for a day and more, so an outage
    heals itself; only a refusal, or a failure past `retry_for`, parks the job."""

    base_delay: float = 15.0
    max_delay: float = 900.0  # an outage is retried at least every 15 minutes
    retry_for: timedelta = timedelta(hours=26)

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Exponential backoff with full jitter, never sooner than the vendor's Retry-After."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** min(attempt - 1, 30))
        jittered = random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not crypto
        return max(jittered, retry_after or 0.0)

    def exhausted(self, ctx: JobContext, now: datetime) -> bool:
        """The outage has lasted `retry_for` since the job's first failed try."""
        started = ctx.first_failed_at or now
        return now - started >= self.retry_for


@dataclass
class OutboxWorker:
    uow: UnitOfWorkFactory
    clock: Clock
    handlers: dict[str, Handler] = field(default_factory=dict)
    on_dead: FailureHook | None = None
    on_retry: RetryHook | None = None
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    lease: timedelta = timedelta(minutes=5)
    worker_id: str = field(default_factory=lambda: f"{socket.gethostname()}-{uuid.uuid4().hex[:8]}")

    def register(self, handlers: Mapping[str, Handler]) -> None:
        """Add handlers by action name (services register theirs once they are built)."""
        self.handlers.update(handlers)

    def drain(self, limit: int = 25, lanes: Collection[str] | None = None) -> int:
        """Perform every due job, one at a time, in this thread; returns how many were tried."""
        done = 0
        while True:
            claimed = self.claim(limit, lanes)
            if not claimed:
                return done
            for ctx in claimed:
                self.perform(ctx)
                done += 1

    def claim(self, limit: int, lanes: Collection[str] | None = None) -> list[JobContext]:
        with self.uow() as uow:
            jobs = uow.repo.claim_jobs(self.worker_id, self.clock(), self.lease, limit, lanes)
            contexts = [
                JobContext(
                    job_id=j.id,
                    handoff_id=j.handoff_id,
                    action=j.action,
                    key=j.idempotency_key,
                    payload=dict(j.payload),
                    attempt=j.attempts + 1,
                    uncertain=j.uncertain,
                    created_at=j.created_at,
                    first_failed_at=j.first_failed_at,
                )
                for j in jobs
            ]
            for job in jobs:
                job.attempts += 1
            uow.commit()
        return contexts

    def perform(self, ctx: JobContext) -> None:
        handler = self.handlers.get(ctx.action)
        if handler is None:
            self._finish(ctx, dead=f"no handler for action {ctx.action!r}")
            return
        try:
            result = handler(ctx)
        except RetryLater as exc:
            self._reschedule(ctx, str(exc), exc.delay, uncertain=False, count_attempt=False)
        except VendorError as exc:
            self._failed(
                ctx,
                str(exc),
                exc.retryable,
                exc.retry_after,
                uncertain=isinstance(exc, VendorOutcomeUnknown),
            )
        except SlackApiError as exc:
            error = str(exc.response.get("error", "unknown_error"))
            retryable = exc.response.status_code == 429 or exc.response.status_code >= 500
            retry_after = _slack_retry_after(exc)
            self._failed(ctx, f"slack: {error}", retryable, retry_after, uncertain=False)
        except Exception as exc:  # a bug: retry (it may be a race), never crash the worker loop
            log.exception("outbox_handler_crashed job=%s action=%s", ctx.job_id, ctx.action)
            self._failed(ctx, f"internal error: {type(exc).__name__}", True, None, uncertain=True)
        else:
            self._finish(ctx, result=result)

    def _failed(
        self,
        ctx: JobContext,
        error: str,
        retryable: bool,
        retry_after: float | None,
        *,
        uncertain: bool,
    ) -> None:
        if retryable and not self.policy.exhausted(ctx, self.clock()):
            delay = self.policy.delay(ctx.attempt, retry_after)
            next_at = self._reschedule(ctx, error, delay, uncertain=uncertain, count_attempt=True)
            if next_at is not None and self.on_retry is not None:
                try:
                    self.on_retry(ctx, error, next_at)
                except Exception:
                    log.exception("outbox_retry_hook_failed job=%s", ctx.job_id)
        else:
            self._finish(ctx, dead=error)

    def _reschedule(
        self, ctx: JobContext, error: str, delay: float, *, uncertain: bool, count_attempt: bool
    ) -> datetime | None:
        next_at = self.clock() + timedelta(seconds=delay)
        with self.uow() as uow:
            job = self._owned(uow, ctx)
            if job is None:
                return None
            job.status = OutboxStatus.PENDING
            job.next_attempt_at = next_at
            job.last_error = error
            job.uncertain = job.uncertain or uncertain
            job.claimed_by = job.claimed_until = None
            if count_attempt:
                job.first_failed_at = job.first_failed_at or self.clock()
            else:
                job.attempts -= 1
            uow.commit()
        log.warning(
            "outbox_retry job=%s handoff=%s action=%s attempt=%s delay=%.0fs error=%s",
            ctx.job_id,
            ctx.handoff_id,
            ctx.action,
            ctx.attempt,
            delay,
            error,
        )
        return next_at

    def _finish(
        self, ctx: JobContext, *, result: dict[str, Any] | None = None, dead: str | None = None
    ) -> None:
        with self.uow() as uow:
            job = self._owned(uow, ctx)
            if job is None:
                return
            job.status = OutboxStatus.DEAD if dead else OutboxStatus.DONE
            job.last_error = dead
            job.result = result
            job.finished_at = self.clock()
            job.claimed_by = job.claimed_until = None
            uow.commit()
        if dead:
            log.error(
                "outbox_dead job=%s handoff=%s action=%s attempts=%s error=%s",
                ctx.job_id,
                ctx.handoff_id,
                ctx.action,
                ctx.attempt,
                dead,
            )
            if self.on_dead:
                self.on_dead(ctx, dead)
        else:
            log.info(
                "outbox_done job=%s handoff=%s action=%s", ctx.job_id, ctx.handoff_id, ctx.action
            )

    def _owned(self, uow: UnitOfWork, ctx: JobContext) -> OutboxJob | None:
        """The job, if this worker still holds it (a lease may have expired and moved on)."""
        job = uow.repo.job(ctx.job_id)
        if job is None or job.claimed_by != self.worker_id:
            log.warning("outbox_lease_lost job=%s worker=%s", ctx.job_id, self.worker_id)
            return None
        return job


def _slack_retry_after(exc: SlackApiError) -> float | None:
    value = exc.response.headers.get("Retry-After") if exc.response.headers else None
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


class OutboxRunner:
    """Performs due jobs concurrently, lane by lane, the moment they are enqueued.

    One dispatcher thread claims up to each lane's free slots and hands the jobs to that lane's
    pool; a finished job frees its slot and wakes the dispatcher (it may also unblock jobs that
    waited for it). Between wake-ups the dispatcher sleeps until the next retry falls due, or
    `poll_seconds` at most (the safety net for a missed notification).
    """

    def __init__(
        self,
        worker: OutboxWorker,
        lanes: Mapping[str, int],
        *,
        poll_seconds: float = 2.0,
        listen: Callable[[Callable[[], None], threading.Event], None] | None = None,
    ) -> None:
        self.worker = worker
        self.lanes = dict(lanes)
        self._poll = poll_seconds
        self._listen = listen
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._running = dict.fromkeys(self.lanes, 0)
        self._pools: dict[str, Executor] = {
            lane: ThreadPoolExecutor(
                max_workers=cap,
                thread_name_prefix=f"outbox-{lane}",
                # People's requests go first, then the Slack lane (someone waits to see it).
                initializer=mark_background_thread,
                initargs=(Priority.SLACK if lane == SLACK_LANE else Priority.BACKGROUND,),
            )
            for lane, cap in self.lanes.items()
        }
        self._threads: list[threading.Thread] = []

    def wake(self) -> None:
        """Something was enqueued or finished: look for due jobs now."""
        self._wake.set()

    def start(self) -> None:
        threads = [threading.Thread(target=self._loop, name="outbox-dispatch", daemon=True)]
        if self._listen is not None:
            listen = self._listen
            threads.append(
                threading.Thread(
                    target=lambda: listen(self.wake, self._stop), name="outbox-listen", daemon=True
                )
            )
        for thread in threads:
            thread.start()
        self._threads = threads
        log.info(
            "outbox_runner_started lanes=%s", ",".join(f"{k}:{v}" for k, v in self.lanes.items())
        )

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        for thread in self._threads:
            thread.join(timeout=10)
        for pool in self._pools.values():
            pool.shutdown(wait=True, cancel_futures=False)

    def _loop(self) -> None:
        mark_background_thread(Priority.SLACK)  # its claims feed the Slack lane too
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self._fill()
                timeout = self._sleep_for()
            except Exception:  # the database may be restarting: try again shortly
                log.exception("outbox_dispatch_failed")
                timeout = self._poll
            self._wake.wait(timeout)

    def _fill(self) -> None:
        for lane, cap in self.lanes.items():
            with self._lock:
                free = cap - self._running[lane]
            if free <= 0:
                continue
            for ctx in self.worker.claim(free, [lane]):
                with self._lock:
                    self._running[lane] += 1
                self._pools[lane].submit(self._run, lane, ctx)

    def _run(self, lane: str, ctx: JobContext) -> None:
        try:
            self.worker.perform(ctx)
        except Exception:
            log.exception("outbox_perform_failed job=%s", ctx.job_id)
        finally:
            with self._lock:
                self._running[lane] -= 1
            self._wake.set()

    def _sleep_for(self) -> float:
        with self.worker.uow() as uow:
            due = uow.repo.next_due_at(self.lanes)
        if due is None:
            return self._poll
        return min(self._poll, max(0.05, (due - self.worker.clock()).total_seconds()))


class Kicker:
    """Runs a drain on `executor` after a request enqueued work (tests pass an inline one).

    At most one drain runs at a time, and a kick during a drain triggers one more pass.
    """

    def __init__(self, drain: Callable[[], int], executor: Executor) -> None:
        self._drain = drain
        self._executor = executor
        self._lock = threading.Lock()
        self._running = False
        self._again = False

    def kick(self) -> None:
        with self._lock:
            if self._running:
                self._again = True
                return
            self._running = True
        self._executor.submit(self._loop)

    def _loop(self) -> None:
        while True:
            try:
                self._drain()
            except Exception:
                log.exception("outbox_drain_failed")
            with self._lock:
                if not self._again:
                    self._running = False
                    return
                self._again = False
