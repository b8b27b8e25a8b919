"""The App Home: each person's handoffs to complete, confirm and answer, and managers' overdue.

State changes call `refresh`, which enqueues a "home.publish" outbox job per person; the job
renders the current state when it runs, so a burst of changes costs one render per job and a job
already superseded by a newer one for the same person is skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.config import OrgConfig
from bot.ids import is_user_id
from bot.render.home import home_view
from bot.render.mrkdwn import slack_date
from bot.services import home_sections
from bot.services.delivery_home import in_delivery_section
from bot.services.leases import Leases
from bot.services.money_home import money_section
from bot.services.obligations import ObligationBook
from bot.services.outbox import Handler, JobContext
from bot.services.ports import Clock, Messenger
from bot.services.stats import TeamMonth, health_figures, stats_csv
from bot.services.teams import TeamDirectory
from storage.models import OutboxJob, OutboxStatus
from storage.repositories import Repository
from storage.uow import UnitOfWorkFactory

log = logging.getLogger(__name__)

HOME_PUBLISH = "home.publish"
HOME_STATS_MONTHS = 3


def enqueue_home_refresh(repo: Repository, user_ids: Iterable[str], now: datetime) -> None:
    """Enqueue a Home re-render for each user, in the caller's transaction."""
    for user_id in dict.fromkeys(u for u in user_ids if is_user_id(u)):
        key = f"home:{user_id}:{now.isoformat()}"
        repo.enqueue(None, HOME_PUBLISH, key, {"user_id": user_id})


@dataclass
class HomeService:
    """Renders and publishes the App Home for one user at a time."""

    uow_factory: UnitOfWorkFactory
    org: OrgConfig
    messenger: Messenger
    clock: Clock
    group_ttl: timedelta = timedelta(minutes=5)
    book: ObligationBook = field(init=False)
    teams: TeamDirectory | None = None  # wiring shares the app's; tests may leave it out

    def __post_init__(self) -> None:
        self.book = ObligationBook(self.org)
        self.directory = self.teams or TeamDirectory(
            self.org, self.messenger, self.clock, self.group_ttl
        )

    def refresh(self, repo: Repository, user_ids: Iterable[str], now: datetime) -> None:
        """Enqueue a Home re-render for each user (call inside the state change's transaction)."""
        enqueue_home_refresh(repo, user_ids, now)

    def publish_handler(self, ctx: JobContext) -> dict[str, Any] | None:
        """Outbox handler for "home.publish": render now and publish, unless superseded."""
        user_id = str(ctx.payload["user_id"])
        with self.uow_factory() as uow:
            newer = uow.session.scalar(
                select(OutboxJob.id)
                .where(
                    OutboxJob.action == HOME_PUBLISH,
                    OutboxJob.idempotency_key.like(f"home:{user_id}:%"),
                    OutboxJob.status == OutboxStatus.PENDING,
                    OutboxJob.id > ctx.job_id,
                )
                .limit(1)
            )
        if newer is not None:
            return {"superseded_by": newer}
        # One publish per person at a time: two at once could reach Slack out of order.
        with Leases(self.uow_factory).hold(f"home:{user_id}", ttl=timedelta(seconds=60), wait=20):
            return {"blocks": self.publish(user_id)}

    def publish(self, user_id: str, pages: Mapping[str, int] | None = None) -> int:
        """Render the user's Home (at the given pages) and publish it; returns its block count."""
        view = self.render(user_id, pages)
        self.messenger.publish_home(user_id, view)
        log.info("home_published user=%s blocks=%s", user_id, len(view["blocks"]))
        return len(view["blocks"])

    def handlers(self) -> dict[str, Handler]:
        """Outbox handlers this service performs, by action name."""
        return {HOME_PUBLISH: self.publish_handler}

    def render(self, user_id: str, pages: Mapping[str, int] | None = None) -> dict[str, Any]:
        """The Home view for `user_id` as of now; `pages` maps a list's key to its first item."""
        now = self.clock()
        at = pages or {}
        mine = self.teams_of(user_id)
        managed = self.managed_teams(user_id)
        with self.uow_factory() as uow:
            session, book = uow.session, self.book
            lists = [
                home_sections.to_complete(session, book, user_id, now, at),
                home_sections.to_confirm(session, book, mine, now, at),
                home_sections.questions(session, book, user_id, now, at),
                home_sections.completed(session, book, user_id, mine, now, at),
                in_delivery_section(session, book, mine, at),
                money_section(session, [*mine, *managed], at),
            ]
            if managed:
                lists.append(home_sections.overdue(session, book, managed, now, at))
        figures = self._figures(managed, HOME_STATS_MONTHS, now) if managed else None
        return home_view(lists, updated=slack_date(now, ZoneInfo("UTC")), figures=figures)

    def figures(self, user_id: str, months: int) -> list[TeamMonth] | None:
        """Health figures the user may see (their managed teams; all for the admin), or None."""
        teams = self.managed_teams(user_id)
        if user_id == self.org.admin_user:
            teams = list(self.org.teams)
        return self._figures(teams, months, self.clock()) if teams else None

    def export_stats(self, user_id: str, months: int) -> bool:
        """Send the user the health figures they may see as a CSV file in their DM."""
        figures = self.figures(user_id, months)
        if figures is None:
            self.messenger.post(user_id, "Only team managers and the admin can export these.")
            return False
        csv_text = stats_csv(figures)
        self.messenger.upload_file(user_id, "handoff-health.csv", csv_text, "Handoff health")
        log.info("stats_exported user=%s rows=%s", user_id, len(figures))
        return True

    def _figures(self, teams: list[str], months: int, now: datetime) -> list[TeamMonth]:
        figures = health_figures(self.uow_factory, self.org, months, now)
        return [f for f in figures if f.team in teams]

    def managed_teams(self, user_id: str) -> list[str]:
        """Keys of the teams whose manager is `user_id`."""
        return [key for key, team in self.org.teams.items() if team.manager == user_id]

    def teams_of(self, user_id: str) -> list[str]:
        """Keys of the teams `user_id` belongs to (listed users or user group members)."""
        return self.directory.teams_of(user_id)
