"""What an amendment changed, field by field, and which side of the business reads each field.

A change is read off the readable rendering (`FormSpec.sections`), so it says what people see:
"Contract value: GBP 36,000.00 -> GBP 40,000.00", not a raw payload key. Each (section, label)
is read by delivery, finance or both; a receiving team confirms an amendment again only when a
field it reads changed (bot.services.amendments maps teams to these audiences).
"""

from __future__ import annotations

from dataclasses import dataclass

from forms.base import Sections
from forms.display import EMPTY
from forms.ids import SalesToDeliveryField as F
from forms.layout import Field
from forms.sales_to_delivery_billing_layout import ANOMALIES, BILLING
from forms.sales_to_delivery_layout import (
    CONTACT_ROLES,
    CONTACTS,
    CONTEXT,
    KICKOFF,
    RISKS,
    SCOPE,
)

DELIVERY = "delivery"
FINANCE = "finance"
AUDIENCES = (DELIVERY, FINANCE)


@dataclass(frozen=True)
class FieldChange:
    """One readable row whose value differs between two versions."""

    section: str
    label: str
    before: str
    after: str


def diff_sections(before: Sections, after: Sections) -> list[FieldChange]:
    """Every (section, label) whose value differs, in the form's reading order."""
    old = {(title, label): value for title, items in before for label, value in items}
    changes = []
    seen: set[tuple[str, str]] = set()
    for title, items in after:
        for label, value in items:
            seen.add((title, label))
            previous = old.get((title, label), EMPTY)
            if previous != value:
                changes.append(FieldChange(title, label, previous, value))
    # A row only the old version had (a form revised since) still counts as changed.
    changes += [
        FieldChange(title, label, value, EMPTY)
        for (title, label), value in old.items()
        if (title, label) not in seen and value != EMPTY
    ]
    return changes


def _labels(fields: tuple[Field, ...], names: set[str]) -> set[str]:
    return {f.label for f in fields if f.name in names}


_BOTH = frozenset(AUDIENCES)
_SALES_SECTIONS: dict[str, frozenset[str]] = {
    CONTEXT.title: frozenset({DELIVERY}),
    CONTACTS.title: frozenset({DELIVERY}),
    SCOPE.title: frozenset({DELIVERY}),
    KICKOFF.title: frozenset({DELIVERY}),
    RISKS.title: frozenset({DELIVERY}),
    BILLING.title: frozenset({FINANCE}),
    ANOMALIES.title: frozenset({FINANCE}),
}
# Fields of a delivery section that finance reads too: they reach the finance tool (the customer
# name, the billing contact, the term its schedule must fit, the signed contract).
_SALES_SHARED: set[tuple[str, str]] = {
    *((CONTEXT.title, label) for label in _labels(CONTEXT.fields, {F.ACCOUNT_NAME})),
    (CONTACTS.title, CONTACT_ROLES["billing_contact"]),
    *(
        (SCOPE.title, label)
        for label in _labels(SCOPE.fields, {F.TERM_START, F.TERM_END, F.CONTRACT_URL})
    ),
}
_BY_KIND = {"sales_to_delivery": (_SALES_SECTIONS, _SALES_SHARED)}


def audiences(kind: str, change: FieldChange) -> frozenset[str] | None:
    """Who reads the changed field: a subset of AUDIENCES, or None when the form kind does not
    say (every receiving team reads all of it)."""
    mapping = _BY_KIND.get(kind)
    if mapping is None:
        return None
    sections, shared = mapping
    if (change.section, change.label) in shared:
        return _BOTH
    return sections.get(change.section)
