"""The reminder ladder walked through business days, weekends, holidays and two time zones."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from bot.services.obligations import ObligationBook
from bot.services.reminders import ReminderService
from storage.uow import UnitOfWorkFactory
from tests.scheduling.conftest import (
    ADMIN,
    LONDON,
    NY,
    OPS_MANAGER,
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
from tests.support.fake_slack import block_kit_problems

THREAD = "1700000000.000100"


def _payload(uow: UnitOfWorkFactory, key: str) -> dict[str, Any]:
    job = next(j for j in jobs(uow) if j.idempotency_key == key)
    assert block_kit_problems(job.payload["blocks"]) == []
    return dict(job.payload)


def _buttons(payload: dict[str, Any]) -> list[tuple[str, str]]:
    found = []
    for block in payload["blocks"]:
        elements = block.get("elements", []) if block["type"] == "actions" else []
        accessory = [block["accessory"]] if "accessory" in block else []
        found += [(e["action_id"], e["value"]) for e in [*elements, *accessory]]
    return found


def test_reminders_form_walks_the_ladder_in_sales_hours(
    uow: UnitOfWorkFactory, book: ObligationBook, reminders: ReminderService, clock: FakeClock
) -> None:
    won = local(NY, 2026, 1, 8, 15)  # Thursday 15:00 in New York
    hid = add_handoff(uow, won_at=won)
    ob = open_obligation(uow, book, hid, sla="form", started_at=won)

    for before_due in (local(NY, 2026, 1, 8, 16, 59), local(NY, 2026, 1, 9, 10, 59)):
        clock.set(before_due)
        assert reminders.sweep() == 0
    assert sent(uow) == []

    clock.set(local(NY, 2026, 1, 9, 11))  # due: 2 h on Thursday + 2 h on Friday
    assert reminders.sweep() == 1
    assert sent(uow) == [(f"remind:{ob}:1", SALESPERSON)]
    reminder = _payload(uow, f"remind:{ob}:1")
    assert "handoff form" in reminder["text"]
    assert reminder["fallback_to_admin"] is True
    assert reminder["handoff_id"] == hid
    assert _buttons(reminder) == [("open_form", str(hid)), ("snooze_reminder", str(ob))]
    assert reminders.sweep() == 0

    clock.set(local(NY, 2026, 1, 9, 15))  # escalation: 8 business hours after the win
    assert reminders.sweep() == 1
    assert sent(uow)[1] == (f"remind:{ob}:2", SALES_MANAGER)
    escalation = _payload(uow, f"remind:{ob}:2")
    assert "Overdue by 4 business hours" in escalation["text"]
    assert f"<@{SALESPERSON}>" in escalation["blocks"][0]["text"]["text"]
    assert _buttons(escalation) == [("open_handoff", str(hid))]

    clock.set(local(NY, 2026, 1, 12, 12))
    assert reminders.sweep() == 0
    assert len(sent(uow)) == 2
    final = obligation(uow, ob)
    assert (final.step, final.next_action_at, final.claimed_by) == (2, None, None)


def test_reminders_refresh_the_home_of_whoever_was_messaged(
    uow: UnitOfWorkFactory, book: ObligationBook, reminders: ReminderService, clock: FakeClock
) -> None:
    won = local(NY, 2026, 1, 8, 15)
    open_obligation(uow, book, add_handoff(uow, won_at=won), sla="form", started_at=won)
    clock.set(local(NY, 2026, 1, 9, 11))
    reminders.sweep()
    clock.set(local(NY, 2026, 1, 9, 15))
    reminders.sweep()
    homes = [j.payload["user_id"] for j in jobs(uow, "home.publish")]
    assert homes == [SALESPERSON, SALES_MANAGER]


def test_reminders_confirm_skips_weekend_and_holiday_and_mentions_the_team(
    uow: UnitOfWorkFactory, book: ObligationBook, reminders: ReminderService, clock: FakeClock
) -> None:
    submitted = local(LONDON, 2026, 5, 1, 15)  # Friday; Monday 4 May is a bank holiday
    hid = add_handoff(uow, status="submitted", submitted_at=submitted)
    ops = open_obligation(
        uow, book, hid, sla="confirm", team="ops", owner=None, started_at=submitted
    )
    fin = open_obligation(
        uow, book, hid, sla="confirm", team="finance", owner=None, started_at=submitted
    )

    for when in (local(LONDON, 2026, 5, 2, 11), local(LONDON, 2026, 5, 4, 12)):
        clock.set(when)
        assert reminders.sweep() == 0

    clock.set(local(LONDON, 2026, 5, 5, 11))  # 2 h Friday + 2 h Tuesday
    assert reminders.sweep() == 2
    assert sent(uow) == [(f"remind:{ops}:1", "CHANDOFFS"), (f"remind:{fin}:1", "CHANDOFFS")]
    ops_reply = _payload(uow, f"remind:{ops}:1")
    assert ops_reply["thread_ts"] == THREAD
    assert ops_reply["text"].startswith("<!subteam^SOPSGROUP>")
    assert _buttons(ops_reply) == [("snooze_reminder", str(ops))]
    assert _payload(uow, f"remind:{fin}:1")["text"].startswith("<@UFIN1> <@UFIN2>")

    clock.set(local(LONDON, 2026, 5, 5, 15))
    assert reminders.sweep() == 2
    assert sent(uow)[2:] == [(f"remind:{ops}:2", OPS_MANAGER), (f"remind:{fin}:2", ADMIN)]
    to_admin = _payload(uow, f"remind:{fin}:2")
    assert "team finance has no manager" in to_admin["blocks"][-1]["elements"][0]["text"]


def test_reminders_follow_each_team_clock_on_one_handoff(
    uow: UnitOfWorkFactory, book: ObligationBook, reminders: ReminderService, clock: FakeClock
) -> None:
    submitted = local(NY, 2026, 1, 12, 10)  # Monday 10:00 New York = 15:00 London
    hid = add_handoff(uow, status="submitted", submitted_at=submitted)
    ops = open_obligation(
        uow, book, hid, sla="confirm", team="ops", owner=None, started_at=submitted
    )
    question = open_obligation(
        uow,
        book,
        hid,
        sla="answer",
        subject="msg:1.2",
        started_at=local(NY, 2026, 1, 12, 11),
        detail={"asked_by": "UOPS1", "text_preview": "Who signs the SOW?"},
    )

    clock.set(local(NY, 2026, 1, 12, 13))  # 18:00 in London: ops is closed
    assert reminders.sweep() == 1
    assert sent(uow) == [(f"remind:{question}:1", SALESPERSON)]
    assert (
        "Who signs the SOW?" in _payload(uow, f"remind:{question}:1")["blocks"][0]["text"]["text"]
    )

    clock.set(local(LONDON, 2026, 1, 13, 11))  # 06:00 in New York: sales is closed
    assert reminders.sweep() == 1
    assert sent(uow)[1] == (f"remind:{ops}:1", "CHANDOFFS")

    # The answer escalation fell due at Monday 17:00 New York, the end of the day: it waits
    # for Tuesday's opening there.
    clock.set(local(NY, 2026, 1, 13, 8, 59))
    assert reminders.sweep() == 0
    clock.set(local(NY, 2026, 1, 13, 9))
    assert reminders.sweep() == 1
    assert sent(uow)[2] == (f"remind:{question}:2", SALES_MANAGER)
    assert "Overdue by 4 business hours" in _payload(uow, f"remind:{question}:2")["text"]


def test_reminders_never_sent_outside_working_hours(
    uow: UnitOfWorkFactory, book: ObligationBook, reminders: ReminderService, clock: FakeClock
) -> None:
    won = local(NY, 2026, 1, 8, 12, 30)  # due Thursday 16:30, escalation Friday 12:30
    ob = open_obligation(uow, book, add_handoff(uow, won_at=won), sla="form", started_at=won)

    clock.set(local(NY, 2026, 1, 8, 18))  # the worker was down from 16:00 to 18:00
    reminders.sweep()
    assert sent(uow) == []
    assert obligation(uow, ob).next_action_at == local(NY, 2026, 1, 9, 9)

    clock.set(local(NY, 2026, 1, 9, 9))
    reminders.sweep()
    assert sent(uow) == [(f"remind:{ob}:1", SALESPERSON)]
    clock.set(local(NY, 2026, 1, 9, 12, 30))
    reminders.sweep()
    assert sent(uow)[1] == (f"remind:{ob}:2", SALES_MANAGER)


def test_reminders_without_a_slack_owner_go_to_the_admin(
    uow: UnitOfWorkFactory,
    book: ObligationBook,
    reminders: ReminderService,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    won = local(NY, 2026, 1, 8, 15)
    hid = add_handoff(uow, won_at=won, sender_user_id=None)
    ob = open_obligation(
        uow, book, hid, sla="form", subject="crm-owner-77", owner=None, started_at=won
    )
    clock.set(local(NY, 2026, 1, 9, 11))
    with caplog.at_level(logging.WARNING):
        reminders.sweep()
    assert sent(uow) == [(f"remind:{ob}:1", ADMIN)]
    assert f"reminder_rerouted handoff={hid} obligation={ob}" in caplog.text


def test_reminders_escalate_to_admin_when_manager_is_not_a_slack_user(
    uow: UnitOfWorkFactory, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    raw_teams = make_org().model_dump(mode="json")["teams"]
    raw_teams["sales"]["manager"] = "head-of-sales@example.com"
    org = make_org(teams=raw_teams)
    book = ObligationBook(org)
    service = ReminderService(uow_factory=uow, org=org, book=book, clock=clock, worker_id="w")
    won = local(NY, 2026, 1, 8, 15)
    hid = add_handoff(uow, won_at=won)
    ob = open_obligation(uow, book, hid, sla="form", started_at=won)
    clock.set(local(NY, 2026, 1, 12, 9))
    with caplog.at_level(logging.WARNING):
        service.sweep()
    assert sent(uow) == [(f"remind:{ob}:2", ADMIN)]
    assert f"escalation_rerouted handoff={hid}" in caplog.text
    assert "reason=manager_not_a_slack_user" in caplog.text
