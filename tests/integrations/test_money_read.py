"""Reading billing documents back as the vendors answer (shapes from their own specs), and the
comparison's rules that the end-to-end tests in tests/bot/test_money_check.py do not reach."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import yaml

from integrations import quickbooks_read, xero_read
from integrations.finance_read import HeldDocument
from integrations.money_compare import compare
from integrations.ports import BillingTerms, DealSnapshot
from tests.support.openapi_check import contracts_dir


def xero_example(path: str, collection: str) -> dict[str, Any]:
    """The first object of Xero's own example answer to GET `path`."""
    spec = yaml.safe_load((contracts_dir() / "xero" / "xero_accounting.subset.yaml").read_text())
    example = spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
    row: dict[str, Any] = example["example"][collection][0]
    return row


def test_xero_read_takes_line_amounts_and_dates_as_xero_answers_them() -> None:
    row = xero_example("/RepeatingInvoices/{RepeatingInvoiceID}", "RepeatingInvoices")

    assert xero_read.bills(row) == Decimal("5000.0")  # LineAmount, before the 750 tax
    schedule = row["Schedule"]
    assert xero_read.xero_day(schedule["StartDate"]) == date(2019, 4, 15)
    assert xero_read.xero_day(schedule["EndDate"]) == date(2019, 9, 30)
    assert xero_read._step(schedule) == 1


def test_xero_read_applies_discount_amounts_and_rates_without_line_amounts() -> None:
    row = {
        "LineItems": [
            {"Quantity": 12, "UnitAmount": 3000, "DiscountAmount": 4000},
            {"Quantity": 2, "UnitAmount": "100.00", "DiscountRate": 10},
            {"Quantity": 1, "UnitAmount": 4000},
        ]
    }
    assert xero_read.bills(row) == Decimal("36180")


def test_quickbooks_read_skips_the_subtotal_line_and_takes_off_discounts() -> None:
    invoice = {
        "Line": [
            {"DetailType": "SalesItemLineDetail", "Amount": 36000.0},
            {"DetailType": "SalesItemLineDetail", "Amount": 4000.0},
            {"DetailType": "SubTotalLineDetail", "Amount": 40000.0},
            {"DetailType": "DiscountLineDetail", "Amount": 4000.0},
        ]
    }
    assert quickbooks_read.bills(invoice) == Decimal("36000")


TERMS = BillingTerms(
    contract_value=Decimal("36000"),
    currency="GBP",
    schedule="monthly",
    first_invoice_date=date(2027, 1, 1),
    payment_terms_days=30,
    term_start=date(2027, 1, 1),
    term_end=date(2027, 12, 31),
)
TEMPLATE = HeldDocument(
    kind="recurring",
    document_id="7",
    state="active",
    currency="GBP",
    customer_id="1",
    customer_name="Acme Ltd",
    amount=Decimal("3000.00"),
    step_months=1,
    occurrences=12,
    start=date(2027, 1, 1),
)


def differences(held: HeldDocument, terms: BillingTerms = TERMS, **kwargs: Any) -> list[str]:
    found = compare(terms, (held,), account_name="Acme Ltd", tool="QuickBooks", **kwargs)
    return [d.what for d in found]


def test_compare_tolerance_and_estimates() -> None:
    deal = DealSnapshot(deal_id="1", name="Acme", amount=Decimal("36000.40"), currency="GBP")
    common = {"deal": deal, "handed_close_date": None}

    assert differences(TEMPLATE, **common) == ["Amount: CRM deal vs QuickBooks"]
    assert differences(TEMPLATE, tolerance=Decimal("0.50"), **common) == []
    estimated = TERMS.model_copy(update={"billing_model": "time_and_materials"})
    cheaper = TEMPLATE.model_copy(update={"amount": Decimal("2000")})
    assert differences(cheaper, estimated, **common) == []  # finance adjusts each invoice


def test_compare_schedule_close_date_and_open_ended_templates() -> None:
    deal = DealSnapshot(deal_id="1", name="Acme", close_date=date(2026, 12, 1))
    quarterly = TEMPLATE.model_copy(update={"step_months": 3, "occurrences": 4, "amount": 9000})
    assert differences(quarterly, deal=deal, handed_close_date=date(2026, 12, 1)) == [
        "Schedule: handoff vs QuickBooks"
    ]
    endless = TEMPLATE.model_copy(update={"occurrences": None})
    assert differences(endless, deal=deal, handed_close_date=date(2026, 11, 1)) == [
        "Amount: handoff vs QuickBooks",
        "Schedule: handoff vs QuickBooks",
        "CRM close date: at the handoff vs now",
    ]
