"""Outbox handlers that write to the vendors: the deal stage, team records, comments, CRM note."""

from __future__ import annotations

import html
import uuid
from typing import Any

from bot.config import OrgConfig
from bot.render.mrkdwn import escape
from bot.services import history, renewal_deal
from bot.services.briefs import build_brief, marker_for, thread_comment
from bot.services.effects_base import EffectsBase, log
from bot.services.outbox import JobContext
from bot.services.presenter import TOOL_LABELS
from integrations.ports import (
    CreatedRecord,
    DeliveryInvoicer,
    HandoffBrief,
    NotFound,
    VendorError,
)
from storage.models import ExternalRecord, Handoff


class VendorEffects(EffectsBase):
    """Moves the CRM deal, creates each team's record, mirrors the thread, notes the deal."""

    # --- the deal -------------------------------------------------------------------------------

    def crm_snapshot(self, ctx: JobContext) -> dict[str, Any]:
        """Store what the CRM knows about the deal, so the form opens from the database."""
        handoff = self._handoff(ctx.handoff_id)
        deal = self._crm().get_deal(str(ctx.payload["deal_id"]))
        self.handoffs.set_deal_facts(
            handoff.id,
            account_name=deal.company_name or deal.name,
            deal_name=deal.name,
            snapshot=deal.model_dump(mode="json"),
        )
        return {"deal_id": deal.deal_id}

    def move_deal_stage(self, ctx: JobContext) -> dict[str, Any]:
        deal_id, stage = str(ctx.payload["deal_id"]), str(ctx.payload["stage"])
        crm = self._crm()
        if ctx.payload.get("why") == "release":
            # Back to won only from our hold: a deal lost, reopened or never held meanwhile
            # (e.g. a handoff started by hand on a deal at an earlier stage) stays where it is.
            current = crm.get_deal(deal_id).stage
            if current != self.org.hubspot.pending_stage:
                if ctx.handoff_id:
                    self._audit(ctx.handoff_id, "release_skipped", stage=current)
                log.info("release_skipped deal=%s stage=%s", deal_id, current)
                return {"skipped": True, "stage": current}
        crm.move_deal_stage(deal_id, stage)
        if ctx.handoff_id:
            self._audit(ctx.handoff_id, "deal_stage_moved", stage=stage, why=ctx.payload.get("why"))
        return {"stage": stage}

    # --- vendor records -------------------------------------------------------------------------

    def create_record(self, ctx: JobContext) -> dict[str, Any]:
        """Create the team's record in its tool; looks first after an uncertain earlier try."""
        team = str(ctx.payload["team"])
        handoff = self._handoff(ctx.handoff_id)
        existing = handoff.record(team)
        if existing is not None and existing.status == "done":
            return {"external_id": existing.external_id, "reused": True}
        brief = build_brief(
            handoff,
            slack_thread_url=self._thread_url(handoff),
            crm_deal_url=self._deal_url(handoff),
            names=self.slack.user_name,
            # Ops records carry the deal's CRM history; finance tools have no place for it.
            history=history.load_history(self.uow, handoff.id) if team in self.tools.ops else (),
            remainder=self.org.billing.remainder,
        )
        look_first = ctx.uncertain or bool(ctx.payload.get("look_first")) or ctx.attempt > 1
        # The job's own key: stable across its retries, fresh for a Retry click (a new job), since
        # a vendor replays its earlier answer, a refusal included, for a key it has seen.
        created = self._create_in_tool(team, brief, _base_key(ctx.key), look_first)
        self.handoffs.record_created(handoff.id, team, created)
        return {"external_id": created.external_id, "url": created.url}

    def _create_in_tool(
        self, team: str, brief: HandoffBrief, key: str, look_first: bool
    ) -> CreatedRecord:
        try:
            if team in self.tools.ops:
                return self.tools.ops[team].create_record(brief, look_first=look_first)
            if team in self.tools.finance:
                finance = self.tools.finance[team]
                if brief.delivery_invoice is not None and isinstance(finance, DeliveryInvoicer):
                    return finance.create_delivery_invoice(
                        brief, idempotency_key=key, look_first=look_first
                    )
                return finance.create_billing_setup(
                    brief, idempotency_key=key, look_first=look_first
                )
        except VendorError as exc:
            if exc.field and exc.field not in exc.message:
                # The handoff message and the admin see only the text: it must name the field.
                raise type(exc)(
                    exc.vendor,
                    f"{exc.message} (field {exc.field})",
                    status=exc.status,
                    field=exc.field,
                    retry_after=exc.retry_after,
                ) from exc
            raise
        raise LookupError(f"team {team!r} has no tool configured")

    def mirror_comment(self, ctx: JobContext) -> dict[str, Any] | None:
        """Mirror a thread message onto the team's record, once."""
        target, ts = str(ctx.payload["target"]), str(ctx.payload["ts"])
        handoff = self._handoff(ctx.handoff_id)
        record = handoff.record(target)
        message = next((m for m in handoff.messages if m.slack_ts == ts), None)
        if record is None or message is None:
            return None
        if target in message.mirrored:
            return {"mirror_id": message.mirrored[target], "reused": True}
        if record.status != "done" or not record.external_id:
            # The record failed: once a Retry creates it, the service queues this message again.
            return {"skipped": f"{target} record not created"}
        comment = thread_comment(message, self.slack.user_name)
        created = _created_record(record)
        if target in self.tools.ops:
            mirror_id: str | None = self.tools.ops[target].add_comment(
                created, comment, look_first=ctx.uncertain or ctx.attempt > 1
            )
        elif target in self.tools.finance:
            mirror_id = self.tools.finance[target].add_note(
                created, comment, idempotency_key=_base_key(ctx.key)
            )
        else:
            return None
        self._mirrored(handoff.id, ts, target, mirror_id or "unsupported")
        return {"mirror_id": mirror_id}

    def _mirrored(self, handoff_id: int, ts: str, target: str, mirror_id: str) -> None:
        with self.uow() as uow:
            # Locked: the ops and finance mirrors of one message must not overwrite each other.
            handoff = uow.repo.handoff(handoff_id, for_update=True)
            stored = uow.repo.thread_message(handoff_id, ts) if handoff else None
            if stored is not None:
                stored.mirrored = {**stored.mirrored, target: mirror_id}
                uow.commit()
        log.info("comment_mirrored handoff=%s target=%s ts=%s", handoff_id, target, ts)

    def crm_note(self, ctx: JobContext) -> dict[str, Any] | None:
        """Write the summary and links back onto the deal, once the records have settled."""
        handoff = self._handoff(ctx.handoff_id)
        if self.tools.crm is None or not handoff.deal_id:
            return None
        # Queued by the service whenever the records settle in a new state; the note shows
        # the state as read now (a later job of the same handoff waits for this one).
        records = [r for r in handoff.external_records if r.target != "crm_note"]
        thread_url = self._thread_url(handoff)
        body = _crm_note_html(handoff, records, thread_url, self.org)
        marker = marker_for(handoff.id)
        note = handoff.record("crm_note")
        if note is not None and note.status == "done" and note.external_id:
            try:
                self.tools.crm.update_deal_note(note.external_id, body, marker)
            except NotFound:
                log.warning("crm_note_gone handoff=%s note=%s", handoff.id, note.external_id)
            else:
                state = ", ".join(f"{r.target}={r.status}" for r in records)
                self._audit(handoff.id, "crm_note_updated", note_id=note.external_id, state=state)
                return {"note_id": note.external_id, "updated": True}
        created = self.tools.crm.add_deal_note(handoff.deal_id, body, marker)
        self.handoffs.record_created(handoff.id, "crm_note", created)
        return {"note_id": created.external_id}

    # --- failures -------------------------------------------------------------------------------

    def _record_failed(self, handoff_id: int, team: str, error: str) -> str | None:
        """Mark the record failed (its Retry button appears); the admin's message, if so."""
        handoff = self.handoffs.record_failed(handoff_id, team, error)
        record = handoff.record(team) if handoff else None
        if handoff is None or record is None:
            return None
        where = self._thread_url(handoff)
        name = renewal_deal.LABEL if team == renewal_deal.TARGET else self.teams.team_name(team)
        vendor = TOOL_LABELS.get(record.vendor, record.vendor)
        return (
            f":warning: Handoff #{handoff_id} "
            f"({escape(handoff.account_name or handoff.deal_name)}): "
            f"the {escape(name)} record in {escape(vendor)} was not created — {escape(error)}\n"
            f"Nothing captured is lost. Fix the data or the {vendor} settings, then press "
            f"*Retry* on the handoff message{f' ({where})' if where else ''}."
        )


def _created_record(record: ExternalRecord) -> CreatedRecord:
    """What the vendor told us when it made the record (task ids and all), as stored."""
    if record.detail:
        return CreatedRecord.model_validate(record.detail)
    return CreatedRecord(
        vendor=record.vendor,
        kind="record",
        external_id=record.external_id or "",
        url=record.url,
    )


def _base_key(key: str) -> str:
    """Vendors cap idempotency keys (QuickBooks: 50 chars); keep ours short and stable."""
    return key if len(key) <= 50 else str(uuid.uuid5(uuid.NAMESPACE_URL, key))


def _crm_note_html(
    handoff: Handoff, records: list[ExternalRecord], thread_url: str | None, org: OrgConfig
) -> str:
    lines = [f"<p><strong>Handoff submitted</strong> ({marker_for(handoff.id)})</p>", "<ul>"]
    if thread_url:
        lines.append(f'<li>Slack thread: <a href="{html.escape(thread_url)}">open</a></li>')
    for record in records:
        team = org.teams.get(record.target)
        label = renewal_deal.LABEL if record.target == renewal_deal.TARGET else record.target
        name = html.escape(team.name if team else label)
        if record.status == "done" and record.url:
            lines.append(
                f'<li>{name}: <a href="{html.escape(record.url)}">'
                f"{html.escape(record.vendor)} record</a></li>"
            )
        else:
            lines.append(f"<li>{name}: {html.escape(record.vendor)} record {record.status}</li>")
    lines.append("</ul>")
    return "".join(lines)
