"""Historic accounts from a CSV file (`backfill --csv FILE`): one deal per row.

The columns are documented in the README ("Backfill of historic accounts") and shown in
`backfill.example.csv`. Besides them, any answer of the sales form may be given as a column
named after it (e.g. `po_number`, `retainer_amount`, `milestones`, `success_criteria`).
Each row remembers its line in the file (a quoted cell may span lines), so every problem names
the line and the column.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bot.services.backfill_rows import PEOPLE, Candidate, Problem
from forms.historic import FIELD_NAMES, parse_date
from forms.ids import KEY_CONTACT_BLOCKS
from forms.ids import SalesToDeliveryField as F
from forms.lines import PEOPLE_FORMAT

REQUIRED = (
    "deal_id",
    "account_name",
    "amount",
    "currency",
    "close_date",
    "term_end",
    "scope",
    "client_contact",
)
OPTIONAL = (
    "deal_name",
    "term_start",
    "billing_model",
    "schedule",
    "payment_terms",
    "sales_owner",
    "delivery_lead",
    "ops_team",
    "billing_contact",
    "notes",
)
# Columns named for people rather than after the form's answers, and where each lands.
RENAMED = {
    "amount": F.CONTRACT_VALUE,
    "payment_terms": F.PAYMENT_TERMS_DAYS,
    "scope": F.DELIVERABLES,
    "notes": F.ASSUMPTIONS,
}
# Answers the form asks for that default to another column's value (their errors name it).
DEFAULTED_FROM = {
    F.TERM_START: "close_date",
    F.FIRST_INVOICE_DATE: "term_start",
    F.EARLIEST_KICKOFF: "term_start",
    F.GO_LIVE_DATE: "term_start",
    F.ACCOUNT_MANAGER: "sales_owner",
}


class CsvFileError(ValueError):
    """The file as a whole cannot be read (missing or unknown columns, not a CSV)."""


@dataclass(frozen=True)
class CsvRows:
    """The rows of a backfill file, read ahead so the run knows how many there are."""

    rows: tuple[Candidate, ...]

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[Candidate]:
        return iter(self.rows)


def read_csv(path: Path) -> CsvRows:
    """Every non-blank row of the file as a candidate; a bad header raises CsvFileError."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        try:
            header = [name.strip().lower() for name in next(reader)]
        except StopIteration:
            empty = f"{path.name} is empty: the first line must name the columns"
            raise CsvFileError(empty) from None
        except csv.Error as exc:
            raise CsvFileError(f"{path.name}: {exc}") from exc
        _check_header(header)
        rows = []
        first_line = reader.line_num + 1
        try:
            for cells in reader:
                if any(cell.strip() for cell in cells):
                    rows.append(_row(f"line {first_line}", header, cells))
                first_line = reader.line_num + 1
        except csv.Error as exc:
            raise CsvFileError(f"{path.name}, line {first_line}: {exc}") from exc
    return CsvRows(tuple(rows))


def _check_header(header: list[str]) -> None:
    known = set(REQUIRED) | set(OPTIONAL) | FIELD_NAMES
    unknown = [name for name in header if name and name not in known]
    missing = [name for name in REQUIRED if name not in header]
    twice = sorted({name for name in header if name and header.count(name) > 1})
    problems = []
    if missing:
        problems.append(f"missing column(s): {', '.join(missing)}")
    if unknown:
        problems.append(
            f"unknown column(s): {', '.join(unknown)} (see README, Backfill of historic accounts)"
        )
    if twice:
        problems.append(f"column(s) given twice: {', '.join(twice)}")
    if problems:
        raise CsvFileError("; ".join(problems))


def _row(where: str, header: list[str], cells: list[str]) -> Candidate:
    problems: list[Problem] = []
    if len(cells) > len(header):
        problems.append(Problem(where, None, f"{len(cells)} cells for {len(header)} columns"))
    cell = {name: value.strip() for name, value in zip(header, cells, strict=False) if name}
    given: dict[str, str] = {}
    columns: dict[str, str] = {}
    for name, value in cell.items():
        target = RENAMED.get(name, name)
        if value and target in FIELD_NAMES and name not in PEOPLE:
            given[target] = value
            columns[target] = name
    for field, column in DEFAULTED_FROM.items():
        columns.setdefault(field, column)
    given[F.DELIVERABLES] = _one_per_line(cell.get("scope", ""))
    given.setdefault(F.TERM_START, cell.get("close_date", ""))
    for contact, column in (
        ("buyer", "client_contact"),
        ("day_to_day", "client_contact"),
        ("billing_contact", "billing_contact" if cell.get("billing_contact") else "client_contact"),
    ):
        problem = _contact(where, column, cell.get(column, ""), contact, given, columns)
        if problem is not None and contact != "day_to_day":  # one message per column
            problems.append(problem)
    close = cell.get("close_date", "")
    close_date = parse_date(close)
    if close_date is None:
        problems.append(
            Problem(where, "close_date", f"“{close[:40]}” is not a date like 2026-03-31")
        )
    deal_id = cell.get("deal_id", "")
    if not deal_id:
        problems.append(Problem(where, "deal_id", "Enter the CRM deal id"))
    return Candidate(
        source="csv",
        where=where,
        deal_id=deal_id,
        deal_name=cell.get("deal_name") or cell.get("account_name", ""),
        close_date=close_date,
        given=given,
        people={name: cell[name] for name in PEOPLE if cell.get(name)},
        columns=columns,
        ops_team=cell.get("ops_team") or None,
        problems=tuple(problems),
    )


def _contact(
    where: str,
    column: str,
    text: str,
    contact: str,
    given: dict[str, str],
    columns: dict[str, str],
) -> Problem | None:
    """'Name, role, email[, phone]' into the key contact's four answers."""
    blocks = KEY_CONTACT_BLOCKS[contact]
    for block in blocks:
        columns[block] = column
    parts = [part.strip() for part in text.split(",")] if text.strip() else []
    if parts and len(parts) not in (3, 4):
        return Problem(where, column, f"write it as “{PEOPLE_FORMAT}”")
    for block, part in zip(blocks, parts, strict=False):
        given[block] = part
    return None


def _one_per_line(text: str) -> str:
    """Deliverables one per line; a spreadsheet cell may separate them with semicolons."""
    return "\n".join(item.strip() for item in text.replace(";", "\n").splitlines() if item.strip())
