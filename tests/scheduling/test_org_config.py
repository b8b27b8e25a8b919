"""A bad SLA or calendar in the organisation file is refused at start-up, naming the key."""

from __future__ import annotations

from typing import Any

import pytest

from bot.config import ConfigError, parse_org_config
from tests.scheduling.conftest import org_dict


def _with_ops_hours(**hours: Any) -> dict[str, Any]:
    raw = org_dict()
    raw["teams"]["ops"]["working_hours"].update(hours)
    return raw


@pytest.mark.parametrize(
    ("raw", "key", "why"),
    [
        (
            org_dict(slas={"form": {"remind_after_hours": 8, "escalate_after_hours": 8}}),
            "slas.form",
            "escalate_after_hours must be greater than remind_after_hours",
        ),
        (
            org_dict(slas={"answer": {"remind_after_hours": 0, "escalate_after_hours": 2}}),
            "slas.answer.remind_after_hours",
            "greater than 0",
        ),
        (
            org_dict(slas={"reply": {"remind_after_hours": 1, "escalate_after_hours": 2}}),
            "slas.reply",
            "Extra inputs are not permitted",
        ),
        (_with_ops_hours(timezone="Mars/Olympus"), "teams.ops.working_hours.timezone", "IANA"),
        (_with_ops_hours(days=["mon", "funday"]), "teams.ops.working_hours.days", "funday"),
        (
            _with_ops_hours(start="18:00", end="09:00"),
            "teams.ops.working_hours",
            "must be after start",
        ),
        (org_dict(holidays=["2026-13-01"]), "holidays.0", "valid date"),
    ],
)
def test_org_config_refuses_bad_sla_or_calendar_naming_the_key(
    raw: dict[str, Any], key: str, why: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_org_config(raw, source="org.yml")
    message = str(refused.value)
    assert message.startswith("org.yml has 1 problem(s):")
    assert f"  {key}: " in message
    assert why in message


def test_org_config_accepts_the_fixture_file() -> None:
    org = parse_org_config(org_dict())
    assert org.slas.answer.escalate_after_hours == 6
    assert org.teams["sales"].working_hours.timezone == "America/New_York"


def test_org_config_billing_remainder_defaults_to_last_and_names_a_bad_value() -> None:
    assert parse_org_config(org_dict()).billing.remainder == "last"
    assert parse_org_config(org_dict(billing={"remainder": "first"})).billing.remainder == "first"
    with pytest.raises(ConfigError, match=r"billing\.remainder: Input should be 'first' or 'last'"):
        parse_org_config(org_dict(billing={"remainder": "middle"}))


def test_org_config_renewal_notice_defaults_to_60_days_and_names_a_bad_value() -> None:
    renewals = parse_org_config(org_dict()).renewals
    assert (renewals.notice_days, renewals.deal_stage, renewals.pipeline_id) == (
        60,
        "appointmentscheduled",
        None,
    )
    assert parse_org_config(org_dict(renewals={"notice_days": 90})).renewals.notice_days == 90
    with pytest.raises(ConfigError, match=r"renewals\.notice_days: Input should be greater"):
        parse_org_config(org_dict(renewals={"notice_days": -1}))
    with pytest.raises(ConfigError, match=r"renewals\.notice: Extra inputs are not permitted"):
        parse_org_config(org_dict(renewals={"notice": 30}))
