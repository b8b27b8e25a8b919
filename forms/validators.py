"""Annotated field types shared by the form models, each failing with a message fit for Slack."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import (
    AfterValidator,
    BeforeValidator,
    HttpUrl,
    StringConstraints,
    TypeAdapter,
    ValidationError,
)

from forms import limits
from forms.errors import form_error

_PHONE = re.compile(r"^\+?[0-9][0-9 ().\-/]{4,}[0-9](\s*(x|ext\.?)\s*[0-9]{1,6})?$", re.IGNORECASE)
_HTTP_URL: TypeAdapter[HttpUrl] = TypeAdapter(HttpUrl)


def blank_to_none(value: object) -> object:
    """Treat an empty or whitespace-only answer as no answer."""
    return None if isinstance(value, str) and not value.strip() else value


def _phone(value: str) -> str:
    if not _PHONE.match(value):
        raise form_error("Use digits, spaces and + ( ) - only, e.g. +44 20 7946 0000")
    return value


def _http_url(value: str) -> str:
    try:
        _HTTP_URL.validate_python(value)
    except ValidationError:
        raise form_error("Enter a full link starting with https://") from None
    return value


ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
"""A required one-line answer."""

LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=3000)]
"""A required multi-line answer (Slack's input limit)."""

OptionalShortText = Annotated[ShortText | None, BeforeValidator(blank_to_none)]
"""An optional one-line answer; blank becomes None."""

OptionalLongText = Annotated[LongText | None, BeforeValidator(blank_to_none)]
"""An optional multi-line answer; blank becomes None."""

Phone = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=limits.PHONE.max_length),
    AfterValidator(_phone),
]
"""A phone number as people write them: digits, spaces, + ( ) - . / and an optional extension."""

OptionalPhone = Annotated[Phone | None, BeforeValidator(blank_to_none)]

LinkUrl = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=2000), AfterValidator(_http_url)
]
"""An http(s) link, kept as the text the user gave so stored payloads stay plain JSON."""

OptionalLinkUrl = Annotated[LinkUrl | None, BeforeValidator(blank_to_none)]

SlackUserId = Annotated[str, StringConstraints(pattern=r"^[UW][A-Z0-9]+$")]
"""A Slack user id from a users_select."""

OptionalSlackUserId = Annotated[SlackUserId | None, BeforeValidator(blank_to_none)]

# Answers that reach a vendor field, capped at the smallest limit among the vendors (forms.limits).
AccountName = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=limits.ACCOUNT_NAME.max_length
    ),
]
_LegalEntity = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=limits.LEGAL_ENTITY.max_length
    ),
]
_TaxId = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=limits.TAX_ID.max_length)
]
_Address = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=limits.BILLING_ADDRESS.max_length
    ),
]
_FinanceEssay = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=limits.FINANCE_ESSAY.max_length
    ),
]
OptionalLegalEntity = Annotated[_LegalEntity | None, BeforeValidator(blank_to_none)]
OptionalTaxId = Annotated[_TaxId | None, BeforeValidator(blank_to_none)]
OptionalAddress = Annotated[_Address | None, BeforeValidator(blank_to_none)]
OptionalFinanceEssay = Annotated[_FinanceEssay | None, BeforeValidator(blank_to_none)]
