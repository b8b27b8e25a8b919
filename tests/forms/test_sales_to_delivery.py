"""The sales -> delivery form: state parsing, drafts, prefill, every validation rule, rendering."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from forms.base import values_from_state
from forms.ids import ActionId, BlockId, CallbackId
from forms.ids import SalesToDeliveryField as F
from forms.sales_to_delivery import (
    SPEC,
    SalesToDeliveryForm,
    billing,
    contacts,
    deliverables,
    kickoff_date,
    prefill_values,
)
from forms.steps import ALL_STEPS
from tests.forms.conftest import MILESTONES, checked, state_of


def _model(values: dict[str, Any]) -> SalesToDeliveryForm:
    parsed = SPEC.parse(values)
    assert isinstance(parsed, SalesToDeliveryForm), parsed
    return parsed


def _block_ids(payload: dict[str, Any]) -> list[str]:
    return [b["block_id"] for b in payload["blocks"] if b["type"] == "input"]


def test_parse_complete_values_gives_typed_model(sales_values: dict[str, Any]) -> None:
    form = _model(sales_values)
    assert form.contract_value == Decimal("100000.00")
    assert form.term_start == date(2027, 3, 12)
    assert form.buyer.email == "jane@acme.example"
    assert [p.name for p in form.other_contacts] == ["Carl Wu", "Dee Ray"]
    assert form.other_contacts[1].phone == "07700 900123"
    assert form.deliverables == [
        "Month-end dashboard",
        "Data pipeline from Xero",
        "Training for 5 users",
    ]
    assert form.billing_in_arrears is True
    assert form.po_required is True
    assert form.payment_terms_days == 30
    assert form.milestones == []


def test_values_from_state_reads_every_element_type() -> None:
    option = {
        "text": {"type": "plain_text", "text": "Milestones", "emoji": True},
        "value": "milestones",
    }
    ticked = {"text": {"type": "plain_text", "text": "Yes"}, "value": "yes"}
    state: dict[str, dict[str, dict[str, Any]]] = {
        "account_name": {"value": {"type": "plain_text_input", "value": "Acme"}},
        "buyer_email": {"value": {"type": "email_text_input", "value": "jane@acme.example"}},
        "contract_url": {"value": {"type": "url_text_input", "value": "https://x.example/sow"}},
        "contract_value": {"value": {"type": "number_input", "value": "1200.50"}},
        "term_start": {"value": {"type": "datepicker", "selected_date": "2027-03-12"}},
        "schedule": {"schedule_changed": {"type": "static_select", "selected_option": option}},
        "po_required": {"value": {"type": "checkboxes", "selected_options": [ticked]}},
        "account_manager": {"value": {"type": "users_select", "selected_user": "U0AM00001"}},
        "why_they_bought": {"value": {"type": "plain_text_input", "value": "Line one\nLine two"}},
    }
    assert values_from_state(state) == {
        "account_name": "Acme",
        "buyer_email": "jane@acme.example",
        "contract_url": "https://x.example/sow",
        "contract_value": "1200.50",
        "term_start": "2027-03-12",
        "schedule": "milestones",
        "po_required": ["yes"],
        "account_manager": "U0AM00001",
        "why_they_bought": "Line one\nLine two",
    }


def test_values_from_state_leaves_out_empty_values() -> None:
    state: dict[str, dict[str, dict[str, Any]]] = {
        "account_name": {"value": {"type": "plain_text_input", "value": None}},
        "risks": {"value": {"type": "plain_text_input", "value": "   \n"}},
        "term_end": {"value": {"type": "datepicker", "selected_date": None}},
        "schedule": {"schedule_changed": {"type": "static_select", "selected_option": None}},
        "po_required": {"value": {"type": "checkboxes", "selected_options": []}},
        "delivery_lead": {"value": {"type": "users_select", "selected_user": None}},
        "contract_value": {"value": {"type": "number_input", "value": ""}},
    }
    assert values_from_state(state) == {}


@pytest.mark.parametrize("schedule", ["one_off", "quarterly", "milestones"])
def test_build_modal_round_trips_draft_values(sales_values: dict[str, Any], schedule: str) -> None:
    sales_values[F.SCHEDULE] = schedule
    if schedule == "milestones":
        sales_values[F.MILESTONES] = MILESTONES
    payload = checked(
        SPEC.build_modal(step=ALL_STEPS, values=sales_values, private_metadata="handoff:42")
    )
    assert values_from_state(state_of(payload)) == sales_values


def test_build_modal_round_trips_prefill() -> None:
    values = prefill_values(
        deal_name="Acme renewal",
        account_name="Acme Widgets Ltd",
        amount=Decimal("12500.5"),
        currency="usd",
        close_date=date(2027, 3, 12),
        contacts=[{"name": "Jane Doe", "email": "jane@acme.example", "job_title": "CEO"}],
    )
    payload = checked(SPEC.build_modal(step=ALL_STEPS, values=values, private_metadata=""))
    assert values_from_state(state_of(payload)) == values


def test_build_modal_has_the_agreed_shell(sales_values: dict[str, Any]) -> None:
    payload = checked(
        SPEC.build_modal(step=ALL_STEPS, values=sales_values, private_metadata="handoff:42")
    )
    assert payload["callback_id"] == CallbackId.SALES_TO_DELIVERY
    assert payload["title"]["text"] == "Handoff: Acme Widgets L…"  # Slack allows 24 characters
    assert payload["submit"]["text"] == "Submit handoff"
    assert payload["close"]["text"] == "Save & close"
    assert payload["notify_on_close"] is True
    assert payload["private_metadata"] == "handoff:42"
    assert payload["blocks"][0]["block_id"] == BlockId.INTRO
    headers = [b["text"]["text"] for b in payload["blocks"] if b["type"] == "header"]
    assert headers == [
        "Context",
        "Key contacts",
        "Agreed scope",
        "Kickoff and access",
        "Security, support and risks",
        "Billing",
        "Anomalies",
    ]
    actions = [b for b in payload["blocks"] if b["type"] == "actions"]
    assert actions[0]["block_id"] == BlockId.DRAFT_ACTIONS
    assert actions[0]["elements"][0]["action_id"] == ActionId.SAVE_DRAFT


def test_every_input_block_is_a_form_field_with_the_value_action() -> None:
    shown: set[str] = set()
    models = ("retainer", "time_and_materials", "deposit_balance", "usage")
    for model in models:
        values = {F.SCHEDULE: "milestones", F.BILLING_MODEL: model}
        payload = checked(SPEC.build_modal(step=ALL_STEPS, values=values, private_metadata=""))
        shown |= set(_block_ids(payload))
        for block in payload["blocks"]:
            if block["type"] == "input" and block["block_id"] not in (F.SCHEDULE, F.BILLING_MODEL):
                assert block["element"]["action_id"] == ActionId.VALUE
    assert shown == {str(f) for f in F}


def test_required_marks_come_from_the_model() -> None:
    payload = checked(SPEC.build_modal(step=ALL_STEPS, values={}, private_metadata=""))
    optional = {b["block_id"] for b in payload["blocks"] if b["type"] == "input" and b["optional"]}
    assert {F.WHY_THEY_BOUGHT, F.BUYER_EMAIL, F.TERM_END, F.SCHEDULE}.isdisjoint(optional)
    assert {F.BUYER_PHONE, F.OTHER_CONTACTS, F.CONTRACT_URL, F.PO_NUMBER, F.RISKS} <= optional


@pytest.mark.parametrize(
    ("schedule", "shown"),
    [
        (None, False),
        ("one_off", False),
        ("monthly", False),
        ("quarterly", False),
        ("milestones", True),
    ],
)
def test_milestones_block_appears_only_for_milestones_schedule(
    schedule: str | None, shown: bool
) -> None:
    values: dict[str, Any] = {F.SCHEDULE: schedule} if schedule else {}
    payload = checked(SPEC.build_modal(step=ALL_STEPS, values=values, private_metadata=""))
    assert (F.MILESTONES in _block_ids(payload)) is shown


def test_schedule_select_dispatches_its_own_action() -> None:
    payload = checked(SPEC.build_modal(step=ALL_STEPS, values={}, private_metadata=""))
    block = next(b for b in payload["blocks"] if b.get("block_id") == F.SCHEDULE)
    assert block["dispatch_action"] is True
    assert block["element"]["action_id"] == ActionId.SCHEDULE_CHANGED


def test_milestones_typed_before_switching_schedule_are_ignored(
    sales_values: dict[str, Any],
) -> None:
    sales_values[F.MILESTONES] = "not even a milestone"
    assert _model(sales_values).milestones == []


def test_milestones_that_add_up_are_kept(sales_values: dict[str, Any]) -> None:
    sales_values.update({F.SCHEDULE: "milestones", F.MILESTONES: MILESTONES})
    form = _model(sales_values)
    assert [(m.due_date, m.amount) for m in form.milestones] == [
        (date(2027, 4, 1), Decimal("40000.00")),
        (date(2027, 9, 1), Decimal("60000")),
    ]


def _without(*names: str) -> dict[str, Any]:
    return {name: None for name in names}


def _milestones(text: str) -> dict[str, Any]:
    return {F.SCHEDULE: "milestones", F.MILESTONES: text}


BAD_EMAIL = "Not a valid email address: There must be something after the @-sign."
BAD_PHONE = "Use digits, spaces and + ( ) - only, e.g. +44 20 7946 0000"
AFTER_START = "Must be after the term start (12 Mar 2027)"
OTHERS = F.OTHER_CONTACTS
RULES = [
    pytest.param(_without(F.WHY_THEY_BOUGHT), F.WHY_THEY_BOUGHT, "Required", id="required"),
    pytest.param({F.PROMISES_MADE: "  \n "}, F.PROMISES_MADE, "Required", id="blank"),
    pytest.param(
        {F.ACCOUNT_NAME: "A" * 101}, F.ACCOUNT_NAME, "Keep it to 100 characters", id="long"
    ),
    pytest.param(
        _without(F.BUYER_NAME, F.BUYER_ROLE, F.BUYER_EMAIL, F.BUYER_PHONE),
        F.BUYER_NAME,
        "Required",
        id="whole contact missing",
    ),
    pytest.param(_without(F.DAY_TO_DAY_EMAIL), F.DAY_TO_DAY_EMAIL, "Required", id="email missing"),
    pytest.param({F.BUYER_EMAIL: "jane@"}, F.BUYER_EMAIL, BAD_EMAIL, id="bad email"),
    pytest.param(
        {F.BILLING_CONTACT_PHONE: "reception"}, F.BILLING_CONTACT_PHONE, BAD_PHONE, id="phone"
    ),
    pytest.param(
        {OTHERS: "Carl Wu, IT, carl@acme.example\nDee Ray"},
        OTHERS,
        "Line 2: write it as “Name, role, email[, phone]”",
        id="other contact shape",
    ),
    pytest.param(
        {OTHERS: "Carl Wu, IT, carl@acme.example\n\nDee, Analyst, dee@"},
        OTHERS,
        f"Line 3, email: {BAD_EMAIL}",
        id="other contact email",
    ),
    pytest.param(
        {OTHERS: "Dee Ray, Analyst, dee@acme.example, ask Bob"},
        OTHERS,
        f"Line 1, phone: {BAD_PHONE}",
        id="other contact phone",
    ),
    pytest.param(
        {F.ACCOUNT_MANAGER: "bob"}, F.ACCOUNT_MANAGER, "Pick a person from the list", id="user"
    ),
    pytest.param(
        {F.DELIVERABLES: "-\n•\n"},
        F.DELIVERABLES,
        "List at least one deliverable, one per line",
        id="only bullets",
    ),
    pytest.param(_without(F.DELIVERABLES), F.DELIVERABLES, "Required", id="no deliverables"),
    pytest.param({F.TERM_END: "2027-03-01"}, F.TERM_END, AFTER_START, id="end before start"),
    pytest.param({F.TERM_END: "2027-03-12"}, F.TERM_END, AFTER_START, id="end on start"),
    pytest.param({F.TERM_START: "2027-02-30"}, F.TERM_START, "Pick a date (YYYY-MM-DD)", id="date"),
    pytest.param(
        {F.CONTRACT_URL: "docs/sow.pdf"},
        F.CONTRACT_URL,
        "Enter a full link starting with https://",
        id="link",
    ),
    pytest.param({F.CONTRACT_VALUE: "0"}, F.CONTRACT_VALUE, "Must be more than 0", id="zero"),
    pytest.param(
        {F.CONTRACT_VALUE: "lots"}, F.CONTRACT_VALUE, "Enter a number, e.g. 12500.00", id="number"
    ),
    pytest.param(
        {F.CONTRACT_VALUE: "100.005"},
        F.CONTRACT_VALUE,
        "GBP amounts have at most 2 decimal places",
        id="decimals",
    ),
    pytest.param(
        {F.CURRENCY: "JPY", F.CONTRACT_VALUE: "1000.5"},
        F.CONTRACT_VALUE,
        "JPY amounts are whole numbers",
        id="yen decimals",
    ),
    pytest.param(
        {F.CURRENCY: "pounds"},
        F.CURRENCY,
        "Pick a currency (a three-letter code such as GBP)",
        id="currency",
    ),
    pytest.param({F.SCHEDULE: "weekly"}, F.SCHEDULE, "Pick one of the options", id="schedule"),
    pytest.param(
        {F.PAYMENT_TERMS_DAYS: "21"},
        F.PAYMENT_TERMS_DAYS,
        "Pick one of the payment terms offered",
        id="payment terms",
    ),
    pytest.param(_without(F.PAYMENT_TERMS_DAYS), F.PAYMENT_TERMS_DAYS, "Required", id="no terms"),
    pytest.param(_without(F.FIRST_INVOICE_DATE), F.FIRST_INVOICE_DATE, "Required", id="no invoice"),
    pytest.param(
        _without(F.PO_NUMBER),
        F.PO_NUMBER,
        "Enter the PO number, or untick “PO required”",
        id="PO number",
    ),
    pytest.param(
        {F.EARLIEST_KICKOFF: "2028-04-01"},
        F.EARLIEST_KICKOFF,
        "Must be on or before the term end (11 Mar 2028)",
        id="kickoff after term",
    ),
    pytest.param(_without(F.EARLIEST_KICKOFF), F.EARLIEST_KICKOFF, "Required", id="no kickoff"),
    pytest.param(
        {F.SCHEDULE: "milestones"},
        F.MILESTONES,
        "Add at least one milestone, one per line: YYYY-MM-DD; amount; description",
        id="no milestones",
    ),
    pytest.param(
        _milestones("2027-04-01; 95,000; All"),
        F.MILESTONES,
        "Milestones add up to GBP 95,000.00: GBP 5,000.00 less than the contract value "
        "(GBP 100,000.00)",
        id="milestones short",
    ),
    pytest.param(
        _milestones(MILESTONES + "\n2027-12-01; 0.01; Tip"),
        F.MILESTONES,
        "Milestones add up to GBP 100,000.01: GBP 0.01 more than the contract value "
        "(GBP 100,000.00)",
        id="milestones over",
    ),
    pytest.param(
        _milestones("2027-04-01 100000 All"),
        F.MILESTONES,
        "Line 1: write it as “YYYY-MM-DD; amount; description”",
        id="milestone shape",
    ),
    pytest.param(
        _milestones("2027-04-01; 1; A\n2027-13-01; 99999; B"),
        F.MILESTONES,
        "Line 2: “2027-13-01” is not a date like 2027-03-31",
        id="milestone date",
    ),
    pytest.param(
        _milestones("2027-04-01; lots; All"),
        F.MILESTONES,
        "Line 1: “lots” is not an amount like 5000.00",
        id="milestone amount",
    ),
    pytest.param(
        _milestones("2027-04-01; 0; All"),
        F.MILESTONES,
        "Line 1: the amount must be more than 0",
        id="milestone zero",
    ),
    pytest.param(
        _milestones("2027-04-01; 100000;"),
        F.MILESTONES,
        "Line 1: add what the milestone is for after the amount",
        id="milestone description",
    ),
    pytest.param(
        _milestones("2027-04-01; 99999.999; A\n2027-05-01; 0.001; B"),
        F.MILESTONES,
        "Milestone 1: GBP amounts have at most 2 decimal places",
        id="milestone decimals",
    ),
    pytest.param(
        _milestones("2027-04-01; 40000; Kickoff\n2028-04-01; 60000; Late"),
        F.MILESTONES,
        "Milestone 2 is due 1 Apr 2028, outside the term (12 Mar 2027 to 11 Mar 2028)",
        id="milestone outside term",
    ),
    pytest.param(
        {F.FIRST_INVOICE_DATE: "2027-01-05", F.BILLING_IN_ARREARS: None},
        F.FIRST_INVOICE_DATE,
        "Must fall inside the term (12 Mar 2027 to 11 Mar 2028)",
        id="first invoice before term",
    ),
    pytest.param(
        {F.FIRST_INVOICE_DATE: "2027-07-01"},
        F.FIRST_INVOICE_DATE,
        "The term holds 4 quarterly instalments; from 1 Jul 2027 only 3 fit. "
        "Invoice from 12 Mar 2027",
        id="quarterly inconsistent with term",
    ),
    pytest.param(
        {F.GO_LIVE_DATE: "2027-03-14"},
        F.GO_LIVE_DATE,
        "Must be on or after the earliest kickoff (15 Mar 2027)",
        id="go-live before kickoff",
    ),
    pytest.param(
        {F.GO_LIVE_DATE: "2028-04-01"},
        F.GO_LIVE_DATE,
        "Must be on or before the term end (11 Mar 2028)",
        id="go-live after term",
    ),
    pytest.param(
        _without(F.RISKS),
        F.RISKS,
        "List the risks, or tick “None known” (a blank is not an answer)",
        id="risks blank",
    ),
    pytest.param(
        {F.RISKS_NONE_KNOWN: ["yes"]},
        F.RISKS,
        "Either list the risks or tick “None known”, not both",
        id="risks and none known",
    ),
    pytest.param(
        _without(F.ACCEPTANCE_CRITERIA),
        F.ACCEPTANCE_CRITERIA,
        "Required",
        id="acceptance criteria required",
    ),
    pytest.param(
        {F.DISCOUNT_AMOUNT: "100000"},
        F.DISCOUNT_AMOUNT,
        "The discount is the amount already taken off the list price: it must be less than "
        "the contract value (GBP 100,000.00)",
        id="discount not below value",
    ),
    pytest.param(
        _without(F.DISCOUNT_AMOUNT),
        F.DISCOUNTS,
        "Also enter the discount amount below (0 if it does not lower the price)",
        id="discount without amount",
    ),
]


def test_parse_refuses_a_kickoff_in_the_past_only_on_submission(
    sales_values: dict[str, Any],
) -> None:
    errors = SPEC.parse(sales_values, today=date(2027, 3, 16))
    assert errors == {F.EARLIEST_KICKOFF: "Kickoff cannot be in the past (today is 16 Mar 2027)"}
    assert isinstance(SPEC.parse(sales_values), SalesToDeliveryForm)  # a stored payload re-read
    assert isinstance(SPEC.parse(sales_values, today=date(2027, 3, 15)), SalesToDeliveryForm)


def test_parse_allows_an_arrears_invoice_a_month_after_the_term(
    sales_values: dict[str, Any],
) -> None:
    sales_values.update({F.SCHEDULE: "one_off", F.FIRST_INVOICE_DATE: "2028-04-05"})
    assert isinstance(SPEC.parse(sales_values), SalesToDeliveryForm)
    sales_values[F.BILLING_IN_ARREARS] = []
    assert F.FIRST_INVOICE_DATE in SPEC.parse(sales_values)


@pytest.mark.parametrize(("changes", "block_id", "message"), RULES)
def test_parse_reports_each_rule_on_its_block(
    sales_values: dict[str, Any], changes: dict[str, Any], block_id: str, message: str
) -> None:
    sales_values.update(changes)
    values = {k: v for k, v in sales_values.items() if v is not None}
    errors = SPEC.parse(values)
    assert isinstance(errors, dict)
    assert errors == {block_id: message}
    assert all(type(key) is str for key in errors)


def test_parse_reports_every_field_at_once_and_stays_short() -> None:
    errors = SPEC.parse({F.OTHER_CONTACTS: f"Ann, Boss, {'a' * 200}@"})
    assert isinstance(errors, dict)
    assert {
        F.WHY_THEY_BOUGHT,
        F.BUYER_NAME,
        F.TERM_END,
        F.EARLIEST_KICKOFF,
        F.OTHER_CONTACTS,
    } <= set(errors)
    assert F.MILESTONES not in errors  # not shown, so never named
    assert all(len(message) <= 150 for message in errors.values())
    summary = SPEC.error_summary({F.BUYER_EMAIL: "x", F.TERM_END: "y"})
    assert summary == ":warning: 2 answers need a look: Buyer: email, Term end."


def test_stored_payload_reads_back_as_the_same_model(sales_values: dict[str, Any]) -> None:
    sales_values.update({F.SCHEDULE: "milestones", F.MILESTONES: MILESTONES})
    form = _model(sales_values)
    assert SalesToDeliveryForm.model_validate(form.model_dump(mode="json")) == form


def test_sections_show_every_field(sales_values: dict[str, Any]) -> None:
    sales_values.update({F.SCHEDULE: "milestones", F.MILESTONES: MILESTONES})
    form = _model(sales_values)
    sections = SPEC.sections(form)
    text = "\n".join(f"{label}: {value}" for _, rows in sections for label, value in rows)
    expected = {
        "why_they_bought": form.why_they_bought,
        "buyer": "Jane Doe (CFO) · jane@acme.example · +44 20 7946 0000",
        "day_to_day": "Bob Smith (Finance Manager) · bob@acme.example · no phone given",
        "billing_contact": "Amy Jones (Accounts Payable) · ap@acme.example · 020 7946 0001",
        "other_contacts": "Dee Ray (Analyst) · dee@acme.example · 07700 900123",
        "account_manager": "Our account manager: <@U0AM00001>",
        "delivery_lead": "Our delivery lead: <@W0DL00002>",
        "deliverables": "• Month-end dashboard\n• Data pipeline from Xero\n• Training for 5 users",
        "term_start": "Term start: 12 Mar 2027",
        "term_end": "Term end: 11 Mar 2028",
        "contract_value": "Contract value: GBP 100,000.00",
        "currency": "GBP",
        "schedule": "Billing schedule: Milestones",
        "milestones": (
            "1 Apr 2027 · GBP 40,000.00 · Kickoff\n1 Sep 2027 · GBP 60,000.00 · Dashboard live"
        ),
        "billing_in_arrears": "Billed in arrears: Yes",
        "first_invoice_date": "First invoice date: 1 Apr 2027",
        "payment_terms_days": "Payment terms: 30 days",
        "po_required": "PO required: Yes",
        "earliest_kickoff": "Earliest kickoff: 15 Mar 2027",
        "go_live_date": "Committed go-live or first deliverable: 3 May 2027",
        "go_live_promised": "Promised to the client: No",
        "security_needs": "Security and compliance: —",
        "support_tier": "Support tier: —",
        "risks_none_known": "Risks and sensitivities: The CFO is leaving in June.",
        "discount_amount": "Discount amount: GBP 10,000.00",
        "billing_model": "Billing model: Fixed price",
        **{
            name: "Billing model terms: —"
            for name in (
                "retainer_amount",
                "rate_card",
                "spend_cap",
                "deposit_amount",
                "balance_date",
                "usage_terms",
            )
        },
    }
    for name in SalesToDeliveryForm.model_fields:
        value = expected.get(name, getattr(form, name))
        assert str(value) in text, name
    assert next(title for title, _ in sections) == "Context"


def test_sections_show_a_dash_for_blank_optional_answers(sales_values: dict[str, Any]) -> None:
    for name in (F.RISKS, F.PO_NUMBER, F.OTHER_CONTACTS, F.ACCOUNT_MANAGER, F.CONTRACT_URL):
        sales_values.pop(name)
    sales_values.pop(F.PO_REQUIRED)
    sales_values[F.RISKS_NONE_KNOWN] = ["yes"]
    rows = dict(row for _, rows in SPEC.sections(_model(sales_values)) for row in rows)
    assert rows["Risks and sensitivities"] == "None known"
    assert rows["PO number"] == "—"
    assert rows["PO required"] == "No"
    assert rows["Other contacts"] == "—"
    assert rows["Our account manager"] == "—"
    assert rows["Signed contract or SOW"] == "—"


def test_prefill_guesses_contacts_from_titles() -> None:
    values = prefill_values(
        deal_name="Acme - new business",
        account_name=None,
        amount=Decimal("120000"),
        currency="gbp",
        close_date=date(2027, 3, 12),
        contacts=[
            {"name": "Bob Smith", "email": "bob@acme.example", "job_title": "Marketing Manager"},
            {
                "name": "Amy Jones",
                "email": "ap@acme.example",
                "job_title": "Accounts Payable Clerk",
            },
            {
                "name": "Jane Doe",
                "email": "jane@acme.example",
                "job_title": "Chief Financial Officer",
                "phone": "+44 20 7946 0000",
            },
            {"name": "Carl, Jr", "email": "carl@acme", "job_title": None},
        ],
    )
    assert values == {
        F.ACCOUNT_NAME: "Acme - new business",
        F.CONTRACT_VALUE: "120000",
        F.CURRENCY: "GBP",
        F.TERM_START: "2027-03-12",
        F.FIRST_INVOICE_DATE: "2027-03-12",
        F.EARLIEST_KICKOFF: "2027-03-12",
        F.PAYMENT_TERMS_DAYS: "30",
        F.BUYER_NAME: "Jane Doe",
        F.BUYER_ROLE: "Chief Financial Officer",
        F.BUYER_EMAIL: "jane@acme.example",
        F.BUYER_PHONE: "+44 20 7946 0000",
        F.DAY_TO_DAY_NAME: "Bob Smith",
        F.DAY_TO_DAY_ROLE: "Marketing Manager",
        F.DAY_TO_DAY_EMAIL: "bob@acme.example",
        F.BILLING_CONTACT_NAME: "Amy Jones",
        F.BILLING_CONTACT_ROLE: "Accounts Payable Clerk",
        F.BILLING_CONTACT_EMAIL: "ap@acme.example",
        # Kept as the CRM had it, so the submit names the bad email on its line.
        F.OTHER_CONTACTS: "Carl Jr, Contact, carl@acme",
    }


def test_prefill_falls_back_to_the_first_contact_for_every_role() -> None:
    values = prefill_values(
        deal_name="Deal",
        account_name="Solo Ltd",
        amount=None,
        currency=None,
        close_date=None,
        contacts=[
            {"name": "Sam Solo", "email": "sam@solo.example", "job_title": "Engineer"},
            {"name": "Pat Two", "email": "not-an-email", "job_title": "Analyst"},
        ],
    )
    assert values[F.BUYER_NAME] == values[F.BILLING_CONTACT_NAME] == "Sam Solo"
    assert values[F.DAY_TO_DAY_NAME] == "Pat Two"
    assert F.DAY_TO_DAY_EMAIL not in values  # an invalid email would make Slack refuse the modal
    assert {F.CONTRACT_VALUE, F.CURRENCY, F.TERM_START, F.OTHER_CONTACTS}.isdisjoint(values)


def test_prefill_offers_an_uncommon_deal_currency() -> None:
    values = prefill_values(
        deal_name="Deal",
        account_name="Acme",
        amount=Decimal("5"),
        currency="MXN",
        close_date=None,
        contacts=[],
    )
    payload = checked(SPEC.build_modal(step=ALL_STEPS, values=values, private_metadata=""))
    select = next(b for b in payload["blocks"] if b.get("block_id") == F.CURRENCY)["element"]
    assert select["initial_option"]["value"] == "MXN"
    assert "MXN" in [o["value"] for o in select["options"]]


def test_contacts_lists_everyone_once_with_their_roles(sales_values: dict[str, Any]) -> None:
    sales_values.update(
        {F.BILLING_CONTACT_NAME: "Jane Doe", F.BILLING_CONTACT_EMAIL: "JANE@acme.example"}
    )
    sales_values.update({F.BILLING_CONTACT_ROLE: "CFO", F.BILLING_CONTACT_PHONE: "020 7946 0009"})
    people = contacts(_model(sales_values))
    assert [(p["name"], p["role"], p["email"], p["phone"]) for p in people] == [
        ("Jane Doe", "Buyer / Billing (CFO)", "jane@acme.example", "+44 20 7946 0000"),
        ("Bob Smith", "Day-to-day (Finance Manager)", "bob@acme.example", None),
        ("Carl Wu", "IT lead", "carl@acme.example", None),
        ("Dee Ray", "Analyst", "dee@acme.example", "07700 900123"),
    ]
    assert all(set(p) == {"name", "role", "email", "phone"} for p in people)


def test_contacts_and_billing_fit_the_integration_records(sales_values: dict[str, Any]) -> None:
    ports = pytest.importorskip("integrations.ports")
    sales_values.update({F.SCHEDULE: "milestones", F.MILESTONES: MILESTONES})
    form = _model(sales_values)
    terms = ports.BillingTerms(**billing(form))
    assert terms.contract_value == Decimal("100000.00")
    assert terms.po_number == "PO-4500012345"
    assert terms.conditions == "Invoices go to the supplier portal."
    assert terms.billed_in_arrears is True
    assert [m.amount for m in terms.milestones] == [Decimal("40000.00"), Decimal("60000")]
    assert (terms.term_start, terms.term_end) == (date(2027, 3, 12), date(2028, 3, 11))
    brief_contacts = [ports.Contact(**c) for c in contacts(form)]
    assert brief_contacts[2].role == "Billing (Accounts Payable)"


def test_billing_drops_a_po_number_that_is_not_required(sales_values: dict[str, Any]) -> None:
    sales_values.pop(F.PO_REQUIRED)
    sales_values.pop(F.BILLING_IN_ARREARS)
    terms = billing(_model(sales_values))
    assert terms["po_required"] is False
    assert terms["po_number"] is None
    assert terms["conditions"] == "Invoices go to the supplier portal."
    assert terms["milestones"] == []


def test_deliverables_and_kickoff_date(sales_values: dict[str, Any]) -> None:
    form = _model(sales_values)
    assert deliverables(form) == [
        "Month-end dashboard",
        "Data pipeline from Xero",
        "Training for 5 users",
    ]
    assert kickoff_date(form) == date(2027, 3, 15)


def test_errors_summary_sits_under_the_intro() -> None:
    summary = SPEC.error_summary({F.TERM_END: "Required"})
    payload = checked(
        SPEC.build_modal(step=ALL_STEPS, values={}, private_metadata="", errors_summary=summary)
    )
    assert payload["blocks"][1] == {
        "type": "section",
        "block_id": BlockId.ERRORS_SUMMARY,
        "text": {"type": "mrkdwn", "text": ":warning: 1 answer needs a look: Term end."},
    }


def test_load_upgrades_a_payload_stored_before_the_new_questions(
    sales_values: dict[str, Any],
) -> None:
    stored = _model(sales_values).model_dump(mode="json")
    for name in ("acceptance_criteria", "go_live_date", "go_live_promised", "risks_none_known"):
        stored.pop(name)
    stored.update(risks=None, first_invoice_date="2027-01-02")  # both refused by today's rules

    form = SPEC.load(stored, schema_version=1)

    assert form.go_live_date == form.earliest_kickoff
    assert form.acceptance_criteria.startswith("Not asked")
    assert form.risks is not None and form.risks.startswith("Not asked")
    assert SPEC.load(_model(sales_values).model_dump(mode="json"), SPEC.schema_version) == (
        _model(sales_values)
    )
