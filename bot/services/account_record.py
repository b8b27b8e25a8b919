"""The account's record for a term: what was agreed, amended, delivered and asked, in one place.

`read_term` reads it from the database (one short read); `RecordRows.term` turns it into the
`RenewalTerm` a renewal opens with, resolving people's names off any transaction. `amendments`
lists a handoff's amendments from its audit timeline.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.services.briefs import slack_to_plain
from forms.renewal_prefill import AccountRecord, QuestionAndAnswer, renewal_values, term_end
from storage import renewals_repo
from storage.models import AuditEvent, Handoff
from storage.repositories import Repository

NameLookup = Callable[[str], str | None]

# The audit events an amendment of a submitted handoff writes (one per amendment). Their detail
# is read defensively: {"changes": [{"label"|"field", "before"|"old", "after"|"new"}]}, or
# {"changes": {field: [before, after]}}, and/or a "summary" sentence.
AMENDMENT_EVENTS = ("amended",)


@dataclass(frozen=True)
class Amendment:
    """One amendment of a handoff: when, by whom, and each change as a readable line."""

    at: datetime
    by: str  # a Slack user id, or "system"
    changes: tuple[str, ...]


def amendments(repo: Repository, handoff_id: int) -> list[Amendment]:
    """The handoff's amendments, oldest first; none when it was never amended."""
    found = renewals_repo.events(repo.session, handoff_id, AMENDMENT_EVENTS)
    return [_amendment(event) for event in found]


def _amendment(event: AuditEvent) -> Amendment:
    detail: Mapping[str, Any] = event.detail or {}
    changes: list[str] = []
    raw = detail.get("changes")
    if isinstance(raw, Mapping):
        raw = [{"field": k, "before": _pair(v)[0], "after": _pair(v)[1]} for k, v in raw.items()]
    for change in raw if isinstance(raw, list) else []:
        if isinstance(change, Mapping):
            name = _first(change, "label", "field", "name") or "a field"
            before = _first(change, "before", "old", "from")
            after = _first(change, "after", "new", "to")
            changes.append(f"{name}: {before or '—'} → {after or '—'}")
        elif isinstance(change, str):
            changes.append(change)
    summary = detail.get("summary") or detail.get("reason")
    if isinstance(summary, str) and summary.strip():
        changes.insert(0, summary.strip())
    return Amendment(at=event.at, by=event.actor, changes=tuple(changes) or ("amended",))


def _pair(value: object) -> tuple[object, object]:
    if isinstance(value, list | tuple) and len(value) == 2:
        return value[0], value[1]
    if isinstance(value, Mapping):
        return value.get("before"), value.get("after")
    return None, value


def _first(item: Mapping[str, Any], *keys: str) -> str:
    for key in keys:
        value = item.get(key)
        if value not in (None, ""):
            return str(value)
    return ""


@dataclass(frozen=True)
class RenewalTerm:
    """What a renewal of one term opens with: the record it continues and its prefill."""

    parent_id: int
    key: str  # the agreed term end (ISO), or "" when the record holds none
    deal_id: str
    account_name: str
    deal_name: str
    prefill: dict[str, Any]
    delivery_lead: str | None = None  # from the agreed form
    confirmed_by: tuple[tuple[str, str], ...] = ()  # (team, user) of the sales handoff's receipts

    def apply(self, handoff: Handoff) -> None:
        """Make a new renewal handoff this term's."""
        handoff.parent_id = self.parent_id
        handoff.term_key = self.key
        handoff.prefill = dict(self.prefill)
        handoff.account_name = handoff.account_name or self.account_name[:255]
        handoff.deal_name = handoff.deal_name or self.deal_name[:255]


@dataclass(frozen=True)
class _Message:
    ts: str
    user_id: str
    text: str
    is_question: bool
    answered_by_ts: str | None


@dataclass(frozen=True)
class RecordRows:
    """The record as read from the database, before names are resolved."""

    source: Handoff
    agreed: Mapping[str, Any]
    amendments: Sequence[Amendment] = ()
    delivery: Mapping[str, Any] | None = None
    messages: Sequence[_Message] = field(default_factory=tuple)

    def term(self, names: NameLookup) -> RenewalTerm:
        """The renewal term, with people named (Slack look-ups: call outside a transaction)."""

        def name(user_id: str) -> str:
            return names(user_id) or ("the app" if user_id == "system" else f"@{user_id}")

        by_ts = {m.ts: m for m in self.messages}
        questions = []
        for message in self.messages:
            if not message.is_question:
                continue
            answer = by_ts.get(message.answered_by_ts or "")
            questions.append(
                QuestionAndAnswer(
                    asked_by=name(message.user_id),
                    question=slack_to_plain(message.text, names),
                    answered_by=name(answer.user_id) if answer else None,
                    answer=slack_to_plain(answer.text, names) if answer else None,
                )
            )
        lines = tuple(
            f"{a.at:%d %b %Y}, {name(a.by)}: {'; '.join(a.changes)}" for a in self.amendments
        )
        record = AccountRecord(
            agreed=self.agreed, amendments=lines, delivery=self.delivery, questions=tuple(questions)
        )
        end = term_end(self.agreed)
        source = self.source
        lead = self.agreed.get("delivery_lead")
        return RenewalTerm(
            parent_id=source.id,
            key=end.isoformat() if end else "",
            deal_id=source.deal_id or "",
            account_name=source.account_name,
            deal_name=source.deal_name,
            prefill=renewal_values(record),
            delivery_lead=lead if isinstance(lead, str) and lead else None,
            confirmed_by=tuple((r.team, r.confirmed_by) for r in source.receipts if r.confirmed_by),
        )


def read_record(repo: Repository, source: Handoff) -> RecordRows:
    """Everything the term's record holds, read in the caller's unit of work."""
    delivery = renewals_repo.delivery_for(repo.session, source)
    return RecordRows(
        source=source,
        agreed=dict(source.form_payload or {}),
        amendments=amendments(repo, source.id),
        delivery=dict(delivery.form_payload or {}) if delivery is not None else None,
        messages=tuple(
            _Message(m.slack_ts, m.user_id, m.text, m.is_question, m.answered_by_ts)
            for m in source.messages
        ),
    )
