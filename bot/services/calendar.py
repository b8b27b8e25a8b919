"""Business-hours arithmetic for one team's working week, holidays and time zone.

Every instant in and out is an aware datetime; results are in UTC. Working windows are built per
local date with zoneinfo, so a window keeps its wall-clock start and end across a DST change and
elapsed time is always measured in real (UTC) time.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.config import WEEKDAYS, OrgConfig, WorkingHours

# A calendar with at least one working weekday always finds a window within a week plus the
# holidays; this bound turns a list of holidays covering years into an error, not a hang.
_SEARCH_DAYS = 3 * 366


class BusinessCalendar:
    """Working windows of one team: days, hours and time zone, minus public holidays."""

    def __init__(self, hours: WorkingHours, holidays: Iterable[date] = ()) -> None:
        self.hours = hours
        self.zone = ZoneInfo(hours.timezone)
        self.holidays = frozenset(holidays)
        self._weekdays = frozenset(WEEKDAYS.index(d) for d in hours.days)

    @property
    def day_hours(self) -> float:
        """Length of a nominal working day in hours (start to end, wall clock)."""
        start = datetime.combine(date(2000, 1, 3), self.hours.start)
        end = datetime.combine(date(2000, 1, 3), self.hours.end)
        return (end - start).total_seconds() / 3600

    def local_date(self, instant: datetime) -> date:
        """The calendar date of `instant` in this team's time zone."""
        return instant.astimezone(self.zone).date()

    def is_working_day(self, day: date) -> bool:
        """True when `day` is a working weekday and not a holiday."""
        return day.weekday() in self._weekdays and day not in self.holidays

    def window(self, day: date) -> tuple[datetime, datetime]:
        """The UTC start and end of the working window on local date `day`."""
        return (self._at(day, self.hours.start), self._at(day, self.hours.end))

    def is_working(self, instant: datetime) -> bool:
        """True when `instant` falls inside a working window (start inclusive, end exclusive)."""
        day = self.local_date(instant)
        if not self.is_working_day(day):
            return False
        start, end = self.window(day)
        return start <= instant < end

    def next_working_instant(self, instant: datetime) -> datetime:
        """`instant` itself if it is working time, else the start of the next working window."""
        for start, end in self._windows_from(instant):
            if instant < end:
                return max(instant, start).astimezone(UTC)
        raise AssertionError("unreachable: _windows_from raises when it runs out")

    def add_hours(self, start: datetime, hours: float) -> datetime:
        """The instant `hours` business hours after `start` (may equal a window's end)."""
        if hours < 0:
            raise ValueError("hours must not be negative")
        remaining = timedelta(hours=hours)
        for window_start, window_end in self._windows_from(start):
            begin = max(start, window_start)
            if begin >= window_end:
                continue
            available = window_end - begin
            if remaining <= available:
                return (begin + remaining).astimezone(UTC)
            remaining -= available
        raise AssertionError("unreachable: _windows_from raises when it runs out")

    def hours_between(self, start: datetime, end: datetime) -> float:
        """Business hours elapsed from `start` to `end`; 0 when `end` is not after `start`."""
        if end <= start:
            return 0.0
        total = timedelta()
        for window_start, window_end in self._windows_from(start):
            if window_start >= end:
                break
            overlap = min(end, window_end) - max(start, window_start)
            if overlap > timedelta():
                total += overlap
        return total.total_seconds() / 3600

    def add_days(self, instant: datetime, days: int) -> datetime:
        """The same local time `days` working days later, starting from the next working instant."""
        anchor = self.next_working_instant(instant).astimezone(self.zone)
        day = anchor.date()
        moved = 0
        while moved < days:
            day += timedelta(days=1)
            if self.is_working_day(day):
                moved += 1
        return self._at(day, anchor.time())

    def _at(self, day: date, at: time) -> datetime:
        return datetime.combine(day, at, tzinfo=self.zone).astimezone(UTC)

    def _windows_from(self, instant: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Working windows in order, beginning with the local day that contains `instant`."""
        day = self.local_date(instant)
        for offset in range(_SEARCH_DAYS):
            current = day + timedelta(days=offset)
            if self.is_working_day(current):
                yield self.window(current)
        raise ValueError(
            f"no working day within {_SEARCH_DAYS} days of {day}: check days and holidays"
        )


def team_calendar(org: OrgConfig, team: str | None) -> BusinessCalendar:
    """The calendar of `team` in the organisation file (the default working week when None)."""
    hours = org.teams[team].working_hours if team is not None else WorkingHours()
    return BusinessCalendar(hours, org.holidays)


def describe_hours(hours: float, day_hours: float) -> str:
    """Human text for a business duration: '40 minutes', '3 business hours', '2 business days'."""
    minutes = max(0, math.floor(hours * 60 + 1e-6))
    if minutes < 60:
        return _plural(minutes, "minute")
    day_minutes = max(1, round(day_hours * 60))
    days, rest = divmod(minutes, day_minutes)
    whole_hours = rest // 60
    if days == 0:
        return _plural(whole_hours, "business hour")
    text = _plural(days, "business day")
    return f"{text} {_plural(whole_hours, 'hour')}" if whole_hours else text


def _plural(count: int, unit: str) -> str:
    return f"{count} {unit}" if count == 1 else f"{count} {unit}s"
