"""The scheduler gets a sweep every minute and a digest check every 15 minutes, safely."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from apscheduler.schedulers.background import BackgroundScheduler

from bot.worker import schedule_jobs


class _Recorder:
    def __init__(self) -> None:
        self.calls: list[object] = []

    def sweep(self, limit: int = 100) -> int:
        self.calls.append(limit)
        return 0

    def send(self, now: datetime | None = None) -> int:
        self.calls.append(now)
        return 0

    def open_due(self, now: datetime | None = None) -> int:
        self.calls.append(now)
        return 0

    def run(self, now: datetime | None = None) -> int:
        self.calls.append(now)
        return 0


def test_worker_jobs_are_scheduled_once_each_with_catch_up_settings() -> None:
    now = datetime(2026, 1, 5, 9, tzinfo=UTC)
    services = SimpleNamespace(
        reminders=_Recorder(),
        digests=_Recorder(),
        renewals=_Recorder(),
        clock=lambda: now,
        # The HubSpot sweep, the delivery check and the money check: their own tests.
        org=SimpleNamespace(
            hubspot=SimpleNamespace(sweep_seconds=0),
            delivery=SimpleNamespace(check_seconds=0),
            money_check=SimpleNamespace(enabled=False),
        ),
    )
    scheduler = BackgroundScheduler(timezone="UTC")
    schedule_jobs(scheduler, services)
    schedule_jobs(scheduler, services)  # a second call replaces, never duplicates
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert set(jobs) == {"reminders_sweep", "digests_send", "oauth_keep_alive", "renewals_open"}
    sweep, digest, renewals = jobs["reminders_sweep"], jobs["digests_send"], jobs["renewals_open"]
    assert sweep.trigger.interval == timedelta(minutes=1)
    assert digest.trigger.interval == timedelta(minutes=15)
    assert renewals.trigger.interval == timedelta(hours=1)
    for job in (sweep, digest, renewals):
        assert (job.coalesce, job.max_instances) == (True, 1)
        assert 0 < job.misfire_grace_time < job.trigger.interval.total_seconds()

    sweep.func(*sweep.args)
    digest.func(*digest.args)
    renewals.func(*renewals.args)
    assert services.reminders.calls == [100]
    assert services.digests.calls == [now]
    assert services.renewals.calls == [now]


def test_worker_runs_the_delivery_check_at_its_configured_interval() -> None:
    services = SimpleNamespace(
        reminders=_Recorder(),
        digests=_Recorder(),
        delivery=_Recorder(),
        delivery_hooks=_Recorder(),
        clock=lambda: datetime(2026, 1, 5, 9, tzinfo=UTC),
        org=SimpleNamespace(
            hubspot=SimpleNamespace(sweep_seconds=0),
            delivery=SimpleNamespace(check_seconds=600),
            money_check=SimpleNamespace(enabled=False),
        ),
    )
    scheduler = BackgroundScheduler(timezone="UTC")
    schedule_jobs(scheduler, services)
    job = scheduler.get_job("delivery_check")
    assert job.trigger.interval == timedelta(minutes=10)
    assert (job.coalesce, job.max_instances) == (True, 1)

    job.func(*job.args)
    # Registrations of missing Asana webhooks, then the reads of every account in delivery.
    assert services.delivery_hooks.calls == [100] and services.delivery.calls == [100]


def test_worker_runs_the_money_check_hourly_when_enabled() -> None:
    now = datetime(2026, 1, 5, 2, 30, tzinfo=UTC)
    services = SimpleNamespace(
        reminders=_Recorder(),
        digests=_Recorder(),
        renewals=_Recorder(),
        money_check=_Recorder(),
        clock=lambda: now,
        org=SimpleNamespace(
            hubspot=SimpleNamespace(sweep_seconds=0),
            delivery=SimpleNamespace(check_seconds=0),
            money_check=SimpleNamespace(enabled=True),
        ),
    )
    scheduler = BackgroundScheduler(timezone="UTC")
    schedule_jobs(scheduler, services)
    job = scheduler.get_job("money_check")
    # Hourly: the night's work starts at `money_check.hour`; each handoff is read once a day.
    assert job.trigger.interval == timedelta(hours=1)
    assert (job.coalesce, job.max_instances) == (True, 1)

    job.func(*job.args)
    assert services.money_check.calls == [now]

    services.org.money_check.enabled = False
    scheduler = BackgroundScheduler(timezone="UTC")
    schedule_jobs(scheduler, services)
    assert scheduler.get_job("money_check") is None
