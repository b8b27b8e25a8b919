"""The renewal's deal in the CRM: created from the submitted renewal handoff, once.

It is one of the handoff's external records (target `TARGET`), created by the same outbox action
as the teams' records, so it retries, fails with a Retry button and tells the admin like them.
"""

from __future__ import annotations

from bot.services import actions
from storage.models import ExternalRecord, Handoff
from storage.repositories import Repository

TARGET = "crm_renewal"
LABEL = "Renewal deal"


def enqueue(repo: Repository, handoff: Handoff, vendor: str) -> None:
    """Queue the deal's creation, after the handoff message (the brief links its thread)."""
    handoff.external_records.append(ExternalRecord(target=TARGET, vendor=vendor))
    repo.enqueue(
        handoff,
        actions.CREATE_RECORD,
        actions.record_key(handoff.id, TARGET),
        {"team": TARGET},
        after=actions.post_key(handoff.id),
    )
