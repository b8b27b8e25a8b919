"""One-item-per-line answers (deliverables, other contacts, milestones) and the records they hold.

Each parser is a `BeforeValidator`: it turns the typed text into a list and reports the first bad
line by its number as the user sees it; lists (a stored payload being re-read) pass through.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, ValidationError

from forms import limits
from forms.errors import clip, form_error, humanize
from forms.validators import OptionalPhone, ShortText

_BULLET = re.compile(r"^\s*(?:[-*•·]|\d{1,3}[.)])(?:\s+|$)")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_AMOUNT = re.compile(r"^(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?$")
PEOPLE_FORMAT = "Name, role, email[, phone]"
MILESTONE_FORMAT = "YYYY-MM-DD; amount; description"


def _email_fits(email: str) -> str:
    if len(email) > limits.EMAIL.max_length:
        raise form_error(
            f"Use at most {limits.EMAIL.max_length} characters ({limits.EMAIL.reason})"
        )
    return email


class Person(BaseModel):
    """Someone at the client and what they do there."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    name: ShortText
    role: ShortText
    email: Annotated[EmailStr, AfterValidator(_email_fits)]
    phone: OptionalPhone = None


class Milestone(BaseModel):
    """One billing milestone: due date, amount (in the contract currency) and what it is for."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    due_date: date
    amount: Annotated[Decimal, Field(gt=0, max_digits=18)]
    description: ShortText


def numbered_lines(text: str) -> list[tuple[int, str]]:
    """Non-blank lines with their 1-based line numbers, so messages point at the right line."""
    return [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1) if line.strip()]


def split_items(value: object) -> object:
    """'- a\\n- b' -> ['a', 'b']: one item per line, bullets and numbering dropped."""
    if not isinstance(value, str):
        return value
    items = (_BULLET.sub("", line).strip() for _, line in numbered_lines(value))
    return [item for item in items if item]


def split_people(value: object) -> object:
    """'Name, role, email[, phone]' per line -> Person dicts, or the first bad line's error."""
    if not isinstance(value, str):
        return value
    people = []
    for n, line in numbered_lines(value):
        parts = [part.strip() for part in line.split(",")]
        if len(parts) not in (3, 4):
            raise form_error(f"Line {n}: write it as “{PEOPLE_FORMAT}”")
        fields = dict(zip(("name", "role", "email", "phone"), parts, strict=False))
        try:
            Person.model_validate(fields)
        except ValidationError as exc:
            error = exc.errors()[0]
            where = str(error["loc"][0]) if error["loc"] else "line"
            kind = "email" if where == "email" else "text"
            raise form_error(clip(f"Line {n}, {where}: {humanize(error, kind=kind)}")) from None
        people.append(fields)
    return people


def split_milestones(value: object) -> object:
    """'YYYY-MM-DD; amount; description' per line -> Milestone dicts, or the bad line's error."""
    if not isinstance(value, str):
        return value
    milestones = []
    for n, line in numbered_lines(value):
        parts = [part.strip() for part in line.split(";", 2)]
        if len(parts) != 3:
            raise form_error(f"Line {n}: write it as “{MILESTONE_FORMAT}”")
        when, amount, description = parts
        due = {"due_date": _line_date(n, when), "amount": _line_amount(n, amount)}
        if not description:
            raise form_error(f"Line {n}: add what the milestone is for after the amount")
        milestones.append({**due, "description": description})
    return milestones


def _line_date(n: int, text: str) -> date:
    try:
        if _ISO_DATE.match(text):
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise form_error(clip(f"Line {n}: “{text[:40]}” is not a date like 2027-03-31"))


def _line_amount(n: int, text: str) -> Decimal:
    cleaned = text.replace(" ", "")
    if not _AMOUNT.match(cleaned):
        raise form_error(clip(f"Line {n}: “{text[:40]}” is not an amount like 5000.00"))
    amount = Decimal(cleaned.replace(",", ""))
    if amount <= 0:
        raise form_error(f"Line {n}: the amount must be more than 0")
    return amount
