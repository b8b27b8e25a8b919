"""hubspot sweep watermark

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 05:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sweep_watermarks",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("modified_after", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("swept_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_sweep_watermarks")),
    )


def downgrade() -> None:
    op.drop_table("sweep_watermarks")
