"""A historic account's sales -> delivery answers, from what a CSV row or the CRM holds (pure).

Backfill brings accounts won before the app into the same record. Nobody fills in the form for
them, so what history cannot say is stated as such, never invented: each required essay reads
"Not recorded (brought in from history)", and the dates the form asks for beyond the term (first
invoice, kickoff, go-live) default to the term start. The result is checked by the form's own
model (`SPEC.parse`), so a historic record obeys the same rules as a submitted one.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from forms.base import FormValues
from forms.ids import SalesToDeliveryField as F
from forms.layout import Kind
from forms.sales_to_delivery import SPEC, SalesToDeliveryForm

NOT_RECORDED = "Not recorded (brought in from history)"
DEFAULT_PAYMENT_TERMS = "30"
# Required answers history rarely holds: stated as not recorded rather than left invalid.
_ESSAYS = (
    F.WHY_THEY_BOUGHT,
    F.SUCCESS_CRITERIA,
    F.MONTH_ONE,
    F.PROMISES_MADE,
    F.OUT_OF_SCOPE,
    F.ACCEPTANCE_CRITERIA,
    F.RISKS,
)
# Dates the form asks for that default to the term's first day.
_FROM_TERM_START = (F.FIRST_INVOICE_DATE, F.EARLIEST_KICKOFF, F.GO_LIVE_DATE)
_YES = {"yes", "y", "true", "1", "x"}
_NO = {"no", "n", "false", "0", ""}
FIELD_NAMES = frozenset(str(f.name) for f in SPEC.all_fields())
"""Every answer of the sales form, by name: what a CSV may also give as a column."""


def historic_values(given: Mapping[str, str]) -> FormValues:
    """Form values from answers given as text (a CSV row, the CRM's prefill), with history's
    defaults for what is missing. Yes/no answers read yes/no, true/false or 1/0."""
    values: FormValues = {}
    for name, text in given.items():
        if name not in FIELD_NAMES or not text.strip():
            continue
        values[name] = _value(name, text.strip())
    start = values.get(F.TERM_START)
    for name in _FROM_TERM_START:
        if start and name not in values:
            values[name] = start
    for name in _ESSAYS:
        if name == F.RISKS and values.get(F.RISKS_NONE_KNOWN):
            continue
        values.setdefault(name, NOT_RECORDED)
    values.setdefault(F.PAYMENT_TERMS_DAYS, DEFAULT_PAYMENT_TERMS)
    values.setdefault(F.SCHEDULE, "one_off")
    values.setdefault(F.BILLING_MODEL, "fixed")
    if values.get(F.PO_NUMBER):
        values[F.PO_REQUIRED] = ["yes"]  # a PO number on record means invoices carry it
    return values


def check(values: FormValues) -> SalesToDeliveryForm | dict[str, str]:
    """The form's model, or one message per answer (by field name), as the modal would show.

    No submission day is given: a historic kickoff is in the past by nature."""
    return SPEC.parse(values)


def label(name: str) -> str:
    """The answer's label in the form, e.g. 'Term end'."""
    return next((str(f.label) for f in SPEC.all_fields() if f.name == name), name)


def parse_date(text: str) -> date | None:
    """An ISO date (2026-03-31), or None."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        return None


def _value(name: str, text: str) -> str | list[str]:
    field = next(f for f in SPEC.all_fields() if f.name == name)
    if field.kind is Kind.CHECKBOX and len(field.choices) == 1:
        word = text.lower()
        if word in _YES:
            return [field.choices[0][0]]
        if word in _NO:
            return []
        return text  # the model says what is wrong with it
    if field.kind is Kind.CHECKBOX:
        return [part.strip() for part in text.replace(";", ",").split(",") if part.strip()]
    return text
