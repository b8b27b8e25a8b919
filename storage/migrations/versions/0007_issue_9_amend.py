"""handoff versions and amendment drafts (issue 9, amendments after submission)

Revision ID: 0007_issue_9_amend
Revises: 0004
Create Date: 2026-12-02 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0007_issue_9_amend"
down_revision: str | None = "0006_issue_9_renewal"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "handoff_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("handoff_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("schema_version", sa.Integer(), nullable=False),
        sa.Column("submitted_by", sa.String(length=32), nullable=True),
        sa.Column("submitted_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("teams", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["handoff_id"],
            ["handoffs.id"],
            name=op.f("fk_handoff_versions_handoff_id_handoffs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handoff_versions")),
        sa.UniqueConstraint(
            "handoff_id", "number", name=op.f("uq_handoff_versions_handoff_id_number")
        ),
    )
    with op.batch_alter_table("handoff_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_handoff_versions_handoff_id"), ["handoff_id"], unique=False
        )

    op.create_table(
        "amendment_drafts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("handoff_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("base_version", sa.Integer(), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("updated_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["handoff_id"],
            ["handoffs.id"],
            name=op.f("fk_amendment_drafts_handoff_id_handoffs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_amendment_drafts")),
        sa.UniqueConstraint("handoff_id", name=op.f("uq_amendment_drafts_handoff_id")),
    )


def downgrade() -> None:
    op.drop_table("amendment_drafts")
    with op.batch_alter_table("handoff_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_handoff_versions_handoff_id"))
    op.drop_table("handoff_versions")
