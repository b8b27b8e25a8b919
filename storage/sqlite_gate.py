"""One SQLite transaction at a time per process, handed over first come, first served.

SQLite has one writer, and every transaction here starts with `BEGIN IMMEDIATE`. Left to SQLite,
threads that find the database busy sleep in its busy handler (1, 2, 5 … 100 ms naps) and wake
to find it taken again: under 50 concurrent Slack requests plus the outbox, a thread reply's
one-row write waited up to a second while the lock sat free between naps. Queueing the
transactions in the process instead hands the lock over the moment the previous one ends, in
arrival order, with the transactions of threads answering people (Slack's requests, the views
they open) first, then those of the outbox's Slack lane (a thread or a message update someone is
waiting to see), then the rest of the background work (vendor calls, their rate-limit bucket),
which catches up as soon as the burst has passed. Other processes on the same file (a
`python -m bot worker`, a migration) still meet SQLite's busy handler, as before.
"""

from __future__ import annotations

import threading
from collections import deque
from enum import IntEnum
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError

_HELD = "handoff_sqlite_gate"  # key in the pool record's info while its connection holds the gate
_thread = threading.local()


class Priority(IntEnum):
    """Whose transaction goes first when several wait; lower first."""

    PEOPLE = 0  # answering a Slack request
    SLACK = 1  # the outbox's Slack lane: what people wait to see in the thread
    BACKGROUND = 2  # everything else the outbox and the scheduler do


def mark_background_thread(priority: Priority = Priority.BACKGROUND) -> None:
    """The calling thread does background work: its SQLite transactions queue behind those of
    threads answering people. A thread pool's `initializer`."""
    _thread.priority = priority


def _priority() -> Priority:
    priority: Priority = getattr(_thread, "priority", Priority.PEOPLE)
    return priority


class FairLock:
    """A lock handed to waiters in the order they asked (threading.Lock promises no order),
    higher priorities first."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._queues: tuple[deque[threading.Lock], ...] = tuple(deque() for _ in Priority)
        self._held = False

    def waiting(self, priority: Priority | None = None) -> int:
        """How many wait (at `priority`, or at all)."""
        with self._mutex:
            queues = self._queues if priority is None else (self._queues[priority],)
            return sum(len(q) for q in queues)

    def acquire(self, timeout: float, *, priority: Priority = Priority.PEOPLE) -> bool:
        queue = self._queues[priority]
        with self._mutex:
            if not self._held:
                self._held = True
                return True
            baton = threading.Lock()
            baton.acquire()
            queue.append(baton)
        if baton.acquire(timeout=timeout):
            return True  # the holder handed the lock over to us
        with self._mutex:
            try:
                queue.remove(baton)
            except ValueError:
                return True  # handed over just as we gave up: ours after all
            return False

    def release(self) -> None:
        with self._mutex:
            queue = next((q for q in self._queues if q), None)
            if queue is not None:
                queue.popleft().release()  # stays held: ownership passes on
            else:
                self._held = False


def install(engine: Engine, timeout: float) -> None:
    """Take the gate before each `BEGIN IMMEDIATE`; give it back when the connection returns to
    the pool (after its COMMIT or ROLLBACK has run) or is thrown away."""
    gate = FairLock()

    def begin(conn: Connection) -> None:
        info = conn.connection.info
        if not info.get(_HELD):
            if not gate.acquire(timeout, priority=_priority()):
                raise OperationalError("BEGIN IMMEDIATE", {}, Exception("database is locked"))
            info[_HELD] = True
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            _give_back(info)
            raise

    def _give_back(info: dict[str, Any]) -> None:
        if info.pop(_HELD, False):
            gate.release()

    def returned(_dbapi_connection: Any, record: Any, *_args: Any) -> None:
        _give_back(record.info)

    event.listen(engine, "begin", begin)
    for name in ("checkin", "invalidate", "close", "detach"):
        event.listen(engine.pool, name, returned)
