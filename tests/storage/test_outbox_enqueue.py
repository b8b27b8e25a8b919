"""Two processes enqueueing the same outbox key at once leave one job: the unique key decides.

`enqueue` looks before inserting, but two transactions can both look, see nothing, and insert.
On PostgreSQL the second INSERT then waits on the first one's unique-index entry and fails when
it commits; `enqueue` answers None and the job exists once. Each worker below has its own
connection, as two processes would.
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import Engine, func, select, text

from storage.db import session_factory
from storage.models import OutboxJob
from storage.uow import UnitOfWorkFactory

KEY = "record:7:ops:same-click"


def _jobs(engine: Engine) -> int:
    with engine.connect() as conn:
        count = conn.scalar(
            select(func.count()).select_from(OutboxJob).where(OutboxJob.idempotency_key == KEY)
        )
    return int(count or 0)


def _blocked_or_done(engine: Engine, done: threading.Event) -> bool:
    """True once the second transaction waits on a lock (the unique index) or has finished."""
    with engine.connect() as conn:
        waiting = conn.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        )
    return bool(waiting) or done.is_set()


@pytest.mark.postgres
def test_outbox_same_key_enqueued_by_two_processes_at_once_gives_one_job(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("needs DATABASE_URL pointing at PostgreSQL")
    first, second = (
        UnitOfWorkFactory(session_factory(engine)),
        UnitOfWorkFactory(session_factory(engine)),
    )
    results: dict[str, object] = {}
    done = threading.Event()

    def second_process() -> None:
        try:
            with second() as uow:
                results["second"] = uow.repo.enqueue(None, "slack.post", KEY, {"n": 2})
                uow.commit()
        except Exception as exc:
            results["error"] = exc
        finally:
            done.set()

    with first() as uow:
        results["first"] = uow.repo.enqueue(None, "slack.post", KEY, {"n": 1})
        # The first INSERT is flushed, not committed: the second process cannot see it, so its
        # look-first finds nothing and its INSERT must wait on the unique index.
        worker = threading.Thread(target=second_process)
        worker.start()
        for _ in range(6000):  # a bound, so a broken lock never hangs the suite
            if _blocked_or_done(engine, done):
                break
            done.wait(0.01)
        uow.commit()
    worker.join()

    assert "error" not in results, results.get("error")
    assert results["first"] is not None
    assert results["second"] is None
    assert _jobs(engine) == 1
