"""The scheduler's reminder and digest jobs (the worker adds the outbox drain itself).

Both jobs only look at the database, so a missed or coalesced run loses nothing: the next run
sees the same due rows and the same "digest not yet sent today" state.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from apscheduler.schedulers.base import BaseScheduler

SWEEP_SECONDS = 60
DIGEST_MINUTES = 15


def schedule_jobs(scheduler: BaseScheduler, services: Any) -> None:
    """Add the reminder sweep (every minute) and the digest check (every 15 minutes)."""
    scheduler.add_job(
        services.reminders.sweep,
        "interval",
        seconds=SWEEP_SECONDS,
        id="reminders_sweep",
        replace_existing=True,
        coalesce=True,
        max_instances=1,
        # A run later than this is dropped: the next one, a minute on, covers the same rows.
        misfire_grace_time=SWEEP_SECONDS // 2,
    )
    scheduler.add_job(
        partial(_send_digests, services),
        "interval",
        minutes=DIGEST_MINUTES,
        id="digests_send",
        replace_existing=True,
        coalesce=True,
        max_instances=1,
        misfire_grace_time=DIGEST_MINUTES * 60 // 2,
    )


def _send_digests(services: Any) -> int:
    return int(services.digests.send(services.clock()))
