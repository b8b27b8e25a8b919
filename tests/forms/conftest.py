"""Fixtures for the forms tests: complete answers, Slack's echo of a view, and the view checks."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from slack_sdk.models.views import View

from forms.ids import DeliveryToFinanceField, RenewalToSalesField
from tests.support.openapi_check import contracts_dir

SCHEMA = contracts_dir() / "slack/block-kit/slack-block-kit.schema.json"

SALES_VALUES: dict[str, Any] = {
    "account_name": "Acme Widgets Ltd",
    "why_they_bought": "Their reporting takes a week each month & nobody trusts it.",
    "success_criteria": "Month-end report out by working day 3 within 90 days.",
    "month_one": "Weekly call on Tuesdays; a one-page PDF status every Friday.",
    "promises_made": "None",
    "buyer_name": "Jane Doe",
    "buyer_role": "CFO",
    "buyer_email": "jane@acme.example",
    "buyer_phone": "+44 20 7946 0000",
    "day_to_day_name": "Bob Smith",
    "day_to_day_role": "Finance Manager",
    "day_to_day_email": "bob@acme.example",
    "billing_contact_name": "Amy Jones",
    "billing_contact_role": "Accounts Payable",
    "billing_contact_email": "ap@acme.example",
    "billing_contact_phone": "020 7946 0001",
    "other_contacts": (
        "Carl Wu, IT lead, carl@acme.example\nDee Ray, Analyst, dee@acme.example, 07700 900123"
    ),
    "account_manager": "U0AM00001",
    "delivery_lead": "W0DL00002",
    "deliverables": "- Month-end dashboard\n- Data pipeline from Xero\n- Training for 5 users",
    "out_of_scope": "Budgeting and forecasting.",
    "acceptance_criteria": "Dashboard signed off by the CFO against March figures.",
    "term_start": "2027-03-12",
    "term_end": "2028-03-11",
    "contract_url": "https://docs.example.com/sow/acme.pdf",
    "contract_value": "100000.00",
    "currency": "GBP",
    "schedule": "quarterly",
    "billing_in_arrears": ["yes"],
    "first_invoice_date": "2027-04-01",
    "payment_terms_days": "30",
    "po_required": ["yes"],
    "po_number": "PO-4500012345",
    "invoicing_entity": "Acme Widgets Holdings Ltd",
    "tax_id": "GB123456789",
    "billing_conditions": "Invoices go to the supplier portal.",
    "earliest_kickoff": "2027-03-15",
    "go_live_date": "2027-05-03",
    "kickoff_waits_on": "Outgoing supplier's contract ends 14 March",
    "access_needed": "Xero read-only, granted by Amy.",
    "client_tools": "Xero, Slack Connect, Google Sheets",
    "non_standard_terms": "Termination for convenience on 30 days' notice.",
    "discounts": "10% first-year discount.",
    "discount_amount": "10000",
    "risks": "The CFO is leaving in June.",
}
FINANCE_VALUES: dict[str, Any] = {
    DeliveryToFinanceField.ACCOUNT_NAME: "Acme",
    DeliveryToFinanceField.DELIVERABLES: (
        "delivered; Dashboard; signed off by Amy\npartly; Pipeline; two feeds left\nnot; Training"
    ),
    DeliveryToFinanceField.ACCEPTANCE_DATE: "2028-03-01",
    DeliveryToFinanceField.ACCEPTANCE_EVIDENCE_URL: "https://mail.example.com/sign-off",
    DeliveryToFinanceField.OUTSTANDING_ITEMS: "One report template to polish.",
    DeliveryToFinanceField.CURRENCY: "EUR",
    DeliveryToFinanceField.CONTRACT_VALUE: "50000",
    DeliveryToFinanceField.ALREADY_INVOICED: "25000",
    DeliveryToFinanceField.PAYMENT_TERMS_DAYS: "45",
    DeliveryToFinanceField.PO_NUMBER: "PO-7781",
    DeliveryToFinanceField.BALANCE_DUE: "20000",
    DeliveryToFinanceField.VARIATIONS: "1200; Board report (change request 4)",
    DeliveryToFinanceField.BILLABLE_EXTRAS: "350.50; Travel to Leeds",
    DeliveryToFinanceField.INVOICE_DATE: "2028-03-02",
    DeliveryToFinanceField.NOTES: "Send to the AP inbox.",
}
RENEWAL_VALUES: dict[str, Any] = {
    RenewalToSalesField.ACCOUNT_NAME: "Acme",
    RenewalToSalesField.RENEWAL_DATE: "2028-03-11",
    RenewalToSalesField.CURRENT_VALUE: "1200000",
    RenewalToSalesField.CURRENCY: "JPY",
    RenewalToSalesField.RECOMMENDED_VALUE: "1320000",
    RenewalToSalesField.HEALTH: "amber",
    RenewalToSalesField.CLIENT_FEEDBACK: "Love the dashboard, want faster answers.",
    RenewalToSalesField.EXPANSION_OPPORTUNITIES: "Budgeting module.",
    RenewalToSalesField.RISKS: "New CFO from June.",
}
MILESTONES = "2027-04-01; 40,000.00; Kickoff\n\n2027-09-01; 60000; Dashboard live"

# Where each input element type reports its value in view.state.values (see the payload files).
_STATE_KEYS = {
    "plain_text_input": "value",
    "email_text_input": "value",
    "url_text_input": "value",
    "number_input": "value",
    "datepicker": "selected_date",
    "users_select": "selected_user",
    "static_select": "selected_option",
    "checkboxes": "selected_options",
}


@cache
def _modal_validator() -> Draft202012Validator:
    schema = json.loads(SCHEMA.read_text())
    return Draft202012Validator({"$ref": "#/$defs/modal_view", "$defs": schema["$defs"]})


def checked(view: View) -> dict[str, Any]:
    """The view as Slack receives it, after slack_sdk's limits and the community JSON schema."""
    payload = view.to_dict()
    View(**payload).validate_json()
    # A round trip through JSON turns StrEnum ids into the plain strings Slack sees.
    payload = dict(json.loads(json.dumps(payload)))
    errors = sorted(_modal_validator().iter_errors(payload), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message[:200]}" for e in errors[:5]]
    return payload


def state_of(payload: dict[str, Any]) -> dict[str, Any]:
    """The state.values Slack would send back for this view if nobody edited it."""
    values: dict[str, Any] = {}
    for block in payload["blocks"]:
        if block["type"] != "input":
            continue
        element = block["element"]
        kind = element["type"]
        initial = {
            "static_select": element.get("initial_option"),
            "checkboxes": element.get("initial_options", []),
            "datepicker": element.get("initial_date"),
            "users_select": element.get("initial_user"),
        }.get(kind, element.get("initial_value"))
        values[block["block_id"]] = {
            element["action_id"]: {"type": kind, _STATE_KEYS[kind]: initial}
        }
    return values


@pytest.fixture
def sales_values() -> dict[str, Any]:
    """A complete, valid sales -> delivery submission as raw form values."""
    return dict(SALES_VALUES)


@pytest.fixture
def check_view() -> Callable[[View], dict[str, Any]]:
    """Validate a view against slack_sdk and the Block Kit schema; returns its JSON payload."""
    return checked
