"""The HubSpot deal note tells the records' current state: written once, then updated in place
once per change of a record's status (a Retry that succeeds), never for a repeated change."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import select

from bot.services import actions
from integrations.ports import CreatedRecord
from storage.models import OutboxStatus, OutboxWait
from tests.bot.conftest import FIN_MEMBER, Harness
from tests.bot.test_delivery import World, WorldFactory, world_factory
from tests.bot.test_delivery_faults import REFUSAL, button
from tests.bot.test_handoff_flow import click
from tests.support.stub_server import Reply

NOTES = "/crm/v3/objects/notes"


@pytest.fixture
def worlds(make_harness: Callable[..., Harness]) -> Iterator[WorldFactory]:
    with world_factory(make_harness) as factory:
        yield factory


def note_writes(world: World) -> tuple[int, int]:
    """(notes created, note bodies rewritten) as HubSpot received them."""
    requests = world.h.hubspot.server.requests if world.h.hubspot.server else []
    created = [r for r in requests if r.method == "POST" and r.path == NOTES]
    updated = [r for r in requests if r.method == "PATCH" and r.path.startswith(f"{NOTES}/")]
    return len(created), len(updated)


def the_note(world: World) -> str:
    [note] = world.h.hubspot.notes.values()
    return str(note["body"])


def test_crm_note_is_updated_once_when_a_retry_succeeds(worlds: WorldFactory) -> None:
    world = worlds()
    world.qbo.fail("POST", "/customer", Reply(400, REFUSAL))
    handoff_id = world.submit()
    world.settle()

    assert world.record(handoff_id, "finance").status == "failed"
    assert note_writes(world) == (1, 0)
    body = the_note(world)
    assert "Finance: quickbooks record failed" in body
    assert world.record(handoff_id, "ops").url in body  # type: ignore[operator]
    note_id = world.record(handoff_id, "crm_note").external_id

    retry = button(world.message(handoff_id), "retry_effect:finance")
    click(world.h, retry["action_id"], retry["value"], user=FIN_MEMBER)
    world.settle()

    finance = world.record(handoff_id, "finance")
    assert finance.status == "done"
    # The same note, rewritten once: it now links the finance record instead of the failure.
    assert note_writes(world) == (1, 1)
    assert list(world.h.hubspot.notes) == [note_id]
    body = the_note(world)
    assert "failed" not in body
    assert f'<a href="{finance.url}">quickbooks record</a>' in body
    assert body.endswith(f"<p>[ref: handoff-{handoff_id}]</p>")
    assert world.record(handoff_id, "crm_note").external_id == note_id

    # The second note job waited for the first: an older state cannot land after a newer one.
    first, second = world.jobs(handoff_id, actions.CRM_NOTE)
    assert (first.status, second.status) == (OutboxStatus.DONE, OutboxStatus.DONE)
    with world.h.services.uow() as uow:
        waits = uow.session.scalars(
            select(OutboxWait.after_key).where(OutboxWait.job_id == second.id)
        ).all()
    assert list(waits) == [first.idempotency_key]

    # A redelivered change (the finance job's outcome recorded again) writes nothing more.
    created = CreatedRecord.model_validate(finance.detail)
    world.h.services.handoffs.record_created(handoff_id, "finance", created)
    world.settle()
    assert note_writes(world) == (1, 1)
    assert len(world.jobs(handoff_id, actions.CRM_NOTE)) == 2


def test_crm_note_deleted_in_hubspot_is_written_again(worlds: WorldFactory) -> None:
    world = worlds()
    world.qbo.fail("POST", "/customer", Reply(400, REFUSAL))
    handoff_id = world.submit()
    world.settle()
    world.h.hubspot.notes.clear()  # someone deleted the note in HubSpot

    retry = button(world.message(handoff_id), "retry_effect:finance")
    click(world.h, retry["action_id"], retry["value"], user=FIN_MEMBER)
    world.settle()

    # The update found no note (404): a new one is made, showing the current state.
    assert note_writes(world) == (2, 1)
    body = the_note(world)
    assert "failed" not in body
    [note_id] = world.h.hubspot.notes
    assert world.record(handoff_id, "crm_note").external_id == note_id
