"""The renewal form's opening values, written from the account's record (pure: no I/O).

The record is what the app already holds: the term's sales handoff as submitted (what was
agreed at the start), the amendments since, the delivery -> finance handoff (what was delivered)
and the questions and answers of the handoff thread. Stored payloads are read defensively, by
key, so a handoff backfilled from history or saved under an older schema still prefills what it
has. Every value is plain text cut to Slack's input limit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from forms.base import FormValues
from forms.display import fmt_date
from forms.errors import clip
from forms.fields import MULTILINE_MAX
from forms.ids import RenewalToSalesField as F
from forms.money import format_money, is_currency_code

SCHEDULES = {
    "one_off": "one invoice",
    "monthly": "monthly",
    "quarterly": "quarterly",
    "milestones": "by milestone",
}
# How the delivery -> finance form may mark each agreed deliverable (read whatever it stored).
OUTCOME_WORDS = {
    "delivered": "delivered",
    "done": "delivered",
    "yes": "delivered",
    "complete": "delivered",
    "partly": "partly delivered",
    "partial": "partly delivered",
    "partially": "partly delivered",
    "partly_delivered": "partly delivered",
    "not": "not delivered",
    "no": "not delivered",
    "not_delivered": "not delivered",
}


@dataclass(frozen=True)
class QuestionAndAnswer:
    """A question a receiving team asked in the handoff thread, and the answer it got."""

    asked_by: str
    question: str
    answered_by: str | None = None
    answer: str | None = None


@dataclass(frozen=True)
class Outcome:
    """One agreed deliverable as delivery recorded it."""

    deliverable: str
    status: str | None = None  # "delivered", "partly delivered", "not delivered"
    note: str | None = None


@dataclass(frozen=True)
class AccountRecord:
    """What the app knows of the account's term, gathered by `bot.services.account_record`."""

    agreed: Mapping[str, Any]  # the term's sales -> delivery payload, as stored
    amendments: tuple[str, ...] = ()  # one readable line per amendment, oldest first
    delivery: Mapping[str, Any] | None = None  # the delivery -> finance payload, if any
    questions: tuple[QuestionAndAnswer, ...] = ()


def term_end(agreed: Mapping[str, Any]) -> date | None:
    """The agreed term end of a stored sales payload, None when it holds none."""
    return _date(agreed.get("term_end"))


def renewal_values(record: AccountRecord) -> FormValues:
    """The renewal form's values from the record; keys with nothing to say are left out."""
    agreed = record.agreed
    values: FormValues = {}
    if isinstance(agreed.get("account_name"), str):
        values[F.ACCOUNT_NAME] = agreed["account_name"]
    end = term_end(agreed)
    if end is not None:
        values[F.RENEWAL_DATE] = end.isoformat()
    currency = agreed.get("currency")
    value = _decimal(agreed.get("contract_value"))
    if isinstance(currency, str) and is_currency_code(currency):
        values[F.CURRENCY] = currency
    if value is not None:
        # Renewing as agreed is where the recommendation starts; ops changes it.
        values[F.CURRENT_VALUE] = values[F.RECOMMENDED_VALUE] = format(value, "f")
    texts = {
        F.AGREED_SCOPE: agreed_scope(agreed),
        F.AGREED_TERMS: agreed_terms(agreed),
        F.PROMISES_MADE: _str(agreed.get("promises_made")),
        F.SUCCESS_CRITERIA: _str(agreed.get("success_criteria")),
        F.AMENDMENTS: "\n".join(f"• {line}" for line in record.amendments),
        F.DELIVERY_OUTCOMES: delivery_outcomes(agreed, record.delivery),
        F.THREAD_QA: questions_and_answers(record.questions),
    }
    values.update({name: clip(text, MULTILINE_MAX) for name, text in texts.items() if text})
    return values


def agreed_scope(agreed: Mapping[str, Any]) -> str:
    """Deliverables, what is out of scope, and how each milestone is accepted."""
    lines = []
    deliverables = _items(agreed.get("deliverables"))
    if deliverables:
        lines.append("Deliverables:")
        lines.extend(f"• {item}" for item in deliverables)
    for label, key in (
        ("Out of scope", "out_of_scope"),
        ("Acceptance criteria", "acceptance_criteria"),
    ):
        text = _str(agreed.get(key))
        if text:
            lines.append(f"{label}: {text}")
    go_live = _date(agreed.get("go_live_date"))
    if go_live is not None:
        promised = " (promised to the client)" if agreed.get("go_live_promised") is True else ""
        lines.append(f"Go-live: {fmt_date(go_live)}{promised}")
    return "\n".join(lines)


def agreed_terms(agreed: Mapping[str, Any]) -> str:
    """The term, the value and how it is billed, and anything non-standard."""
    lines = []
    start, end = _date(agreed.get("term_start")), _date(agreed.get("term_end"))
    if start or end:
        lines.append(f"Term: {fmt_date(start)} to {fmt_date(end)}")
    currency, value = agreed.get("currency"), _decimal(agreed.get("contract_value"))
    if isinstance(currency, str) and is_currency_code(currency) and value is not None:
        billing = [SCHEDULES.get(str(agreed.get("schedule")), "")]
        days = agreed.get("payment_terms_days")
        if isinstance(days, int):
            billing.append(f"payment in {days} days")
        how = ", ".join(part for part in billing if part)
        lines.append(f"Value: {format_money(value, currency)}" + (f" ({how})" if how else ""))
    for label, key in (
        ("Non-standard terms", "non_standard_terms"),
        ("Discounts", "discounts"),
        ("Contract", "contract_url"),
    ):
        text = _str(agreed.get(key))
        if text:
            lines.append(f"{label}: {text}")
    return "\n".join(lines)


def delivery_outcomes(agreed: Mapping[str, Any], delivery: Mapping[str, Any] | None) -> str:
    """Each agreed deliverable with what delivery recorded for it, then delivery's own words."""
    if not delivery:
        return ""
    marked = {o.deliverable.casefold(): o for o in outcomes(delivery)}
    lines = []
    for item in _items(agreed.get("deliverables")):
        outcome = marked.pop(item.casefold(), None) or Outcome(item)
        lines.append(_outcome_line(Outcome(item, outcome.status, outcome.note)))  # agreed name
    lines.extend(_outcome_line(o) for o in marked.values())  # delivered beyond the agreed list
    for label, key in (
        ("Delivered", "what_was_delivered"),
        ("Still open", "outstanding_items"),
    ):
        text = _str(delivery.get(key))
        if text:
            lines.append(f"{label}: {text}")
    lines.extend(_billed_beyond_scope(delivery))
    accepted = _date(delivery.get("acceptance_date"))
    if accepted is not None:
        lines.append(f"Accepted by the client on {fmt_date(accepted)}")
    return "\n".join(lines)


def _billed_beyond_scope(delivery: Mapping[str, Any]) -> list[str]:
    """Variations and extras delivery billed on top of the contract: where the scope grew, which
    is what a renewal is priced on."""
    currency = _str(delivery.get("currency"))
    lines = []
    for label, key in (("Variation billed", "variations"), ("Extra billed", "billable_extras")):
        billed = delivery.get(key)
        for line in billed if isinstance(billed, list) else []:
            if not isinstance(line, Mapping) or not _str(line.get("description")):
                continue
            amount = _decimal(line.get("amount"))
            money = (
                f" ({format_money(amount, currency)})"
                if amount is not None and is_currency_code(currency)
                else ""
            )
            lines.append(f"{label}: {_str(line.get('description'))}{money}")
    return lines


def outcomes(delivery: Mapping[str, Any]) -> list[Outcome]:
    """The deliverables a delivery -> finance payload marks, in whichever shape it stored them:
    a list of names or of {name, status, note} objects, or a {name: status} mapping."""
    found: list[Outcome] = []
    for key, value in delivery.items():
        if "deliverable" not in str(key):
            continue
        if isinstance(value, Mapping):
            found += [_outcome(name, status) for name, status in value.items()]
        elif isinstance(value, list):
            found += [_outcome(item, None) for item in value]
    return [o for o in found if o.deliverable]


def questions_and_answers(questions: Sequence[QuestionAndAnswer]) -> str:
    """'Q (Dana Smith): … / A (Sam Seller): …' per question, oldest first."""
    blocks = []
    for qa in questions:
        lines = [f"Q ({qa.asked_by}): {qa.question}"]
        if qa.answer:
            lines.append(f"A ({qa.answered_by or 'answer'}): {qa.answer}")
        else:
            lines.append("A: not answered in the thread")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _outcome(item: object, status: object) -> Outcome:
    if isinstance(item, Mapping):
        name = _first(item, ("name", "deliverable", "title", "description", "item"))
        status = _first(item, ("status", "outcome", "state", "delivered"))
        note = _first(item, ("note", "notes", "comment", "detail"))
        return Outcome(name, _status(status), note or None)
    return Outcome(_str(item), _status(status))


def _outcome_line(outcome: Outcome) -> str:
    status = outcome.status or "not marked"
    note = f" — {outcome.note}" if outcome.note else ""
    return f"• {outcome.deliverable}: {status}{note}"


def _status(raw: object) -> str | None:
    if isinstance(raw, bool):
        return "delivered" if raw else "not delivered"
    text = _str(raw).casefold().replace(" ", "_").replace("-", "_")
    return OUTCOME_WORDS.get(text, text.replace("_", " ") or None)


def _first(item: Mapping[str, Any], keys: Iterable[str]) -> str:
    for key in keys:
        value = item.get(key)
        if isinstance(value, bool):
            return "delivered" if value else "not delivered"
        if value not in (None, ""):
            return _str(value)
    return ""


def _items(value: object) -> list[str]:
    if isinstance(value, str):
        return [line.strip(" -•*\t") for line in value.splitlines() if line.strip(" -•*\t")]
    if isinstance(value, list):
        return [_str(item) for item in value if _str(item)]
    return []


def _str(value: object) -> str:
    return value.strip() if isinstance(value, str) else "" if value is None else str(value)


def _date(value: object) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def _decimal(value: object) -> Decimal | None:
    try:
        amount = Decimal(str(value)) if value not in (None, "") else None
    except InvalidOperation:
        return None
    return amount if amount is not None and amount.is_finite() and amount > 0 else None
