"""SQLite transactions queue in the process: in order, people's first, and never left held."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError

from storage.db import create_engine_for
from storage.sqlite_gate import FairLock, Priority, mark_background_thread


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_engine_for(f"sqlite:///{tmp_path / 'gate.sqlite3'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE seen (id INTEGER PRIMARY KEY, who TEXT NOT NULL)"))
    yield engine
    engine.dispose()


def _queued(lock: FairLock, name: str, order: list[str], *, priority: Priority) -> threading.Thread:
    def take() -> None:
        assert lock.acquire(5, priority=priority)
        order.append(name)
        lock.release()

    thread = threading.Thread(target=take)
    thread.start()
    return thread


def _wait_until(condition: Callable[[], bool]) -> None:
    event = threading.Event()
    for _ in range(500):
        if condition():
            return
        event.wait(0.01)
    raise AssertionError("condition never held")


def test_waiters_get_the_lock_in_arrival_order_people_then_slack_then_background() -> None:
    lock = FairLock()
    assert lock.acquire(1)
    order: list[str] = []
    threads = []
    arrivals = [
        ("vendor-1", Priority.BACKGROUND),
        ("thread-post-1", Priority.SLACK),
        ("reply-1", Priority.PEOPLE),
        ("vendor-2", Priority.BACKGROUND),
        ("thread-post-2", Priority.SLACK),
        ("reply-2", Priority.PEOPLE),
    ]
    for queued, (name, priority) in enumerate(arrivals, start=1):
        threads.append(_queued(lock, name, order, priority=priority))
        _wait_until(lambda queued=queued: lock.waiting() == queued)  # type: ignore[misc]
    assert lock.waiting(Priority.PEOPLE) == 2

    lock.release()
    for thread in threads:
        thread.join(5)

    assert order == [
        "reply-1",
        "reply-2",
        "thread-post-1",
        "thread-post-2",
        "vendor-1",
        "vendor-2",
    ]


def test_a_waiter_that_gives_up_leaves_the_queue() -> None:
    lock = FairLock()
    assert lock.acquire(1)
    assert lock.acquire(0.05) is False
    lock.release()
    assert lock.acquire(0.05) is True  # nobody stale was handed the lock


def test_a_failed_transaction_gives_the_gate_back(sqlite_engine: Engine) -> None:
    with sqlite_engine.begin() as conn:
        conn.execute(text("INSERT INTO seen (id, who) VALUES (1, 'first')"))
    with pytest.raises(IntegrityError), sqlite_engine.begin() as conn:
        conn.execute(text("INSERT INTO seen (id, who) VALUES (1, 'duplicate')"))

    # Another thread, on another connection, still gets a transaction at once. (The failed
    # connection is kept out of the pool meanwhile, so the writer cannot simply reuse it.)
    done: list[str] = []

    def write() -> None:
        with sqlite_engine.begin() as conn:
            conn.execute(text("INSERT INTO seen (who) VALUES ('after the failure')"))
        done.append("written")

    with sqlite_engine.connect():
        thread = threading.Thread(target=write, daemon=True)
        thread.start()
        thread.join(5)
    assert done == ["written"]
    with sqlite_engine.connect() as conn:
        assert conn.execute(text("SELECT who FROM seen ORDER BY id")).scalars().all() == [
            "first",
            "after the failure",
        ]


def test_background_and_people_threads_both_commit_under_contention(
    sqlite_engine: Engine,
) -> None:
    def writer(who: str, background: bool) -> None:
        if background:
            mark_background_thread()
        for n in range(20):
            with sqlite_engine.begin() as conn:
                conn.execute(text("INSERT INTO seen (who) VALUES (:who)"), {"who": f"{who}-{n}"})

    threads = [threading.Thread(target=writer, args=(f"w{i}", i % 2 == 0)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    with sqlite_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM seen")).scalar_one() == 160
