"""What the delivery -> finance form says is already invoiced: the agreed schedule's invoices
dated up to the day, counted as integrations.billing dates them (issue 9)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from bot.render.delivery import delivery_request, thread_note
from bot.services.delivery_prefill import invoiced_by
from integrations.ports import BillingTerms, Milestone

QUARTERLY = BillingTerms(
    contract_value=Decimal("10000.00"),
    currency="GBP",
    schedule="quarterly",
    first_invoice_date=date(2027, 1, 31),
    payment_terms_days=30,
    term_start=date(2027, 1, 31),
    term_end=date(2027, 12, 31),
)


@pytest.mark.parametrize(
    ("today", "invoiced"),
    [
        (date(2027, 1, 30), "0"),
        (date(2027, 1, 31), "2500.00"),
        (date(2027, 4, 30), "5000.00"),  # 31 Jan + 3 months is 30 Apr
        (date(2027, 10, 31), "10000.00"),
    ],
)
def test_quarterly_counts_the_instalments_dated_so_far(today: date, invoiced: str) -> None:
    assert invoiced_by(QUARTERLY, today) == Decimal(invoiced)


def test_an_uneven_split_counts_the_remainder_where_it_is_billed() -> None:
    monthly = QUARTERLY.model_copy(
        update={"schedule": "monthly", "first_invoice_date": date(2027, 1, 31), "remainder": "last"}
    )
    # 12 x 833.33 and the last 833.37: eleven regular instalments by 30 Nov.
    assert invoiced_by(monthly, date(2027, 11, 30)) == Decimal("9166.63")
    assert invoiced_by(monthly, date(2027, 12, 31)) == Decimal("10000.00")


def test_milestones_count_from_their_invoice_dates_and_one_off_from_its_date() -> None:
    milestones = QUARTERLY.model_copy(
        update={
            "schedule": "milestones",
            "first_invoice_date": date(2027, 3, 1),
            "milestones": (
                Milestone(description="Deposit", amount=Decimal("4000"), due_date=date(2027, 2, 1)),
                Milestone(description="Balance", amount=Decimal("6000"), due_date=date(2027, 9, 1)),
            ),
        }
    )
    # As integrations.billing dates them: each milestone's invoice on the first invoice date,
    # or on its due date when that comes first (the deposit).
    assert invoiced_by(milestones, date(2027, 1, 31)) == Decimal(0)
    assert invoiced_by(milestones, date(2027, 2, 1)) == Decimal("4000")
    assert invoiced_by(milestones, date(2027, 3, 1)) == Decimal("10000")
    one_off = QUARTERLY.model_copy(update={"schedule": "one_off"})
    assert invoiced_by(one_off, date(2027, 1, 30)) == Decimal(0)
    assert invoiced_by(one_off, date(2027, 1, 31)) == Decimal("10000.00")


def test_what_slack_shows_escapes_the_account_name() -> None:
    text, blocks = delivery_request(7, "Acme <!here> & Co", "asana_webhook", None)
    assert "Acme &lt;!here&gt; &amp; Co" in text
    assert "<!here>" not in str(blocks)
    assert "the Asana project was marked complete" in str(blocks)
    note = thread_note(7, "U0OPS1", "button", "U0OPS2")
    assert note.startswith(":package: Delivery complete — <@U0OPS2> pressed *Delivery complete*")
