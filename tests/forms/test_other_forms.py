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
    assert form.invoice_lines() == [
        ("Agreed balance due on acceptance", Decimal("20000")),
        ("Variation: Board report (change request 4)", Decimal("1200")),
        ("Billable extra: Travel to Leeds", Decimal("350.50")),
    ]
    assert form.amount_due() == Decimal("21550.50")
    rows = dict(row for _, rows in delivery_to_finance.SPEC.sections(form) for row in rows)
    assert rows == {
        "Account": "Acme",
        "Deliverables": "✓ Dashboard — delivered (signed off by Amy)\n"
        "◐ Pipeline — partly delivered (two feeds left)\n✗ Training — not delivered",
        "Client accepted on": "1 Mar 2028",
        "Evidence of acceptance": "https://mail.example.com/sign-off",
        "Outstanding items": "One report template to polish.",
        "Contract value": "EUR 50,000.00",
        "Already invoiced": "EUR 25,000.00",
        "Payment terms": "45 days",
        "PO number": "PO-7781",
        "Agreed balance due now": "EUR 20,000.00",
        "Variations": "EUR 1,200.00 — Board report (change request 4)",
        "Billable extras": "EUR 350.50 — Travel to Leeds",
        "Total to invoice now": "EUR 21,550.50",
        "Invoice date": "2 Mar 2028",
        "Notes for finance": "Send to the AP inbox.",
    }
    assert checked(
        delivery_to_finance.SPEC.build_modal(
            step=ALL_STEPS, values=FINANCE_VALUES, private_metadata=""
        )
    )["title"] == {"type": "plain_text", "text": "Delivered: Acme"}


def test_delivery_to_finance_nothing_due_is_an_answer_not_a_blank() -> None:
    nothing = {
        **{k: v for k, v in FINANCE_VALUES.items() if k not in AMOUNTS_DUE},
        D.NOTHING_DUE: ["yes"],
    }
    form = delivery_to_finance.SPEC.parse(nothing)
    assert isinstance(form, DeliveryToFinanceForm)
    assert form.invoice_lines() == []
    rows = dict(row for _, rows in delivery_to_finance.SPEC.sections(form) for row in rows)
    assert rows["Total to invoice now"] == "Nothing more to invoice"


def test_delivery_to_finance_reads_a_version_1_payload() -> None:
    stored = {
        "account_name": "Acme",
        "what_was_delivered": "Dashboard, pipeline and training, all signed off.",
        "acceptance_date": "2028-03-01",
        "currency": "EUR",
        "final_invoice_amount": "25000.00",
        "invoice_date": "2028-03-02",
    }
    form = delivery_to_finance.SPEC.load(stored, 1)
    assert form.invoice_lines() == [("Agreed balance due on acceptance", Decimal("25000.00"))]
    assert form.payment_terms_days == 30  # what version 1 always invoiced
    assert form.deliverables[0].name.startswith("Dashboard, pipeline")


AMOUNTS_DUE = (D.BALANCE_DUE, D.VARIATIONS, D.BILLABLE_EXTRAS)
FINANCE_RULES = [
    pytest.param(
        {D.INVOICE_DATE: "2028-02-28"},
        D.INVOICE_DATE,
        "Must be on or after the acceptance date (1 Mar 2028)",
        id="invoice before acceptance",
    ),
    pytest.param(
        {D.BALANCE_DUE: "10.123"},
        D.BALANCE_DUE,
        "EUR amounts have at most 2 decimal places",
        id="balance decimals",
    ),
    pytest.param(
        {D.BALANCE_DUE: "25000.01"},
        D.BALANCE_DUE,
        "Only EUR 25,000.00 of the agreed value is not invoiced yet",
        id="balance beyond what is left",
    ),
    pytest.param(
        {D.ALREADY_INVOICED: "50000.01"},
        D.ALREADY_INVOICED,
        "Cannot be more than the contract value (EUR 50,000.00)",
        id="invoiced beyond the value",
    ),
    pytest.param(
        {D.VARIATIONS: "1200; Board report\n12.345; Typo"},
        D.VARIATIONS,
        "Line 2: EUR amounts have at most 2 decimal places",
        id="variation decimals",
    ),
    pytest.param(
        {D.BILLABLE_EXTRAS: "Travel to Leeds"},
        D.BILLABLE_EXTRAS,
        "Line 1: write it as “amount; description”",
        id="extra without amount",
    ),
    pytest.param(
        {D.DELIVERABLES: "delivered; Dashboard\nmostly; Pipeline"},
        D.DELIVERABLES,
        "Line 2: start with delivered, partly or not (“mostly”)",
        id="unknown state",
    ),
    pytest.param(
        {D.DELIVERABLES: "Dashboard"},
        D.DELIVERABLES,
        "Line 1: write it as “delivered|partly|not; deliverable; notes”",
        id="deliverable without state",
    ),
    pytest.param(
        {D.BALANCE_DUE: None, D.VARIATIONS: None, D.BILLABLE_EXTRAS: None},
        D.NOTHING_DUE,
        "Enter what is due now above, or tick this box",
        id="nothing entered, box not ticked",
    ),
    pytest.param(
        {D.NOTHING_DUE: ["yes"]},
        D.NOTHING_DUE,
        "Untick this, or clear the amounts above: not both",
        id="amounts and nothing due",
    ),
    pytest.param(
        {D.PAYMENT_TERMS_DAYS: "31"},
        D.PAYMENT_TERMS_DAYS,
        "Pick one of the payment terms offered",
        id="terms not offered",
    ),
    pytest.param(
        {D.ACCEPTANCE_EVIDENCE_URL: None},
        D.ACCEPTANCE_EVIDENCE_URL,
        "Link the client's sign-off (email, ticket or signed document)",
        id="no evidence",
    ),
    pytest.param(
        {D.ACCEPTANCE_EVIDENCE_URL: "ftp://x"},
        D.ACCEPTANCE_EVIDENCE_URL,
        "Enter a full link starting with https://",
        id="bad link",
    ),
    pytest.param({D.DELIVERABLES: None}, D.DELIVERABLES, "Required", id="deliverables missing"),
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
