"""responsive outbox: lanes and dependencies, CRM snapshots, lease locks, shared rate buckets

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 05:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox_jobs") as batch:
        batch.add_column(
            sa.Column("lane", sa.String(length=24), nullable=False, server_default="default")
        )
        batch.drop_index("ix_outbox_due")
        batch.create_index("ix_outbox_due", ["lane", "status", "next_attempt_at"], unique=False)
    with op.batch_alter_table("outbox_jobs") as batch:
        batch.alter_column("lane", server_default=None)
    op.create_table(
        "outbox_waits",
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("after_key", sa.String(length=160), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["outbox_jobs.id"],
            name=op.f("fk_outbox_waits_job_id_outbox_jobs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("job_id", "after_key", name=op.f("pk_outbox_waits")),
    )
    with op.batch_alter_table("handoffs") as batch:
        batch.add_column(sa.Column("crm_snapshot", sa.JSON(), nullable=True))
        batch.add_column(
            sa.Column("crm_snapshot_at", storage.models.UTCDateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("external_records") as batch:
        batch.add_column(
            sa.Column("retry_at", storage.models.UTCDateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("locks") as batch:
        batch.add_column(sa.Column("holder", sa.String(length=64), nullable=True))
        batch.add_column(
            sa.Column("until", storage.models.UTCDateTime(timezone=True), nullable=True)
        )
    op.create_table(
        "rate_buckets",
        sa.Column("name", sa.String(length=160), nullable=False),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("updated_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_rate_buckets")),
    )


def downgrade() -> None:
    op.drop_table("rate_buckets")
    op.drop_table("outbox_waits")
    with op.batch_alter_table("locks") as batch:
        batch.drop_column("until")
        batch.drop_column("holder")
    with op.batch_alter_table("external_records") as batch:
        batch.drop_column("retry_at")
    with op.batch_alter_table("handoffs") as batch:
        batch.drop_column("crm_snapshot_at")
        batch.drop_column("crm_snapshot")
    with op.batch_alter_table("outbox_jobs") as batch:
        batch.drop_index("ix_outbox_due")
        batch.create_index("ix_outbox_due", ["status", "next_attempt_at"], unique=False)
        batch.drop_column("lane")
