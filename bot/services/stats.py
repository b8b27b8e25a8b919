"""Handoff health per team and month: volumes, speed, SLA keeping, questions, failed effects.

A team's handoffs are those it sends or receives, bucketed by the month the deal was won in the
team's time zone. Times are medians in business hours: won to submitted in the sending team's
calendar, submitted to confirmed in the receiving team's. "Within SLA" counts a confirmation
made by the confirm deadline; a handoff still unconfirmed past its deadline counts as missed,
one not yet due is left out. Accounts brought in from history (backfill) count among the
handoffs opened but not in the timings: nobody was timed submitting or confirming them.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.config import OrgConfig
from bot.services.obligations import ObligationBook
from storage.models import (
    ExternalRecord,
    Handoff,
    OutboxJob,
    OutboxStatus,
    Receipt,
    ThreadMessage,
)
from storage.uow import UnitOfWorkFactory

CSV_HEADER = (
    "team",
    "team_name",
    "month",
    "opened",
    "median_business_hours_won_to_submitted",
    "median_business_hours_submitted_to_confirmed",
    "confirmed_within_sla_pct",
    "questions_per_handoff",
    "failed_external_effects",
)


@dataclass(frozen=True)
class TeamMonth:
    """The health figures of one team for one calendar month."""

    team: str
    month: str  # "YYYY-MM"
    opened: int
    median_hours_to_submit: float | None
    median_hours_to_confirm: float | None  # None for a team that only sends
    confirmed_within_sla: float | None  # share 0..1 of decided confirmations
    questions_per_handoff: float
    failed_effects: int
    team_name: str = field(default="", compare=False)  # as the organisation file names it


@dataclass
class _Row:
    id: int
    sender: str | None
    receivers: list[str]
    won_at: datetime
    submitted_at: datetime | None
    confirmed: dict[str, datetime]
    questions: int
    failed: int
    timed: bool = True  # False for a handoff brought in from history


def health_figures(
    uow_factory: UnitOfWorkFactory, org: OrgConfig, months: int, now: datetime
) -> list[TeamMonth]:
    """Figures for each team over the last `months` calendar months (current one included)."""
    book = ObligationBook(org)
    windows = {team: _months(book, team, months, now) for team in org.teams}
    since = min(start for team_months in windows.values() for start in team_months.values())
    with uow_factory() as uow:
        rows = _load(uow.session, org, since)
    figures: list[TeamMonth] = []
    for team, team_months in windows.items():
        zone = book.calendar(team).zone
        buckets: dict[str, list[_Row]] = {label: [] for label in team_months}
        for row in rows:
            label = row.won_at.astimezone(zone).strftime("%Y-%m")
            if label in buckets and (row.sender == team or team in row.receivers):
                buckets[label].append(row)
        for label, bucket in buckets.items():
            if bucket:
                figure = _figures(book, team, label, bucket, now)
                figures.append(replace(figure, team_name=org.teams[team].name))
    return figures


def _figures(
    book: ObligationBook, team: str, label: str, rows: list[_Row], now: datetime
) -> TeamMonth:
    to_submit = [
        book.calendar(r.sender).hours_between(r.won_at, r.submitted_at)
        for r in rows
        if r.submitted_at is not None and r.timed
    ]
    cal = book.calendar(team)
    to_confirm: list[float] = []
    decided = within = 0
    for r in rows:
        if team not in r.receivers or r.submitted_at is None or not r.timed:
            continue
        deadline = book.due_at("confirm", team, r.submitted_at)
        confirmed_at = r.confirmed.get(team)
        if confirmed_at is not None:
            to_confirm.append(cal.hours_between(r.submitted_at, confirmed_at))
            decided += 1
            if confirmed_at <= deadline:
                within += 1
        elif deadline <= now:
            decided += 1
    return TeamMonth(
        team=team,
        month=label,
        opened=len(rows),
        median_hours_to_submit=statistics.median(to_submit) if to_submit else None,
        median_hours_to_confirm=statistics.median(to_confirm) if to_confirm else None,
        confirmed_within_sla=within / decided if decided else None,
        questions_per_handoff=sum(r.questions for r in rows) / len(rows),
        failed_effects=sum(r.failed for r in rows),
    )


def _months(book: ObligationBook, team: str, months: int, now: datetime) -> dict[str, datetime]:
    """Label -> UTC start of each of the last `months` months in the team's time zone."""
    cal = book.calendar(team)
    local = now.astimezone(cal.zone)
    year, month = local.year, local.month
    starts: dict[str, datetime] = {}
    for _ in range(max(1, months)):
        first = datetime.combine(date(year, month, 1), time(0), tzinfo=cal.zone)
        starts[f"{year:04d}-{month:02d}"] = first
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return starts


def _load(session: Session, org: OrgConfig, since: datetime) -> list[_Row]:
    recent = select(Handoff.id).where(Handoff.won_at >= since).scalar_subquery()
    handoffs = session.execute(
        select(
            Handoff.id,
            Handoff.kind,
            Handoff.receiving_teams,
            Handoff.won_at,
            Handoff.submitted_at,
            Handoff.backfilled,
        ).where(Handoff.won_at >= since)
    ).all()
    confirmed: dict[int, dict[str, datetime]] = {}
    for handoff_id, team, at in session.execute(
        select(Receipt.handoff_id, Receipt.team, Receipt.confirmed_at).where(
            Receipt.handoff_id.in_(recent), Receipt.confirmed_at.is_not(None)
        )
    ):
        if at is not None:
            confirmed.setdefault(handoff_id, {})[team] = at
    questions = _counts(
        session.execute(
            select(ThreadMessage.handoff_id, func.count())
            .where(ThreadMessage.handoff_id.in_(recent), ThreadMessage.is_question.is_(True))
            .group_by(ThreadMessage.handoff_id)
        )
    )
    failed = _counts(
        session.execute(
            select(ExternalRecord.handoff_id, func.count())
            .where(ExternalRecord.handoff_id.in_(recent), ExternalRecord.status == "failed")
            .group_by(ExternalRecord.handoff_id)
        )
    ) + _counts(
        session.execute(
            select(OutboxJob.handoff_id, func.count())
            .where(OutboxJob.handoff_id.in_(recent), OutboxJob.status == OutboxStatus.DEAD)
            .group_by(OutboxJob.handoff_id)
        )
    )
    return [
        _Row(
            id=h.id,
            sender=org.routes[h.kind].sender if h.kind in org.routes else None,
            receivers=list(h.receiving_teams or []),
            won_at=h.won_at,
            submitted_at=h.submitted_at,
            confirmed=confirmed.get(h.id, {}),
            questions=questions[h.id],
            failed=failed[h.id],
            timed=not h.backfilled,
        )
        for h in handoffs
    ]


def _counts(rows: Iterable[Any]) -> Counter[int]:
    return Counter({handoff_id: count for handoff_id, count in rows})


def _hours(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def stats_csv(figures: Iterable[TeamMonth]) -> str:
    """The figures as CSV, one row per team and month; empty cells where a figure has no data."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for f in figures:
        share = f.confirmed_within_sla
        writer.writerow(
            (
                f.team,
                f.team_name or f.team,
                f.month,
                f.opened,
                _hours(f.median_hours_to_submit),
                _hours(f.median_hours_to_confirm),
                "" if share is None else f"{share * 100:.1f}",
                f"{f.questions_per_handoff:.2f}",
                f.failed_effects,
            )
        )
    return out.getvalue()
