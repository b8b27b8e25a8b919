"""The View handoff with the deal's CRM history, and its Older/Newer paging buttons."""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.listeners.offload import offload
from bot.render.history import (
    HISTORY_NEWER,
    HISTORY_OLDER,
    context_blocks,
    field_label,
    history_blocks,
)
from bot.render.timeline import timeline_blocks
from bot.services.history import load_drafts, load_history
from bot.wiring import Services
from forms.base import FormValues
from forms.registry import get_form
from storage.models import Handoff, HandoffKind

log = logging.getLogger(__name__)

MAX_VIEW_BLOCKS = 100
TIMELINE_BLOCKS = 3


def readonly_view(services: Services, handoff: Handoff, *, history_page: int = 0) -> dict[str, Any]:
    """The submitted form read-only, then the deal history (one page), then the timeline."""
    spec = get_form(handoff.kind)
    model = spec.load(handoff.form_payload or {}, handoff.schema_version)
    metadata = json.dumps({"handoff_id": handoff.id})
    view = spec.readonly_view(model, private_metadata=metadata).to_dict()
    entries = load_history(services.uow, handoff.id)
    drafts = load_drafts(services.uow, handoff.id, configured=True)
    payload = handoff.form_payload or {}
    drafted = [
        (name, " ".join(str(payload[name]).split()) != " ".join(text.split()))
        for name, text in drafts.fields.items()
        if payload.get(name)
    ]
    extra = history_blocks(entries, handoff_id=handoff.id, page=history_page, drafted=drafted)
    if len(view["blocks"]) + len(extra) + TIMELINE_BLOCKS <= MAX_VIEW_BLOCKS:
        view["blocks"] += extra
    with services.uow() as uow:
        events = uow.repo.timeline(handoff.id)
    if MAX_VIEW_BLOCKS - len(view["blocks"]) >= TIMELINE_BLOCKS:
        view["blocks"] += timeline_blocks(events)
    return view


def form_with_history(
    services: Services, handoff: Handoff, values: FormValues, note: str | None
) -> tuple[FormValues, str | None, list[dict[str, Any]]]:
    """The opening values with drafts in the still-empty essay fields, the note, and the
    "What the CRM already says" blocks. Reads only what the outbox jobs stored."""
    entries = load_history(services.uow, handoff.id)
    if handoff.kind != HandoffKind.SALES_TO_DELIVERY or handoff.draft_payload:
        return values, note, context_blocks(entries)
    drafts = load_drafts(services.uow, handoff.id, configured=services.org.drafting is not None)
    filled = {name: text for name, text in drafts.fields.items() if not values.get(name)}
    notes = [n for n in (note, drafts.note) if n]
    if filled:
        names = ", ".join(field_label(n) for n in filled)
        notes.append(
            f":memo: Drafted from the CRM history: {names}. Each sentence ends with the number "
            "of the entry it came from (listed below). Check, edit or clear them before "
            "submitting."
        )
    return {**values, **filled}, "\n".join(notes) or None, context_blocks(entries)


def with_context(services: Services, handoff_id: int, view: dict[str, Any]) -> dict[str, Any]:
    """A re-rendered form (schedule changed, draft saved) keeping its CRM history list."""
    return insert_context(view, context_blocks(load_history(services.uow, handoff_id)))


def insert_context(view: dict[str, Any], blocks: list[dict[str, Any]]) -> dict[str, Any]:
    """The form with `blocks` after its intro and note, before the first section."""
    at = next((i for i, b in enumerate(view["blocks"]) if b.get("type") == "divider"), 0)
    view["blocks"][at:at] = blocks
    return view


def register(app: App, services: Services) -> None:
    @app.action(HISTORY_OLDER)
    @app.action(HISTORY_NEWER)
    def on_history_page(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        """Show another page of the history in the same view (database reads only)."""
        ack()
        raw_id, raw_page = str(body["actions"][0]["value"]).split(":", 1)
        handoff = services.handoffs.get(int(raw_id))
        if not handoff.form_payload:
            return
        view = readonly_view(services, handoff, history_page=int(raw_page))
        view_id = body["view"]["id"]
        offload(
            services.interactions,
            "history_page",
            lambda: client.views_update(view_id=view_id, view=view),
        )
        log.info("history_page handoff=%s page=%s", handoff.id, raw_page)
