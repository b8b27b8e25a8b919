"""Slack ids the bot owns outside the forms: message buttons, commands, shortcuts."""

from __future__ import annotations

import re
from enum import StrEnum


class Action(StrEnum):
    OPEN_FORM = "open_form"  # value: handoff id
    CONFIRM = "confirm_handoff"  # value: "<handoff id>:<team>"
    RETRY_EFFECT = "retry_effect"  # value: "<handoff id>:<target>"
    VIEW_HANDOFF = "view_handoff"  # value: handoff id
    AMEND = "amend_handoff"  # value: handoff id
    OPEN_HANDOFF = "open_handoff"  # from escalations; value: handoff id
    SNOOZE = "snooze_reminder"  # value: obligation id
    EXPORT_STATS = "export_stats_csv"  # App Home; value: months
    HOME_PAGE_PREVIOUS = "home_page_previous"  # value: "<section key>:<offset>"
    HOME_PAGE_NEXT = "home_page_next"
    DELIVERY_COMPLETE = "delivery_complete"  # value: the sales -> delivery handoff's id
    RESOLVE_MISMATCH = "resolve_money_mismatch"  # App Home; value: the money mismatch's id


class Callback(StrEnum):
    START_SHORTCUT = "start_handoff"  # global shortcut
    START_MODAL = "start_handoff_modal"  # asks for the deal
    READONLY = "handoff_readonly"


class Command(StrEnum):
    HANDOFF = "/handoff"


DEAL_BLOCK = "deal_reference"
DEAL_ACTION = "value"


_USER_ID = re.compile(r"[UW][A-Z0-9]{2,}")


def is_user_id(value: str | None) -> bool:
    """True when `value` looks like a Slack user id (U... or W...)."""
    return bool(value and _USER_ID.fullmatch(value))
