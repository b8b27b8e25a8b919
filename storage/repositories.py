"""Queries and writes the services need over one session; the unit of work owns commits."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, or_, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased, selectinload

from storage.models import (
    AuditEvent,
    ExternalRecord,
    Handoff,
    InboundEvent,
    Lock,
    Obligation,
    OutboxJob,
    OutboxStatus,
    OutboxWait,
    RateBucket,
    ThreadMessage,
    utcnow,
)

# Which lane an outbox job runs in, from its action and payload (wiring knows the teams' tools).
LaneOf = Callable[[str, dict[str, Any]], str]
# The PostgreSQL channel a committed enqueue notifies, so idle workers in other processes wake.
OUTBOX_CHANNEL = "handoff_outbox"
ACTIVE = (OutboxStatus.PENDING, OutboxStatus.RUNNING)


def default_lane(action: str, payload: dict[str, Any]) -> str:
    return "default"


class Repository:
    def __init__(
        self,
        session: Session,
        clock: Callable[[], datetime] = utcnow,
        lane_of: LaneOf = default_lane,
    ) -> None:
        self.session = session
        self.clock = clock
        self.lane_of = lane_of

    # --- handoffs -------------------------------------------------------------------------------

    def add(self, obj: object) -> None:
        self.session.add(obj)

    def handoff(self, handoff_id: int, *, for_update: bool = False) -> Handoff | None:
        stmt = select(Handoff).where(Handoff.id == handoff_id).options(*_eager())
        if for_update:
            stmt = stmt.with_for_update(of=Handoff)
        return self.session.scalars(stmt).first()

    def handoff_for_deal(self, kind: str, deal_id: str, term_key: str = "") -> Handoff | None:
        """The deal's handoff of a kind (a renewal: of the term `term_key`)."""
        stmt = (
            select(Handoff)
            .where(Handoff.kind == kind, Handoff.deal_id == deal_id, Handoff.term_key == term_key)
            .options(*_eager())
        )
        return self.session.scalars(stmt).first()

    def handoff_for_thread(self, channel_id: str, thread_ts: str) -> Handoff | None:
        stmt = (
            select(Handoff)
            .where(Handoff.channel_id == channel_id, Handoff.thread_ts == thread_ts)
            .options(*_eager())
        )
        return self.session.scalars(stmt).first()

    def handoffs_where(self, *conditions: Any, limit: int = 200) -> Sequence[Handoff]:
        stmt = (
            select(Handoff)
            .where(*conditions)
            .options(*_eager())
            .order_by(Handoff.updated_at.desc())
            .limit(limit)
        )
        return self.session.scalars(stmt).all()

    def insert_if_absent(self, obj: object) -> bool:
        """Insert under a savepoint; False when a unique constraint says it already exists."""
        try:
            with self.session.begin_nested():
                self.session.add(obj)
        except IntegrityError:
            return False
        return True

    # --- audit, inbound dedupe ------------------------------------------------------------------

    def audit(self, handoff: Handoff, actor: str, event: str, **detail: Any) -> None:
        self.session.add(
            AuditEvent(
                handoff_id=handoff.id, actor=actor, event=event, detail=detail, at=self.clock()
            )
        )

    def timeline(self, handoff_id: int) -> Sequence[AuditEvent]:
        stmt = (
            select(AuditEvent)
            .where(AuditEvent.handoff_id == handoff_id)
            .order_by(AuditEvent.at, AuditEvent.id)
        )
        return self.session.scalars(stmt).all()

    def last_audit_at(self, handoff_id: int, *events: str) -> datetime | None:
        """When the handoff's newest audit event of these kinds happened, or None."""
        stmt = select(func.max(AuditEvent.at)).where(
            AuditEvent.handoff_id == handoff_id, AuditEvent.event.in_(events)
        )
        return self.session.scalar(stmt)

    def first_delivery(self, source: str, event_id: str) -> bool:
        """Record an inbound event id; False when it was seen before (a redelivery)."""
        return self.insert_if_absent(InboundEvent(source=source, event_id=event_id))

    # --- thread ---------------------------------------------------------------------------------

    def thread_message(self, handoff_id: int, slack_ts: str) -> ThreadMessage | None:
        stmt = select(ThreadMessage).where(
            ThreadMessage.handoff_id == handoff_id, ThreadMessage.slack_ts == slack_ts
        )
        return self.session.scalars(stmt).first()

    # --- outbox ---------------------------------------------------------------------------------

    def enqueue(
        self,
        handoff: Handoff | None,
        action: str,
        key: str,
        payload: dict[str, Any] | None = None,
        *,
        run_at: datetime | None = None,
        after: str | Sequence[str] = (),
    ) -> OutboxJob | None:
        """Add an outbox job unless one with the same idempotency key exists.

        `after` names the keys of jobs whose outcome this one needs: it is not claimed until
        each is done or dead (no polling); a key with no job does not hold it back.
        """
        existing = self.session.scalars(select(OutboxJob).where(OutboxJob.idempotency_key == key))
        if existing.first() is not None:
            return None
        now = self.clock()
        payload = payload or {}
        job = OutboxJob(
            handoff_id=handoff.id if handoff else None,
            action=action,
            lane=self.lane_of(action, payload),
            idempotency_key=key,
            payload=payload,
            created_at=now,
            next_attempt_at=run_at or now,
        )
        if not self.insert_if_absent(job):
            return None
        for after_key in dict.fromkeys([after] if isinstance(after, str) else after):
            self.session.add(OutboxWait(job_id=job.id, after_key=after_key))
        if self._is_postgresql():
            # Delivered on commit (and never if the transaction rolls back).
            self.session.execute(
                text("SELECT pg_notify(:channel, :lane)"),
                {"channel": OUTBOX_CHANNEL, "lane": job.lane},
            )
        return job

    def claim_jobs(
        self,
        worker: str,
        now: datetime,
        lease: timedelta,
        limit: int,
        lanes: Collection[str] | None = None,
    ) -> Sequence[OutboxJob]:
        """Claim due jobs for `worker`; expired leases (a crashed worker) are due again.

        A job waiting for others (`outbox_waits`) is due only once they have finished.
        """
        due = or_(
            and_(OutboxJob.status == OutboxStatus.PENDING, OutboxJob.next_attempt_at <= now),
            and_(OutboxJob.status == OutboxStatus.RUNNING, OutboxJob.claimed_until < now),
        )
        stmt = select(OutboxJob).where(due, ~_waiting_for_another_job())
        if lanes is not None:
            stmt = stmt.where(OutboxJob.lane.in_(list(lanes)))
        stmt = stmt.order_by(OutboxJob.next_attempt_at, OutboxJob.id).limit(limit)
        if self._is_postgresql():
            stmt = stmt.with_for_update(of=OutboxJob, skip_locked=True)
        jobs = self.session.scalars(stmt).all()
        for job in jobs:
            if job.status == OutboxStatus.RUNNING:
                job.uncertain = True  # the last holder may have acted before it died
            job.status = OutboxStatus.RUNNING
            job.claimed_by = worker
            job.claimed_until = now + lease
        return jobs

    def job(self, job_id: int) -> OutboxJob | None:
        return self.session.get(OutboxJob, job_id)

    def newer_pending_job(self, handoff_id: int | None, action: str, job_id: int) -> int | None:
        """A pending job of the same action and handoff enqueued after `job_id`, if any."""
        stmt = select(OutboxJob.id).where(
            OutboxJob.handoff_id == handoff_id,
            OutboxJob.action == action,
            OutboxJob.status == OutboxStatus.PENDING,
            OutboxJob.id > job_id,
        )
        return self.session.scalar(stmt.limit(1))

    def active_job_keys(self, action: str) -> list[str]:
        """Keys of the jobs of one action still pending or running."""
        stmt = select(OutboxJob.idempotency_key).where(
            OutboxJob.action == action, OutboxJob.status.in_(ACTIVE)
        )
        return list(self.session.scalars(stmt))

    def jobs_for(self, handoff_id: int) -> Sequence[OutboxJob]:
        stmt = select(OutboxJob).where(OutboxJob.handoff_id == handoff_id).order_by(OutboxJob.id)
        return self.session.scalars(stmt).all()

    def last_job_key(self, handoff_id: int, action: str) -> str | None:
        """Key of the newest job of one action for a handoff (what a next one may wait for)."""
        stmt = (
            select(OutboxJob.idempotency_key)
            .where(OutboxJob.handoff_id == handoff_id, OutboxJob.action == action)
            .order_by(OutboxJob.id.desc())
            .limit(1)
        )
        return self.session.scalars(stmt).first()

    def external_record(self, handoff_id: int, target: str) -> ExternalRecord | None:
        stmt = select(ExternalRecord).where(
            ExternalRecord.handoff_id == handoff_id, ExternalRecord.target == target
        )
        return self.session.scalars(stmt).first()

    # --- obligations ----------------------------------------------------------------------------

    def open_obligations(self, handoff_id: int) -> Sequence[Obligation]:
        stmt = select(Obligation).where(
            Obligation.handoff_id == handoff_id, Obligation.closed_at.is_(None)
        )
        return self.session.scalars(stmt).all()

    def next_due_at(self, lanes: Collection[str] | None = None) -> datetime | None:
        """When the earliest pending job falls due, leaving out jobs that wait for another
        (they become due when that one finishes, which wakes the worker anyway)."""
        stmt = select(OutboxJob.next_attempt_at).where(
            OutboxJob.status == OutboxStatus.PENDING, ~_waiting_for_another_job()
        )
        if lanes is not None:
            stmt = stmt.where(OutboxJob.lane.in_(list(lanes)))
        return self.session.scalar(stmt.order_by(OutboxJob.next_attempt_at).limit(1))

    # --- leases ---------------------------------------------------------------------------------

    def take_lease(self, name: str, holder: str, now: datetime, ttl: timedelta) -> bool:
        """Take the named lease unless another holder's is still running (commit to keep it)."""
        self.insert_if_absent(Lock(name=name))
        row = self.session.scalars(select(Lock).where(Lock.name == name).with_for_update()).one()
        if row.holder not in (None, holder) and row.until is not None and row.until > now:
            return False
        row.holder, row.until = holder, now + ttl
        return True

    def release_lease(self, name: str, holder: str) -> None:
        row = self.session.scalars(select(Lock).where(Lock.name == name).with_for_update()).first()
        if row is not None and row.holder == holder:
            row.holder = row.until = None

    # --- rate limits ----------------------------------------------------------------------------

    def take_token(self, name: str, per_second: float, burst: float, now: datetime) -> float:
        """Take one request token from a shared bucket; 0 when taken, else seconds to wait."""
        bucket = self.session.scalars(
            select(RateBucket).where(RateBucket.name == name).with_for_update()
        ).first()
        if bucket is None:
            bucket = RateBucket(name=name, tokens=burst, updated_at=now)
            if not self.insert_if_absent(bucket):  # another process made it first
                return self.take_token(name, per_second, burst, now)
        elapsed = max(0.0, (now - bucket.updated_at).total_seconds())
        tokens = min(burst, bucket.tokens + elapsed * per_second)
        bucket.updated_at = now
        if tokens >= 1.0:
            bucket.tokens = tokens - 1.0
            return 0.0
        bucket.tokens = tokens
        return (1.0 - tokens) / per_second

    def _is_postgresql(self) -> bool:
        bind = self.session.bind
        return bind is not None and bind.dialect.name == "postgresql"


def _waiting_for_another_job() -> Any:
    """A job that waits for a job still pending or running."""
    parent = aliased(OutboxJob)
    return exists().where(
        OutboxWait.job_id == OutboxJob.id,
        parent.idempotency_key == OutboxWait.after_key,
        parent.status.in_(ACTIVE),
    )


def _eager() -> tuple[Any, ...]:
    return (
        selectinload(Handoff.receipts),
        selectinload(Handoff.external_records),
        selectinload(Handoff.messages),
    )
