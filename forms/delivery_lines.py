"""One-per-line answers of the delivery -> finance form: deliverables with their state, and
billable lines (variations, extras) with amounts.

Like `forms.lines`, each parser is a `BeforeValidator` that names the first bad line by the
number the person sees; lists (a stored payload re-read) pass through.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from forms.errors import clip, form_error
from forms.lines import _line_amount, numbered_lines
from forms.validators import OptionalShortText, ShortText

DeliveryState = Literal["delivered", "partly", "not"]
STATES: dict[DeliveryState, str] = {
    "delivered": "delivered",
    "partly": "partly delivered",
    "not": "not delivered",
}
# What people type for each state; the stored value is the key of STATES.
_STATE_WORDS: dict[str, DeliveryState] = {
    "delivered": "delivered",
    "done": "delivered",
    "partly": "partly",
    "partial": "partly",
    "partly delivered": "partly",
    "not": "not",
    "not delivered": "not",
}
DELIVERED_FORMAT = "delivered|partly|not; deliverable; notes"
BILLABLE_FORMAT = "amount; description"


class DeliveredItem(BaseModel):
    """One agreed deliverable and how far it was delivered."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    state: DeliveryState
    name: Annotated[str, Field(min_length=1, max_length=500)]
    notes: OptionalShortText = None


class BillableLine(BaseModel):
    """One amount finance invoices now, and what it is for."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    amount: Annotated[Decimal, Field(gt=0, max_digits=18)]
    description: ShortText


def delivered_line(item: DeliveredItem) -> str:
    """'✓ Dashboard — delivered (signed off 30 Jun)' as people read it."""
    mark = {"delivered": "✓", "partly": "◐", "not": "✗"}[item.state]
    notes = f" ({item.notes})" if item.notes else ""
    return f"{mark} {item.name} — {STATES[item.state]}{notes}"


def as_typed(state: DeliveryState, name: str) -> str:
    """A deliverable as one line of the form (what the prefill writes)."""
    return f"{state}; {name.replace(';', ',')}"


def split_delivered(value: object) -> object:
    """'delivered; Dashboard; signed off' per line -> DeliveredItem dicts, or the bad line."""
    if not isinstance(value, str):
        return value
    items = []
    for n, line in numbered_lines(value):
        parts = [part.strip() for part in line.split(";", 2)]
        if len(parts) < 2 or not parts[1]:
            raise form_error(f"Line {n}: write it as “{DELIVERED_FORMAT}”")
        state = _STATE_WORDS.get(" ".join(parts[0].lower().split()))
        if state is None:
            raise form_error(clip(f"Line {n}: start with delivered, partly or not (“{parts[0]}”)"))
        if len(parts[1]) > 500:
            raise form_error(f"Line {n}: keep the deliverable to 500 characters")
        notes = parts[2] if len(parts) == 3 and parts[2] else None
        if notes is not None and len(notes) > 255:
            raise form_error(f"Line {n}: keep the notes to 255 characters")
        items.append({"state": state, "name": parts[1], "notes": notes})
    return items


def split_billable(value: object) -> object:
    """'amount; description' per line -> BillableLine dicts, or the first bad line's error."""
    if not isinstance(value, str):
        return value
    lines = []
    for n, line in numbered_lines(value):
        parts = [part.strip() for part in line.split(";", 1)]
        if len(parts) != 2:
            raise form_error(f"Line {n}: write it as “{BILLABLE_FORMAT}”")
        amount, description = _line_amount(n, parts[0]), parts[1]
        if not description:
            raise form_error(f"Line {n}: add what the amount is for")
        if len(description) > 255:
            raise form_error(f"Line {n}: keep the description to 255 characters")
        lines.append({"amount": amount, "description": description})
    return lines
