"""deal history entries and their drafts (issue 12)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 05:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "deal_history_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("handoff_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("source_id", sa.String(length=64), nullable=False),
        sa.Column("occurred_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("author", sa.String(length=255), nullable=True),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("fetched_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["handoff_id"],
            ["handoffs.id"],
            name=op.f("fk_deal_history_entries_handoff_id_handoffs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deal_history_entries")),
        sa.UniqueConstraint(
            "handoff_id", "source_id", name=op.f("uq_deal_history_entries_handoff_id_source_id")
        ),
    )
    with op.batch_alter_table("deal_history_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_deal_history_entries_handoff_id"), ["handoff_id"], unique=False
        )

    op.create_table(
        "history_drafts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("handoff_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("citations", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["handoff_id"],
            ["handoffs.id"],
            name=op.f("fk_history_drafts_handoff_id_handoffs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_history_drafts")),
        sa.UniqueConstraint("handoff_id", name=op.f("uq_history_drafts_handoff_id")),
    )


def downgrade() -> None:
    op.drop_table("history_drafts")
    with op.batch_alter_table("deal_history_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deal_history_entries_handoff_id"))
    op.drop_table("deal_history_entries")
