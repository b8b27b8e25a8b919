"""A submitted handoff reopened as a form, to amend it.

`values_from_model` turns a stored submission back into the raw values the modal shows (the
inverse of `DeclarativeForm.parse`), so the form reopens with exactly what was submitted.
`AmendingForm` is the same form under its own callback id, title and submit label; it applies the
rules about the submission day (no kickoff in the past) only to answers the amendment changes, so
a handoff amended after its kickoff date is not refused for the date it already had.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import BaseModel
from slack_sdk.models.blocks import PlainTextObject
from slack_sdk.models.views import View

from forms.base import FormValues, modal_title
from forms.declarative import DeclarativeForm
from forms.ids import CallbackId
from forms.layout import Field, Kind
from forms.registry import get_form

AMEND_SUBMIT = "Submit amendment"


def values_from_model(spec: DeclarativeForm[Any], model: BaseModel) -> FormValues:
    """The raw form values (as Slack's inputs hold them) that parse back into `model`."""
    dumped = model.model_dump(mode="json")
    values: FormValues = {}
    for field in spec.all_fields():
        raw = _raw(field, _at(dumped, field.model_path))
        if raw is not None:
            values[str(field.name)] = raw
    return values


def _at(data: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = data
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def _raw(field: Field, value: Any) -> Any:
    if value is None or value == "":
        return None
    if field.kind is Kind.CHECKBOX:
        if isinstance(value, bool):  # a lone checkbox is a yes/no question
            return [str(field.choices[0][0])] if value and field.choices else None
        return [str(item) for item in value] or None
    if isinstance(value, list):  # one item per line, in the line format the form parses
        return "\n".join(_line(item) for item in value) or None
    return str(value)


def _line(item: Any) -> str:
    if isinstance(item, Mapping):
        if {"name", "role", "email"} <= item.keys():  # PEOPLE_FORMAT
            parts = [item["name"], item["role"], item["email"], item.get("phone")]
            return ", ".join(str(p) for p in parts if p)
        if {"due_date", "amount", "description"} <= item.keys():  # MILESTONE_FORMAT
            return f"{item['due_date']}; {item['amount']}; {item['description']}"
    return str(item)


@dataclass(frozen=True)
class AmendingForm:
    """`spec` amending a submitted version whose raw values are `submitted`.

    Everything but `parse` and `build_modal` is the form's own (steps, fields, summaries), so the
    step logic in forms.steps drives an amendment exactly as it drives the first submission.
    """

    spec: DeclarativeForm[Any]
    submitted: FormValues

    def __getattr__(self, name: str) -> Any:
        return getattr(self.spec, name)

    def parse(self, values: FormValues, *, today: date | None = None) -> Any:
        """The model, or errors; an error that only the submission day's rules raise is kept
        only for an answer the amendment changed."""
        result = self.spec.parse(values, today=today)
        if not isinstance(result, dict) or today is None:
            return result
        timeless = self.spec.parse(values, today=None)
        timeless_errors = timeless if isinstance(timeless, dict) else {}
        kept = {
            key: message
            for key, message in result.items()
            if key in timeless_errors or values.get(key) != self.submitted.get(key)
        }
        return kept if kept else timeless

    def build_modal(
        self,
        values: FormValues,
        *,
        private_metadata: str,
        errors_summary: str | None = None,
        step: int | None = None,
    ) -> View:
        """The form's modal, titled and submitted as an amendment."""
        view = self.spec.build_modal(
            values, private_metadata=private_metadata, errors_summary=errors_summary, step=step
        )
        name = values.get(self.spec.name_field)
        view.callback_id = CallbackId.AMEND
        view.title = PlainTextObject(
            text=modal_title("Amend", name if isinstance(name, str) else None)
        )
        if view.submit is not None and view.submit.text == self.spec.submit_label:
            view.submit = PlainTextObject(text=AMEND_SUBMIT)
        return view


def amending_form(kind: str, submitted: FormValues) -> AmendingForm:
    """The form of a handoff kind, amending the version whose raw values are `submitted`."""
    spec = get_form(kind)
    if not isinstance(spec, DeclarativeForm):
        raise ValueError(f"the {kind} form cannot be reopened to amend it")
    return AmendingForm(spec, submitted)
