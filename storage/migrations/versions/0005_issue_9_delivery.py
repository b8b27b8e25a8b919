"""vendor webhooks: where Asana and Jira tell us a delivery is complete (issue 9)

Revision ID: 0005_issue_9_delivery
Revises: 0004
Create Date: 2026-12-02 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0005_issue_9_delivery"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "vendor_webhooks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("vendor", sa.String(length=16), nullable=False),
        sa.Column("team", sa.String(length=64), nullable=False),
        sa.Column("resource", sa.String(length=64), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=True),
        sa.Column("secret", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vendor_webhooks")),
        sa.UniqueConstraint(
            "vendor", "team", "resource", name=op.f("uq_vendor_webhooks_vendor_team_resource")
        ),
        sa.UniqueConstraint("token", name=op.f("uq_vendor_webhooks_token")),
    )


def downgrade() -> None:
    op.drop_table("vendor_webhooks")
