"""What every handoff form offers, and the raw values that flow between Slack, drafts and models."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel
from slack_sdk.models.blocks import ContextBlock, MarkdownTextObject, PlainTextObject, SectionBlock
from slack_sdk.models.views import View

from forms.display import mrkdwn_escape, split_text
from forms.ids import BlockId, CallbackId

FormValues = dict[str, Any]
"""Raw values keyed by field name (block_id), JSON-serialisable: str for text, ISO str for dates,
decimal str for numbers, the option value for selects, a list of option values for checkboxes."""

M = TypeVar("M", bound=BaseModel)

TITLE_MAX = 24
Sections = list[tuple[str, list[tuple[str, str]]]]
"""A submitted form as (section title, [(label, value)]) in reading order."""


class FormSpec(Protocol[M]):
    """One handoff kind: its model, its modal, and how a submission becomes a model."""

    @property
    def kind(self) -> str:
        """Registry key, e.g. 'sales_to_delivery'."""

    @property
    def title(self) -> str:
        """Human name of the handoff kind, for messages and records."""

    @property
    def callback_id(self) -> str:
        """callback_id of the modal, for routing its view_submission and view_closed."""

    @property
    def model(self) -> type[M]:
        """The pydantic model: the single source of validation."""

    @property
    def schema_version(self) -> int:
        """Stored with each payload; bump it when the model changes shape."""

    def build_modal(
        self,
        values: FormValues,
        *,
        private_metadata: str,
        errors_summary: str | None = None,
        step: int | None = None,
    ) -> View:
        """The editable modal with values (prefill or draft) as initial values and a note on top;
        a stepped form shows the values' step unless `step` says which (0: all of them)."""

    def parse(self, values: FormValues, *, today: date | None = None) -> M | dict[str, str]:
        """The validated model, or short messages keyed by block_id (`today`: submission day)."""

    def load(self, payload: Mapping[str, Any], schema_version: int) -> M:
        """A stored submission as the model, upgraded from the schema version it was saved with."""

    def error_summary(self, errors: Mapping[str, str]) -> str:
        """One line naming the fields that need attention, to pass as errors_summary."""

    def sections(self, model: M) -> Sections:
        """The submitted form as readable (title, [(label, value)]); every field appears."""

    def readonly_view(self, model: M, *, private_metadata: str) -> View:
        """The whole submitted form as a read-only modal."""


def values_from_state(state_values: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> FormValues:
    """Raw values from a view's `state.values`, keyed by block_id; empty inputs are left out."""
    values: FormValues = {}
    for block_id, actions in state_values.items():
        for action in actions.values():
            raw = _element_value(action)
            if isinstance(raw, str) and not raw.strip():
                continue
            if raw is not None and raw != []:
                values[block_id] = raw
                break
    return values


def _element_value(action: Mapping[str, Any]) -> Any:
    # Each element type reports its value under its own key (see the view_submission payloads).
    element_type = action.get("type")
    if element_type in ("static_select", "external_select", "radio_buttons"):
        option = action.get("selected_option")
        return option.get("value") if option else None
    if element_type in ("checkboxes", "multi_static_select", "multi_external_select"):
        return [o["value"] for o in action.get("selected_options") or []]
    for key in _VALUE_KEYS.get(str(element_type), ("value",)):
        if action.get(key) is not None:
            return action[key]
    return None


_VALUE_KEYS = {
    "datepicker": ("selected_date",),
    "timepicker": ("selected_time",),
    "users_select": ("selected_user",),
    "multi_users_select": ("selected_users",),
    "conversations_select": ("selected_conversation",),
    "channels_select": ("selected_channel",),
}


def modal_title(prefix: str, name: str | None = None) -> str:
    """'Handoff: Acme Ltd', cut to Slack's 24 characters with an ellipsis."""
    text = f"{prefix}: {name.strip()}" if name and name.strip() else prefix
    return text if len(text) <= TITLE_MAX else text[: TITLE_MAX - 1].rstrip() + "…"


def loading_view(title: str) -> View:
    """Shown at once on the trigger, while the deal is fetched (views.update replaces it)."""
    return View(
        type="modal",
        callback_id=CallbackId.LOADING,
        title=PlainTextObject(text=modal_title(title)),
        close=PlainTextObject(text="Cancel"),
        blocks=[
            SectionBlock(
                block_id=BlockId.MESSAGE,
                text=MarkdownTextObject(
                    text=":hourglass_flowing_sand: Fetching the deal from the CRM…"
                ),
            ),
            ContextBlock(
                elements=[MarkdownTextObject(text="The form opens here in a few seconds.")]
            ),
        ],
    )


def error_view(title: str, message: str) -> View:
    """A modal that explains what went wrong; the message is shown as written, split if long."""
    chunks = split_text(f":warning: {mrkdwn_escape(message)}", limit=3000)[:100]
    blocks = [
        SectionBlock(block_id=BlockId.MESSAGE if n == 0 else None, text=MarkdownTextObject(text=c))
        for n, c in enumerate(chunks)
    ]
    return View(
        type="modal",
        callback_id=CallbackId.ERROR,
        title=PlainTextObject(text=modal_title(title)),
        close=PlainTextObject(text="Close"),
        blocks=blocks,
    )
