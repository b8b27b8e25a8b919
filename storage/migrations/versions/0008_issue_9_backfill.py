"""backfill of historic accounts: where each came from, and deals looked up by id (issue 9)

`handoffs.backfilled` exists since 0001; this adds `backfill_source` ("csv" or "hubspot") and an
index on `handoffs.deal_id`, which every backfilled row is checked against ("already present").

Revision ID: 0008_issue_9_backfill
Revises: 0007_issue_9_amend
Create Date: 2026-12-02 00:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_issue_9_backfill"
down_revision: str | None = "0007_issue_9_amend"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("handoffs") as batch:
        batch.add_column(sa.Column("backfill_source", sa.String(length=16), nullable=True))
        batch.create_index(batch.f("ix_handoffs_deal_id"), ["deal_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("handoffs") as batch:
        batch.drop_index(batch.f("ix_handoffs_deal_id"))
        batch.drop_column("backfill_source")
