"""renewals: one per term of a deal, linked to the record they continue (issue 9)

Revision ID: 0006_issue_9_renewal
Revises: 0004
Create Date: 2026-12-02 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_issue_9_renewal"
down_revision: str | None = "0005_issue_9_delivery"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Batch mode: SQLite rebuilds the table to change its unique constraint.
    with op.batch_alter_table("handoffs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("parent_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("term_key", sa.String(length=16), server_default="", nullable=False)
        )
        batch_op.add_column(sa.Column("prefill", sa.JSON(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_handoffs_parent_id_handoffs"),
            "handoffs",
            ["parent_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.drop_constraint(batch_op.f("uq_handoffs_kind_deal_id"), type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_handoffs_kind_deal_id_term_key"), ["kind", "deal_id", "term_key"]
        )


def downgrade() -> None:
    with op.batch_alter_table("handoffs", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_handoffs_kind_deal_id_term_key"), type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_handoffs_kind_deal_id"), ["kind", "deal_id"]
        )
        batch_op.drop_constraint(batch_op.f("fk_handoffs_parent_id_handoffs"), type_="foreignkey")
        batch_op.drop_column("prefill")
        batch_op.drop_column("term_key")
        batch_op.drop_column("parent_id")
