"""A submitted form reopened for an amendment: the same answers back, and who reads a change."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from forms.changes import DELIVERY, FINANCE, FieldChange, audiences, diff_sections
from forms.ids import CallbackId
from forms.reopen import amending_form, values_from_model
from forms.sales_to_delivery import SPEC
from tests.bot.test_delivery import FULL
from tests.bot.test_handoff_flow import VALID

MILESTONES = {
    **FULL,
    "schedule": "milestones",
    "milestones": "2027-02-01; 10000; Kickoff\n2027-06-01; 26000.00; Go live; phase 2",
    "security_needs": ["dpa", "sso"],
    "go_live_promised": ["yes"],
    "support_tier": "premium",
}
DEPOSIT = {
    **FULL,
    "schedule": "one_off",
    "billing_model": "deposit_balance",
    "deposit_amount": "1000",
    "balance_date": "2027-06-01",
}


@pytest.mark.parametrize("typed", [VALID, FULL, MILESTONES, DEPOSIT])
def test_values_from_model_parse_back_into_the_same_submission(typed: dict[str, Any]) -> None:
    model = SPEC.parse(typed)
    assert not isinstance(model, dict), model

    reopened = values_from_model(SPEC, model)

    assert SPEC.parse(reopened) == model
    for typed_as_lines in ("other_contacts", "deliverables"):  # the line formats come back
        if typed_as_lines in typed:
            assert reopened[typed_as_lines] == typed[typed_as_lines]


def test_amending_form_refuses_a_past_kickoff_only_when_the_amendment_moves_it() -> None:
    submitted = values_from_model(SPEC, SPEC.parse(VALID))  # type: ignore[arg-type]
    form = amending_form("sales_to_delivery", submitted)
    later = date(2027, 2, 1)  # after the submitted kickoff of 11 Jan 2027

    kept = form.parse(submitted, today=later)
    moved = form.parse({**submitted, "earliest_kickoff": "2027-01-20"}, today=later)
    other = form.parse({**submitted, "po_required": ["yes"]}, today=later)

    assert not isinstance(kept, dict)
    assert moved == {"earliest_kickoff": "Kickoff cannot be in the past (today is 1 Feb 2027)"}
    assert other == {"po_number": "Enter the PO number, or untick “PO required”"}


def test_amending_form_is_the_form_under_its_own_callback_title_and_submit() -> None:
    form = amending_form("sales_to_delivery", {})
    values = {**VALID, "_step": 3}

    view = form.build_modal(values, private_metadata="{}")

    assert view.callback_id == CallbackId.AMEND
    assert view.title is not None and view.title.text == "Amend: Acme Ltd"
    assert view.submit is not None and view.submit.text == "Submit amendment"
    first = form.build_modal({**VALID, "_step": 1}, private_metadata="{}")
    assert first.submit is not None and first.submit.text == "Next"


def test_diff_sections_lists_each_changed_row_in_reading_order() -> None:
    # Without lines as sold: they would have to change with the value (the form refuses lines
    # that do not come to it).
    base = {k: v for k, v in FULL.items() if k != "sold_lines"}
    before = SPEC.sections(SPEC.parse(base))  # type: ignore[arg-type]
    changed = {**base, "po_number": "PO-1", "month_one": "Daily calls", "contract_value": "40000"}
    after = SPEC.sections(SPEC.parse(changed))  # type: ignore[arg-type]

    changes = diff_sections(before, after)

    assert [(c.section, c.label, c.before, c.after) for c in changes] == [
        ("Context", "What month one must feel like", FULL["month_one"], "Daily calls"),
        ("Billing", "Contract value", "GBP 36,000.00", "GBP 40,000.00"),
        ("Billing", "PO number", "PO-7781", "PO-1"),
    ]
    assert diff_sections(before, before) == []


@pytest.mark.parametrize(
    ("section", "label", "readers"),
    [
        ("Context", "Why they bought", {DELIVERY}),
        ("Context", "Account", {DELIVERY, FINANCE}),
        ("Key contacts", "Buyer / executive sponsor", {DELIVERY}),
        ("Key contacts", "Billing / accounts payable contact", {DELIVERY, FINANCE}),
        ("Agreed scope", "Deliverables", {DELIVERY}),
        ("Agreed scope", "Term end", {DELIVERY, FINANCE}),
        ("Agreed scope", "Signed contract or SOW", {DELIVERY, FINANCE}),
        ("Kickoff and access", "Earliest kickoff", {DELIVERY}),
        ("Security, support and risks", "Support tier", {DELIVERY}),
        ("Billing", "PO number", {FINANCE}),
        ("Anomalies", "Discounts", {FINANCE}),
    ],
)
def test_audiences_say_which_side_reads_each_field(
    section: str, label: str, readers: set[str]
) -> None:
    change = FieldChange(section, label, "a", "b")
    assert audiences("sales_to_delivery", change) == readers
    assert audiences("delivery_to_finance", change) is None  # every receiver reads it all
