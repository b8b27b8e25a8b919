"""Amendments are listed from a handoff's audit timeline, whatever shape their detail has."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.services.account_record import Amendment, amendments
from storage.models import Handoff, HandoffStatus
from storage.uow import UnitOfWorkFactory

AT = datetime(2027, 3, 12, 9, 30, tzinfo=UTC)


def a_handoff(uow_factory: UnitOfWorkFactory) -> int:
    with uow_factory() as uow:
        handoff = Handoff(
            kind="sales_to_delivery",
            status=HandoffStatus.CONFIRMED,
            deal_id="77",
            receiving_teams=["ops"],
            won_at=AT,
        )
        uow.session.add(handoff)
        uow.commit()
        return handoff.id


def test_a_handoff_never_amended_has_no_amendments(uow_factory: UnitOfWorkFactory) -> None:
    handoff_id = a_handoff(uow_factory)
    with uow_factory() as uow:
        handoff = uow.repo.handoff(handoff_id)
        assert handoff is not None
        uow.repo.audit(handoff, "U1", "submitted")
        uow.repo.audit(handoff, "U1", "confirmed", team="ops")
        uow.commit()
        assert amendments(uow.repo, handoff_id) == []


def test_amendments_are_read_from_each_shape_of_detail(uow_factory: UnitOfWorkFactory) -> None:
    handoff_id = a_handoff(uow_factory)
    with uow_factory() as uow:
        handoff = uow.repo.handoff(handoff_id)
        assert handoff is not None
        uow.repo.audit(
            handoff,
            "U1",
            "amended",
            changes=[{"field": "term_end", "old": "2027-12-31", "new": "2028-03-31"}],
        )
        uow.repo.audit(handoff, "U2", "amended", changes={"Value": ["36000", "40000"]})
        uow.repo.audit(handoff, "U3", "amended", summary="Scope trimmed", changes=["No training"])
        uow.repo.audit(handoff, "system", "amended")
        uow.commit()

        found = amendments(uow.repo, handoff_id)

    assert [(a.by, a.changes) for a in found] == [
        ("U1", ("term_end: 2027-12-31 → 2028-03-31",)),
        ("U2", ("Value: 36000 → 40000",)),
        ("U3", ("Scope trimmed", "No training")),
        ("system", ("amended",)),
    ]
    assert all(isinstance(a, Amendment) and a.at.tzinfo is not None for a in found)
