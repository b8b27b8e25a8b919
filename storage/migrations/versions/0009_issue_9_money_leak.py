"""money-leak check: nightly claims and the mismatches found (issue 9)

Revision ID: 0009_issue_9_money_leak
Revises: 0008_issue_9_backfill
Create Date: 2026-12-02 00:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0009_issue_9_money_leak"
down_revision: str | None = "0008_issue_9_backfill"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "money_checks",
        sa.Column("handoff_id", sa.Integer(), nullable=False),
        sa.Column("checked_on", sa.String(length=10), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claimed_until", storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("checked_at", storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["handoff_id"],
            ["handoffs.id"],
            name=op.f("fk_money_checks_handoff_id_handoffs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("handoff_id", name=op.f("pk_money_checks")),
    )
    op.create_table(
        "money_mismatches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("handoff_id", sa.Integer(), nullable=False),
        sa.Column("team", sa.String(length=64), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("differences", sa.JSON(), nullable=False),
        sa.Column("links", sa.JSON(), nullable=False),
        sa.Column("found_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["handoff_id"],
            ["handoffs.id"],
            name=op.f("fk_money_mismatches_handoff_id_handoffs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_money_mismatches")),
    )
    with op.batch_alter_table("money_mismatches", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_money_mismatches_handoff_id"), ["handoff_id"], unique=False
        )
        batch_op.create_index("ix_money_mismatches_open", ["team", "resolved_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("money_mismatches", schema=None) as batch_op:
        batch_op.drop_index("ix_money_mismatches_open")
        batch_op.drop_index(batch_op.f("ix_money_mismatches_handoff_id"))
    op.drop_table("money_mismatches")
    op.drop_table("money_checks")
