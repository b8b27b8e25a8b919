"""Date arithmetic the form's cross-field rules share with finance: periods in a term, instalments.

The same rules as integrations.billing (which forms may not import): a monthly or quarterly
schedule must produce exactly as many invoices between the first invoice date and the term end as
the term has periods, otherwise the finance adapter would refuse it after submission.
"""

from __future__ import annotations

import calendar
from datetime import date

STEP_MONTHS = {"monthly": 1, "quarterly": 3}


def add_months(day: date, months: int) -> date:
    """`day` moved by whole months, clamped to the month's last day."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def term_periods(start: date, end: date, step_months: int) -> int:
    """How many monthly/quarterly periods the term holds (a started period counts)."""
    months = (end.year - start.year) * 12 + (end.month - start.month)
    if end.day >= start.day:
        months += 1
    return max(1, -(-months // step_months))


def invoice_count(first: date, end: date, step_months: int) -> int:
    """How many invoice dates first, first + step, ... fall on or before `end`."""
    count = 0
    while add_months(first, count * step_months) <= end:
        count += 1
    return count
