"""The `worker` process: APScheduler jobs for the outbox, reminders, digests."""

from __future__ import annotations

import logging

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler

from bot.render.mrkdwn import escape
from bot.wiring import Services
from bot.worker_jobs import schedule_jobs
from integrations.ports import VendorError

log = logging.getLogger(__name__)

OUTBOX_SECONDS = 5


def add_jobs(scheduler: BaseScheduler, services: Services) -> None:
    """Every periodic job; each is safe in several processes because claims live in the DB."""
    scheduler.add_job(
        services.outbox.drain,
        "interval",
        seconds=OUTBOX_SECONDS,
        id="outbox_drain",
        coalesce=True,
        max_instances=1,
        misfire_grace_time=60,
    )
    scheduler.add_job(
        keep_connections_alive,
        "interval",
        hours=12,
        args=[services],
        id="oauth_keep_alive",
        coalesce=True,
        max_instances=1,
        misfire_grace_time=3600,
    )
    schedule_jobs(scheduler, services)


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


def run_blocking(services: Services) -> None:
    scheduler = BlockingScheduler(timezone="UTC")
    add_jobs(scheduler, services)
    log.info("worker_started jobs=%s", ",".join(j.id for j in scheduler.get_jobs()))
    scheduler.start()


def start_background(services: Services) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone="UTC")
    add_jobs(scheduler, services)
    scheduler.start()
    log.info("worker_started_in_process jobs=%s", ",".join(j.id for j in scheduler.get_jobs()))
    return scheduler
