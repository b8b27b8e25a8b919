"""The migrations build exactly the schema the models describe, and upgrading keeps the data."""

from __future__ import annotations

import os

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, text

from storage.db import create_engine_for
from storage.migrate import upgrade
from storage.models import Base


def test_migrations_match_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)

    assert differences == []


def test_migrations_rerun_on_an_up_to_date_database_keep_every_handoff(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO handoffs (kind, status, deal_id, account_name, deal_name, "
                "receiving_teams, schema_version, backfilled, won_at, created_at, updated_at, "
                "version) "
                "VALUES ('sales_to_delivery', 'submitted', '42', 'Acme', 'Acme deal', '[]', 1, "
                "false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1)"
            )
        )

    upgrade(engine)

    with engine.connect() as connection:
        rows = connection.execute(text("SELECT deal_id, account_name FROM handoffs")).all()
    assert [tuple(r) for r in rows] == [("42", "Acme")]


@pytest.mark.postgres
def test_postgres_session_schema_holds_the_tables_and_alembic_version(
    engine: Engine, postgres_url: str | None
) -> None:
    if postgres_url is None:
        pytest.skip("needs a PostgreSQL DATABASE_URL")
    # A second engine from the URL, as the app, a harness or a subprocess would build one.
    other = create_engine_for(os.environ["DATABASE_URL"])
    try:
        with engine.connect() as mine, other.connect() as theirs:
            schema = mine.execute(text("SELECT current_schema()")).scalar_one()
            assert theirs.execute(text("SELECT current_schema()")).scalar_one() == schema
            ours = mine.execute(
                text(
                    "SELECT table_name FROM information_schema.tables "
                    "WHERE table_schema = :schema AND table_name IN ('alembic_version', 'handoffs')"
                ),
                {"schema": schema},
            ).scalars()
            assert sorted(ours) == ["alembic_version", "handoffs"]
    finally:
        other.dispose()
    assert str(schema).startswith("handoff_test_")
