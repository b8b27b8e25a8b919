"""The sales -> delivery form in three steps: progress, per-step validation, draft kept between."""

from __future__ import annotations

from datetime import date
from typing import Any

from forms.base import values_from_state
from forms.ids import ActionId, BlockId
from forms.ids import SalesToDeliveryField as F
from forms.layout import Kind
from forms.sales_to_delivery import SPEC, SalesToDeliveryForm
from forms.steps import STEP_KEY, back_step, submit_step
from tests.forms.conftest import checked, state_of
from tests.support.slack_state import initial_values

TODAY = date(2027, 3, 1)


def _inputs(payload: dict[str, Any]) -> list[str]:
    return [b["block_id"] for b in payload["blocks"] if b["type"] == "input"]


def _submit(draft: dict[str, Any] | None, payload: dict[str, Any], **edits: Any) -> Any:
    """Submit a rendered step as Slack would, after the salesperson's edits."""
    values = values_from_state(state_of(payload))
    values.update(edits)
    values = {k: v for k, v in values.items() if v is not None}
    return submit_step(SPEC, draft, values, private_metadata="handoff:1", today=TODAY)


def test_steps_walk_from_context_to_billing_keeping_the_draft(
    sales_values: dict[str, Any],
) -> None:
    first = checked(SPEC.build_modal(sales_values, private_metadata="handoff:1"))
    assert first["blocks"][1]["block_id"] == BlockId.PROGRESS
    assert "Step 1 of 3: Context and contacts" in first["blocks"][1]["elements"][0]["text"]
    assert first["submit"]["text"] == "Next"
    assert F.WHY_THEY_BOUGHT in _inputs(first) and F.DELIVERABLES not in _inputs(first)

    # The values the form opened with (the CRM prefill) are the first draft.
    one = _submit(sales_values, first)
    assert one.errors is None and one.model is None and one.values[STEP_KEY] == 2
    second = checked(one.view)
    assert "Step 2 of 3: Scope and dates" in second["blocks"][1]["elements"][0]["text"]
    assert F.DELIVERABLES in _inputs(second) and F.CONTRACT_VALUE not in _inputs(second)

    two = _submit(one.values, second)
    third = checked(two.view)
    assert third["submit"]["text"] == "Submit handoff"
    assert "Step 3 of 3: Billing" in third["blocks"][1]["elements"][0]["text"]

    done = _submit(two.values, third)
    assert isinstance(done.model, SalesToDeliveryForm)
    assert done.model.why_they_bought == sales_values[F.WHY_THEY_BOUGHT]  # from step 1


def test_step_errors_name_only_the_fields_on_screen(sales_values: dict[str, Any]) -> None:
    first = checked(SPEC.build_modal(sales_values, private_metadata="handoff:1"))

    outcome = _submit(sales_values, first, why_they_bought=None, buyer_email="not-an-email")

    assert outcome.errors is not None
    assert set(outcome.errors) == {F.WHY_THEY_BOUGHT, F.BUYER_EMAIL}
    assert outcome.values[STEP_KEY] == 1  # the draft is saved on the step it stopped at


def test_step_cross_field_rules_are_refused_next_to_the_field(
    sales_values: dict[str, Any],
) -> None:
    draft = {**sales_values, STEP_KEY: 2}
    second = checked(SPEC.build_modal(draft, private_metadata="handoff:1"))

    outcome = _submit(draft, second, earliest_kickoff="2027-02-01", go_live_date="2028-06-01")

    assert outcome.errors == {
        F.EARLIEST_KICKOFF: "Kickoff cannot be in the past (today is 1 Mar 2027)",
        F.GO_LIVE_DATE: "Must be on or before the term end (11 Mar 2028)",
    }


def test_a_field_cleared_on_its_step_is_cleared_in_the_draft(
    sales_values: dict[str, Any],
) -> None:
    draft = {**sales_values, STEP_KEY: 2}
    second = checked(SPEC.build_modal(draft, private_metadata="handoff:1"))

    outcome = _submit(draft, second, assumptions="Only one revision round", client_tools=None)

    assert outcome.values[F.ASSUMPTIONS] == "Only one revision round"
    assert F.CLIENT_TOOLS not in outcome.values


def test_a_saved_draft_reopens_on_its_step(sales_values: dict[str, Any]) -> None:
    payload = checked(SPEC.build_modal({**sales_values, STEP_KEY: 3}, private_metadata=""))
    assert F.CONTRACT_VALUE in _inputs(payload)
    # State from step 3 alone (e.g. the schedule changed) re-renders step 3.
    values = values_from_state(state_of(payload))
    assert F.CONTRACT_VALUE in _inputs(checked(SPEC.build_modal(values, private_metadata="")))


def _buttons(payload: dict[str, Any]) -> list[str]:
    [actions] = [b for b in payload["blocks"] if b.get("block_id") == BlockId.DRAFT_ACTIONS]
    return [element["action_id"] for element in actions["elements"]]


def test_back_shows_the_step_before_keeping_every_answer_typed(
    sales_values: dict[str, Any],
) -> None:
    first = checked(SPEC.build_modal(sales_values, private_metadata="handoff:1"))
    assert _buttons(first) == [ActionId.SAVE_DRAFT]  # nothing to go back to
    one = _submit(sales_values, first, why_they_bought="Edited on step 1")
    second = checked(one.view)
    assert _buttons(second) == [ActionId.STEP_BACK, ActionId.SAVE_DRAFT]

    # Typed on step 2, one answer not valid yet (a kickoff in the past): kept, not checked.
    state = values_from_state(state_of(second))
    state.update(
        {F.OUT_OF_SCOPE: "Typed on step 2, not submitted", F.EARLIEST_KICKOFF: "2020-01-06"}
    )
    back = back_step(SPEC, one.values, state, private_metadata="handoff:1")

    assert back.values[STEP_KEY] == 1
    assert back.values[F.OUT_OF_SCOPE] == "Typed on step 2, not submitted"
    assert back.values[F.EARLIEST_KICKOFF] == "2020-01-06"
    shown = checked(back.view)
    assert "Step 1 of 3: Context and contacts" in shown["blocks"][1]["elements"][0]["text"]
    assert initial_values(shown)[F.WHY_THEY_BOUGHT] == "Edited on step 1"

    # Next again: step 2 opens with what was typed there before going back.
    again = _submit(back.values, shown)
    reopened = initial_values(checked(again.view))
    assert reopened[F.OUT_OF_SCOPE] == "Typed on step 2, not submitted"
    assert reopened[F.EARLIEST_KICKOFF] == "2020-01-06"


def test_every_essay_field_has_an_example_placeholder() -> None:
    essays = [f for f in SPEC.all_fields() if f.kind is Kind.MULTILINE]
    assert len(essays) >= 10
    assert [f.name for f in essays if not f.placeholder] == []


def test_each_step_is_well_within_slack_limits(sales_values: dict[str, Any]) -> None:
    sizes = []
    for step in (1, 2, 3):
        payload = checked(SPEC.build_modal({**sales_values, STEP_KEY: step}, private_metadata=""))
        sizes.append(len(payload["blocks"]))
    assert max(sizes) < 50


def test_a_form_without_steps_submits_whole_and_clears_what_was_cleared() -> None:
    from forms.delivery_to_finance import SPEC as FINANCE
    from tests.forms.conftest import FINANCE_VALUES

    draft = {**FINANCE_VALUES, "notes": "old note"}
    state = {k: v for k, v in FINANCE_VALUES.items() if k != "notes"}

    outcome = submit_step(FINANCE, draft, state, private_metadata="", today=TODAY)

    assert outcome.model is not None and outcome.model.notes is None
    assert STEP_KEY not in outcome.values
