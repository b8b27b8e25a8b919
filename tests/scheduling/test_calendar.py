"""Business-hours arithmetic: working days, weekends, holidays, time zones and DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from bot.config import WorkingHours
from bot.services.calendar import BusinessCalendar, describe_hours
from tests.scheduling.conftest import LONDON, NY, local

LONDON_HOURS = WorkingHours(timezone="Europe/London", start=time(9), end=time(17))
NY_HOURS = WorkingHours(timezone="America/New_York", start=time(9), end=time(17))


@pytest.fixture
def london() -> BusinessCalendar:
    return BusinessCalendar(LONDON_HOURS, [date(2026, 5, 4)])


def test_calendar_add_hours_within_one_day(london: BusinessCalendar) -> None:
    assert london.add_hours(local(LONDON, 2026, 1, 6, 10), 3) == local(LONDON, 2026, 1, 6, 13)


def test_calendar_add_hours_carries_overnight(london: BusinessCalendar) -> None:
    assert london.add_hours(local(LONDON, 2026, 1, 6, 15), 4) == local(LONDON, 2026, 1, 7, 11)


def test_calendar_add_hours_skips_the_weekend(london: BusinessCalendar) -> None:
    friday = local(LONDON, 2026, 1, 9, 16)
    assert london.add_hours(friday, 2) == local(LONDON, 2026, 1, 12, 10)


def test_calendar_add_hours_skips_a_holiday(london: BusinessCalendar) -> None:
    friday = local(LONDON, 2026, 5, 1, 16)  # Monday 4 May is a holiday
    assert london.add_hours(friday, 2) == local(LONDON, 2026, 5, 5, 10)


def test_calendar_add_hours_from_outside_hours_starts_at_next_window(
    london: BusinessCalendar,
) -> None:
    saturday = local(LONDON, 2026, 1, 10, 12)
    assert london.add_hours(saturday, 1) == local(LONDON, 2026, 1, 12, 10)


def test_calendar_add_hours_across_spring_forward_keeps_wall_clock_hours(
    london: BusinessCalendar,
) -> None:
    # Clocks go forward on Sunday 29 March 2026: Monday 9:00 BST is 08:00 UTC.
    friday = local(LONDON, 2026, 3, 27, 15)
    assert london.add_hours(friday, 4) == datetime(2026, 3, 30, 10, 0, tzinfo=UTC)


def test_calendar_new_york_dst_moves_the_utc_window() -> None:
    ny = BusinessCalendar(NY_HOURS)
    assert ny.window(date(2026, 3, 6))[0] == datetime(2026, 3, 6, 14, 0, tzinfo=UTC)
    assert ny.window(date(2026, 3, 9))[0] == datetime(2026, 3, 9, 13, 0, tzinfo=UTC)
    assert ny.add_hours(local(NY, 2026, 3, 6, 15), 4) == datetime(2026, 3, 9, 15, 0, tzinfo=UTC)


def test_calendar_hours_between_counts_only_working_time(london: BusinessCalendar) -> None:
    start = local(LONDON, 2026, 5, 1, 15)  # Friday before the bank holiday
    end = local(LONDON, 2026, 5, 5, 10, 30)
    assert london.hours_between(start, end) == 3.5
    assert london.hours_between(end, start) == 0.0


def test_calendar_next_working_instant(london: BusinessCalendar) -> None:
    assert london.next_working_instant(local(LONDON, 2026, 1, 6, 12)) == local(
        LONDON, 2026, 1, 6, 12
    )
    # The end of a window is not working time: the next window's start is.
    assert london.next_working_instant(local(LONDON, 2026, 1, 6, 17)) == local(
        LONDON, 2026, 1, 7, 9
    )
    assert london.next_working_instant(local(LONDON, 2026, 1, 10, 8)) == local(
        LONDON, 2026, 1, 12, 9
    )


def test_calendar_is_working(london: BusinessCalendar) -> None:
    assert london.is_working(local(LONDON, 2026, 1, 6, 9))
    assert not london.is_working(local(LONDON, 2026, 1, 6, 17))
    assert not london.is_working(local(LONDON, 2026, 5, 4, 12))  # holiday
    assert not london.is_working(local(LONDON, 2026, 1, 10, 12))  # Saturday


def test_calendar_add_days_keeps_local_time_and_skips_holidays(london: BusinessCalendar) -> None:
    assert london.add_days(local(LONDON, 2026, 5, 1, 11, 30), 1) == local(
        LONDON, 2026, 5, 5, 11, 30
    )
    # Pressed after hours: one business day from the next morning.
    assert london.add_days(local(LONDON, 2026, 1, 6, 18), 1) == local(LONDON, 2026, 1, 8, 9)


def test_calendar_zone_is_independent_of_the_input_zone(london: BusinessCalendar) -> None:
    same_instant = local(NY, 2026, 1, 6, 5)  # 10:00 in London
    assert london.add_hours(same_instant, 1) == local(LONDON, 2026, 1, 6, 11)


@pytest.mark.parametrize(
    ("hours", "text"),
    [
        (0.25, "15 minutes"),
        (1 / 60, "1 minute"),
        (1, "1 business hour"),
        (3.9, "3 business hours"),
        (8, "1 business day"),
        (11, "1 business day 3 hours"),
        (17, "2 business days 1 hour"),
    ],
)
def test_describe_hours(hours: float, text: str) -> None:
    assert describe_hours(hours, 8) == text
