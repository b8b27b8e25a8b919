"""The outbox worker: claims due effect jobs, performs them once in effect, retries or parks them.

A job is claimed in one short transaction (a lease), performed outside any transaction (vendor
calls can be slow), and finished in another. A worker that dies mid-job leaves an expired lease:
the next claim marks the job `uncertain`, so its handler looks for the vendor record before
creating one.
"""

from __future__ import annotations

import logging
import random
import socket
import threading
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.services.ports import Clock
from integrations.ports import VendorError, VendorOutcomeUnknown
from storage.models import OutboxJob, OutboxStatus
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


Handler = Callable[[JobContext], dict[str, Any] | None]
FailureHook = Callable[[JobContext, str], None]


class RetryLater(Exception):
    """Raised by a handler that cannot act yet (e.g. waits for another job's result)."""

    def __init__(self, reason: str, delay: float = 30.0) -> None:
        super().__init__(reason)
        self.delay = delay


@dataclass
class RetryPolicy:
    max_attempts: int = 8
    base_delay: float = 15.0
    max_delay: float = 3600.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Exponential backoff with full jitter, never sooner than the vendor's Retry-After."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        jittered = random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not crypto
        return max(jittered, retry_after or 0.0)


@dataclass
class OutboxWorker:
    uow: UnitOfWorkFactory
    handlers: Mapping[str, Handler]
    clock: Clock
    on_dead: FailureHook | None = None
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    lease: timedelta = timedelta(minutes=5)
    worker_id: str = field(default_factory=lambda: f"{socket.gethostname()}-{uuid.uuid4().hex[:8]}")

    def drain(self, limit: int = 25) -> int:
        """Perform every due job (up to `limit` per claim); returns how many were attempted."""
        done = 0
        while True:
            claimed = self._claim(limit)
            if not claimed:
                return done
            for ctx in claimed:
                self._perform(ctx)
                done += 1

    def _claim(self, limit: int) -> list[JobContext]:
        with self.uow() as uow:
            jobs = uow.repo.claim_jobs(self.worker_id, self.clock(), self.lease, limit)
            contexts = [
                JobContext(
                    job_id=j.id,
                    handoff_id=j.handoff_id,
                    action=j.action,
                    key=j.idempotency_key,
                    payload=dict(j.payload),
                    attempt=j.attempts + 1,
                    uncertain=j.uncertain,
                )
                for j in jobs
            ]
            for job in jobs:
                job.attempts += 1
            uow.commit()
        return contexts

    def _perform(self, ctx: JobContext) -> None:
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
        except Exception as exc:  # a bug: park the job rather than crash the worker loop
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
        if retryable and ctx.attempt < self.policy.max_attempts:
            delay = self.policy.delay(ctx.attempt, retry_after)
            self._reschedule(ctx, error, delay, uncertain=uncertain, count_attempt=True)
        else:
            self._finish(ctx, dead=error)

    def _reschedule(
        self, ctx: JobContext, error: str, delay: float, *, uncertain: bool, count_attempt: bool
    ) -> None:
        with self.uow() as uow:
            job = self._owned(uow, ctx)
            if job is None:
                return
            job.status = OutboxStatus.PENDING
            job.next_attempt_at = self.clock() + timedelta(seconds=delay)
            job.last_error = error
            job.uncertain = job.uncertain or uncertain
            job.claimed_by = job.claimed_until = None
            if not count_attempt:
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


class Kicker:
    """Runs a drain soon after a request enqueued work, without blocking the request thread.

    The scheduler drains periodically anyway; this only shortens the wait. At most one drain
    runs at a time per process, and a kick during a drain triggers one more pass.
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
