"""The daily digest: one message per manager at their day's start; none when nothing is due."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.config import OrgConfig, parse_org_config
from bot.services.digest import DigestService
from bot.services.obligations import ObligationBook
from storage.uow import UnitOfWorkFactory
from tests.scheduling.conftest import (
    ADMIN,
    LONDON,
    NY,
    OPS_MANAGER,
    SALES_MANAGER,
    FakeClock,
    add_handoff,
    jobs,
    local,
    open_obligation,
    org_dict,
)
from tests.support.fake_slack import block_kit_problems

LA = ZoneInfo("America/Los_Angeles")


@pytest.fixture
def digests(uow: UnitOfWorkFactory, org: OrgConfig, clock: FakeClock) -> DigestService:
    return DigestService(uow_factory=uow, org=org, clock=clock)


def _digests(uow: UnitOfWorkFactory) -> list[tuple[str, str]]:
    return [
        (j.idempotency_key, j.payload["channel"])
        for j in jobs(uow)
        if j.idempotency_key.startswith("digest:")
    ]


def _payload(uow: UnitOfWorkFactory, key: str) -> dict[str, Any]:
    job = next(j for j in jobs(uow) if j.idempotency_key == key)
    assert job.handoff_id is None
    assert block_kit_problems(job.payload["blocks"]) == []
    return dict(job.payload)


def _text(payload: dict[str, Any]) -> str:
    return "\n".join(
        b["text"]["text"] if b["type"] in ("section", "header") else b["elements"][0]["text"]
        for b in payload["blocks"]
    )


def _confirm(uow: UnitOfWorkFactory, book: ObligationBook, team: str, start: datetime) -> int:
    hid = add_handoff(
        uow, status="submitted", submitted_at=start, deal_id=f"{team}-{start.isoformat()}"
    )
    return open_obligation(uow, book, hid, sla="confirm", team=team, owner=None, started_at=start)


def test_digest_one_per_manager_at_the_start_of_their_own_day(
    uow: UnitOfWorkFactory, book: ObligationBook, digests: DigestService, clock: FakeClock
) -> None:
    won = local(NY, 2026, 1, 8, 9)  # form due Thursday 13:00 New York
    form_handoff = add_handoff(uow, won_at=won, account_name="Globex")
    open_obligation(uow, book, form_handoff, sla="form", started_at=won)
    _confirm(uow, book, "ops", local(LONDON, 2026, 1, 9, 14))  # due Monday 10:00: at risk
    _confirm(uow, book, "ops", local(LONDON, 2026, 1, 12, 9, 30))  # due 13:30: not yet

    clock.set(local(LONDON, 2026, 1, 12, 8, 59))
    assert digests.send() == 0
    clock.set(local(LONDON, 2026, 1, 12, 9, 45))  # 04:45 in New York
    assert digests.send() == 1
    assert _digests(uow) == [("digest:UOPSMGR:2026-01-12", OPS_MANAGER)]
    ops = _payload(uow, "digest:UOPSMGR:2026-01-12")
    assert ops["text"] == "Handoff digest for Ops: 0 overdue, 1 at risk."
    assert "At risk (1)" in _text(ops)
    assert "confirmation by Ops — due in 15 minutes" in _text(ops)

    clock.set(local(LONDON, 2026, 1, 12, 10, 30))
    assert digests.send() == 0  # once a day, even though an item has since become overdue

    clock.set(local(NY, 2026, 1, 12, 9))
    assert digests.send() == 1
    assert _digests(uow)[1] == ("digest:USALESMGR:2026-01-12", SALES_MANAGER)
    sales = _text(_payload(uow, "digest:USALESMGR:2026-01-12"))
    assert "Overdue (1)" in sales
    assert "*Globex*" in sales
    assert "handoff form from <@USALES1> — overdue by 1 business day 4 hours" in sales


def test_digest_says_nothing_when_nothing_is_due(
    uow: UnitOfWorkFactory, book: ObligationBook, digests: DigestService, clock: FakeClock
) -> None:
    ob_start = local(LONDON, 2026, 1, 12, 9, 30)
    hid = add_handoff(uow, status="submitted", submitted_at=ob_start)
    open_obligation(uow, book, hid, sla="confirm", team="ops", owner=None, started_at=ob_start)
    with uow() as u:
        book.close(u.repo, hid, sla="confirm", at=ob_start)
        u.commit()
    for when in (local(LONDON, 2026, 1, 13, 9), local(NY, 2026, 1, 13, 9)):
        clock.set(when)
        assert digests.send() == 0
    assert _digests(uow) == []


def test_digest_is_one_message_for_many_handoffs(
    uow: UnitOfWorkFactory, book: ObligationBook, digests: DigestService, clock: FakeClock
) -> None:
    for minute in range(45):
        _confirm(uow, book, "ops", local(LONDON, 2026, 1, 7, 9, minute))
    clock.set(local(LONDON, 2026, 1, 12, 9))
    assert digests.send() == 1
    payload = _payload(uow, "digest:UOPSMGR:2026-01-12")
    text = _text(payload)
    assert "Overdue (45)" in text
    assert text.count("• ") == 40
    assert "and 5 more" in text
    assert len(_digests(uow)) == 1


def test_digest_for_a_team_without_manager_goes_to_admin_on_working_days_only(
    uow: UnitOfWorkFactory, book: ObligationBook, digests: DigestService, clock: FakeClock
) -> None:
    _confirm(uow, book, "finance", local(LONDON, 2026, 4, 29, 9))
    for when in (local(LONDON, 2026, 5, 2, 10), local(LONDON, 2026, 5, 4, 10)):  # Sat, holiday
        clock.set(when)
        assert digests.send() == 0
    clock.set(local(LONDON, 2026, 5, 5, 9, 15))
    assert digests.send() == 1
    assert _digests(uow) == [("digest:UADMIN:2026-05-05", ADMIN)]
    text = _text(_payload(uow, "digest:UADMIN:2026-05-05"))
    assert "confirmation by Finance" in text
    assert "as admin for finance" in text


def test_digest_after_days_down_sends_only_today(
    uow: UnitOfWorkFactory, book: ObligationBook, digests: DigestService, clock: FakeClock
) -> None:
    _confirm(uow, book, "ops", local(LONDON, 2026, 1, 7, 9))
    clock.set(local(LONDON, 2026, 1, 12, 15))  # the worker was down since Thursday
    assert digests.send() == 1
    assert digests.send() == 0
    assert _digests(uow) == [("digest:UOPSMGR:2026-01-12", OPS_MANAGER)]


def test_digest_is_keyed_by_the_managers_local_date_not_utc(
    uow: UnitOfWorkFactory, clock: FakeClock
) -> None:
    raw = org_dict()
    raw["teams"]["sales"]["working_hours"]["timezone"] = "America/Los_Angeles"
    org = parse_org_config(raw)
    book = ObligationBook(org)
    digests = DigestService(uow_factory=uow, org=org, clock=clock)
    _confirm(uow, book, "sales", local(LA, 2026, 1, 9, 9))  # overdue all of Monday

    clock.set(local(LA, 2026, 1, 12, 9, 30))  # Monday 17:30 UTC
    assert digests.send() == 1
    clock.set(local(LA, 2026, 1, 12, 16, 30))  # still Monday in LA, Tuesday 00:30 UTC
    assert digests.send() == 0
    clock.set(local(LA, 2026, 1, 13, 9, 30))
    assert digests.send() == 1

    assert _digests(uow) == [
        ("digest:USALESMGR:2026-01-12", SALES_MANAGER),
        ("digest:USALESMGR:2026-01-13", SALES_MANAGER),
    ]
