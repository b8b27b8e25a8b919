"""Opening and closing obligations: due times in the team's calendar, idempotence, cancelling."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from bot.services.obligations import ObligationBook, reminder_key
from storage.models import Obligation, OutboxStatus
from storage.uow import UnitOfWorkFactory
from tests.scheduling.conftest import (
    NY,
    SALESPERSON,
    add_handoff,
    jobs,
    local,
    obligation,
    open_obligation,
)


def test_obligations_open_computes_due_in_the_team_calendar(
    uow: UnitOfWorkFactory, book: ObligationBook
) -> None:
    handoff_id = add_handoff(uow)
    won = local(NY, 2026, 1, 8, 15)  # Thursday 15:00 New York
    ob = obligation(uow, open_obligation(uow, book, handoff_id, sla="form", started_at=won))
    assert (ob.step, ob.closed_at, ob.team, ob.owner_user_id) == (0, None, "sales", SALESPERSON)
    assert ob.due_at == local(NY, 2026, 1, 9, 11)  # 2 h Thursday + 2 h Friday
    assert ob.next_action_at == ob.due_at
    assert book.escalate_at(ob) == local(NY, 2026, 1, 9, 15)


def test_obligations_deadline_at_end_of_day_is_chased_next_morning(
    uow: UnitOfWorkFactory, book: ObligationBook
) -> None:
    handoff_id = add_handoff(uow)
    ob_id = open_obligation(uow, book, handoff_id, sla="form", started_at=local(NY, 2026, 1, 5, 13))
    ob = obligation(uow, ob_id)
    assert ob.due_at == local(NY, 2026, 1, 5, 17)
    assert ob.next_action_at == local(NY, 2026, 1, 6, 9)


def test_obligations_open_is_idempotent(uow: UnitOfWorkFactory, book: ObligationBook) -> None:
    handoff_id = add_handoff(uow)
    first = open_obligation(uow, book, handoff_id, sla="form", started_at=local(NY, 2026, 1, 5, 10))
    again = open_obligation(uow, book, handoff_id, sla="form", started_at=local(NY, 2026, 1, 7, 10))
    assert first == again
    with uow() as u:
        assert u.session.scalar(select(func.count()).select_from(Obligation)) == 1
    assert obligation(uow, first).started_at == local(NY, 2026, 1, 5, 10)


def test_obligations_open_refuses_unknown_sla_and_team(
    uow: UnitOfWorkFactory, book: ObligationBook
) -> None:
    handoff_id = add_handoff(uow)
    start = datetime(2026, 1, 5, 15, tzinfo=UTC)
    with pytest.raises(ValueError, match="unknown sla"):
        open_obligation(uow, book, handoff_id, sla="reply", started_at=start, team="sales")
    with pytest.raises(ValueError, match="unknown team"):
        open_obligation(uow, book, handoff_id, sla="confirm", started_at=start, team="legal")


def test_obligations_close_cancels_pending_reminders_only_for_that_obligation(
    uow: UnitOfWorkFactory, book: ObligationBook
) -> None:
    handoff_id = add_handoff(uow, status="submitted")
    start = local(NY, 2026, 1, 5, 10)
    ops = open_obligation(
        uow, book, handoff_id, sla="confirm", team="ops", owner=None, started_at=start
    )
    fin = open_obligation(
        uow, book, handoff_id, sla="confirm", team="finance", owner=None, started_at=start
    )
    at = datetime(2026, 1, 6, 12, tzinfo=UTC)
    with uow() as u:
        handoff = u.repo.handoff(handoff_id)
        for ob_id in (ops, fin):
            u.repo.enqueue(handoff, "slack.post", reminder_key(ob_id, 1), {"channel": "C"})
        book.close(u.repo, handoff_id, sla="confirm", subject="ops", at=at)
        u.commit()
    by_key = {j.idempotency_key: j for j in jobs(uow)}
    assert by_key[reminder_key(ops, 1)].status == OutboxStatus.DONE
    assert by_key[reminder_key(ops, 1)].result == {"cancelled": "work done"}
    assert by_key[reminder_key(fin, 1)].status == OutboxStatus.PENDING
    closed, still_open = obligation(uow, ops), obligation(uow, fin)
    assert (closed.closed_at, closed.next_action_at) == (at, None)
    assert still_open.closed_at is None


def test_obligations_close_without_subject_closes_every_open_question(
    uow: UnitOfWorkFactory, book: ObligationBook
) -> None:
    handoff_id = add_handoff(uow, status="submitted")
    start = local(NY, 2026, 1, 5, 10)
    q1 = open_obligation(uow, book, handoff_id, sla="answer", subject="msg:1.1", started_at=start)
    q2 = open_obligation(uow, book, handoff_id, sla="answer", subject="msg:2.2", started_at=start)
    with uow() as u:
        book.close(u.repo, handoff_id, sla="answer", at=start)
        u.commit()
    assert obligation(uow, q1).closed_at == start
    assert obligation(uow, q2).closed_at == start
