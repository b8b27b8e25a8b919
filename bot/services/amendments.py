"""Amendments after submission: a submitted handoff reopened, changed and submitted again.

Each submission is a version (the first one is kept as version 1 when the first amendment comes).
An amendment is one transaction: the new version, the handoff's payload, the receipts of the
teams whose answers changed (they confirm again; the others' confirmations stand), its audit
event, and its effects as outbox jobs: the field-by-field diff in the thread, and an update of
each record that shows a changed answer. Job keys carry the version, so a redelivered or
retried amendment never posts or updates twice, and a record's updates run in version order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from bot.config import OrgConfig
from bot.services import actions
from bot.services.handoffs import HandoffError, HomeRefresher
from bot.services.obligations import ObligationBook
from bot.services.permissions import Permissions
from bot.services.ports import Clock
from bot.services.teams import review_audience
from forms.base import FormValues
from forms.changes import FieldChange, audiences, diff_sections
from forms.declarative import DeclarativeForm
from forms.registry import get_form
from forms.reopen import values_from_model
from integrations.registry import OPS_VENDORS
from storage import versions_repo
from storage.models import Handoff, HandoffStatus, HandoffVersion
from storage.repositories import Repository
from storage.uow import UnitOfWorkFactory

log = logging.getLogger(__name__)

STALE = (
    "This handoff was amended by someone else meanwhile (it is now version {current}), so "
    "nothing was changed. Press Amend again to start from the newest version."
)


def announce_key(handoff_id: int, version: int) -> str:
    return f"amend-post:{handoff_id}:v{version}"


def record_update_key(handoff_id: int, team: str, version: int) -> str:
    return f"amend-record:{handoff_id}:{team}:v{version}"


@dataclass(frozen=True)
class AmendOpening:
    """What the amendment form opens with."""

    handoff_id: int
    kind: str
    base_version: int  # the version being amended
    values: FormValues  # the amendment draft, else the submitted answers
    submitted: FormValues  # the submitted answers as the form holds them
    restored: bool  # the values are a draft saved earlier


@dataclass(frozen=True)
class AmendOutcome:
    handoff_id: int
    version: int
    changes: tuple[FieldChange, ...]
    teams: tuple[str, ...]  # asked to confirm again


class AmendmentService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        org: OrgConfig,
        clock: Clock,
        obligations: ObligationBook,
        permissions: Permissions,
        home: HomeRefresher | None = None,
        kick: Callable[[], None] = lambda: None,
    ) -> None:
        self.uow = uow
        self.org = org
        self.clock = clock
        self.obligations = obligations
        self.permissions = permissions
        self.home = home
        self.kick = kick

    # --- opening and drafts ---------------------------------------------------------------------

    def may_amend(self, handoff_id: int, user_id: str) -> str | None:
        """None when the person may amend the handoff, else why not (a database read)."""
        with self.uow() as uow:
            handoff = uow.repo.handoff(handoff_id)
            if handoff is None:
                return f"There is no handoff #{handoff_id}."
            return self.permissions.may_amend(user_id, handoff)

    def opening(self, handoff_id: int, user_id: str) -> AmendOpening:
        """The submitted answers (or this person's draft of the amendment) to open the form with."""
        with self.uow() as uow:
            handoff = _get(uow.repo, handoff_id)
            _refuse(self.permissions.may_amend(user_id, handoff))
            spec = _spec(handoff.kind)
            model = spec.load(handoff.form_payload or {}, handoff.schema_version)
            submitted = values_from_model(spec, model)
            current = versions_repo.current_number(uow.session, handoff.id)
            draft = versions_repo.draft(uow.session, handoff.id)
            restored = (
                draft is not None and draft.user_id == user_id and draft.base_version == current
            )
            values = dict(draft.values) if draft is not None and restored else dict(submitted)
            return AmendOpening(handoff.id, handoff.kind, current, values, submitted, restored)

    def save_draft(
        self, handoff_id: int, user_id: str, base_version: int, values: dict[str, Any]
    ) -> None:
        """Keep the amendment being typed between steps and when the form is closed."""
        with self.uow() as uow:
            handoff = _get(uow.repo, handoff_id)
            _refuse(self.permissions.may_amend(user_id, handoff))
            versions_repo.save_draft(
                uow.session,
                handoff.id,
                user_id=user_id,
                base_version=base_version,
                values=values,
                now=self.clock(),
            )
            uow.commit()
        log.info("amendment_draft_saved handoff=%s fields=%s", handoff_id, len(values))

    def versions(self, handoff_id: int) -> list[HandoffVersion]:
        """Every stored version, oldest first (empty until the first amendment)."""
        with self.uow() as uow:
            return list(versions_repo.versions(uow.session, handoff_id))

    # --- the amendment --------------------------------------------------------------------------

    def amend(
        self,
        handoff_id: int,
        user_id: str,
        payload: dict[str, Any],
        *,
        schema_version: int,
        account_name: str,
        base_version: int,
    ) -> AmendOutcome:
        """Store the amended form as a new version and queue what follows from it."""
        now = self.clock()
        with self.uow() as uow:
            repo, session = uow.repo, uow.session
            handoff = _get(repo, handoff_id, for_update=True)  # one amendment at a time
            _refuse(self.permissions.may_amend(user_id, handoff))
            current = versions_repo.current_number(session, handoff.id)
            if base_version != current:
                raise HandoffError(STALE.format(current=current))
            spec = _spec(handoff.kind)
            before = spec.sections(spec.load(handoff.form_payload or {}, handoff.schema_version))
            after = spec.sections(spec.load(payload, schema_version))
            changes = tuple(diff_sections(before, after))
            if not changes:
                raise HandoffError("Nothing was changed, so the handoff stays as it was.")
            number = current + 1
            teams = tuple(t for t in handoff.receiving_teams if self._concerns(handoff, t, changes))
            versions_repo.record_first(session, handoff)
            session.add(
                HandoffVersion(
                    handoff_id=handoff.id,
                    number=number,
                    payload=payload,
                    schema_version=schema_version,
                    submitted_by=user_id,
                    submitted_at=now,
                    changes=[asdict(c) for c in changes],
                    teams=list(teams),
                )
            )
            handoff.form_payload = payload
            handoff.schema_version = schema_version
            handoff.account_name = account_name[:255] or handoff.account_name
            versions_repo.drop_draft(session, handoff.id)
            self._ask_again(repo, handoff, teams, now)
            self._enqueue(repo, handoff, number, teams)
            repo.audit(
                handoff,
                user_id,
                "amended",
                version=number,
                changes=[f"{c.section}: {c.label}" for c in changes][:40],
                teams=list(teams),
            )
            actions.rerender(repo, handoff)
            if self.home is not None:
                self.home.refresh(repo, [user_id, handoff.sender_user_id or ""], now)
            uow.commit()
        self.kick()
        log.info(
            "handoff_amended handoff=%s version=%s changes=%s teams=%s",
            handoff_id,
            number,
            len(changes),
            ",".join(teams) or "-",
        )
        return AmendOutcome(handoff_id, number, changes, teams)

    def _concerns(self, handoff: Handoff, team: str, changes: Sequence[FieldChange]) -> bool:
        """Whether a changed answer is one the team reads (forms.changes audiences)."""
        review = review_audience(self.org, team)
        if review == "all":
            return True
        for change in changes:
            readers = audiences(handoff.kind, change)
            if readers is None or review in readers:
                return True
        return False

    def _ask_again(
        self,
        repo: Repository,
        handoff: Handoff,
        teams: Sequence[str],
        now: datetime,
    ) -> None:
        """The teams' confirmations are cleared and their confirm deadline starts again."""
        for team in teams:
            receipt = handoff.receipt(team)
            if receipt is None:
                continue
            receipt.confirmed_by = None
            receipt.confirmed_at = None
            self.obligations.open(
                repo,
                handoff,
                sla="confirm",
                subject=team,
                owner_user_id=None,
                team=team,
                started_at=now,
                again=True,
            )
        if teams and handoff.status == HandoffStatus.CONFIRMED:
            records = [r for r in handoff.external_records if r.target != "crm_note"]
            settled = all(r.status == "done" for r in records)
            handoff.status = HandoffStatus.DELIVERED if settled else HandoffStatus.SUBMITTED
            handoff.completed_at = None

    def _enqueue(
        self, repo: Repository, handoff: Handoff, number: int, teams: Sequence[str]
    ) -> None:
        """The diff in the thread; an update of every record that shows a changed answer (an ops
        record shows the whole handoff, a finance record what finance reads)."""
        hid = handoff.id
        repo.enqueue(
            handoff,
            actions.AMEND_ANNOUNCE,
            announce_key(hid, number),
            {"version": number},
            after=actions.post_key(hid),
        )
        for record in handoff.external_records:
            team = record.target
            if team not in handoff.receiving_teams:
                continue  # the CRM note
            if record.vendor not in OPS_VENDORS and team not in teams:
                continue
            # After the record's creation, and after this team's earlier amendments.
            waits = [actions.record_key(hid, team)]
            waits += [record_update_key(hid, team, v) for v in range(2, number)]
            repo.enqueue(
                handoff,
                actions.AMEND_RECORD,
                record_update_key(hid, team, number),
                {"team": team, "version": number},
                after=waits,
            )


def _spec(kind: str) -> DeclarativeForm[Any]:
    spec = get_form(kind)
    if not isinstance(spec, DeclarativeForm):
        raise HandoffError("This kind of handoff cannot be amended.")
    return spec


def _get(repo: Repository, handoff_id: int, *, for_update: bool = False) -> Handoff:
    handoff = repo.handoff(handoff_id, for_update=for_update)
    if handoff is None:
        raise HandoffError(f"There is no handoff #{handoff_id}.")
    return handoff


def _refuse(refusal: str | None) -> None:
    if refusal is not None:
        raise HandoffError(refusal)
