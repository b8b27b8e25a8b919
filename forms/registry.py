"""Every handoff form by kind: adding a kind is one form module and one line here."""

from __future__ import annotations

from typing import Any

from forms import delivery_to_finance, renewal_to_sales, sales_to_delivery
from forms.base import FormSpec

FORMS: dict[str, FormSpec[Any]] = {
    spec.kind: spec
    for spec in (sales_to_delivery.SPEC, delivery_to_finance.SPEC, renewal_to_sales.SPEC)
}


def get_form(kind: str) -> FormSpec[Any]:
    """The form for a handoff kind; KeyError names the known kinds."""
    try:
        return FORMS[kind]
    except KeyError:
        raise KeyError(f"unknown handoff kind {kind!r}; known: {', '.join(FORMS)}") from None


def form_for_callback(callback_id: str) -> FormSpec[Any] | None:
    """The form whose modal has this callback_id, for routing view_submission and view_closed."""
    return next((spec for spec in FORMS.values() if spec.callback_id == callback_id), None)
