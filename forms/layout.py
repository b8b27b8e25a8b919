"""How a form is declared: sections of fields, each field's element and its readable value.

The declaration is the one place a field's block_id, label, element and position live; the
pydantic model is the one place its rules live (including whether it is required).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from slack_sdk.models.blocks import InputBlock

from forms import fields as build
from forms.base import FormValues
from forms.display import EMPTY, bullets, fmt_date, or_empty, user_mention, yes_no
from forms.ids import ActionId


class Kind(StrEnum):
    """The Slack element a field is entered with."""

    TEXT = "text"
    MULTILINE = "multiline"
    EMAIL = "email"
    URL = "url"
    DATE = "date"
    NUMBER = "number"
    SELECT = "select"
    CHECKBOX = "checkbox"
    USER = "user"


@dataclass(frozen=True)
class Field:
    """One input: its block_id (`name`), how it looks, and where its value lives in the model."""

    name: str
    label: str
    kind: Kind
    hint: str | None = None
    placeholder: str | None = None
    choices: build.Choices = ()
    max_length: int | None = None
    path: tuple[str, ...] = ()
    action_id: str = ActionId.VALUE
    dispatch: bool = False
    choices_for: Callable[[FormValues], build.Choices] | None = None
    show_if: Callable[[FormValues], bool] | None = None

    @property
    def model_path(self) -> tuple[str, ...]:
        """Attribute path in the model; the field name unless the value is nested."""
        return self.path or (str(self.name),)

    def shown(self, values: FormValues) -> bool:
        """Whether the modal shows this field for these values."""
        return self.show_if is None or self.show_if(values)

    def options(self, values: FormValues) -> build.Choices:
        """Select or checkbox choices, which may depend on the values (e.g. the deal's currency)."""
        return self.choices_for(values) if self.choices_for else self.choices


@dataclass(frozen=True)
class Row:
    """A custom (label, value) line in the readable rendering, for values spread over fields."""

    label: str
    render: Callable[[Any], str]


@dataclass(frozen=True)
class Section:
    """A titled group of fields; its readable rows default to one per field."""

    title: str
    fields: tuple[Field, ...]
    rows: tuple[Row, ...] | None = None


def input_block(f: Field, values: FormValues, *, optional: bool) -> InputBlock:
    """The input block for a field, showing its raw value as the initial value."""
    raw = values.get(f.name)
    text = raw if isinstance(raw, str) else None
    name, label, hint = f.name, f.label, f.hint
    match f.kind:
        case Kind.TEXT:
            return build.text_field(
                name,
                label,
                initial=text,
                optional=optional,
                hint=hint,
                placeholder=f.placeholder,
                max_length=f.max_length or build.TEXT_MAX,
            )
        case Kind.MULTILINE:
            return build.multiline_field(
                name,
                label,
                initial=text,
                optional=optional,
                hint=hint,
                placeholder=f.placeholder,
                max_length=f.max_length or build.MULTILINE_MAX,
            )
        case Kind.EMAIL:
            return build.email_field(
                name, label, initial=text, optional=optional, hint=hint, placeholder=f.placeholder
            )
        case Kind.URL:
            return build.url_field(
                name, label, initial=text, optional=optional, hint=hint, placeholder=f.placeholder
            )
        case Kind.DATE:
            return build.date_field(name, label, initial=text, optional=optional, hint=hint)
        case Kind.NUMBER:
            return build.number_field(
                name, label, initial=text, optional=optional, hint=hint, placeholder=f.placeholder
            )
        case Kind.SELECT:
            return build.select_field(
                name,
                label,
                choices=f.options(values),
                initial=text,
                optional=optional,
                hint=hint,
                action_id=f.action_id,
                dispatch=f.dispatch,
            )
        case Kind.CHECKBOX:
            ticked = [str(v) for v in raw] if isinstance(raw, list) else None
            return build.checkbox_field(
                name, label, choices=f.options(values), initial=ticked, hint=hint
            )
        case Kind.USER:
            return build.user_field(name, label, initial=text, optional=optional, hint=hint)


def display_value(f: Field, model: object) -> str:
    """The field's value in a submitted model, as people read it."""
    value: Any = model
    for key in f.model_path:
        value = getattr(value, key, None)
    if f.kind is Kind.DATE:
        return fmt_date(value)
    if f.kind is Kind.USER:
        return user_mention(value)
    if f.kind is Kind.CHECKBOX and isinstance(value, bool):
        return yes_no(value)
    if f.kind is Kind.SELECT and value is not None:
        return dict(f.options({f.name: str(value)})).get(str(value), str(value))
    if isinstance(value, list | tuple):
        return bullets([str(item) for item in value]) if value else EMPTY
    return or_empty(value)
