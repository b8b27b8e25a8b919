"""Periods in a term, for the billing-model rules (e.g. a retainer's months).

One date rule for the whole form: the instalment dates of `forms.schedule`, which a property test
keeps identical to what `integrations.billing` bills.
"""

from __future__ import annotations

from datetime import date

from forms.schedule import STEP_MONTHS, schedule_dates

__all__ = ["STEP_MONTHS", "invoice_count", "term_periods"]


def term_periods(start: date, end: date, step_months: int) -> int:
    """How many monthly/quarterly instalments the term holds, billed from its start."""
    return max(1, len(schedule_dates(start, end, step_months)))


def invoice_count(first: date, end: date, step_months: int) -> int:
    """How many instalment dates first, first + step, ... fall on or before `end`."""
    return len(schedule_dates(first, end, step_months))
