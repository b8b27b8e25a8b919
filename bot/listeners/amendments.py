"""Amending a submitted handoff: the Amend button, the reopened form, its drafts and submission.

The form is the handoff's own, reopened with the submitted answers under its own callback id
(forms.reopen.AmendingForm), and goes through its steps as the first submission did. Like the
form's listeners, these answer Slack from the database: the draft or the new version is stored
before Slack hears back; views.open and replies go out on the interactions pool.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.models.blocks import MarkdownTextObject, PlainTextObject, SectionBlock
from slack_sdk.models.views import View

from bot.ids import Action
from bot.listeners.history import with_context
from bot.listeners.offload import offload
from bot.render.mrkdwn import escape
from bot.services.amendments import AmendOpening, AmendOutcome
from bot.services.handoffs import HandoffError
from bot.wiring import Services
from forms.base import error_view, values_from_state
from forms.ids import ActionId, CallbackId
from forms.reopen import AmendingForm, amending_form
from forms.steps import draft_with_state, submit_step

log = logging.getLogger(__name__)

TITLE = "Amend handoff"


def metadata(handoff_id: int, base_version: int) -> str:
    return json.dumps({"handoff_id": handoff_id, "base": base_version})


def _meta(view: dict[str, Any]) -> tuple[int, int]:
    data = json.loads(view.get("private_metadata") or "{}")
    return int(data["handoff_id"]), int(data["base"])


def _form(opening: AmendOpening) -> AmendingForm:
    return amending_form(opening.kind, opening.submitted)


def amendment_view(services: Services, handoff_id: int, user_id: str) -> dict[str, Any]:
    """The handoff's form with the submitted answers (or this person's draft), from the database."""
    try:
        opening = services.amendments.opening(handoff_id, user_id)
    except HandoffError as exc:
        return error_view(TITLE, str(exc)).to_dict()
    if opening.restored:
        note = "Your draft of this amendment was restored."
    else:
        note = (
            f"You are amending version {opening.base_version}: change what has changed. When you "
            "submit, the thread lists every difference and only the teams whose answers changed "
            "confirm again."
        )
    view = _form(opening).build_modal(
        opening.values,
        private_metadata=metadata(handoff_id, opening.base_version),
        errors_summary=note,
    )
    log.info("amendment_opened handoff=%s base=%s", handoff_id, opening.base_version)
    return with_context(services, handoff_id, view.to_dict())


def _done_view(services: Services, outcome: AmendOutcome) -> dict[str, Any]:
    if outcome.teams:
        names = ", ".join(escape(services.teams.team_name(t)) for t in outcome.teams)
        who = f"{names} will confirm again; the other confirmations stand."
    else:
        who = "No team needs to confirm again."
    text = (
        f":white_check_mark: Amendment submitted: the handoff is now *version {outcome.version}*. "
        f"Its thread lists what changed. {who}"
    )
    return View(
        type="modal",
        callback_id=CallbackId.ERROR,
        title=PlainTextObject(text="Handoff amended"),
        close=PlainTextObject(text="Close"),
        blocks=[SectionBlock(text=MarkdownTextObject(text=text))],
    ).to_dict()


def register(app: App, services: Services) -> None:
    def in_amendment(body: dict[str, Any]) -> bool:
        return (body.get("view") or {}).get("callback_id") == CallbackId.AMEND

    def tell(client: WebClient, body: dict[str, Any], text: str) -> None:
        channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
            "channel_id"
        )
        if channel:
            offload(
                services.interactions,
                "ephemeral",
                lambda: client.chat_postEphemeral(
                    channel=channel, user=body["user"]["id"], text=text
                ),
            )

    def rerender(view: dict[str, Any], note: str | None = None) -> None:
        """Draw the step again from what is typed (a field appeared, a draft was saved)."""
        handoff_id, _ = _meta(view)
        user_values = values_from_state(view["state"]["values"])
        form = amending_form(services.handoffs.get(handoff_id).kind, {})
        modal = form.build_modal(
            user_values, private_metadata=view["private_metadata"], errors_summary=note
        )
        rendered = with_context(services, handoff_id, modal.to_dict())

        def run() -> None:
            services.client.views_update(view_id=view["id"], hash=view.get("hash"), view=rendered)

        offload(services.interactions, "amend_update", run)

    def save_state(view: dict[str, Any], user_id: str) -> str | None:
        """The step on screen laid over the draft, kept; the refusal if there is one."""
        state = values_from_state(view["state"]["values"])
        if not state:
            return None
        handoff_id, base = _meta(view)
        try:
            opening = services.amendments.opening(handoff_id, user_id)
            values = draft_with_state(_form(opening), opening.values, state)
            services.amendments.save_draft(handoff_id, user_id, base, values)
        except HandoffError as exc:
            log.info("amendment_draft_refused handoff=%s user=%s", handoff_id, user_id)
            return str(exc)
        return None

    @app.action(Action.AMEND)
    def on_amend(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        user_id = body["user"]["id"]
        handoff_id = int(body["actions"][0]["value"])
        refusal = services.amendments.may_amend(handoff_id, user_id)
        ack()
        if refusal is not None:
            log.info("amend_refused handoff=%s user=%s", handoff_id, user_id)
            tell(client, body, refusal)
            return
        trigger = body["trigger_id"]

        def run() -> None:
            client.views_open(
                trigger_id=trigger, view=amendment_view(services, handoff_id, user_id)
            )

        offload(services.interactions, "amend_open", run)

    @app.action(ActionId.SAVE_DRAFT, matchers=[in_amendment])
    def on_save_draft(ack: Ack, body: dict[str, Any]) -> None:
        view = body["view"]
        refusal = save_state(view, body["user"]["id"])
        ack()  # the draft is stored before Slack hears back
        rerender(view, refusal or "Draft saved. You can close this form and pick it up later.")

    @app.action(ActionId.SCHEDULE_CHANGED, matchers=[in_amendment])
    def on_schedule_changed(ack: Ack, body: dict[str, Any]) -> None:
        ack()
        rerender(body["view"])

    @app.view_closed(CallbackId.AMEND)
    def on_closed(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        save_state(view, body["user"]["id"])
        ack()  # after the write: a failed write gets Slack's retry, not a lost draft

    @app.view_submission(CallbackId.AMEND)
    def on_submit(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        """A step of the amendment; on the last one, the new version (database writes only)."""
        user_id = body["user"]["id"]
        handoff_id, base = _meta(view)
        try:
            opening = services.amendments.opening(handoff_id, user_id)
        except HandoffError as exc:
            ack(response_action="update", view=error_view(TITLE, str(exc)).to_dict())
            return
        form = _form(opening)
        step = submit_step(
            form,
            opening.values,
            values_from_state(view["state"]["values"]),
            private_metadata=view["private_metadata"],
            today=services.clock().date(),
            on_screen={str(b.get("block_id")) for b in view.get("blocks", [])},
        )
        if step.model is None:
            services.amendments.save_draft(handoff_id, user_id, base, step.values)
            if step.errors is not None:
                fields = ",".join(step.errors)
                log.info("amendment_invalid handoff=%s fields=%s", handoff_id, fields)
                ack(response_action="errors", errors=step.errors)
            else:
                assert step.view is not None
                ack(
                    response_action="update",
                    view=with_context(services, handoff_id, step.view.to_dict()),
                )
            return
        try:
            outcome = services.amendments.amend(
                handoff_id,
                user_id,
                step.model.model_dump(mode="json"),
                schema_version=form.spec.schema_version,
                account_name=str(getattr(step.model, "account_name", "") or ""),
                base_version=base,
            )
        except HandoffError as exc:
            ack(response_action="update", view=error_view(TITLE, str(exc)).to_dict())
            return
        ack(response_action="update", view=_done_view(services, outcome))
