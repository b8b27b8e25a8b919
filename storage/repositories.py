"""Queries and writes the services need over one session; the unit of work owns commits."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from storage.models import (
    AuditEvent,
    ExternalRecord,
    Handoff,
    InboundEvent,
    Lock,
    Obligation,
    OutboxJob,
    OutboxStatus,
    ThreadMessage,
    utcnow,
)


class Repository:
    def __init__(self, session: Session, clock: Callable[[], datetime] = utcnow) -> None:
        self.session = session
        self.clock = clock

    # --- handoffs -------------------------------------------------------------------------------

    def add(self, obj: object) -> None:
        self.session.add(obj)

    def handoff(self, handoff_id: int, *, for_update: bool = False) -> Handoff | None:
        stmt = select(Handoff).where(Handoff.id == handoff_id).options(*_eager())
        if for_update:
            stmt = stmt.with_for_update(of=Handoff)
        return self.session.scalars(stmt).first()

    def handoff_for_deal(self, kind: str, deal_id: str) -> Handoff | None:
        stmt = (
            select(Handoff)
            .where(Handoff.kind == kind, Handoff.deal_id == deal_id)
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
    ) -> OutboxJob | None:
        """Add an outbox job unless one with the same idempotency key exists."""
        existing = self.session.scalars(select(OutboxJob).where(OutboxJob.idempotency_key == key))
        if existing.first() is not None:
            return None
        now = self.clock()
        job = OutboxJob(
            handoff_id=handoff.id if handoff else None,
            action=action,
            idempotency_key=key,
            payload=payload or {},
            created_at=now,
            next_attempt_at=run_at or now,
        )
        return job if self.insert_if_absent(job) else None

    def claim_jobs(
        self, worker: str, now: datetime, lease: timedelta, limit: int
    ) -> Sequence[OutboxJob]:
        """Claim due jobs for `worker`; expired leases (a crashed worker) are due again."""
        due = or_(
            and_(OutboxJob.status == OutboxStatus.PENDING, OutboxJob.next_attempt_at <= now),
            and_(OutboxJob.status == OutboxStatus.RUNNING, OutboxJob.claimed_until < now),
        )
        stmt = select(OutboxJob).where(due).order_by(OutboxJob.next_attempt_at).limit(limit)
        if self.session.bind is not None and self.session.bind.dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
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

    def jobs_for(self, handoff_id: int) -> Sequence[OutboxJob]:
        stmt = select(OutboxJob).where(OutboxJob.handoff_id == handoff_id).order_by(OutboxJob.id)
        return self.session.scalars(stmt).all()

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

    # --- locks ----------------------------------------------------------------------------------

    def lock(self, name: str) -> None:
        """Hold a named lock until the transaction ends (row lock; SQLite serialises writers)."""
        self.insert_if_absent(Lock(name=name))
        self.session.scalars(select(Lock).where(Lock.name == name).with_for_update()).one()


def _eager() -> tuple[Any, ...]:
    return (
        selectinload(Handoff.receipts),
        selectinload(Handoff.external_records),
        selectinload(Handoff.messages),
    )
