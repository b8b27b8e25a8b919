"""Typed SQLAlchemy models: handoffs, receipts, thread, external records, outbox, audit."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the zone otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; pass an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON}


class HandoffKind(StrEnum):
    SALES_TO_DELIVERY = "sales_to_delivery"
    DELIVERY_TO_FINANCE = "delivery_to_finance"
    RENEWAL_TO_SALES = "renewal_to_sales"


class HandoffStatus(StrEnum):
    AWAITING_FORM = "awaiting_form"
    SUBMITTED = "submitted"
    DELIVERED = "delivered"  # every external record exists
    CONFIRMED = "confirmed"  # every receiving team confirmed: complete
    CANCELLED = "cancelled"


class Handoff(Base):
    __tablename__ = "handoffs"
    # One handoff of a kind per deal, and per term for renewals (`term_key`).
    __table_args__ = (UniqueConstraint("kind", "deal_id", "term_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(24), index=True)
    deal_id: Mapped[str | None] = mapped_column(String(64), index=True)
    account_name: Mapped[str] = mapped_column(String(255), default="")
    deal_name: Mapped[str] = mapped_column(String(255), default="")
    sender_user_id: Mapped[str | None] = mapped_column(String(32), index=True)
    receiving_teams: Mapped[list[str]] = mapped_column(JSON, default=list)
    form_payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    draft_payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    schema_version: Mapped[int] = mapped_column(Integer, default=1)
    # Brought in from history (`python -m bot backfill`): never messaged about, never timed.
    backfilled: Mapped[bool] = mapped_column(default=False)
    backfill_source: Mapped[str | None] = mapped_column(String(16))  # "csv" or "hubspot"
    # What the CRM said about the deal (fetched by an outbox job), so the form opens from here.
    crm_snapshot: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    crm_snapshot_at: Mapped[datetime | None]
    # The handoff whose record this one continues (a renewal: the term's sales handoff).
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("handoffs.id", ondelete="SET NULL"))
    # The term a renewal is for (the agreed term end, ISO date), so each term gets one; "" else.
    term_key: Mapped[str] = mapped_column(String(16), default="", server_default="")
    # Form values taken from the account's record when the handoff opened (a renewal's prefill).
    prefill: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    dm_channel_id: Mapped[str | None] = mapped_column(String(32))
    dm_ts: Mapped[str | None] = mapped_column(String(32))
    channel_id: Mapped[str | None] = mapped_column(String(32))
    thread_ts: Mapped[str | None] = mapped_column(String(32), index=True)

    won_at: Mapped[datetime] = mapped_column(default=utcnow)
    submitted_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    receipts: Mapped[list[Receipt]] = relationship(
        back_populates="handoff", cascade="all, delete-orphan", order_by="Receipt.id"
    )
    external_records: Mapped[list[ExternalRecord]] = relationship(
        back_populates="handoff", cascade="all, delete-orphan", order_by="ExternalRecord.id"
    )
    messages: Mapped[list[ThreadMessage]] = relationship(
        back_populates="handoff", cascade="all, delete-orphan", order_by="ThreadMessage.id"
    )

    __mapper_args__ = {"version_id_col": version}

    def receipt(self, team: str) -> Receipt | None:
        return next((r for r in self.receipts if r.team == team), None)

    def record(self, target: str) -> ExternalRecord | None:
        return next((r for r in self.external_records if r.target == target), None)


class Receipt(Base):
    """One receiving team's acknowledgement of a handoff."""

    __tablename__ = "receipts"
    __table_args__ = (UniqueConstraint("handoff_id", "team"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    handoff_id: Mapped[int] = mapped_column(ForeignKey("handoffs.id", ondelete="CASCADE"))
    team: Mapped[str] = mapped_column(String(64))
    confirmed_by: Mapped[str | None] = mapped_column(String(32))
    confirmed_at: Mapped[datetime | None]

    handoff: Mapped[Handoff] = relationship(back_populates="receipts")


class ExternalRecord(Base):
    """A record a vendor holds for a handoff (ops project, billing setup, CRM note)."""

    __tablename__ = "external_records"
    __table_args__ = (UniqueConstraint("handoff_id", "target"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    handoff_id: Mapped[int] = mapped_column(ForeignKey("handoffs.id", ondelete="CASCADE"))
    target: Mapped[str] = mapped_column(String(32))  # "ops", "finance", "crm_note"
    vendor: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending/done/failed
    external_id: Mapped[str | None] = mapped_column(String(128))
    url: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    last_error: Mapped[str | None] = mapped_column(Text)
    retry_at: Mapped[datetime | None]  # pending after a retryable failure: the next attempt
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    handoff: Mapped[Handoff] = relationship(back_populates="external_records")


class ThreadMessage(Base):
    """A question or answer posted in a handoff's Slack thread."""

    __tablename__ = "thread_messages"
    __table_args__ = (UniqueConstraint("handoff_id", "slack_ts"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    handoff_id: Mapped[int] = mapped_column(ForeignKey("handoffs.id", ondelete="CASCADE"))
    slack_ts: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    is_question: Mapped[bool] = mapped_column(default=False)
    answered_by_ts: Mapped[str | None] = mapped_column(String(32))
    answered_at: Mapped[datetime | None]
    posted_at: Mapped[datetime] = mapped_column(default=utcnow)
    mirrored: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    handoff: Mapped[Handoff] = relationship(back_populates="messages")


class OutboxStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    DEAD = "dead"


class OutboxJob(Base):
    """One external effect, written in the transaction of the change that causes it."""

    __tablename__ = "outbox_jobs"
    __table_args__ = (Index("ix_outbox_due", "lane", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    handoff_id: Mapped[int | None] = mapped_column(
        ForeignKey("handoffs.id", ondelete="CASCADE"), index=True
    )
    action: Mapped[str] = mapped_column(String(48))
    # Jobs run concurrently per lane ("slack", "hubspot", "asana", ...): Slack never queues
    # behind a slow vendor, and each vendor lane has its own concurrency cap.
    lane: Mapped[str] = mapped_column(String(24), default="default")
    idempotency_key: Mapped[str] = mapped_column(String(160), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    uncertain: Mapped[bool] = mapped_column(default=False)  # a try may have reached the vendor
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When a try first failed: an outage is retried for a day from here, however long the job
    # waited for its turn (working hours, another job) before it was first tried.
    first_failed_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]


class OutboxWait(Base):
    """A job waits for another (by idempotency key) to finish, done or dead, before it runs."""

    __tablename__ = "outbox_waits"

    job_id: Mapped[int] = mapped_column(
        ForeignKey("outbox_jobs.id", ondelete="CASCADE"), primary_key=True
    )
    after_key: Mapped[str] = mapped_column(String(160), primary_key=True)


class AuditEvent(Base):
    """Append-only timeline of a handoff."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    handoff_id: Mapped[int] = mapped_column(
        ForeignKey("handoffs.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))  # Slack user id, "hubspot", "system"...
    event: Mapped[str] = mapped_column(String(48))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class InboundEvent(Base):
    """Ids of webhook events already handled, so a redelivery does nothing twice."""

    __tablename__ = "inbound_events"
    __table_args__ = (UniqueConstraint("source", "event_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(32))
    event_id: Mapped[str] = mapped_column(String(128))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class Obligation(Base):
    """Something a person or team owes on a handoff, with its reminder ladder position.

    The scheduler sweeps open obligations whose `next_action_at` is due (indexed), so the cost
    of a sweep grows with what is due, not with all handoffs.
    """

    __tablename__ = "obligations"
    __table_args__ = (
        UniqueConstraint("handoff_id", "sla", "subject"),
        Index("ix_obligations_due", "closed_at", "next_action_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    handoff_id: Mapped[int] = mapped_column(ForeignKey("handoffs.id", ondelete="CASCADE"))
    sla: Mapped[str] = mapped_column(String(24))  # "form", "confirm", "answer"
    subject: Mapped[str] = mapped_column(String(64))  # user id, team name, or "msg:<ts>"
    owner_user_id: Mapped[str | None] = mapped_column(String(32))
    team: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime]
    next_action_at: Mapped[datetime | None]
    step: Mapped[int] = mapped_column(Integer, default=0)  # 0 none sent, 1 reminded, 2 escalated
    snoozed_until: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class OAuthConnection(Base):
    """Rotating OAuth tokens of a vendor connection (QuickBooks realm, Xero tenant)."""

    __tablename__ = "oauth_connections"
    __table_args__ = (UniqueConstraint("provider", "account"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))
    account: Mapped[str] = mapped_column(String(128))
    access_token: Mapped[str] = mapped_column(Text)
    refresh_token: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime]
    refresh_expires_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Lock(Base):
    """Named leases: a holder owns the name until `until`, without holding a transaction open.

    A token refresh takes the lease in one short transaction, calls the vendor with no database
    lock held, and releases it in another; a holder that dies frees the name when it expires.
    """

    __tablename__ = "locks"

    name: Mapped[str] = mapped_column(String(160), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(64))
    until: Mapped[datetime | None]


class RateBucket(Base):
    """A token bucket per vendor (and account), shared by every worker process."""

    __tablename__ = "rate_buckets"

    name: Mapped[str] = mapped_column(String(160), primary_key=True)
    tokens: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[datetime]


class SweepWatermark(Base):
    """How far a periodic CRM sweep has read (newest `hs_lastmodifieddate` seen), per sweep name."""

    __tablename__ = "sweep_watermarks"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    modified_after: Mapped[datetime]
    swept_at: Mapped[datetime] = mapped_column(default=utcnow)


class DealHistoryEntry(Base):
    """One CRM engagement (note, call, meeting, email) stored with a handoff, to be cited."""

    __tablename__ = "deal_history_entries"
    __table_args__ = (UniqueConstraint("handoff_id", "source_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    handoff_id: Mapped[int] = mapped_column(
        ForeignKey("handoffs.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))  # note, call, meeting, email
    source_id: Mapped[str] = mapped_column(String(64))  # e.g. "note:8123"
    occurred_at: Mapped[datetime]
    author: Mapped[str | None] = mapped_column(String(255))
    title: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(Text)
    fetched_at: Mapped[datetime] = mapped_column(default=utcnow)


class HistoryDraft(Base):
    """Drafts of a handoff's essay fields written from its history by the organisation's model."""

    __tablename__ = "history_drafts"

    id: Mapped[int] = mapped_column(primary_key=True)
    handoff_id: Mapped[int] = mapped_column(
        ForeignKey("handoffs.id", ondelete="CASCADE"), unique=True
    )
    status: Mapped[str] = mapped_column(String(16))  # "ready" or "failed"
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # field -> draft text
    citations: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # field -> [source ids]
    note: Mapped[str | None] = mapped_column(Text)  # why there is no draft, for the form
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class VendorWebhook(Base):
    """A webhook an ops tool sends us (issue 9): where it posts and the secret that signs it.

    `token` is the random last segment of the URL the vendor posts to, so a request names its
    row before its signature is checked; `secret` is never logged.
    """

    __tablename__ = "vendor_webhooks"
    __table_args__ = (UniqueConstraint("vendor", "team", "resource"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    vendor: Mapped[str] = mapped_column(String(16))  # "asana", "jira"
    team: Mapped[str] = mapped_column(String(64))  # the ops team whose tool it watches
    resource: Mapped[str] = mapped_column(String(64))  # Asana project gid; "site" for Jira
    token: Mapped[str] = mapped_column(String(64), unique=True)
    external_id: Mapped[str | None] = mapped_column(String(64))  # the vendor's webhook gid
    secret: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending/active/failed
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class HandoffVersion(Base):
    """One submitted version of a handoff's form: the first submission, then each amendment."""

    __tablename__ = "handoff_versions"
    __table_args__ = (UniqueConstraint("handoff_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    handoff_id: Mapped[int] = mapped_column(
        ForeignKey("handoffs.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)  # 1 is the first submission
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    schema_version: Mapped[int] = mapped_column(Integer)
    submitted_by: Mapped[str | None] = mapped_column(String(32))
    submitted_at: Mapped[datetime]
    # What this version changed from the one before: [{section, label, before, after}].
    changes: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    teams: Mapped[list[str]] = mapped_column(JSON, default=list)  # asked to confirm again


class AmendmentDraft(Base):
    """An amendment being typed (one per handoff), kept between the form's steps and closes."""

    __tablename__ = "amendment_drafts"

    id: Mapped[int] = mapped_column(primary_key=True)
    handoff_id: Mapped[int] = mapped_column(
        ForeignKey("handoffs.id", ondelete="CASCADE"), unique=True
    )
    user_id: Mapped[str] = mapped_column(String(32))
    base_version: Mapped[int] = mapped_column(Integer)  # the version being amended
    values: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class MoneyCheck(Base):
    """The nightly money-leak check's claim on one handoff's finance record (issue 9).

    `checked_on` is the finance team's local date of the last attempt, so each handoff is read
    once a night; a worker claims it (`claimed_until`) before reading any vendor, so several
    worker processes never check the same handoff twice.
    """

    __tablename__ = "money_checks"

    handoff_id: Mapped[int] = mapped_column(
        ForeignKey("handoffs.id", ondelete="CASCADE"), primary_key=True
    )
    checked_on: Mapped[str] = mapped_column(String(10), default="")  # ISO date, "" never
    outcome: Mapped[str | None] = mapped_column(String(16))  # match / mismatch / error / skipped
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None]
    checked_at: Mapped[datetime | None]


class MoneyMismatch(Base):
    """What the CRM, the submitted form and the finance tool disagreed on for one handoff.

    Open until a later check finds them matching again or a finance person marks it resolved;
    `fingerprint` names the disagreement, so the same one is reported once and a changed one is
    new.
    """

    __tablename__ = "money_mismatches"
    __table_args__ = (Index("ix_money_mismatches_open", "team", "resolved_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    handoff_id: Mapped[int] = mapped_column(
        ForeignKey("handoffs.id", ondelete="CASCADE"), index=True
    )
    team: Mapped[str] = mapped_column(String(64))  # the finance team whose record it is
    fingerprint: Mapped[str] = mapped_column(String(64))
    # [{what, expected, found}], as shown to finance; links: {crm, finance, thread}.
    differences: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    links: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    found_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    # "check" (found matching again), "changed" (a different mismatch replaced it), or a user id.
    resolved_by: Mapped[str | None] = mapped_column(String(32))
