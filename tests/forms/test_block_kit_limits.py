"""Every view we build passes slack_sdk's limits and the Block Kit JSON schema, at any size."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from slack_sdk.models.views import View

from forms import limits
from forms.base import error_view, loading_view, modal_title
from forms.display import split_text, summary_blocks
from forms.ids import CallbackId
from forms.ids import SalesToDeliveryField as F
from forms.registry import FORMS
from forms.sales_to_delivery import SPEC, SalesToDeliveryForm
from forms.steps import ALL_STEPS
from tests.forms.conftest import FINANCE_VALUES, MILESTONES, RENEWAL_VALUES, checked

CheckView = Callable[[View], dict[str, Any]]
LONG_FIELDS = [
    F.WHY_THEY_BOUGHT,
    F.SUCCESS_CRITERIA,
    F.MONTH_ONE,
    F.PROMISES_MADE,
    F.OUT_OF_SCOPE,
    F.BILLING_CONDITIONS,
    F.ACCESS_NEEDED,
    F.CLIENT_TOOLS,
    F.NON_STANDARD_TERMS,
    F.DISCOUNTS,
    F.RISKS,
]


def _long_text(seed: str) -> str:
    # Worst cases for splitting: escapes that grow (& -> &amp;), long unbroken runs, many lines.
    words = f"{seed} & <b> R&D " * 120
    return (words[:1400] + "x" * 1000 + "\n" + "&" * 590)[:3000]


def _max_length(name: str) -> int:
    limit = limits.BY_FIELD.get(name)
    return limit.max_length if limit else 3000


@pytest.mark.parametrize("spec", FORMS.values(), ids=list(FORMS))
def test_empty_modal_is_valid(spec: Any, check_view: CheckView) -> None:
    check_view(spec.build_modal(step=ALL_STEPS, values={}, private_metadata=""))


def test_full_modal_with_milestones_and_errors_is_valid(
    sales_values: dict[str, Any], check_view: CheckView
) -> None:
    sales_values.update({F.SCHEDULE: "milestones", F.MILESTONES: MILESTONES})
    view = SPEC.build_modal(
        step=ALL_STEPS, values=sales_values, private_metadata="x" * 3000, errors_summary="&" * 5000
    )
    payload = check_view(view)
    assert len(payload["blocks"]) < 100


def test_modal_drops_initial_values_slack_would_refuse(check_view: CheckView) -> None:
    draft: dict[str, Any] = {
        F.ACCOUNT_NAME: "A" * 400,
        F.TERM_START: "12/03/2027",
        F.TERM_END: "2027-02-30",
        F.CURRENCY: "pounds",
        F.SCHEDULE: "weekly",
        F.PAYMENT_TERMS_DAYS: 30,
        F.CONTRACT_VALUE: "1e5",
        F.ACCOUNT_MANAGER: "bob",
        F.PO_REQUIRED: ["maybe"],
        F.WHY_THEY_BOUGHT: "w" * 5000,
    }
    payload = check_view(SPEC.build_modal(step=ALL_STEPS, values=draft, private_metadata=""))
    by_id = {b["block_id"]: b["element"] for b in payload["blocks"] if b["type"] == "input"}
    assert len(by_id[F.ACCOUNT_NAME]["initial_value"]) == 100  # QuickBooks DisplayName
    assert len(by_id[F.WHY_THEY_BOUGHT]["initial_value"]) == 3000
    for block_id, key in [
        (F.TERM_START, "initial_date"),
        (F.TERM_END, "initial_date"),
        (F.CURRENCY, "initial_option"),
        (F.SCHEDULE, "initial_option"),
        (F.PAYMENT_TERMS_DAYS, "initial_option"),
        (F.CONTRACT_VALUE, "initial_value"),
        (F.ACCOUNT_MANAGER, "initial_user"),
        (F.PO_REQUIRED, "initial_options"),
    ]:
        assert key not in by_id[block_id], block_id
    assert payload["title"]["text"] == "Handoff: AAAAAAAAAAAAAA…"


def test_readonly_view_with_very_long_texts_is_valid(
    sales_values: dict[str, Any], check_view: CheckView
) -> None:
    sales_values.update({name: _long_text(name)[: _max_length(name)] for name in LONG_FIELDS})
    lines = [
        f"Person {n}, Role {n} & co, p{n}@acme.example, +44 20 7946 {n:04d}" for n in range(40)
    ]
    sales_values[F.OTHER_CONTACTS] = "\n".join(lines)[:3000]
    sales_values[F.DELIVERABLES] = "\n".join(f"- Deliverable {n} <with> & more" for n in range(90))
    form = SPEC.parse(sales_values)
    assert isinstance(form, SalesToDeliveryForm)
    payload = check_view(SPEC.readonly_view(form, private_metadata="handoff:42"))
    assert payload["callback_id"] == CallbackId.READONLY
    assert "submit" not in payload
    assert len(payload["blocks"]) <= 100
    shown = "".join(b["text"]["text"] for b in payload["blocks"] if b["type"] == "section")
    assert "&amp; &lt;b&gt; R&amp;D" in shown
    assert "<@U0AM00001>" in shown  # mentions survive escaping
    assert "Person 39" in shown or "Person 3" in shown


@pytest.mark.parametrize("spec", FORMS.values(), ids=list(FORMS))
def test_every_readonly_view_is_valid(spec: Any, sales_values: dict[str, Any]) -> None:
    values = {
        "sales_to_delivery": sales_values,
        "delivery_to_finance": FINANCE_VALUES,
        "renewal_to_sales": RENEWAL_VALUES,
    }[spec.kind]
    checked(spec.readonly_view(spec.parse(values), private_metadata=""))


def test_loading_and_error_views_are_valid(check_view: CheckView) -> None:
    loading = check_view(loading_view("Sales to delivery handoff"))
    assert loading["title"]["text"] == "Sales to delivery hando…"
    assert "Fetching the deal from the CRM…" in loading["blocks"][0]["text"]["text"]
    error = check_view(error_view("Handoff", "HubSpot said <500> & gave up. " * 400))
    assert 1 < len(error["blocks"]) <= 100
    assert error["callback_id"] == CallbackId.ERROR
    assert "&lt;500&gt; &amp;" in error["blocks"][0]["text"]["text"]


def test_modal_title_fits_slack() -> None:
    assert modal_title("Handoff", "Acme") == "Handoff: Acme"
    assert modal_title("Handoff", "  ") == "Handoff"
    assert len(modal_title("Handoff", "A very long company name indeed")) == 24


def test_split_text_respects_the_limit_and_never_cuts_an_escape() -> None:
    text = "a" * 2997 + "&amp;" + "<@U12345678>" * 300
    pieces = split_text(text, limit=3000)
    assert all(len(p) <= 3000 for p in pieces)
    assert "".join(pieces) == text
    assert pieces[0] == "a" * 2997
    assert pieces[1].startswith("&amp;<@U")
    assert all(p.count("<@") == p.count(">") for p in pieces[1:])


def test_summary_blocks_stay_within_the_block_budget() -> None:
    sections = [(f"Section {n}", [("Label", "word " * 1000)]) for n in range(40)]
    blocks = summary_blocks(sections, max_blocks=50)
    assert len(blocks) == 50
    assert blocks[-1].to_dict()["type"] == "context"
