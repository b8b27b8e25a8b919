"""Snoozing a reminder: one business day, once, by the person (or team) it was for."""

from __future__ import annotations

from bot.config import OrgConfig
from bot.services.obligations import ObligationBook
from bot.services.reminders import ReminderService
from storage.uow import UnitOfWorkFactory
from tests.scheduling.conftest import (
    FINANCE_USERS,
    LONDON,
    NY,
    OPS_MANAGER,
    SALES_MANAGER,
    SALESPERSON,
    FakeClock,
    add_handoff,
    local,
    obligation,
    open_obligation,
    sent,
)


def _reminded_form(
    uow: UnitOfWorkFactory, book: ObligationBook, reminders: ReminderService, clock: FakeClock
) -> int:
    """A form obligation whose reminder went out on Friday 9 January at 11:00 New York."""
    won = local(NY, 2026, 1, 8, 15)
    ob = open_obligation(uow, book, add_handoff(uow, won_at=won), sla="form", started_at=won)
    clock.set(local(NY, 2026, 1, 9, 11))
    reminders.sweep()
    return ob


def test_snooze_puts_the_escalation_off_one_business_day(
    uow: UnitOfWorkFactory, book: ObligationBook, reminders: ReminderService, clock: FakeClock
) -> None:
    ob = _reminded_form(uow, book, reminders, clock)
    clock.set(local(NY, 2026, 1, 9, 11, 30))
    assert reminders.snooze(ob, SALESPERSON).startswith("Snoozed.")
    snoozed = obligation(uow, ob)
    assert snoozed.snoozed_until == local(NY, 2026, 1, 12, 11, 30)  # over the weekend
    assert snoozed.next_action_at == snoozed.snoozed_until

    for when in (local(NY, 2026, 1, 9, 15), local(NY, 2026, 1, 12, 11, 29)):
        clock.set(when)
        assert reminders.sweep() == 0
    clock.set(local(NY, 2026, 1, 12, 11, 30))
    assert reminders.sweep() == 1
    assert sent(uow)[-1] == (f"remind:{ob}:2", SALES_MANAGER)


def test_snooze_skips_a_holiday(
    uow: UnitOfWorkFactory, book: ObligationBook, reminders: ReminderService, clock: FakeClock
) -> None:
    start = local(LONDON, 2026, 4, 30, 15)
    hid = add_handoff(uow, status="submitted", submitted_at=start)
    ob = open_obligation(uow, book, hid, sla="confirm", team="ops", owner=None, started_at=start)
    clock.set(local(LONDON, 2026, 5, 1, 11))
    reminders.sweep()
    # A member of the team the reminder is for may snooze it.
    assert reminders.snooze(ob, "UOPS2").startswith("Snoozed.")
    assert obligation(uow, ob).snoozed_until == local(LONDON, 2026, 5, 5, 11)


def test_snooze_is_refused_to_someone_else_twice_and_after_escalation(
    uow: UnitOfWorkFactory, book: ObligationBook, reminders: ReminderService, clock: FakeClock
) -> None:
    ob = _reminded_form(uow, book, reminders, clock)
    assert reminders.snooze(ob, "USOMEONE") == f"Only <@{SALESPERSON}> can snooze this reminder."
    assert obligation(uow, ob).snoozed_until is None
    assert reminders.snooze(ob, SALESPERSON).startswith("Snoozed.")
    assert reminders.snooze(ob, SALESPERSON).startswith("This was already snoozed once")
    clock.set(local(NY, 2026, 1, 12, 11))
    reminders.sweep()
    assert obligation(uow, ob).step == 2
    assert "already gone to the manager" in reminders.snooze(ob, SALESPERSON)


def test_snooze_of_finished_work_changes_nothing(
    uow: UnitOfWorkFactory, book: ObligationBook, reminders: ReminderService, clock: FakeClock
) -> None:
    ob = _reminded_form(uow, book, reminders, clock)
    with uow() as u:
        book.close(u.repo, obligation(uow, ob).handoff_id, sla="form", at=clock())
        u.commit()
    assert reminders.snooze(ob, SALESPERSON) == "Nothing to snooze: this is already done."
    assert reminders.snooze(999_999, SALESPERSON) == "Nothing to snooze: this is already done."
    assert obligation(uow, ob).snoozed_until is None


def test_snooze_without_the_slack_directory_goes_by_the_listed_members(
    uow: UnitOfWorkFactory, book: ObligationBook, org: OrgConfig, clock: FakeClock
) -> None:
    """A reminder service built from the organisation file alone (no Slack user groups to ask)
    still lets the listed members snooze, and only them."""
    service = ReminderService(uow_factory=uow, org=org, book=book, clock=clock, worker_id="w")
    start = local(LONDON, 2026, 4, 30, 15)
    hid = add_handoff(uow, status="submitted", submitted_at=start)
    finance = open_obligation(
        uow, book, hid, sla="confirm", team="finance", owner=None, started_at=start
    )
    ops = open_obligation(uow, book, hid, sla="confirm", team="ops", owner=None, started_at=start)
    clock.set(local(LONDON, 2026, 5, 1, 11))

    assert service.snooze(finance, "UOPS2") == (
        "Only members of Finance or its manager can snooze this reminder."
    )
    # Ops is a Slack user group, unknown without Slack: its manager still may.
    assert service.snooze(ops, "UOPS2") == (
        "Only members of Ops or its manager can snooze this reminder."
    )
    assert service.snooze(ops, OPS_MANAGER).startswith("Snoozed.")
    assert service.snooze(finance, FINANCE_USERS[1]).startswith("Snoozed.")
    assert obligation(uow, finance).detail["snoozed_by"] == FINANCE_USERS[1]
