"""The handoff form: opening it from the database, live updates, drafts and submission.

Every listener here answers Slack from the database. Opening the form is one `views.open` of
the finished form, built from the draft or the CRM snapshot stored when the handoff was created;
only a handoff with no snapshot yet shows a loading view, filled from the CRM off Slack's clock.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import timedelta
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.ids import Action
from bot.listeners.history import form_with_history, insert_context, readonly_view, with_context
from bot.listeners.offload import offload
from bot.services.delivery_prefill import origin_of
from bot.services.handoffs import HandoffError
from bot.services.prefill import Opening, fetched_opening, stored_opening
from bot.wiring import Services
from forms.base import error_view, loading_view, values_from_state
from forms.ids import ActionId
from forms.registry import get_form
from forms.steps import back_step, draft_with_state, submit_step
from storage.models import Handoff, HandoffStatus

log = logging.getLogger(__name__)

FORM_CALLBACKS = re.compile(r"^handoff_form\.")
SNAPSHOT_MAX_AGE = timedelta(hours=1)  # older: refreshed in the background for next time


def metadata(handoff_id: int) -> str:
    return json.dumps({"handoff_id": handoff_id})


def handoff_id_from(view: dict[str, Any]) -> int:
    return int(json.loads(view.get("private_metadata") or "{}")["handoff_id"])


def open_form(
    services: Services, client: WebClient, trigger_id: str, handoff_id: int, user_id: str
) -> None:
    """Open the form (or the read-only handoff) in one `views.open`, from the database."""
    view = stored_view(services, handoff_id, user_id)
    if view is not None:
        client.views_open(trigger_id=trigger_id, view=view)
        return
    opened = client.views_open(trigger_id=trigger_id, view=loading_view("Handoff").to_dict())
    view_id = str(opened["view"]["id"])
    offload(services.background, "form_fill", fill_from_crm, services, client, view_id, handoff_id)


def fill_form(
    services: Services, client: WebClient, view_id: str, handoff_id: int, user_id: str
) -> None:
    """Replace an open (loading) view with the form; asks the CRM only if nothing is stored."""
    view = stored_view(services, handoff_id, user_id)
    if view is not None:
        client.views_update(view_id=view_id, view=view)
        return
    fill_from_crm(services, client, view_id, handoff_id)


def stored_view(services: Services, handoff_id: int, user_id: str) -> dict[str, Any] | None:
    """The view to show, built from the database alone; None when the CRM must be asked."""
    try:
        handoff = services.handoffs.get(handoff_id)
    except HandoffError as exc:
        return error_view("Handoff", str(exc)).to_dict()
    refusal = _refusal(services, handoff, user_id)
    if refusal:
        return error_view("Handoff", refusal).to_dict()
    if handoff.status != HandoffStatus.AWAITING_FORM:
        return readonly_view(services, handoff)
    opening = stored_opening(
        handoff, services.crm, services.clock().date(), origin_of(services.uow, handoff)
    )
    if opening is None:
        return None
    _refresh_if_stale(services, handoff)
    return _form_view(services, handoff, opening)


def fill_from_crm(services: Services, client: WebClient, view_id: str, handoff_id: int) -> None:
    """Ask the CRM for what the form needs, store it, and show the form (off Slack's clock)."""
    handoff = services.handoffs.get(handoff_id)
    assert services.crm is not None  # stored_opening answers without a CRM
    opening = fetched_opening(handoff, services.crm, services.clock().date())
    if opening.deal is not None:
        services.handoffs.set_deal_facts(
            handoff.id,
            account_name=opening.deal.company_name or opening.deal.name,
            deal_name=opening.deal.name,
            snapshot=opening.deal.model_dump(mode="json"),
        )
    client.views_update(view_id=view_id, view=_form_view(services, handoff, opening))


def _form_view(services: Services, handoff: Handoff, opening: Opening) -> dict[str, Any]:
    """The form with any drafts from the deal history and its "What the CRM already says"
    list; all read from the database."""
    values, note, context = form_with_history(services, handoff, opening.values, opening.note)
    view = get_form(handoff.kind).build_modal(
        values, private_metadata=metadata(handoff.id), errors_summary=note
    )
    log.info("form_opened handoff=%s prefilled=%s", handoff.id, opening.deal is not None)
    return insert_context(view.to_dict(), context)


def _draft_base(services: Services, handoff: Handoff) -> dict[str, Any]:
    """What the form's steps build on: the draft, else what it opened with (the stored prefill
    and any drafts from the deal history), so later steps keep them."""
    if handoff.draft_payload:
        return dict(handoff.draft_payload)
    opening = stored_opening(
        handoff, services.crm, services.clock().date(), origin_of(services.uow, handoff)
    )
    values = dict(opening.values) if opening is not None else {}
    return dict(form_with_history(services, handoff, values, None)[0])


def _refresh_if_stale(services: Services, handoff: Handoff) -> None:
    taken = handoff.crm_snapshot_at
    if handoff.draft_payload or taken is None or services.clock() - taken < SNAPSHOT_MAX_AGE:
        return
    services.handoffs.refresh_snapshot(handoff.id)


def _refusal(services: Services, handoff: Handoff, user_id: str) -> str | None:
    if handoff.status != HandoffStatus.AWAITING_FORM:
        return None  # anyone may read a submitted handoff
    return services.handoffs.may_edit(handoff, user_id)


def _modal(services: Services, view: dict[str, Any], note: str | None = None) -> dict[str, Any]:
    """The form re-rendered from what the person has typed so far."""
    handoff = services.handoffs.get(handoff_id_from(view))
    values = values_from_state(view["state"]["values"])
    modal = get_form(handoff.kind).build_modal(
        values, private_metadata=view["private_metadata"], errors_summary=note
    )
    return with_context(services, handoff.id, modal.to_dict())  # keeps the CRM history list


def register(app: App, services: Services) -> None:
    def update_view(view: dict[str, Any], note: str | None = None) -> None:
        def run() -> None:
            services.client.views_update(
                view_id=view["id"], hash=view.get("hash"), view=_modal(services, view, note)
            )

        offload(services.interactions, "form_update", run)

    @app.action(Action.OPEN_FORM)
    def on_open_form(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        args = (services, client, body["trigger_id"], int(body["actions"][0]["value"]))
        offload(services.interactions, "form_open", open_form, *args, body["user"]["id"])

    @app.action(ActionId.SCHEDULE_CHANGED)
    def on_schedule_changed(ack: Ack, body: dict[str, Any]) -> None:
        """Re-render so the fields that apply to the chosen schedule appear (e.g. milestones)."""
        ack()
        update_view(body["view"])

    def save_state(view: dict[str, Any], user_id: str) -> str | None:
        """The step on screen laid over the draft (or the prefill), stored as the draft;
        returns the refusal when the person may no longer edit this handoff."""
        state = values_from_state(view["state"]["values"])
        if not state:
            return None
        handoff = services.handoffs.get(handoff_id_from(view))
        base = _draft_base(services, handoff)
        values = draft_with_state(get_form(handoff.kind), base, state)
        try:
            services.handoffs.save_draft(handoff.id, user_id, values)
        except HandoffError as exc:
            log.info("draft_refused handoff=%s user=%s", handoff.id, user_id)
            return str(exc)
        return None

    @app.action(ActionId.SAVE_DRAFT)
    def on_save_draft(ack: Ack, body: dict[str, Any]) -> None:
        view = body["view"]
        refusal = save_state(view, body["user"]["id"])
        ack()  # the draft is stored before Slack hears back
        update_view(view, refusal or "Draft saved. You can close this form and pick it up later.")

    @app.action(ActionId.STEP_BACK)
    def on_step_back(ack: Ack, body: dict[str, Any]) -> None:
        """Show the step before, keeping every answer typed so far (the draft is stored first)."""
        view, user_id = body["view"], body["user"]["id"]
        handoff = services.handoffs.get(handoff_id_from(view))
        state = values_from_state(view["state"]["values"])
        base = _draft_base(services, handoff)
        step = back_step(
            get_form(handoff.kind), base, state, private_metadata=view["private_metadata"]
        )
        try:
            services.handoffs.save_draft(handoff.id, user_id, step.values)
        except HandoffError as exc:
            log.info("draft_refused handoff=%s user=%s", handoff.id, user_id)
            ack()
            update_view(view, str(exc))
            return
        ack()  # the draft is stored before Slack hears back
        assert step.view is not None
        previous = step.view.to_dict()

        def run() -> None:
            services.client.views_update(
                view_id=view["id"],
                hash=view.get("hash"),
                view=with_context(services, handoff.id, previous),
            )

        offload(services.interactions, "form_back", run)
        log.info("form_step_back handoff=%s", handoff.id)

    @app.view_closed(FORM_CALLBACKS)
    def on_closed(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        save_state(view, body["user"]["id"])
        ack()  # after the write: a failed write gets Slack's retry, not a lost draft

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
        refusal = services.handoffs.may_edit(handoff, user_id)  # submit() checks it again
        if refusal is not None:
            log.info("submit_refused handoff=%s user=%s", handoff_id, user_id)
            ack(response_action="update", view=error_view("Handoff", refusal).to_dict())
            return
        # Steps: the draft (or the prefill the form opened with) holds the earlier steps.
        step = submit_step(
            spec,
            _draft_base(services, handoff),
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
                ack(
                    response_action="update",
                    view=with_context(services, handoff.id, step.view.to_dict()),
                )
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
