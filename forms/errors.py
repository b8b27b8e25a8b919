"""Short, specific, human error messages for the fields Slack shows them beside."""

from __future__ import annotations

from typing import Any

from pydantic_core import ErrorDetails, PydanticCustomError

# Slack cuts field errors longer than this, so we cut them first and mark the cut.
MAX_ERROR = 150
FORM_ERROR = "form"


def form_error(message: str) -> PydanticCustomError:
    """An error whose message is shown to the user exactly as written."""
    # The message goes through ctx, not the template, so braces in user text stay literal.
    return PydanticCustomError(FORM_ERROR, "{message}", {"message": message})


def clip(message: str, limit: int = MAX_ERROR) -> str:
    """Cut text to `limit` characters, marking the cut with an ellipsis."""
    return message if len(message) <= limit else message[: limit - 1].rstrip() + "…"


def humanize(error: ErrorDetails, *, kind: str) -> str:
    """Turn one pydantic error into the sentence shown beside the field of this kind."""
    error_type = error["type"]
    ctx: dict[str, Any] = dict(error.get("ctx") or {})
    if error_type == FORM_ERROR:
        return clip(str(ctx.get("message", error["msg"])))
    if error_type == "missing" or (error_type == "string_too_short" and ctx.get("min_length") == 1):
        return "Required"
    if kind == "user":
        return "Pick a person from the list"
    if kind == "email" and error_type == "value_error":
        return clip(f"Not a valid email address: {ctx.get('reason', 'check the spelling')}")
    message = _BY_TYPE.get(error_type)
    if message is not None:
        return clip(message.format(**ctx))
    if kind == "date" or error_type.startswith("date"):
        return "Pick a date (YYYY-MM-DD)"
    if kind == "number" or error_type.startswith(("decimal", "int")):
        return "Enter a number, e.g. 12500.00"
    return clip(error["msg"])


_BY_TYPE = {
    "string_too_long": "Keep it to {max_length} characters",
    "greater_than": "Must be more than {gt}",
    "greater_than_equal": "Must be at least {ge}",
    "less_than_equal": "Must be at most {le}",
    "literal_error": "Pick one of the options",
    "enum": "Pick one of the options",
    "string_pattern_mismatch": "Check the format of this value",
    "bool_parsing": "Tick or untick the box",
    "decimal_max_digits": "That number is too long",
    "url_parsing": "Enter a full link starting with https://",
    "url_scheme": "Enter a full link starting with https://",
    "too_short": "Add at least {min_length}",
}
