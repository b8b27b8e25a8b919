"""The handoff form: opening it (loading view first), live updates, drafts and submission."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.ids import Action
from bot.render.timeline import timeline_blocks
from bot.services.handoffs import HandoffError
from bot.services.prefill import opening_values
from bot.wiring import Services
from forms.base import error_view, loading_view, values_from_state
from forms.ids import ActionId
from forms.registry import get_form
from forms.steps import draft_with_state, submit_step
from storage.models import Handoff, HandoffStatus

log = logging.getLogger(__name__)

FORM_CALLBACKS = re.compile(r"^handoff_form\.")
MAX_VIEW_BLOCKS = 100
TIMELINE_BLOCKS = 3


def metadata(handoff_id: int) -> str:
    return json.dumps({"handoff_id": handoff_id})


def handoff_id_from(view: dict[str, Any]) -> int:
    return int(json.loads(view.get("private_metadata") or "{}")["handoff_id"])


def open_form(
    services: Services, client: WebClient, trigger_id: str, handoff_id: int, user_id: str
) -> None:
    """Open the loading view inside Slack's 3 s, then fill it with the draft or CRM prefill."""
    opened = client.views_open(trigger_id=trigger_id, view=loading_view("Handoff").to_dict())
    fill_form(services, client, str(opened["view"]["id"]), handoff_id, user_id)


def fill_form(
    services: Services, client: WebClient, view_id: str, handoff_id: int, user_id: str
) -> None:
    """Replace an open view (loading) with the form, or with the reason it cannot be shown."""
    try:
        handoff = services.handoffs.get(handoff_id)
    except HandoffError as exc:
        client.views_update(view_id=view_id, view=error_view("Handoff", str(exc)).to_dict())
        return
    refusal = _refusal(services, handoff, user_id)
    if refusal:
        client.views_update(view_id=view_id, view=error_view("Handoff", refusal).to_dict())
        return
    spec = get_form(handoff.kind)
    if handoff.status != HandoffStatus.AWAITING_FORM:
        model = spec.load(handoff.form_payload or {}, handoff.schema_version)
        readonly = spec.readonly_view(model, private_metadata=metadata(handoff.id)).to_dict()
        with services.uow() as uow:
            events = uow.repo.timeline(handoff.id)
        if MAX_VIEW_BLOCKS - len(readonly["blocks"]) >= TIMELINE_BLOCKS:
            readonly["blocks"] += timeline_blocks(events)
        client.views_update(view_id=view_id, view=readonly)
        return
    opening = opening_values(handoff, services.crm, services.clock().date())
    if opening.deal is not None:
        services.handoffs.set_deal_facts(
            handoff.id,
            account_name=opening.deal.company_name or opening.deal.name,
            deal_name=opening.deal.name,
        )
    if not handoff.draft_payload:
        # The prefill is the first draft: the form's later steps are built from it.
        services.handoffs.save_draft(handoff.id, user_id, opening.values)
    view = spec.build_modal(
        opening.values, private_metadata=metadata(handoff.id), errors_summary=opening.note
    )
    client.views_update(view_id=view_id, view=view.to_dict())
    log.info("form_opened handoff=%s prefilled=%s", handoff.id, opening.deal is not None)


def _refusal(services: Services, handoff: Handoff, user_id: str) -> str | None:
    if handoff.status != HandoffStatus.AWAITING_FORM:
        return None  # anyone may read a submitted handoff
    sender_team = services.org.routes[handoff.kind].sender
    if services.handoffs.can_edit(handoff, user_id, services.teams.is_member(sender_team, user_id)):
        return None
    owner = f"<@{handoff.sender_user_id}>" if handoff.sender_user_id else "its salesperson"
    return f"This handoff is {owner}'s to complete. Ask them, or an admin, to reassign it."


def register(app: App, services: Services) -> None:
    @app.action(Action.OPEN_FORM)
    def on_open_form(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        handoff_id = int(body["actions"][0]["value"])
        open_form(services, client, body["trigger_id"], handoff_id, body["user"]["id"])

    @app.action(ActionId.SCHEDULE_CHANGED)
    def on_schedule_changed(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        """Re-render so the fields that apply to the chosen schedule appear (e.g. milestones)."""
        ack()
        view = body["view"]
        handoff = services.handoffs.get(handoff_id_from(view))
        values = values_from_state(view["state"]["values"])
        modal = get_form(handoff.kind).build_modal(
            values, private_metadata=view["private_metadata"]
        )
        client.views_update(view_id=view["id"], hash=view.get("hash"), view=modal.to_dict())

    @app.action(ActionId.SAVE_DRAFT)
    def on_save_draft(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        view = body["view"]
        handoff_id = handoff_id_from(view)
        handoff = services.handoffs.get(handoff_id)
        state = values_from_state(view["state"]["values"])
        values = draft_with_state(get_form(handoff.kind), handoff.draft_payload, state)
        services.handoffs.save_draft(handoff_id, body["user"]["id"], values)
        modal = get_form(handoff.kind).build_modal(
            values,
            private_metadata=view["private_metadata"],
            errors_summary="Draft saved. You can close this form and pick it up later.",
        )
        client.views_update(view_id=view["id"], hash=view.get("hash"), view=modal.to_dict())

    @app.view_closed(FORM_CALLBACKS)
    def on_closed(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        ack()
        state = values_from_state(view["state"]["values"])
        if state:
            handoff = services.handoffs.get(handoff_id_from(view))
            values = draft_with_state(get_form(handoff.kind), handoff.draft_payload, state)
            services.handoffs.save_draft(handoff.id, body["user"]["id"], values)

    @app.view_submission(FORM_CALLBACKS)
    def on_submit(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        """Validate; field errors stay in the modal. Storing is DB-only, well inside 3 s."""
        user_id = body["user"]["id"]
        handoff_id = handoff_id_from(view)
        handoff = services.handoffs.get(handoff_id)
        spec = get_form(handoff.kind)
        values = values_from_state(view["state"]["values"])
        if handoff.status != HandoffStatus.AWAITING_FORM:  # a double submit: no step to take
            done_already = "This handoff was already submitted; nothing was changed."
            ack(response_action="update", view=error_view("Handoff", done_already).to_dict())
            return
        # Steps: the draft holds the earlier steps (and the prefill the form opened with).
        step = submit_step(
            spec,
            handoff.draft_payload,
            values,
            private_metadata=view["private_metadata"],
            today=services.clock().date(),
            on_screen={str(b.get("block_id")) for b in view.get("blocks", [])},
        )
        if step.model is None:
            services.handoffs.save_draft(handoff_id, user_id, step.values)  # nothing is lost
            if step.errors is not None:
                log.info("form_invalid handoff=%s fields=%s", handoff_id, ",".join(step.errors))
                ack(response_action="errors", errors=step.errors)
            else:
                assert step.view is not None  # the next step, or the step with an error
                ack(response_action="update", view=step.view.to_dict())
            return
        result = step.model
        try:
            services.handoffs.submit(
                handoff_id,
                user_id,
                result.model_dump(mode="json"),
                schema_version=spec.schema_version,
                account_name=str(getattr(result, "account_name", "") or ""),
            )
        except HandoffError as exc:
            ack(response_action="update", view=error_view("Handoff", str(exc)).to_dict())
            return
        channel = services.org.handoff_channel
        done = error_view(
            "Handoff submitted",
            f":white_check_mark: Thank you — the handoff is posted in <#{channel}>. "
            "Ops and finance will ask their questions in its thread.",
        )
        ack(response_action="update", view=done.to_dict())
