"""Turns a stored handoff into what vendors receive: its brief, and its thread messages as comments.

Vendors get plain text: Slack's markup (`<@U…>` mentions, `<url|label>` links, `&lt;` escapes)
means nothing in Asana, Jira or Xero, so it is spelled out, with people by name.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from typing import Any, Literal

from pydantic import BaseModel

from bot.services.delivery_invoice import delivery_invoice
from forms import sales_to_delivery
from forms.delivery_to_finance import DeliveryToFinanceForm
from forms.registry import get_form
from integrations.ports import (
    BillingTerms,
    BriefItem,
    BriefSection,
    Contact,
    HandoffBrief,
    HistoryEntry,
    ThreadComment,
)
from storage.models import Handoff, HandoffKind, ThreadMessage

NameLookup = Callable[[str], str | None]  # Slack user id -> the person's name, if known

_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_MARKUP = re.compile(r"<([^<>]*)>")


def marker_for(handoff_id: int) -> str:
    """The text we put on every vendor record of a handoff, to find it again after a crash."""
    return f"handoff-{handoff_id}"


def form_model(handoff: Handoff) -> BaseModel:
    """The submitted form, re-validated from its stored payload."""
    spec = get_form(handoff.kind)
    model: BaseModel = spec.load(handoff.form_payload or {}, handoff.schema_version)
    return model


def form_sections(handoff: Handoff) -> list[tuple[str, list[tuple[str, str]]]]:
    if not handoff.form_payload:
        return []
    spec = get_form(handoff.kind)
    return [(title, list(items)) for title, items in spec.sections(form_model(handoff))]


def build_brief(
    handoff: Handoff,
    *,
    slack_thread_url: str | None,
    crm_deal_url: str | None,
    names: NameLookup,
    history: Sequence[HistoryEntry] = (),
    remainder: Literal["first", "last"] = "last",
) -> HandoffBrief:
    """Every captured field, as readable sections plus the structured parts tools act on.

    `remainder` is the organisation's `billing.remainder`: which instalment carries the minor
    units an even split of the contract value leaves over.
    """
    spec = get_form(handoff.kind)
    model = form_model(handoff)
    sections = tuple(
        BriefSection(
            title=title,
            items=tuple(
                BriefItem(label=label, value=with_names(value, names)) for label, value in items
            ),
        )
        for title, items in spec.sections(model)
    )
    structured: dict[str, Any] = {}
    if handoff.kind == HandoffKind.SALES_TO_DELIVERY:
        assert isinstance(model, sales_to_delivery.SalesToDeliveryForm)
        structured = {
            "contacts": tuple(Contact(**c) for c in sales_to_delivery.contacts(model)),
            "deliverables": tuple(sales_to_delivery.deliverables(model)),
            "kickoff_date": sales_to_delivery.kickoff_date(model),
            "billing": BillingTerms.model_validate(
                {**sales_to_delivery.billing(model), "remainder": remainder}
            ),
        }
    elif handoff.kind == HandoffKind.DELIVERY_TO_FINANCE:
        assert isinstance(model, DeliveryToFinanceForm)
        structured = {"delivery_invoice": delivery_invoice(model)}
    account = handoff.account_name or handoff.deal_name or f"Handoff {handoff.id}"
    return HandoffBrief(
        handoff_id=handoff.id,
        kind=handoff.kind,
        marker=marker_for(handoff.id),
        title=f"{account} — {spec.title}",
        account_name=account,
        summary=f"{spec.title} for {account}, submitted in Slack (handoff #{handoff.id}).",
        sections=sections,
        slack_thread_url=slack_thread_url,
        crm_deal_url=crm_deal_url,
        history=tuple(history),
        **structured,
    )


def thread_comment(message: ThreadMessage, names: NameLookup) -> ThreadComment:
    """A thread message as a vendor comment: its author by name, its time, its text as plain."""
    return ThreadComment(
        marker=f"slack-{message.slack_ts}",
        author=names(message.user_id) or f"Slack user {message.user_id}",
        posted_at=message.posted_at,
        text=slack_to_plain(message.text, names),
    )


def with_names(text: str, names: NameLookup) -> str:
    """`text` with each Slack user mention replaced by the person's name (form values)."""
    return _MENTION.sub(lambda m: names(m.group(1)) or f"@{m.group(1)}", text)


def slack_to_plain(text: str, names: NameLookup) -> str:
    """Slack message markup as plain text: people by name, links spelled out, entities decoded."""
    return html.unescape(_MARKUP.sub(lambda m: _plain_markup(m.group(1), names), text))


def _plain_markup(inner: str, names: NameLookup) -> str:
    target, _, label = inner.partition("|")
    if target.startswith("@"):
        return names(target[1:]) or label or target
    if target.startswith("#"):
        return f"#{label}" if label else target
    if target.startswith("!"):  # <!here>, <!subteam^S1|@ops>, <!date^…|fallback>
        return label or "@" + target[1:].split("^")[0]
    address = target.removeprefix("mailto:")
    return f"{label} ({address})" if label and label != address else address
