"""outbox jobs remember their first failed try (the outage's retry window starts there)

Revision ID: 0010_outbox_first_failure
Revises: 0009_issue_9_money_leak
Create Date: 2026-12-02 00:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0010_outbox_first_failure"
down_revision: str | None = "0009_issue_9_money_leak"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox_jobs") as batch:
        batch.add_column(
            sa.Column("first_failed_at", storage.models.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox_jobs") as batch:
        batch.drop_column("first_failed_at")
