"""The delivery -> finance and renewal forms, and the registry that finds every form."""

from __future__ import annotations

import ast
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import forms
from forms import delivery_to_finance, renewal_to_sales, sales_to_delivery
from forms.base import values_from_state
from forms.delivery_to_finance import DeliveryToFinanceForm
from forms.ids import CallbackId
from forms.ids import DeliveryToFinanceField as D
from forms.ids import RenewalToSalesField as R
from forms.registry import FORMS, form_for_callback, get_form
from forms.renewal_to_sales import RenewalToSalesForm
from forms.steps import ALL_STEPS
from tests.forms.conftest import FINANCE_VALUES, RENEWAL_VALUES, checked, state_of


def test_forms_import_nothing_from_the_rest_of_the_app() -> None:
    for path in Path(forms.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            assert not [
                n for n in names if n.split(".")[0] in {"bot", "integrations", "storage"}
            ], path


def test_registry_holds_every_kind() -> None:
    assert set(FORMS) == {"sales_to_delivery", "delivery_to_finance", "renewal_to_sales"}
    assert get_form("sales_to_delivery") is sales_to_delivery.SPEC
    assert form_for_callback(CallbackId.RENEWAL_TO_SALES) is renewal_to_sales.SPEC
    assert form_for_callback("something_else") is None
    with pytest.raises(KeyError, match="unknown handoff kind 'nope'"):
        get_form("nope")


@pytest.mark.parametrize("spec", FORMS.values(), ids=list(FORMS))
def test_every_form_keeps_the_shared_conventions(spec: Any) -> None:
    payload = checked(spec.build_modal(step=ALL_STEPS, values={}, private_metadata="handoff:7"))
    assert payload["callback_id"] == spec.callback_id
    assert payload["notify_on_close"] is True
    assert payload["close"]["text"] == "Save & close"
    assert spec.schema_version >= 1
    assert {b["block_id"] for b in payload["blocks"] if b["type"] == "input"} <= set(
        spec.model.model_fields
    ) | {str(f.name) for f in spec.all_fields()}


def test_delivery_to_finance_parses_and_renders() -> None:
    form = delivery_to_finance.SPEC.parse(FINANCE_VALUES)
    assert isinstance(form, DeliveryToFinanceForm)
    assert form.final_invoice_amount == Decimal("25000.00")
    rows = dict(row for _, rows in delivery_to_finance.SPEC.sections(form) for row in rows)
    assert rows == {
        "Account": "Acme",
        "What was delivered": "Dashboard, pipeline and training, all signed off.",
        "Client accepted on": "1 Mar 2028",
        "Evidence of acceptance": "https://mail.example.com/sign-off",
        "Outstanding items": "One report template to polish.",
        "Final invoice amount": "EUR 25,000.00",
        "Invoice date": "2 Mar 2028",
        "Notes for finance": "Send to the AP inbox.",
    }
    assert checked(
        delivery_to_finance.SPEC.build_modal(
            step=ALL_STEPS, values=FINANCE_VALUES, private_metadata=""
        )
    )["title"] == {"type": "plain_text", "text": "Delivered: Acme"}


FINANCE_RULES = [
    pytest.param(
        {D.INVOICE_DATE: "2028-02-28"},
        D.INVOICE_DATE,
        "Must be on or after the acceptance date (1 Mar 2028)",
        id="invoice before acceptance",
    ),
    pytest.param(
        {D.FINAL_INVOICE_AMOUNT: "10.123"},
        D.FINAL_INVOICE_AMOUNT,
        "EUR amounts have at most 2 decimal places",
        id="amount decimals",
    ),
    pytest.param(
        {D.FINAL_INVOICE_AMOUNT: "0"},
        D.FINAL_INVOICE_AMOUNT,
        "Must be more than 0",
        id="amount zero",
    ),
    pytest.param(
        {D.ACCEPTANCE_EVIDENCE_URL: "ftp://x"},
        D.ACCEPTANCE_EVIDENCE_URL,
        "Enter a full link starting with https://",
        id="bad link",
    ),
    pytest.param({D.WHAT_WAS_DELIVERED: None}, D.WHAT_WAS_DELIVERED, "Required", id="what missing"),
    pytest.param({D.ACCEPTANCE_DATE: None}, D.ACCEPTANCE_DATE, "Required", id="acceptance missing"),
    pytest.param({D.INVOICE_DATE: None}, D.INVOICE_DATE, "Required", id="invoice date missing"),
    pytest.param({D.CURRENCY: None}, D.CURRENCY, "Required", id="currency missing"),
]


@pytest.mark.parametrize(("changes", "block_id", "message"), FINANCE_RULES)
def test_delivery_to_finance_rules(changes: dict[str, Any], block_id: str, message: str) -> None:
    values = {k: v for k, v in {**FINANCE_VALUES, **changes}.items() if v is not None}
    assert delivery_to_finance.SPEC.parse(values) == {block_id: message}


def test_renewal_to_sales_parses_and_renders() -> None:
    form = renewal_to_sales.SPEC.parse(RENEWAL_VALUES)
    assert isinstance(form, RenewalToSalesForm)
    assert form.renewal_date == date(2028, 3, 11)
    rows = dict(row for _, rows in renewal_to_sales.SPEC.sections(form) for row in rows)
    assert rows == {
        "Account": "Acme",
        "Renewal date": "11 Mar 2028",
        "Current contract value": "JPY 1,200,000",
        "Recommended renewal value": "JPY 1,320,000",
        "Account health": "Amber: some concerns",
        # The record's fields, empty for an account with no handoff here, still show.
        "Scope": "—",
        "Value and terms": "—",
        "Promises made": "—",
        "Success criteria": "—",
        "Amendments since": "—",
        "Delivery outcomes": "—",
        "Questions and answers": "—",
        "Client feedback": "Love the dashboard, want faster answers.",
        "Expansion opportunities": "Budgeting module.",
        "Risks to the renewal": "New CFO from June.",
    }


RENEWAL_RULES = [
    pytest.param({R.CLIENT_FEEDBACK: None}, R.CLIENT_FEEDBACK, "Required", id="feedback required"),
    pytest.param({R.CLIENT_FEEDBACK: " "}, R.CLIENT_FEEDBACK, "Required", id="feedback blank"),
    pytest.param({R.HEALTH: "purple"}, R.HEALTH, "Pick one of the options", id="health unknown"),
    pytest.param({R.HEALTH: None}, R.HEALTH, "Required", id="health missing"),
    pytest.param(
        {R.CURRENT_VALUE: "10.5"},
        R.CURRENT_VALUE,
        "JPY amounts are whole numbers",
        id="yen decimals",
    ),
    pytest.param(
        {R.CURRENT_VALUE: "-5"}, R.CURRENT_VALUE, "Must be more than 0", id="value negative"
    ),
    pytest.param(
        {R.RECOMMENDED_VALUE: None}, R.RECOMMENDED_VALUE, "Required", id="recommended missing"
    ),
    pytest.param(
        {R.RECOMMENDED_VALUE: "99.5"},
        R.RECOMMENDED_VALUE,
        "JPY amounts are whole numbers",
        id="recommended yen decimals",
    ),
    pytest.param(
        {R.RENEWAL_DATE: "soon"}, R.RENEWAL_DATE, "Pick a date (YYYY-MM-DD)", id="renewal date"
    ),
]


@pytest.mark.parametrize(("changes", "block_id", "message"), RENEWAL_RULES)
def test_renewal_to_sales_rules(changes: dict[str, Any], block_id: str, message: str) -> None:
    values = {k: v for k, v in {**RENEWAL_VALUES, **changes}.items() if v is not None}
    assert renewal_to_sales.SPEC.parse(values) == {block_id: message}


@pytest.mark.parametrize(
    ("spec", "values"),
    [(delivery_to_finance.SPEC, FINANCE_VALUES), (renewal_to_sales.SPEC, RENEWAL_VALUES)],
    ids=["delivery_to_finance", "renewal_to_sales"],
)
def test_drafts_round_trip_and_read_back(spec: Any, values: dict[str, Any]) -> None:
    payload = checked(spec.build_modal(step=ALL_STEPS, values=values, private_metadata=""))
    assert values_from_state(state_of(payload)) == values
    form = spec.parse(values)
    assert spec.model.model_validate(form.model_dump(mode="json")) == form
