"""Which amended answers ask a team to confirm again: its `review` setting, else its tool."""

from __future__ import annotations

from typing import Any

from bot.config import parse_org_config
from bot.services.teams import review_audience
from tests.bot.conftest import org_dict


def org_with(**teams: dict[str, Any]) -> Any:
    raw = org_dict()
    for key, extra in teams.items():
        raw["teams"][key].update(extra)
    return parse_org_config(raw)


def test_review_audience_follows_the_tool_unless_the_team_says() -> None:
    org = org_with(
        ops={"tool": {"vendor": "jira", "base_url": "https://x", "project_key": "OPS"}},
        finance={"tool": {"vendor": "xero", "tenant_id": "t", "account_code": "200"}},
    )
    assert review_audience(org, "ops") == "delivery"
    assert review_audience(org, "finance") == "finance"
    assert review_audience(org, "sales") == "all"  # no tool: every answer is theirs

    told = org_with(
        ops={"review": "all", "tool": {"vendor": "asana", "workspace_gid": "1"}},
        sales={"review": "finance"},
    )
    assert review_audience(told, "ops") == "all"
    assert review_audience(told, "sales") == "finance"
    # A receiving team since removed from the organisation file is shown every change.
    assert review_audience(told, "legal") == "all"
