"""Shared fixtures: a migrated database per test (SQLite, or PostgreSQL from DATABASE_URL)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from sqlalchemy import Engine, text

from storage.db import create_engine_for, normalise_url, session_factory
from storage.migrate import upgrade
from storage.uow import UnitOfWorkFactory

# Property tests: 200 examples normally; ./scripts/mutation runs every covering test once per
# mutant, so it asks for fewer (HYPOTHESIS_PROFILE=mutation). No deadline: CI machines vary.
settings.register_profile("default", max_examples=200, deadline=None)
settings.register_profile("mutation", max_examples=25, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


def _database_url(tmp_path: Path) -> str:
    url = os.environ.get("DATABASE_URL")
    return normalise_url(url) if url else f"sqlite:///{tmp_path / 'handoff.sqlite3'}"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """A database at the newest migration, empty; PostgreSQL is wiped before each test."""
    url = _database_url(tmp_path)
    engine = create_engine_for(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def uow_factory(engine: Engine) -> UnitOfWorkFactory:
    return UnitOfWorkFactory(session_factory(engine))
