"""Shared fixtures: a migrated database per test (SQLite, or PostgreSQL from DATABASE_URL).

On PostgreSQL each test session works in a schema of its own (`handoff_test_<random>`), named
in the connection URL's `search_path`, so two people (or two CI jobs) can point DATABASE_URL at
the same database: nobody drops `public` or another run's tables, and alembic's version table
lives in the session's schema too.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from sqlalchemy import Engine, make_url, text

from storage.db import create_engine_for, normalise_url, session_factory
from storage.migrate import upgrade
from storage.uow import UnitOfWorkFactory

# Property tests: 200 examples normally; ./scripts/mutation runs every covering test once per
# mutant, so it asks for fewer (HYPOTHESIS_PROFILE=mutation). No deadline: CI machines vary.
settings.register_profile("default", max_examples=200, deadline=None)
settings.register_profile("mutation", max_examples=25, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def with_search_path(url: str, schema: str) -> str:
    """`url` with libpq's `options=-csearch_path=<schema>`, so every connection made from it
    (second engines, subprocesses handed the URL) lands in `schema`."""
    parsed = make_url(normalise_url(url))
    return parsed.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
        hide_password=False
    )


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str | None]:
    """The session's PostgreSQL URL (its own schema), or None when the tests run on SQLite.

    DATABASE_URL is rewritten for the session so any subprocess or second engine a test
    starts from the environment follows the same schema.
    """
    url = os.environ.get("DATABASE_URL")
    if not url or not normalise_url(url).startswith("postgresql"):
        yield None
        return
    schema = f"handoff_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine_for(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    session_url = with_search_path(url, schema)
    os.environ["DATABASE_URL"] = session_url
    try:
        yield session_url
    finally:
        os.environ["DATABASE_URL"] = url
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def _schema_of(engine: Engine) -> str:
    with engine.connect() as conn:
        return str(conn.execute(text("SELECT current_schema()")).scalar_one())


@pytest.fixture
def engine(tmp_path: Path, postgres_url: str | None) -> Iterator[Engine]:
    """A database at the newest migration, empty; on PostgreSQL the session's schema is
    emptied before each test (and only that schema)."""
    url = postgres_url or f"sqlite:///{tmp_path / 'handoff.sqlite3'}"
    engine = create_engine_for(url)
    if postgres_url:
        schema = _schema_of(engine)
        assert schema.startswith("handoff_test_"), f"search_path not applied: {schema}"
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE; CREATE SCHEMA "{schema}"'))
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def uow_factory(engine: Engine) -> UnitOfWorkFactory:
    return UnitOfWorkFactory(session_factory(engine))
