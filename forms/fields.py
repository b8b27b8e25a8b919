"""Reusable input-block builders, one per element type, taking initial values as raw form text.

Initial values that Slack would reject (a select value not among the options, a malformed date or
user id) are dropped rather than sent, because one bad initial value makes views.open fail whole.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date

from slack_sdk.models.blocks import (
    CheckboxesElement,
    DatePickerElement,
    EmailInputElement,
    InputBlock,
    InputInteractiveElement,
    NumberInputElement,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    StaticSelectElement,
    UrlInputElement,
    UserSelectElement,
)

from forms.ids import ActionId

TEXT_MAX = 255
MULTILINE_MAX = 3000
_PLACEHOLDER_MAX = 150
_OPTION_TEXT_MAX = 75
_NUMBER = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")
_USER_ID = re.compile(r"^[UW][A-Z0-9]+$")

Choices = Sequence[tuple[str, str]]
"""Select or checkbox choices as (value, visible text) pairs."""


def _input(
    block_id: str,
    label: str,
    element: InputInteractiveElement,
    *,
    optional: bool,
    hint: str | None,
    dispatch: bool = False,
) -> InputBlock:
    return InputBlock(
        block_id=block_id,
        label=PlainTextObject(text=label),
        element=element,
        optional=optional,
        hint=PlainTextObject(text=hint) if hint else None,
        dispatch_action=True if dispatch else None,
    )


def _placeholder(text: str | None) -> PlainTextObject | None:
    return PlainTextObject(text=text[:_PLACEHOLDER_MAX]) if text else None


def text_field(
    block_id: str,
    label: str,
    *,
    initial: str | None = None,
    optional: bool = False,
    hint: str | None = None,
    placeholder: str | None = None,
    max_length: int = TEXT_MAX,
    multiline: bool = False,
) -> InputBlock:
    """A plain-text input; a longer initial value is cut to max_length so Slack accepts the view."""
    element = PlainTextInputElement(
        action_id=ActionId.VALUE,
        initial_value=initial[:max_length] if initial else None,
        multiline=True if multiline else None,
        max_length=max_length,
        placeholder=_placeholder(placeholder),
    )
    return _input(block_id, label, element, optional=optional, hint=hint)


def multiline_field(
    block_id: str,
    label: str,
    *,
    initial: str | None = None,
    optional: bool = False,
    hint: str | None = None,
    placeholder: str | None = None,
    max_length: int = MULTILINE_MAX,
) -> InputBlock:
    """A multi-line plain-text input (Slack caps these at 3000 characters)."""
    return text_field(
        block_id,
        label,
        initial=initial,
        optional=optional,
        hint=hint,
        placeholder=placeholder,
        max_length=max_length,
        multiline=True,
    )


def email_field(
    block_id: str,
    label: str,
    *,
    initial: str | None = None,
    optional: bool = False,
    hint: str | None = None,
    placeholder: str | None = None,
) -> InputBlock:
    """An email input; Slack checks the shape on the client, the model checks it again."""
    element = EmailInputElement(
        action_id=ActionId.VALUE, initial_value=initial, placeholder=_placeholder(placeholder)
    )
    return _input(block_id, label, element, optional=optional, hint=hint)


def url_field(
    block_id: str,
    label: str,
    *,
    initial: str | None = None,
    optional: bool = False,
    hint: str | None = None,
    placeholder: str | None = None,
) -> InputBlock:
    """A URL input."""
    element = UrlInputElement(
        action_id=ActionId.VALUE, initial_value=initial, placeholder=_placeholder(placeholder)
    )
    return _input(block_id, label, element, optional=optional, hint=hint)


def date_field(
    block_id: str,
    label: str,
    *,
    initial: str | None = None,
    optional: bool = False,
    hint: str | None = None,
) -> InputBlock:
    """A datepicker; initial is an ISO date (YYYY-MM-DD)."""
    element = DatePickerElement(
        action_id=ActionId.VALUE,
        initial_date=_iso_date(initial),
        placeholder=PlainTextObject(text="Pick a date"),
    )
    return _input(block_id, label, element, optional=optional, hint=hint)


def number_field(
    block_id: str,
    label: str,
    *,
    initial: str | None = None,
    optional: bool = False,
    hint: str | None = None,
    placeholder: str | None = None,
    decimal: bool = True,
) -> InputBlock:
    """A number input; bounds are left to the model so every message reads the same way."""
    element = NumberInputElement(
        action_id=ActionId.VALUE,
        is_decimal_allowed=decimal,
        initial_value=initial if initial and _NUMBER.match(initial) else None,
        placeholder=_placeholder(placeholder),
    )
    return _input(block_id, label, element, optional=optional, hint=hint)


def select_field(
    block_id: str,
    label: str,
    *,
    choices: Choices,
    initial: str | None = None,
    optional: bool = False,
    hint: str | None = None,
    placeholder: str = "Choose…",
    action_id: str = ActionId.VALUE,
    dispatch: bool = False,
) -> InputBlock:
    """A static select; with dispatch=True Slack sends block_actions on every change."""
    options = [_option(value, text) for value, text in choices]
    chosen = next((o for o in options if o.value == initial), None)
    element = StaticSelectElement(
        action_id=action_id,
        options=options,
        initial_option=chosen,
        placeholder=_placeholder(placeholder),
    )
    return _input(block_id, label, element, optional=optional, hint=hint, dispatch=dispatch)


def checkbox_field(
    block_id: str,
    label: str,
    *,
    choices: Choices,
    initial: Sequence[str] | None = None,
    hint: str | None = None,
) -> InputBlock:
    """Checkboxes; always optional, since an unticked box is an answer."""
    options = [_option(value, text) for value, text in choices]
    ticked = [o for o in options if initial and o.value in initial]
    element = CheckboxesElement(
        action_id=ActionId.VALUE, options=options, initial_options=ticked or None
    )
    return _input(block_id, label, element, optional=True, hint=hint)


def user_field(
    block_id: str,
    label: str,
    *,
    initial: str | None = None,
    optional: bool = False,
    hint: str | None = None,
) -> InputBlock:
    """A workspace user picker; initial is a Slack user id."""
    element = UserSelectElement(
        action_id=ActionId.VALUE,
        initial_user=initial if initial and _USER_ID.match(initial) else None,
        placeholder=PlainTextObject(text="Choose a person"),
    )
    return _input(block_id, label, element, optional=optional, hint=hint)


def _option(value: str, text: str) -> Option:
    return Option(value=value, text=PlainTextObject(text=text[:_OPTION_TEXT_MAX]))


def _iso_date(raw: str | None) -> str | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw).isoformat()
    except ValueError:
        return None
