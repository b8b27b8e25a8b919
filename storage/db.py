"""Engine and session factory. Nothing connects until `create_engine_for` is called."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.orm import Session, sessionmaker

from storage import sqlite_gate

DEFAULT_DATABASE_URL = "sqlite:///handoff.sqlite3"
SQLITE_BUSY_SECONDS = 30  # how long a transaction waits for SQLite's single writer


def normalise_url(url: str) -> str:
    """Accept Heroku-style `postgres://` URLs and pick the psycopg 3 driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def create_engine_for(url: str, **kwargs: Any) -> Engine:
    """An engine with the settings each backend needs for several threads and processes.

    Statement parameters never reach errors or logs (`hide_parameters`): they hold OAuth tokens
    and the form's personal data.
    """
    url = normalise_url(url)
    kwargs.setdefault("hide_parameters", True)
    # Request threads (gunicorn: 8), the interaction and background pools and the outbox lanes
    # share one engine per process: SQLAlchemy's default 5 + 10 connections would make them
    # queue for a connection rather than for the database.
    sqlite = url.startswith("sqlite")
    if not url.startswith("sqlite:///:memory:"):
        kwargs.setdefault("pool_size", 20 if sqlite else 10)
        kwargs.setdefault("max_overflow", 30 if sqlite else 20)
    if sqlite:
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_SECONDS},
            **kwargs,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite's own transaction handling defers BEGIN; take it over so that writers
        # serialise from their first statement (BEGIN IMMEDIATE) instead of failing at commit,
        # queued in this process rather than in SQLite's busy handler.
        sqlite_gate.install(engine, timeout=SQLITE_BUSY_SECONDS)
        return engine
    engine = create_engine(url, pool_pre_ping=True, **kwargs)
    event.listen(engine, "handle_error", _without_row_detail)
    return engine


def _without_row_detail(context: ExceptionContext) -> None:
    """Drop PostgreSQL's DETAIL from an error ("Failing row contains (…)", "Key (…)=(…)").

    The server quotes the offending row's values there, tokens and personal data included, and
    `hide_parameters` does not reach a message the server wrote.
    """
    orig = context.original_exception
    diag = getattr(orig, "diag", None)
    primary = getattr(diag, "message_primary", None)
    if not primary or getattr(diag, "message_detail", None) is None:
        return
    orig.args = (primary,)
    wrapped = context.sqlalchemy_exception
    if wrapped is not None:
        wrapped.args = (f"({type(orig).__module__}.{type(orig).__name__}) {primary}",)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # let the "begin" listener issue BEGIN itself
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_SECONDS * 1000}")
    cursor.close()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
