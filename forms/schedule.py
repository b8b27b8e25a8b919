"""Recurring instalment dates as the form checks them: the same rule finance bills by.

integrations/ports.py holds the same two functions for the adapters (the packages do not import
each other); tests/forms/test_schedule.py checks the two agree on every date they are given.
"""

from __future__ import annotations

import calendar
from datetime import date

STEP_MONTHS = {"monthly": 1, "quarterly": 3}


def add_months(day: date, months: int) -> date:
    """`day` moved by whole months, clamped to the month's last day (Jan 31 + 1 = Feb 28/29)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def schedule_dates(first: date, end: date, step_months: int) -> tuple[date, ...]:
    """`first`, `first + step`, ... on or before `end`, each counted from `first`."""
    dates: list[date] = []
    while (day := add_months(first, len(dates) * step_months)) <= end:
        dates.append(day)
    return tuple(dates)
