"""Outbox handlers of an amendment: the diff in the thread, and each team record brought up to date.

A record update builds the brief from the version it is for (not whatever is newest when it
runs), so a record goes through the versions in order: its jobs wait for one another. The
vendor call is keyed by the job's idempotency key (QuickBooks requestid, Xero Idempotency-Key),
stable across the job's retries; Asana and Jira notes carry the version's marker and are looked
for before adding after an uncertain try.
"""

from __future__ import annotations

from typing import Any

from bot.render.amendment import AmendmentMessage, render
from bot.services import actions, history
from bot.services.briefs import build_brief, with_names
from bot.services.effects_base import EffectsBase, log
from bot.services.effects_vendors import _base_key, _created_record
from bot.services.outbox import Handler, JobContext
from forms.changes import FieldChange
from integrations.amendments import (
    Amendment,
    ChangedField,
    update_finance_record,
    update_ops_record,
)
from integrations.ports import CreatedRecord
from storage import versions_repo
from storage.models import Handoff, HandoffVersion


class AmendmentEffects(EffectsBase):
    """Posts an amendment's diff in the thread and updates the team records it concerns."""

    def handlers(self) -> dict[str, Handler]:
        return {
            actions.AMEND_ANNOUNCE: self.announce,
            actions.AMEND_RECORD: self.update_record,
        }

    def announce(self, ctx: JobContext) -> dict[str, Any] | None:
        """Post what changed, field by field, in the handoff's thread."""
        handoff = self._handoff(ctx.handoff_id)
        version = self._version(handoff.id, int(ctx.payload["version"]))
        if version is None or not (handoff.channel_id and handoff.thread_ts):
            return None  # runs after the post job: the post itself failed (the admin was told)
        text, blocks = render(
            AmendmentMessage(
                handoff_id=handoff.id,
                title=handoff.account_name or handoff.deal_name or f"#{handoff.id}",
                version=version.number,
                author_user_id=version.submitted_by,
                changes=[FieldChange(**change) for change in version.changes],
                teams=[(self.teams.mention(t), self.teams.team_name(t)) for t in version.teams],
            )
        )
        posted = self.slack.post(handoff.channel_id, text, blocks, thread_ts=handoff.thread_ts)
        return {"ts": posted.ts}

    def update_record(self, ctx: JobContext) -> dict[str, Any]:
        """Bring the team's record to the version, noting the change there, once."""
        team, number = str(ctx.payload["team"]), int(ctx.payload["version"])
        handoff = self._handoff(ctx.handoff_id)
        record = handoff.record(team)
        if record is None or record.status != "done" or not record.external_id:
            # Not created (yet): its creation, or the Retry that creates it, reads the newest
            # version, so there is nothing to update.
            return {"skipped": f"{team} record not created"}
        version = self._version(handoff.id, number)
        if version is None:
            return {"skipped": f"no version {number}"}
        # The brief of this version: the record shows each version in turn.
        handoff.form_payload, handoff.schema_version = version.payload, version.schema_version
        brief = build_brief(
            handoff,
            slack_thread_url=self._thread_url(handoff),
            crm_deal_url=self._deal_url(handoff),
            names=self.slack.user_name,
            history=history.load_history(self.uow, handoff.id) if team in self.tools.ops else (),
            remainder=self.org.billing.remainder,
        )
        amendment = self._amendment(handoff, version)
        held = _created_record(record)
        if team in self.tools.ops:
            look_first = ctx.uncertain or ctx.attempt > 1
            updated = update_ops_record(
                self.tools.ops[team], held, brief, amendment, look_first=look_first
            )
        elif team in self.tools.finance:
            updated = update_finance_record(
                self.tools.finance[team], held, brief, amendment, idempotency_key=_base_key(ctx.key)
            )
        else:
            return {"skipped": f"team {team} has no tool"}
        self._amended(handoff.id, team, number, updated)
        return {"external_id": updated.external_id, "version": number}

    def _amendment(self, handoff: Handoff, version: HandoffVersion) -> Amendment:
        names = self.slack.user_name
        author = version.submitted_by or ""
        return Amendment(
            handoff_id=handoff.id,
            version=version.number,
            author=names(author) or f"Slack user {author}",
            amended_at=version.submitted_at,
            changes=tuple(
                ChangedField(
                    section=c["section"],
                    label=c["label"],
                    before=with_names(str(c["before"]), names),
                    after=with_names(str(c["after"]), names),
                )
                for c in version.changes
            ),
            thread_url=self._thread_url(handoff),
        )

    def _amended(self, handoff_id: int, team: str, number: int, updated: CreatedRecord) -> None:
        """Keep what the vendor holds now (a replaced document has a new id) and say so."""
        with self.uow() as uow:
            handoff = uow.repo.handoff(handoff_id, for_update=True)
            record = handoff.record(team) if handoff else None
            if handoff is None or record is None:
                return
            record.external_id = updated.external_id
            record.url = updated.url
            record.detail = updated.model_dump(mode="json")
            uow.repo.audit(
                handoff,
                "system",
                "record_amended",
                target=team,
                version=number,
                vendor=updated.vendor,
                external_id=updated.external_id,
            )
            actions.rerender(uow.repo, handoff)
            uow.commit()
        self.handoffs.kick()
        log.info(
            "record_amended handoff=%s target=%s version=%s id=%s",
            handoff_id,
            team,
            number,
            updated.external_id,
        )

    def _version(self, handoff_id: int, number: int) -> HandoffVersion | None:
        with self.uow() as uow:
            return versions_repo.version(uow.session, handoff_id, number)
