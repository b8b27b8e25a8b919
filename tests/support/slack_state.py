"""Build a view's `state.values` the way Slack sends it, from plain form values."""

from __future__ import annotations

from typing import Any


def state_from_values(view: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """Slack's state.values for `view` with `values` typed in (keyed by input block_id)."""
    state: dict[str, Any] = {}
    for block in view["blocks"]:
        if block.get("type") != "input" or block["block_id"] not in values:
            continue
        element = block["element"]
        state[block["block_id"]] = {
            element["action_id"]: _typed(element, values[block["block_id"]])
        }
    return state


def _typed(element: dict[str, Any], value: Any) -> dict[str, Any]:
    kind = element["type"]
    if kind == "datepicker":
        return {"type": kind, "selected_date": value}
    if kind == "static_select":
        return {
            "type": kind,
            "selected_option": {
                "text": {"type": "plain_text", "text": str(value)},
                "value": str(value),
            },
        }
    if kind == "checkboxes":
        return {
            "type": kind,
            "selected_options": [
                {"text": {"type": "plain_text", "text": str(v)}, "value": str(v)} for v in value
            ],
        }
    if kind == "users_select":
        return {"type": kind, "selected_user": value}
    return {"type": kind, "value": str(value)}


def initial_values(view: dict[str, Any]) -> dict[str, Any]:
    """What a person sees already filled in: each input block's initial value."""
    found: dict[str, Any] = {}
    for block in view["blocks"]:
        if block.get("type") != "input":
            continue
        element = block["element"]
        for key in ("initial_value", "initial_date", "initial_user"):
            if key in element:
                found[block["block_id"]] = element[key]
        if "initial_option" in element:
            found[block["block_id"]] = element["initial_option"]["value"]
        if "initial_options" in element:
            found[block["block_id"]] = [o["value"] for o in element["initial_options"]]
    return found
