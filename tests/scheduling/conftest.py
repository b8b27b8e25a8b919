"""Fixtures for reminders, digests, the App Home and health figures: a controlled clock,
an organisation in two time zones, model factories and a recording Messenger."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select

from bot.config import OrgConfig, parse_org_config
from bot.services.obligations import ObligationBook
from bot.services.permissions import Permissions
from bot.services.ports import PostedMessage
from bot.services.reminders import ReminderService
from bot.services.teams import TeamDirectory
from storage.db import session_factory
from storage.models import Handoff, HandoffStatus, Obligation, OutboxJob
from storage.uow import UnitOfWorkFactory

NY = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")

SALESPERSON = "USALES1"
SALES_MANAGER = "USALESMGR"
OPS_MANAGER = "UOPSMGR"
ADMIN = "UADMIN"
OPS_GROUP = "SOPSGROUP"
FINANCE_USERS = ("UFIN1", "UFIN2")
HOLIDAY = "2026-05-04"  # a Monday (UK early May bank holiday), a holiday for everyone here


def local(zone: ZoneInfo, *args: int) -> datetime:
    """An aware instant given as wall-clock time in `zone`."""
    return datetime(*args, tzinfo=zone)


class FakeClock:
    """A clock tests move by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def set(self, when: datetime) -> None:
        self.now = when

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def org_dict(**overrides: Any) -> dict[str, Any]:
    """The organisation file used here: sales in New York, ops and finance in London."""
    raw: dict[str, Any] = {
        "handoff_channel": "CHANDOFFS",
        "admin_user": ADMIN,
        "hubspot": {"pending_stage": "pending"},
        "holidays": [HOLIDAY],
        "slas": {
            "form": {"remind_after_hours": 4, "escalate_after_hours": 8},
            "confirm": {"remind_after_hours": 4, "escalate_after_hours": 8},
            "answer": {"remind_after_hours": 2, "escalate_after_hours": 6},
        },
        "teams": {
            "sales": {
                "name": "Sales",
                "members": {"users": [SALESPERSON]},
                "manager": SALES_MANAGER,
                "working_hours": {"timezone": "America/New_York", "start": "09:00", "end": "17:00"},
            },
            "ops": {
                "name": "Ops",
                "channel": "COPS",
                "members": {"usergroup": OPS_GROUP},
                "manager": OPS_MANAGER,
                "working_hours": {"timezone": "Europe/London", "start": "09:00", "end": "17:00"},
            },
            "finance": {
                "name": "Finance",
                "members": {"users": list(FINANCE_USERS)},
                "working_hours": {"timezone": "Europe/London", "start": "09:00", "end": "17:00"},
            },
        },
    }
    raw.update(overrides)
    return raw


def make_org(**overrides: Any) -> OrgConfig:
    return parse_org_config(org_dict(**overrides))


@pytest.fixture
def org() -> OrgConfig:
    return make_org()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 1, 5, 15, 0, tzinfo=UTC))


@pytest.fixture
def uow(engine: Engine, clock: FakeClock) -> UnitOfWorkFactory:
    """Units of work whose repository stamps outbox rows with the fake clock."""
    return UnitOfWorkFactory(session_factory(engine), clock)


@pytest.fixture
def book(org: OrgConfig) -> ObligationBook:
    return ObligationBook(org)


@pytest.fixture
def reminders(
    uow: UnitOfWorkFactory,
    org: OrgConfig,
    book: ObligationBook,
    clock: FakeClock,
    messenger: FakeMessenger,
) -> ReminderService:
    permissions = Permissions(org, TeamDirectory(org, messenger, clock))
    return ReminderService(
        uow_factory=uow, org=org, book=book, clock=clock, worker_id="w1", permissions=permissions
    )


def add_handoff(uow: UnitOfWorkFactory, **fields: Any) -> int:
    """Insert a sales-to-delivery handoff (fields override the defaults); returns its id."""
    values: dict[str, Any] = {
        "kind": "sales_to_delivery",
        "status": HandoffStatus.AWAITING_FORM,
        "account_name": "Acme Ltd",
        "deal_name": "Acme onboarding",
        "sender_user_id": SALESPERSON,
        "receiving_teams": ["ops", "finance"],
        "channel_id": "CHANDOFFS",
        "thread_ts": "1700000000.000100",
        "won_at": datetime(2026, 1, 5, 15, 0, tzinfo=UTC),
    }
    values.update(fields)
    with uow() as u:
        handoff = Handoff(**values)
        u.session.add(handoff)
        u.commit()
        return handoff.id


def open_obligation(
    uow: UnitOfWorkFactory,
    book: ObligationBook,
    handoff_id: int,
    *,
    sla: str,
    started_at: datetime,
    subject: str | None = None,
    team: str | None = None,
    owner: str | None = SALESPERSON,
    detail: dict[str, Any] | None = None,
) -> int:
    """Open an obligation the way the handoff service does; returns its id."""
    team = team or ("sales" if sla in ("form", "answer") else None)
    subject = subject or (owner if sla == "form" else team) or "x"
    with uow() as u:
        handoff = u.repo.handoff(handoff_id)
        assert handoff is not None
        book.open(
            u.repo,
            handoff,
            sla=sla,
            subject=subject,
            owner_user_id=owner,
            team=team,
            started_at=started_at,
            detail=detail,
        )
        u.commit()
        ob_id = u.session.scalar(
            select(Obligation.id).where(
                Obligation.handoff_id == handoff_id,
                Obligation.sla == sla,
                Obligation.subject == subject,
            )
        )
        assert ob_id is not None
        return ob_id


def obligation(uow: UnitOfWorkFactory, ob_id: int) -> Obligation:
    with uow() as u:
        ob = u.session.get(Obligation, ob_id)
        assert ob is not None
        u.session.expunge_all()  # detached but loaded: leaving the unit of work rolls back
        return ob


def jobs(uow: UnitOfWorkFactory, action: str = "slack.post") -> list[OutboxJob]:
    """Outbox jobs of one action, oldest first."""
    with uow() as u:
        stmt = select(OutboxJob).where(OutboxJob.action == action).order_by(OutboxJob.id)
        found = list(u.session.scalars(stmt))
        u.session.expunge_all()
        return found


def sent(uow: UnitOfWorkFactory) -> list[tuple[str, str]]:
    """(idempotency key, recipient channel) of every "slack.post" job, oldest first."""
    return [(j.idempotency_key, j.payload["channel"]) for j in jobs(uow)]


@dataclass
class FakeMessenger:
    """Records what the services ask Slack to do; user groups answer from a dict."""

    usergroups: dict[str, list[str]] = field(default_factory=dict)
    homes: dict[str, dict[str, Any]] = field(default_factory=dict)
    posts: list[tuple[str, str]] = field(default_factory=list)
    uploads: list[tuple[str, str, str]] = field(default_factory=list)
    group_calls: int = 0
    fail_next: list[Exception] = field(default_factory=list)  # raised by the next posts

    def post(
        self,
        channel: str,
        text: str,
        blocks: Sequence[dict[str, Any]] | None = None,
        *,
        thread_ts: str | None = None,
    ) -> PostedMessage:
        if self.fail_next:
            raise self.fail_next.pop(0)
        self.posts.append((channel, text))
        return PostedMessage(channel=channel, ts=f"{len(self.posts)}.0")

    def update(
        self, channel: str, ts: str, text: str, blocks: Sequence[dict[str, Any]] | None = None
    ) -> None:
        raise AssertionError("not used by these services")

    def post_ephemeral(self, channel: str, user: str, text: str) -> None:
        raise AssertionError("not used by these services")

    def publish_home(self, user_id: str, view: dict[str, Any]) -> None:
        self.homes[user_id] = view

    def user_id_by_email(self, email: str) -> str | None:
        return None

    def usergroup_members(self, usergroup_id: str) -> list[str]:
        self.group_calls += 1
        return list(self.usergroups.get(usergroup_id, []))

    def permalink(self, channel: str, ts: str) -> str | None:
        return None

    def upload_file(self, channel: str, filename: str, content: str, title: str) -> None:
        self.uploads.append((channel, filename, content))


@pytest.fixture
def messenger() -> FakeMessenger:
    return FakeMessenger(usergroups={OPS_GROUP: ["UOPS1", "UOPS2"]})
