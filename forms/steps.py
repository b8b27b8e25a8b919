"""A long form as steps ("Step 2 of 3"): which fields each step shows, and what a submit does.

Pure functions the listeners call: `submit_step` takes the draft kept so far and the submitted
step's values, and says what to answer Slack (field errors, the next step's view) or hands back
the validated model once the last step is done; `back_step` answers the Back button. The step
being shown travels in the draft under `STEP_KEY`, so a saved draft reopens where the
salesperson left it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Generic

from slack_sdk.models.views import View

from forms.base import FormValues, M
from forms.layout import Field

ALL_STEPS = 0
"""build_modal(step=ALL_STEPS): every section in one modal (tests, small screens of the past)."""
STEP_KEY = "_step"
"""Draft key holding the 1-based step the salesperson is on."""


@dataclass(frozen=True)
class Step:
    """One screen of a stepped form: its title and the layout sections it shows."""

    title: str
    sections: tuple[str, ...]


STEPS = (
    Step("Context and contacts", ("Context", "Key contacts")),
    Step(
        "Scope and dates",
        ("Agreed scope", "Kickoff and access", "Security, support and risks"),
    ),
    Step("Billing", ("Billing", "Anomalies")),
)
"""The sales -> delivery form's steps."""


@dataclass(frozen=True)
class StepOutcome(Generic[M]):
    """What to do with a submitted step: save `values` as the draft, then answer Slack with
    `errors` (response_action=errors), or `view` (response_action=update), or store `model`."""

    values: FormValues
    errors: dict[str, str] | None = None
    view: View | None = None
    model: M | None = None


def merge_step(
    draft: Mapping[str, Any] | None, state_values: FormValues, step_names: set[str] | None
) -> FormValues:
    """The draft with one step's answers laid over it; a field of that step left blank is
    cleared (Slack leaves empty inputs out of the state, so absence means "cleared")."""
    kept = {
        key: value
        for key, value in (draft or {}).items()
        if step_names is None or key not in step_names
    }
    return {**kept, **state_values}


def draft_with_state(
    spec: Any, draft: Mapping[str, Any] | None, state_values: FormValues
) -> FormValues:
    """The draft to save when a step is closed or saved: its answers over the earlier ones."""
    current = spec.step_of(draft) if draft and STEP_KEY in draft else spec.step_of(state_values)
    values = merge_step(draft, state_values, spec.step_field_names(current))
    if spec.step_count() > 1:
        values[STEP_KEY] = current
    return values


def step_of(values: Mapping[str, Any], fields_by_step: list[set[str]]) -> int:
    """The step the values are on: the draft's own record, else the one step the keys fit."""
    recorded = values.get(STEP_KEY)
    if isinstance(recorded, int) and 1 <= recorded <= len(fields_by_step):
        return recorded
    keys = {key for key, value in values.items() if key != STEP_KEY and value is not None}
    matching = [n for n, names in enumerate(fields_by_step, start=1) if keys and keys <= names]
    return matching[0] if len(matching) == 1 else 1


def submit_step(
    spec: Any,
    draft: Mapping[str, Any] | None,
    state_values: FormValues,
    *,
    private_metadata: str,
    today: date | None,
    on_screen: set[str] | None = None,
) -> StepOutcome[Any]:
    """Validate the submitted step; this step's errors, the next step's view, or the model.

    `spec` is a DeclarativeForm; without steps the whole form is one step. `on_screen`: the
    block ids of the submitted view (Slack refuses errors for any other block).
    """
    count = spec.step_count()
    current = spec.step_of(draft) if draft and STEP_KEY in draft else spec.step_of(state_values)
    values = merge_step(draft, state_values, spec.step_field_names(current))
    if count > 1:
        values[STEP_KEY] = current
    result = spec.parse(values, today=today)
    errors: dict[str, str] = result if isinstance(result, dict) else {}
    shown = {str(f.name) for f in spec.visible_fields(values, step=current)}
    here = {key: message for key, message in errors.items() if key in shown}
    if here and (on_screen is None or set(here) <= on_screen):
        return StepOutcome(values=values, errors=here)
    if here:
        # A field that appeared since Slack drew the view (e.g. milestones after the schedule
        # changed): draw the step again, with the field and a summary of what needs a look.
        view = spec.build_modal(
            values, private_metadata=private_metadata, errors_summary=spec.error_summary(here)
        )
        return StepOutcome(values=values, view=view)
    if current < count:
        values[STEP_KEY] = current + 1
        return StepOutcome(
            values=values, view=spec.build_modal(values, private_metadata=private_metadata)
        )
    if errors:
        # An answer on an earlier step no longer fits (or a field appeared): show that step.
        first = next(f for f in spec.all_fields() if f.name in errors)
        values[STEP_KEY] = spec.step_with(str(first.name))
        view = spec.build_modal(
            values, private_metadata=private_metadata, errors_summary=spec.error_summary(errors)
        )
        return StepOutcome(values=values, view=view)
    return StepOutcome(values=values, model=result)


def back_step(
    spec: Any, draft: Mapping[str, Any] | None, state_values: FormValues, *, private_metadata: str
) -> StepOutcome[Any]:
    """The step before the one on screen, with everything typed so far kept in the draft.

    Nothing is validated: a half-typed answer is kept as typed and checked when the step is
    submitted again.
    """
    values = draft_with_state(spec, draft, state_values)
    current = int(values.get(STEP_KEY, 1))
    if current > 1:
        values[STEP_KEY] = current - 1
    return StepOutcome(
        values=values, view=spec.build_modal(values, private_metadata=private_metadata)
    )


def fields_of(step: Step, sections: Mapping[str, tuple[Field, ...]]) -> set[str]:
    """The block ids a step shows (all of its sections' fields)."""
    return {str(f.name) for title in step.sections for f in sections[title]}
