"""The renewal form's opening values from the account's record, however its payloads were stored."""

from __future__ import annotations

from typing import Any

import pytest

from forms import renewal_to_sales
from forms.renewal_prefill import (
    AccountRecord,
    Outcome,
    QuestionAndAnswer,
    delivery_outcomes,
    outcomes,
    renewal_values,
)
from forms.renewal_to_sales import RenewalToSalesForm

AGREED: dict[str, Any] = {
    "account_name": "Acme Ltd",
    "term_start": "2027-01-01",
    "term_end": "2027-12-31",
    "contract_value": "36000",
    "currency": "GBP",
    "schedule": "quarterly",
    "payment_terms_days": 30,
    "deliverables": ["Reporting pipeline", "Dashboard", "Training session"],
    "out_of_scope": "Data warehouse migration",
    "promises_made": "A named analyst",
    "success_criteria": "Month-end report in under 2 hours",
    "go_live_date": "2027-03-01",
    "go_live_promised": True,
}


@pytest.mark.parametrize(
    "delivery",
    [
        pytest.param(
            {
                "deliverables": [
                    {"name": "Reporting pipeline", "status": "delivered"},
                    {"deliverable": "Dashboard", "outcome": "partly", "note": "mobile view open"},
                    {"title": "Training session", "delivered": False},
                ]
            },
            id="list of objects",
        ),
        pytest.param(
            {
                "deliverable_outcomes": {
                    "Reporting pipeline": "Delivered",
                    "dashboard": "partly-delivered",
                    "Training session": "not",
                }
            },
            id="mapping",
        ),
    ],
)
def test_delivery_outcomes_mark_each_agreed_deliverable(delivery: dict[str, Any]) -> None:
    text = delivery_outcomes(AGREED, delivery)

    lines = text.splitlines()
    assert lines[0] == "• Reporting pipeline: delivered"
    assert lines[1].startswith("• Dashboard: partly delivered")
    assert lines[2] == "• Training session: not delivered"


def test_delivery_outcomes_keep_delivery_words_and_extra_items() -> None:
    delivery = {
        "deliverables": ["Reporting pipeline", "Data dictionary"],
        "what_was_delivered": "Pipeline live",
        "outstanding_items": "Training moved to May",
        "acceptance_date": "2027-06-30",
    }

    assert delivery_outcomes(AGREED, delivery).splitlines() == [
        "• Reporting pipeline: not marked",  # listed without a mark
        "• Dashboard: not marked",
        "• Training session: not marked",
        "• Data dictionary: not marked",  # delivered beyond the agreed list
        "Delivered: Pipeline live",
        "Still open: Training moved to May",
        "Accepted by the client on 30 Jun 2027",
    ]
    assert outcomes({"notes": "x", "deliverables": "not a list"}) == []
    assert outcomes({"deliverables": [{"name": "A", "status": True}]}) == [
        Outcome("A", "delivered", None)
    ]


def test_delivery_outcomes_name_what_was_billed_beyond_the_contract() -> None:
    delivery = {
        "currency": "GBP",
        "deliverables": [{"name": "Reporting pipeline", "status": "delivered"}],
        "variations": [{"description": "Board report", "amount": "1200"}],
        "billable_extras": [
            {"description": "Travel to Leeds", "amount": "350.50"},
            {"description": "", "amount": "10"},  # nothing to name: left out
            "not a line",
        ],
    }

    assert delivery_outcomes(AGREED, delivery).splitlines()[-2:] == [
        "Variation billed: Board report (GBP 1,200.00)",
        "Extra billed: Travel to Leeds (GBP 350.50)",
    ]
    no_currency = {**delivery, "currency": None}
    assert delivery_outcomes(AGREED, no_currency).splitlines()[-1] == (
        "Extra billed: Travel to Leeds"
    )


def test_no_delivery_handoff_says_nothing_about_delivery() -> None:
    assert delivery_outcomes(AGREED, None) == ""
    assert "delivery_outcomes" not in renewal_values(AccountRecord(agreed=AGREED))


def test_renewal_values_from_a_whole_record_parse_as_the_form() -> None:
    record = AccountRecord(
        agreed=AGREED,
        amendments=("12 Mar 2027, Sam Seller: Go-live date: 1 Mar 2027 → 15 Mar 2027",),
        delivery={"what_was_delivered": "All three"},
        questions=(
            QuestionAndAnswer("Dana Smith", "Who grants VPN access?", "Sam Seller", "Kim"),
            QuestionAndAnswer("Frank Ledger", "PO needed?"),
        ),
    )

    values = renewal_values(record)

    assert values["agreed_terms"] == (
        "Term: 1 Jan 2027 to 31 Dec 2027\nValue: GBP 36,000.00 (quarterly, payment in 30 days)"
    )
    assert values["agreed_scope"].endswith("Go-live: 1 Mar 2027 (promised to the client)")
    assert values["thread_qa"] == (
        "Q (Dana Smith): Who grants VPN access?\nA (Sam Seller): Kim\n\n"
        "Q (Frank Ledger): PO needed?\nA: not answered in the thread"
    )
    typed = {"health": "amber", "client_feedback": "Fine"}
    form = renewal_to_sales.SPEC.parse({**values, **typed})
    assert isinstance(form, RenewalToSalesForm)
    assert str(form.recommended_value) == "36000"
    assert form.amendments == "• " + record.amendments[0]


def test_a_long_record_is_cut_to_slacks_input_limit() -> None:
    questions = tuple(QuestionAndAnswer("Dana", "x" * 500, "Sam", "y" * 500) for _ in range(10))

    values = renewal_values(AccountRecord(agreed=AGREED, questions=questions))

    assert len(values["thread_qa"]) == 3000
    assert values["thread_qa"].endswith("…")


def test_a_partial_backfilled_payload_prefills_what_it_has() -> None:
    values = renewal_values(
        AccountRecord(agreed={"term_end": "2027-05-31", "contract_value": "n/a", "currency": "x"})
    )

    # An unreadable value or currency is left for ops to type rather than guessed.
    assert values == {"renewal_date": "2027-05-31", "agreed_terms": "Term: — to 31 May 2027"}


def test_a_version_one_renewal_recommends_renewing_as_it_is() -> None:
    stored = {
        "account_name": "Acme",
        "renewal_date": "2028-03-11",
        "current_value": "1200000",
        "currency": "JPY",
        "health": "green",
        "client_feedback": "Fine",
    }

    form = renewal_to_sales.SPEC.load(stored, schema_version=1)

    assert form.recommended_value == form.current_value
