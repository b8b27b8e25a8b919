"""Cross-process wake-ups for the outbox: PostgreSQL LISTEN on the channel enqueues NOTIFY."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg
from sqlalchemy import Engine

from storage.repositories import OUTBOX_CHANNEL

log = logging.getLogger(__name__)

Listen = Callable[[Callable[[], None], threading.Event], None]


def outbox_listener(engine: Engine) -> Listen | None:
    """A loop calling `wake` on each committed enqueue in any process; None on SQLite, where
    one process runs everything and wakes itself."""
    if engine.dialect.name != "postgresql":
        return None
    dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)

    def listen(wake: Callable[[], None], stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                with psycopg.connect(dsn, autocommit=True) as conn:
                    conn.execute(f"LISTEN {OUTBOX_CHANNEL}")
                    log.info("outbox_listening channel=%s", OUTBOX_CHANNEL)
                    while not stop.is_set():
                        for _ in conn.notifies(timeout=1.0, stop_after=1):
                            wake()
            except psycopg.Error as exc:  # the database restarted: listen again shortly
                log.warning("outbox_listen_failed error=%s", type(exc).__name__)
                stop.wait(2.0)

    return listen
