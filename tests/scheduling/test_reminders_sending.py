"""No reminder lands outside working hours, even when its outbox job runs late: the sender
checks the team's hours again and moves the job to the next working start."""

from __future__ import annotations

from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse

from bot.config import OrgConfig
from bot.services.effects import Effects, Tools
from bot.services.handoffs import HandoffService
from bot.services.home import HomeService
from bot.services.obligations import ObligationBook
from bot.services.outbox import OutboxWorker
from bot.services.reminders import ReminderService
from bot.services.teams import TeamDirectory
from storage.models import OutboxJob, OutboxStatus
from storage.uow import UnitOfWorkFactory
from tests.scheduling.conftest import (
    LONDON,
    NY,
    OPS_GROUP,
    SALESPERSON,
    FakeClock,
    FakeMessenger,
    add_handoff,
    jobs,
    local,
    open_obligation,
)


def slack_down() -> SlackApiError:
    """Slack answering chat.postMessage with a 503: retried after a backoff."""
    response = SlackResponse(
        client=None,
        http_verb="POST",
        api_url="https://slack.com/api/chat.postMessage",
        req_args={},
        data={"ok": False, "error": "service_unavailable"},
        headers={},
        status_code=503,
    )
    return SlackApiError("service_unavailable", response)


def outbox(
    uow: UnitOfWorkFactory,
    org: OrgConfig,
    book: ObligationBook,
    clock: FakeClock,
    messenger: FakeMessenger,
) -> OutboxWorker:
    """The worker's outbox with the app's own handlers (the one that sends reminders)."""
    handoffs = HandoffService(uow, org, clock, book)
    teams = TeamDirectory(org, messenger, clock)
    effects = Effects(uow, org, clock, messenger, Tools(None, {}, {}), handoffs, teams)
    worker = OutboxWorker(uow=uow, clock=clock, worker_id="outbox")
    home = HomeService(uow_factory=uow, org=org, messenger=messenger, clock=clock, teams=teams)
    worker.register({**effects.handlers(), **home.handlers()})
    worker.on_dead = effects.on_dead
    return worker


def the_job(uow: UnitOfWorkFactory) -> OutboxJob:
    [job] = jobs(uow)
    return job


def test_reminders_retried_past_the_end_of_day_wait_for_the_next_morning(
    uow: UnitOfWorkFactory,
    org: OrgConfig,
    book: ObligationBook,
    reminders: ReminderService,
    clock: FakeClock,
    messenger: FakeMessenger,
) -> None:
    worker = outbox(uow, org, book, clock, messenger)
    won = local(NY, 2026, 1, 8, 12, 30)  # the form is due Thursday 16:30 in New York
    ob = open_obligation(uow, book, add_handoff(uow, won_at=won), sla="form", started_at=won)

    clock.set(local(NY, 2026, 1, 8, 16, 59, 55))
    assert reminders.sweep() == 1
    messenger.fail_next.append(slack_down())
    worker.drain()  # Slack is down: the post is retried a few seconds later, after 17:00
    job = the_job(uow)
    assert job.status == OutboxStatus.PENDING and job.attempts == 1
    assert job.next_attempt_at is not None and job.next_attempt_at >= local(NY, 2026, 1, 8, 17)

    clock.set(job.next_attempt_at)
    worker.drain()

    assert messenger.posts == []
    job = the_job(uow)
    assert job.status == OutboxStatus.PENDING
    assert job.next_attempt_at == local(NY, 2026, 1, 9, 9)  # the next working start
    assert job.attempts == 1  # waiting for the morning is no failed attempt
    clock.set(local(NY, 2026, 1, 9, 8, 59, 59))
    assert worker.drain() == 0
    assert messenger.posts == []

    clock.set(local(NY, 2026, 1, 9, 9))
    worker.drain()
    worker.drain()

    assert [channel for channel, _ in messenger.posts] == [SALESPERSON]
    job = the_job(uow)
    assert (job.idempotency_key, job.status, job.attempts) == (
        f"remind:{ob}:1",
        OutboxStatus.DONE,
        2,
    )


def test_reminders_follow_the_recipient_team_hours_over_a_weekend(
    uow: UnitOfWorkFactory,
    org: OrgConfig,
    book: ObligationBook,
    reminders: ReminderService,
    clock: FakeClock,
    messenger: FakeMessenger,
) -> None:
    worker = outbox(uow, org, book, clock, messenger)
    submitted = local(LONDON, 2026, 1, 9, 12, 59, 55)  # ops' confirmation due Friday 16:59:55
    handoff_id = add_handoff(uow, status="submitted", submitted_at=submitted)
    open_obligation(
        uow,
        book,
        handoff_id,
        sla="confirm",
        subject="ops",
        team="ops",
        owner=None,
        started_at=submitted,
    )

    clock.set(local(LONDON, 2026, 1, 9, 16, 59, 55))
    assert reminders.sweep() == 1
    messenger.fail_next.append(slack_down())
    worker.drain()
    job = the_job(uow)
    assert job.next_attempt_at is not None
    # 17:00 in London is still New York's working day: London's hours are the ones that count.
    clock.set(max(job.next_attempt_at, local(LONDON, 2026, 1, 9, 17)))
    assert book.calendar("sales").is_working(clock())
    worker.drain()

    assert messenger.posts == []
    assert the_job(uow).next_attempt_at == local(LONDON, 2026, 1, 12, 9)  # Monday morning
    clock.set(local(LONDON, 2026, 1, 12, 9))
    worker.drain()
    [(channel, text)] = messenger.posts
    assert channel == "CHANDOFFS" and f"<!subteam^{OPS_GROUP}>" in text
