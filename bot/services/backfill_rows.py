"""One historic deal as a source gives it (a CSV row, a HubSpot deal), before it is checked."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from forms.historic import label

Source = Literal["csv", "hubspot"]
PEOPLE = ("sales_owner", "delivery_lead")
"""Answers naming a person: a Slack user id, or an email looked up in Slack."""


@dataclass(frozen=True)
class Problem:
    """What is wrong with one answer of one row: where (CSV line or deal) and which column."""

    where: str  # "line 7" or "deal 9001"
    column: str | None  # the CSV column, or the form answer's label for a CRM deal
    message: str
    csv: bool = True

    def __str__(self) -> str:
        if self.column is None:
            return f"{self.where}: {self.message}"
        if self.csv:
            return f"{self.where}, column {self.column}: {self.message}"
        return f"{self.where}, {self.column}: {self.message}"


@dataclass(frozen=True)
class Candidate:
    """A historic deal to bring in: its answers as text, by the sales form's field names."""

    source: Source
    where: str  # "line 7" or "deal 9001"
    deal_id: str
    deal_name: str
    close_date: date | None
    given: dict[str, str]  # form answers by field name
    people: dict[str, str] = field(default_factory=dict)  # PEOPLE -> Slack id or email
    columns: dict[str, str] = field(default_factory=dict)  # form field -> the CSV column
    ops_team: str | None = None
    stage: str | None = None  # the CRM's stage when read (HubSpot); None when not asked
    problems: tuple[Problem, ...] = ()  # found while reading (e.g. an unreadable close date)

    def problem(self, name: str, message: str) -> Problem:
        """A problem with the answer `name` (a form field or a CSV column), placed for people."""
        if self.source == "csv":
            return Problem(self.where, self.columns.get(name, name), message)
        return Problem(self.where, label(name), message, csv=False)
