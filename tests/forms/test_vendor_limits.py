"""Every form field written to a vendor field is capped, at the smallest vendor limit."""

from __future__ import annotations

from typing import Any

import pytest

from forms import delivery_to_finance, limits, renewal_to_sales
from forms.ids import SalesToDeliveryField as F
from forms.sales_to_delivery import SPEC, SalesToDeliveryForm, billing
from forms.steps import ALL_STEPS
from integrations import jira, quickbooks, xero
from integrations.finance_text import finance_note
from integrations.ports import BillingTerms, Contact, HandoffBrief
from tests.forms.conftest import checked

_MODEL_FIELDS = {"rate_card": "time_and_materials", "usage_terms": "usage"}
_EMAILS = {name for name in limits.BY_FIELD if name.endswith("_email")}
_PHONES = {name for name in limits.BY_FIELD if name.endswith("_phone")}


def _too_long(name: str, length: int) -> str:
    if name == F.SOLD_LINES:
        # One valid row of that length, pricing the whole contract (sales_values: 100,000.00
        # less the 10,000.00 discount).
        row = "1 x {} at 110,000.00 less 10,000.00"
        return row.format("x" * (length - len(row.format(""))))
    if name in _EMAILS:
        return "a" * (length - len("@acme.example")) + "@acme.example"
    if name in _PHONES:
        return "+44 " + "1" * (length - 4)
    return "x" * length


def _inputs(values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    payload = checked(SPEC.build_modal(step=ALL_STEPS, values=values, private_metadata=""))
    return {b["block_id"]: b for b in payload["blocks"] if b["type"] == "input"}


@pytest.mark.parametrize("name", sorted(limits.BY_FIELD))
def test_vendor_limit_is_shown_and_enforced_in_the_modal(
    name: str, sales_values: dict[str, Any]
) -> None:
    limit = limits.BY_FIELD[name]
    sales_values[F.BILLING_MODEL] = _MODEL_FIELDS.get(name, "fixed")
    block = _inputs(sales_values)[name]
    element = block["element"]
    if element["type"] == "plain_text_input":
        assert element["max_length"] <= limit.max_length
        assert limit.hint() in block["hint"]["text"]

    sales_values[name] = _too_long(name, limit.max_length + 1)
    errors = SPEC.parse(sales_values)
    assert isinstance(errors, dict) and str(limit.max_length) in errors[name]

    sales_values[name] = _too_long(name, limit.max_length)
    assert isinstance(SPEC.parse(sales_values), SalesToDeliveryForm)


def test_form_limits_are_within_every_vendor_field_they_reach() -> None:
    title = f" — {SPEC.title}"
    assert limits.ACCOUNT_NAME.max_length + len(title) <= jira.SUMMARY_MAX
    assert limits.TAX_ID.max_length <= xero.TAX_NUMBER_MAX
    assert limits.BILLING_ADDRESS.max_length <= min(
        quickbooks.ADDRESS_LINE_MAX, xero.ADDRESS_LINE_MAX
    )


def _longest_brief(sales_values: dict[str, Any]) -> HandoffBrief:
    sales_values.update(
        {name: _too_long(name, lim.max_length) for name, lim in limits.BY_FIELD.items()}
    )
    sales_values[F.BILLING_ADDRESS] = "\n".join(["y" * 74] * 4)
    sales_values[F.BILLING_MODEL] = "time_and_materials"  # its rate card is the longest terms
    sales_values[F.SPEND_CAP] = "9999999999999.99"
    form = SPEC.parse(sales_values)
    assert isinstance(form, SalesToDeliveryForm), form
    return HandoffBrief(
        handoff_id=1,
        kind="sales_to_delivery",
        marker="handoff-1",
        title=f"{form.account_name} — {SPEC.title}",
        account_name=form.account_name,
        summary="s",
        sections=(),
        contacts=(Contact(name="Amy Jones", role="Billing", email="ap@acme.example"),),
        billing=BillingTerms.model_validate(billing(form)),
        slack_thread_url="https://acme.slack.com/archives/C1/p1700000000000100",
        crm_deal_url="https://app.hubspot.com/contacts/1/record/0-3/2",
    )


def test_longest_answers_fit_quickbooks_private_note_unclipped(
    sales_values: dict[str, Any],
) -> None:
    brief = _longest_brief(sales_values)
    assert brief.billing is not None
    note = finance_note(brief, brief.billing, "Created by Handoff (ref handoff-1/1)")
    assert len(note) <= quickbooks.PRIVATE_NOTE_MAX


@pytest.mark.parametrize("spec", [delivery_to_finance.SPEC, renewal_to_sales.SPEC])
def test_later_handoffs_cap_the_account_name_for_quickbooks(spec: Any) -> None:
    payload = checked(spec.build_modal({}, private_metadata=""))
    [block] = [b for b in payload["blocks"] if b.get("block_id") == "account_name"]
    assert block["element"]["max_length"] == limits.ACCOUNT_NAME.max_length
    errors = spec.parse({"account_name": "x" * (limits.ACCOUNT_NAME.max_length + 1)})
    assert errors["account_name"] == "Keep it to 100 characters"
