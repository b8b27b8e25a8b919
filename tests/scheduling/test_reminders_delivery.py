"""Each step once: catch-up after downtime, two workers, and stopping when the work is done."""

from __future__ import annotations

import threading

import pytest

from bot.config import OrgConfig
from bot.services.obligations import ObligationBook
from bot.services.reminders import ReminderService
from storage.models import Handoff, OutboxStatus, Receipt, ThreadMessage
from storage.uow import UnitOfWorkFactory
from tests.scheduling.conftest import (
    NY,
    SALES_MANAGER,
    SALESPERSON,
    FakeClock,
    add_handoff,
    jobs,
    local,
    make_org,
    obligation,
    open_obligation,
    sent,
)


def _tight_ladder(
    uow: UnitOfWorkFactory, clock: FakeClock
) -> tuple[ObligationBook, ReminderService]:
    """Form reminder after 4 business hours, escalation half an hour later."""
    slas = {
        "form": {"remind_after_hours": 4, "escalate_after_hours": 4.5},
        "confirm": {"remind_after_hours": 4, "escalate_after_hours": 8},
        "answer": {"remind_after_hours": 2, "escalate_after_hours": 6},
    }
    org = make_org(slas=slas)
    book = ObligationBook(org)
    return book, ReminderService(uow_factory=uow, org=org, book=book, clock=clock, worker_id="w")


@pytest.fixture
def workers(
    uow: UnitOfWorkFactory, org: OrgConfig, book: ObligationBook, clock: FakeClock
) -> tuple[ReminderService, ReminderService]:
    """Two reminder services, as in two worker processes, over the same database."""
    return (
        ReminderService(uow_factory=uow, org=org, book=book, clock=clock, worker_id="w1"),
        ReminderService(uow_factory=uow, org=org, book=book, clock=clock, worker_id="w2"),
    )


def test_reminders_catch_up_after_one_hour_sends_only_the_highest_due_step(
    uow: UnitOfWorkFactory, clock: FakeClock
) -> None:
    book, service = _tight_ladder(uow, clock)
    early, late = local(NY, 2026, 1, 5, 9), local(NY, 2026, 1, 5, 9, 30)
    a = open_obligation(uow, book, add_handoff(uow, won_at=early), sla="form", started_at=early)
    b = open_obligation(
        uow, book, add_handoff(uow, won_at=late, deal_id="d2"), sla="form", started_at=late
    )

    clock.set(local(NY, 2026, 1, 5, 13, 45))  # the worker was down from 12:45
    assert service.sweep() == 2
    # a: reminder (13:00) and escalation (13:30) both due -> escalation only; b: reminder only.
    assert sent(uow) == [(f"remind:{a}:2", SALES_MANAGER), (f"remind:{b}:1", SALESPERSON)]
    assert "A reminder was sent" not in jobs(uow)[0].payload["blocks"][0]["text"]["text"]
    clock.advance(minutes=1)
    assert service.sweep() == 0

    clock.set(local(NY, 2026, 1, 5, 14))
    assert service.sweep() == 1
    assert sent(uow)[2] == (f"remind:{b}:2", SALES_MANAGER)
    assert "A reminder was sent" in jobs(uow)[2].payload["blocks"][0]["text"]["text"]


def test_reminders_catch_up_after_three_days_sends_one_escalation_each(
    uow: UnitOfWorkFactory, book: ObligationBook, reminders: ReminderService, clock: FakeClock
) -> None:
    won = local(NY, 2026, 1, 8, 9)  # Thursday: reminder 13:00, escalation 17:00
    obs = [
        open_obligation(
            uow, book, add_handoff(uow, won_at=won, deal_id=f"d{i}"), sla="form", started_at=won
        )
        for i in range(5)
    ]
    clock.set(local(NY, 2026, 1, 13, 9))  # back on Tuesday morning
    assert reminders.sweep() == 5
    assert sent(uow) == [(f"remind:{ob}:2", SALES_MANAGER) for ob in obs]
    # Overdue since Thursday 13:00: 4 h Thursday, Friday, Monday.
    assert all("Overdue by 2 business days 4 hours" in j.payload["text"] for j in jobs(uow))
    clock.advance(hours=2)
    assert reminders.sweep() == 0
    assert len(sent(uow)) == 5


def test_reminders_second_worker_cannot_take_a_claimed_obligation(
    uow: UnitOfWorkFactory,
    book: ObligationBook,
    workers: tuple[ReminderService, ReminderService],
    clock: FakeClock,
) -> None:
    first, second = workers
    won = local(NY, 2026, 1, 8, 15)
    ob = open_obligation(uow, book, add_handoff(uow, won_at=won), sla="form", started_at=won)
    clock.set(local(NY, 2026, 1, 9, 11))
    assert first.claim() == [ob]
    assert second.claim() == []
    assert second.sweep() == 0
    assert first.handle(ob) is True
    assert second.sweep() == 0
    assert sent(uow) == [(f"remind:{ob}:1", SALESPERSON)]


def test_reminders_expired_lease_passes_to_another_worker_once(
    uow: UnitOfWorkFactory,
    book: ObligationBook,
    workers: tuple[ReminderService, ReminderService],
    clock: FakeClock,
) -> None:
    crashed, survivor = workers
    won = local(NY, 2026, 1, 8, 15)
    ob = open_obligation(uow, book, add_handoff(uow, won_at=won), sla="form", started_at=won)
    clock.set(local(NY, 2026, 1, 9, 11))
    assert crashed.claim() == [ob]  # ... and the process dies before handling it
    clock.advance(minutes=4)
    assert survivor.sweep() == 0  # the lease still holds
    clock.advance(minutes=2)
    assert survivor.sweep() == 1
    assert crashed.handle(ob) is False  # a late wake-up finds the claim gone
    assert sent(uow) == [(f"remind:{ob}:1", SALESPERSON)]


def test_reminders_two_workers_sweeping_concurrently_send_each_step_once(
    uow: UnitOfWorkFactory,
    book: ObligationBook,
    workers: tuple[ReminderService, ReminderService],
    clock: FakeClock,
) -> None:
    won = local(NY, 2026, 1, 8, 15)
    obs = [
        open_obligation(
            uow, book, add_handoff(uow, won_at=won, deal_id=f"d{i}"), sla="form", started_at=won
        )
        for i in range(12)
    ]
    clock.set(local(NY, 2026, 1, 9, 11))
    handled = {name: 0 for name in ("w1", "w2")}
    start = threading.Barrier(2)

    def run(service: ReminderService) -> None:
        start.wait()
        while (count := service.sweep(limit=3)) > 0:
            handled[service.worker_id] += count

    threads = [threading.Thread(target=run, args=(s,)) for s in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(handled.values()) == 12
    assert sorted(sent(uow)) == sorted((f"remind:{ob}:1", SALESPERSON) for ob in obs)


def test_reminders_stop_when_the_work_is_done(
    uow: UnitOfWorkFactory, book: ObligationBook, reminders: ReminderService, clock: FakeClock
) -> None:
    won = local(NY, 2026, 1, 8, 15)
    hid = add_handoff(uow, won_at=won)
    ob = open_obligation(uow, book, hid, sla="form", started_at=won)
    clock.set(local(NY, 2026, 1, 9, 11))
    reminders.sweep()
    clock.advance(minutes=1)  # submitted before the outbox delivered the reminder
    with uow() as u:
        book.close(u.repo, hid, sla="form", at=clock())
        u.commit()
    reminder = jobs(uow)[0]
    assert (reminder.status, reminder.result) == (OutboxStatus.DONE, {"cancelled": "work done"})
    clock.set(local(NY, 2026, 1, 12, 12))
    assert reminders.sweep() == 0
    assert len(sent(uow)) == 1
    assert obligation(uow, ob).closed_at == local(NY, 2026, 1, 9, 11, 1)


def test_reminders_trust_the_handoff_state_when_a_close_was_missed(
    uow: UnitOfWorkFactory, book: ObligationBook, reminders: ReminderService, clock: FakeClock
) -> None:
    start = local(NY, 2026, 1, 8, 15)
    hid = add_handoff(uow, won_at=start, status="submitted", submitted_at=start)
    form = open_obligation(uow, book, hid, sla="form", started_at=start)
    ops = open_obligation(uow, book, hid, sla="confirm", team="ops", owner=None, started_at=start)
    question = open_obligation(uow, book, hid, sla="answer", subject="msg:9.9", started_at=start)
    with uow() as u:
        handoff = u.session.get(Handoff, hid)
        assert handoff is not None
        handoff.receipts.append(Receipt(team="ops", confirmed_by="UOPS1", confirmed_at=start))
        handoff.messages.append(
            ThreadMessage(slack_ts="9.9", user_id="UOPS1", text="?", answered_at=start)
        )
        u.commit()
    clock.set(local(NY, 2026, 1, 12, 12))
    assert reminders.sweep() == 3
    assert sent(uow) == []
    assert all(obligation(uow, ob).closed_at == clock() for ob in (form, ops, question))


def test_reminders_claim_takes_due_unleased_rows_up_to_the_limit(
    uow: UnitOfWorkFactory, book: ObligationBook, reminders: ReminderService, clock: FakeClock
) -> None:
    won, later = local(NY, 2026, 1, 8, 15), local(NY, 2026, 1, 9, 10)
    due = [
        open_obligation(
            uow, book, add_handoff(uow, won_at=won, deal_id=f"d{i}"), sla="form", started_at=won
        )
        for i in range(3)
    ]
    open_obligation(
        uow, book, add_handoff(uow, won_at=later, deal_id="x"), sla="form", started_at=later
    )
    clock.set(local(NY, 2026, 1, 9, 11))
    assert reminders.claim(limit=2) == due[:2]
    assert reminders.sweep(limit=5) == 1  # the two leased rows wait for their lease
    assert sent(uow) == [(f"remind:{due[2]}:1", SALESPERSON)]
    clock.advance(minutes=6)
    assert reminders.sweep(limit=5) == 2
    assert sorted(key for key, _ in sent(uow)) == sorted(f"remind:{ob}:1" for ob in due)


def test_reminders_claim_rechecks_rows_another_worker_took_after_our_select(
    uow: UnitOfWorkFactory,
    book: ObligationBook,
    workers: tuple[ReminderService, ReminderService],
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first, second = workers
    won = local(NY, 2026, 1, 8, 15)
    ob = open_obligation(uow, book, add_handoff(uow, won_at=won), sla="form", started_at=won)
    clock.set(local(NY, 2026, 1, 9, 11))
    # `second` read its candidates just before `first` committed its claim.
    monkeypatch.setattr(second, "_candidates", lambda *_: [ob])
    assert first.claim() == [ob]
    assert second.claim() == []
    assert obligation(uow, ob).claimed_by == "w1"
