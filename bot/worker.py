"""The `worker` process: the outbox runner and one table of periodic jobs.

Every periodic job only reads and claims rows in the database, so it is safe in several worker
processes, and a missed or coalesced run loses nothing: the next one sees the same due rows.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler

from bot.render.mrkdwn import escape
from bot.services.hubspot_sweep import HubSpotSweep
from bot.wiring import Services, start_outbox
from integrations.ports import DealSearch, VendorError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PeriodicJob:
    id: str
    run: Callable[[Any], object]  # called with the services
    seconds: int
    # A run later than this is dropped: the next one covers the same rows.
    misfire_grace_seconds: int


def _sweep_reminders(services: Any) -> int:
    return int(services.reminders.sweep())


def _send_digests(services: Any) -> int:
    return int(services.digests.send(services.clock()))


def _open_renewals(services: Any) -> int:
    return int(services.renewals.open_due(services.clock()))


def _check_money(services: Any) -> int:
    return int(services.money_check.run(services.clock()))


def keep_connections_alive(services: Services) -> int:
    """Refresh every finance connection's tokens; a refresh token that lapsed unused (Xero:
    60 days) would otherwise cut the connection the next time a handoff needs it."""
    checked = 0
    for team, tool in services.effects.tools.finance.items():
        try:
            tool.check_connection()
            checked += 1
        except VendorError as exc:
            log.warning(
                "oauth_keep_alive_failed team=%s vendor=%s error=%s", team, tool.vendor, exc
            )
            services.messenger.post(
                services.org.admin_user,
                f":warning: The {tool.vendor} connection of team {team} needs attention: "
                f"{escape(str(exc))}",
            )
    return checked


def delivery_check(services: Services) -> int:
    """Delivery complete (issue 9): register missing Asana webhooks, then read each account in
    delivery's project or issue (outbox jobs in the vendors' lanes)."""
    return int(services.delivery_hooks.sweep()) + int(services.delivery.sweep())


def hubspot_sweep(services: Services) -> HubSpotSweep | None:
    """The won-deal sweep, or None when it is turned off or there is no CRM to search."""
    if not services.org.hubspot.sweep_seconds or not isinstance(services.crm, DealSearch):
        return None
    settings = services.settings
    return HubSpotSweep(
        services.uow,
        services.crm,
        services.handoffs,
        services.clock,
        services.org,
        # Over HTTP with a webhook secret, HubSpot should have told us already.
        webhook_expected=not settings.slack_app_token and bool(settings.hubspot_client_secret),
    )


def periodic_jobs(services: Any) -> list[PeriodicJob]:
    """The table of every periodic job this process runs."""
    jobs = [
        PeriodicJob("reminders_sweep", _sweep_reminders, seconds=60, misfire_grace_seconds=30),
        PeriodicJob("digests_send", _send_digests, seconds=15 * 60, misfire_grace_seconds=450),
        # Daily in effect: a term opens on the first run of the day it falls due, and each
        # term's renewal is one row, so the hourly re-check opens nothing twice.
        PeriodicJob("renewals_open", _open_renewals, seconds=3600, misfire_grace_seconds=1800),
        PeriodicJob(
            "oauth_keep_alive",
            keep_connections_alive,
            seconds=12 * 3600,
            misfire_grace_seconds=3600,
        ),
    ]
    if services.org.money_check.enabled:
        # Nightly in effect: from `money_check.hour` each handoff is claimed and read once a
        # day, so the hourly re-run reads nothing twice (and catches a night the worker missed).
        jobs.append(
            PeriodicJob("money_check", _check_money, seconds=3600, misfire_grace_seconds=1800)
        )
    if services.org.delivery.check_seconds:
        seconds = services.org.delivery.check_seconds
        jobs.append(
            PeriodicJob("delivery_check", delivery_check, seconds, misfire_grace_seconds=seconds)
        )
    sweep = hubspot_sweep(services)
    if sweep is not None:
        seconds = services.org.hubspot.sweep_seconds
        # A missed deal is caught by the next run, which reads from the stored watermark.
        jobs.append(
            PeriodicJob(
                "hubspot_sweep", lambda _s: sweep.run(), seconds, misfire_grace_seconds=seconds
            )
        )
    return jobs


def schedule_jobs(scheduler: BaseScheduler, services: Any) -> None:
    """Add every periodic job (a second call replaces them, never duplicates)."""
    for job in periodic_jobs(services):
        scheduler.add_job(
            job.run,
            "interval",
            seconds=job.seconds,
            args=[services],
            id=job.id,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=job.misfire_grace_seconds,
        )


def start_background(services: Services) -> BackgroundScheduler:
    """The outbox runner and the periodic jobs, in this process's background threads."""
    start_outbox(services)
    scheduler = BackgroundScheduler(timezone="UTC")
    schedule_jobs(scheduler, services)
    scheduler.start()
    log.info("worker_started jobs=%s", ",".join(j.id for j in scheduler.get_jobs()))
    return scheduler


def run_blocking(services: Services) -> None:
    """The `worker` process: run in the background until the process is stopped."""
    start_background(services)
    threading.Event().wait()
