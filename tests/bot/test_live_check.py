"""`check --live` against the local stand-ins: all good, and each kind of mistake named."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine

from bot.config import Settings, parse_org_config
from bot.live_check import run_live_check
from tests.bot.conftest import ADMIN, FIN_MEMBER, HANDOFF_CHANNEL, OPS_MEMBER, SELLER, org_dict
from tests.integrations.fakes import CLIENT_ID, CLIENT_SECRET
from tests.support.fake_hubspot import FakeHubSpot
from tests.support.fake_live_vendors import (
    ASANA_TOKEN,
    JIRA_EMAIL,
    JIRA_TOKEN,
    REALM,
    TENANT,
    FakeLiveVendors,
)
from tests.support.fake_slack import FakeSlack

ROOT = Path(__file__).resolve().parents[2]
BOT_TOKEN = "xoxb-live"
HUBSPOT_TOKEN = "pat-live"


@dataclass
class World:
    slack: FakeSlack
    hubspot: FakeHubSpot
    vendors: FakeLiveVendors
    org: dict[str, Any]
    env: dict[str, str]
    settings: dict[str, Any]

    def check(self) -> tuple[int, list[str]]:
        lines: list[str] = []
        settings = Settings(_env_file=None, **self.settings)  # type: ignore[call-arg]
        code = run_live_check(settings, parse_org_config(self.org), self.env, lines.append)
        return code, lines


@pytest.fixture
def world(engine: Engine) -> Iterator[World]:
    slack = FakeSlack(
        usergroups={"S0OPS": [OPS_MEMBER]},
        names={
            u: f"Person {u}"
            for u in (SELLER, OPS_MEMBER, FIN_MEMBER, ADMIN, "U0SALESMGR", "U0OPSMGR", "U0FINMGR")
        },
        bot_token=BOT_TOKEN,
        channels={HANDOFF_CHANNEL: {"name": "handoffs", "is_member": True}},
    )
    hubspot = FakeHubSpot(token=HUBSPOT_TOKEN)
    hubspot.pipelines["default"]["4242"] = "Won - handoff pending"
    vendors = FakeLiveVendors()
    servers = [slack.serving(), hubspot.serving(), vendors.serving()]
    for server in servers:
        server.__enter__()
    org = org_dict()
    org["teams"]["ops"]["tool"] = {
        "vendor": "asana",
        "workspace_gid": "1100",
        "team_gid": "2200",
        "template_gid": "3300",
        "base_url": vendors.url + "/asana",
    }
    org["teams"]["finance"]["tool"] = {
        "vendor": "quickbooks",
        "realm_id": REALM,
        "item_ref": "7",
        "term_refs": {30: "3"},
        "base_url": vendors.url + "/qbo",
        "token_url": vendors.url + "/qbo/token",
    }
    org["teams"]["eng"] = {
        "name": "Engineering",
        "members": {"users": [OPS_MEMBER]},
        "tool": {
            "vendor": "jira",
            "base_url": vendors.url + "/jira",
            "project_key": "OPS",
            "issue_type": "Task",
        },
    }
    org["teams"]["uk_finance"] = {
        "name": "UK finance",
        "members": {"users": [FIN_MEMBER]},
        "tool": {
            "vendor": "xero",
            "tenant_id": TENANT,
            "account_code": "200",
            "base_url": vendors.url + "/xero/api.xro/2.0",
            "token_url": vendors.url + "/xero/token",
        },
    }
    env = {
        "ASANA_TOKEN": ASANA_TOKEN,
        "JIRA_EMAIL": JIRA_EMAIL,
        "JIRA_API_TOKEN": JIRA_TOKEN,
        "QBO_CLIENT_ID": CLIENT_ID,
        "QBO_CLIENT_SECRET": CLIENT_SECRET,
        "QBO_REFRESH_TOKEN": "refresh-0",
        "XERO_CLIENT_ID": CLIENT_ID,
        "XERO_CLIENT_SECRET": CLIENT_SECRET,
        "XERO_REFRESH_TOKEN": "refresh-0",
    }
    settings = {
        "slack_bot_token": BOT_TOKEN,
        "slack_signing_secret": "secret",
        "slack_api_url": slack.url,
        "database_url": engine.url.render_as_string(hide_password=False),
        "hubspot_token": HUBSPOT_TOKEN,
        "hubspot_client_secret": "hubspot-secret",
        "hubspot_base_url": hubspot.url,
    }
    yield World(slack, hubspot, vendors, org, env, settings)
    for server in servers:
        server.__exit__(None, None, None)


def test_live_check_correct_configuration_passes(world: World) -> None:
    code, lines = world.check()

    assert code == 0, "\n".join(lines)
    assert [line for line in lines[:-1] if not line.startswith("✓ ")] == []
    assert lines[-1] == "handoff: live check passed"
    text = "\n".join(lines)
    for expected in (
        "Slack: bot token works",
        "Slack: granted scopes cover the manifest's",
        "handoff_channel #handoffs exists and the app is in it",
        "teams.ops.members.usergroup S0OPS exists",
        "admin_user U0ADMIN",
        "HubSpot: pending_stage '4242' is 'Won - handoff pending'",
        "HubSpot: webhook secret is set",
        "HubSpot: renewals.deal_stage 'appointmentscheduled' is 'Appointment scheduled'",
        "Asana (teams.ops.tool): template_gid 3300 is 'Client onboarding'",
        "Jira (teams.eng.tool): issue type 'Task' exists",
        "QuickBooks (teams.finance.tool): connected to 'Example Inc'",
        "QuickBooks (teams.finance.tool): term_refs.30 3 is 'Net 30'",
        "Xero (teams.uk_finance.tool): connected to 'Example UK Ltd'",
        "Xero (teams.uk_finance.tool): account_code 200 is 'Sales'",
    ):
        assert expected in text


def _set(path: str, value: Any) -> Callable[[World], None]:
    """A mistake in the organisation file at a dotted path."""

    def plant(world: World) -> None:
        *parents, last = path.split(".")
        node = world.org
        for key in parents:
            node = node[key]
        node[last] = value

    return plant


MISTAKES: dict[str, tuple[Callable[[World], None], str]] = {
    "slack token": (
        lambda w: w.settings.update(slack_bot_token="xoxb-wrong"),
        "✗ Slack: bot token refused (invalid_auth) — fix: copy the Bot User OAuth Token",
    ),
    "scope": (
        lambda w: setattr(w.slack, "scopes", ("chat:write", "im:write")),
        "✗ Slack: scopes missing: channels:history, commands, files:write",
    ),
    "channel id": (
        _set("handoff_channel", "C0NOPE"),
        "✗ Slack: handoff_channel C0NOPE not found (channel_not_found)",
    ),
    "app not in channel": (
        lambda w: w.slack.channels[HANDOFF_CHANNEL].update(is_member=False),
        "✗ Slack: the app is not in #handoffs (handoff_channel) — fix: type /invite @Handoff",
    ),
    "user group": (
        _set("teams.ops.members.usergroup", "S0NOPE"),
        "✗ Slack: teams.ops.members.usergroup S0NOPE not found (no_such_subteam)",
    ),
    "team user": (
        _set("teams.finance.members.users", ["U0GONE"]),
        "✗ Slack: teams.finance.members.users U0GONE not found (user_not_found)",
    ),
    "manager": (
        _set("teams.sales.manager", "U0NOMGR"),
        "✗ Slack: teams.sales.manager U0NOMGR not found",
    ),
    "admin": (_set("admin_user", "U0NOADMIN"), "✗ Slack: admin_user U0NOADMIN not found"),
    "hubspot token": (
        lambda w: w.settings.update(hubspot_token="pat-wrong"),
        "✗ HubSpot: token refused (HTTP 401)",
    ),
    "pipeline": (
        _set("hubspot.pipeline_id", "sales2"),
        "✗ HubSpot: pipeline 'sales2' not found — fix: set hubspot.pipeline_id to one of: "
        "default (Sales pipeline)",
    ),
    "won stage": (
        _set("hubspot.won_stage", "closedwonn"),
        "✗ HubSpot: won_stage 'closedwonn' is not a stage of pipeline 'default' — fix: use one "
        "of these stage ids: appointmentscheduled (Appointment scheduled); closedwon (Closed won)",
    ),
    "pending stage": (
        _set("hubspot.pending_stage", "999"),
        "✗ HubSpot: pending_stage '999' is not a stage",
    ),
    "renewal stage": (
        lambda w: w.org.update(renewals={"deal_stage": "qualifiedtobuy"}),
        "✗ HubSpot: renewals.deal_stage 'qualifiedtobuy' is not a stage of pipeline 'default' — "
        "fix: use one of these stage ids: appointmentscheduled (Appointment scheduled)",
    ),
    "renewal pipeline": (
        lambda w: w.org.update(renewals={"pipeline_id": "renewals"}),
        "✗ HubSpot: renewals.pipeline_id 'renewals' not found",
    ),
    "webhook secret": (
        lambda w: w.settings.update(hubspot_client_secret=None),
        "✗ HubSpot: HUBSPOT_CLIENT_SECRET is not set",
    ),
    "asana workspace": (
        _set("teams.ops.tool.workspace_gid", "1999"),
        "✗ Asana (teams.ops.tool): workspace_gid 1999 not found (HTTP 404)",
    ),
    "asana template": (
        _set("teams.ops.tool.template_gid", "3999"),
        "✗ Asana (teams.ops.tool): template_gid 3999 not found",
    ),
    "asana token": (
        lambda w: w.env.update(ASANA_TOKEN="wrong"),
        "✗ Asana (teams.ops.tool): token refused",
    ),
    "jira project": (
        _set("teams.eng.tool.project_key", "NOPE"),
        "✗ Jira (teams.eng.tool): project 'NOPE' not found",
    ),
    "jira issue type": (
        _set("teams.eng.tool.issue_type", "Story"),
        "✗ Jira (teams.eng.tool): issue type 'Story' not in the project — fix: use one of: "
        "Task, Epic",
    ),
    "qbo refresh token": (
        lambda w: w.env.update(QBO_REFRESH_TOKEN="refresh-stale"),
        "✗ QuickBooks (teams.finance.tool): no working token",
    ),
    "qbo realm": (
        _set("teams.finance.tool.realm_id", "4444"),
        "✗ QuickBooks (teams.finance.tool): realm 4444 not reachable",
    ),
    "qbo item": (
        _set("teams.finance.tool.item_ref", "99"),
        "✗ QuickBooks (teams.finance.tool): item_ref 99 not found",
    ),
    "qbo terms": (
        _set("teams.finance.tool.term_refs", {30: "98"}),
        "✗ QuickBooks (teams.finance.tool): term_refs.30 98 not found",
    ),
    "xero tenant": (
        _set("teams.uk_finance.tool.tenant_id", "00000000-0000-0000-0000-000000000000"),
        f"✗ Xero (teams.uk_finance.tool): tenant 00000000-0000-0000-0000-000000000000 is not "
        f"connected — fix: use one of: {TENANT} (Example UK Ltd)",
    ),
    "xero account code": (
        _set("teams.uk_finance.tool.account_code", "999"),
        "✗ Xero (teams.uk_finance.tool): account_code 999 is not an active account",
    ),
}


@pytest.mark.parametrize("mistake", list(MISTAKES))
def test_live_check_names_each_planted_mistake(world: World, mistake: str) -> None:
    plant, expected = MISTAKES[mistake]
    plant(world)

    code, lines = world.check()

    assert code == 1
    assert lines[-1] == "handoff: live check FAILED"
    failures = [line for line in lines if line.startswith("✗")]
    assert any(line.startswith(expected) for line in failures), "\n".join(failures)


def _cli(world: World, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """`python -m bot check --live` as a deploy would run it, configured like `world`."""
    (tmp_path / "org.yml").write_text(yaml.safe_dump(world.org))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "HUBSPOT_"))}
    env.update(world.env, PYTHONPATH=str(ROOT))
    env.update({k.upper(): str(v) for k, v in world.settings.items() if v is not None})
    return subprocess.run(
        [sys.executable, "-m", "bot", "check", "--live"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_live_check_command_exits_zero_when_all_good_and_one_on_a_mistake(
    world: World, tmp_path: Path
) -> None:
    good = _cli(world, tmp_path)
    world.org["hubspot"]["won_stage"] = "closedwonn"
    bad = _cli(world, tmp_path)

    assert good.returncode == 0, good.stdout + good.stderr
    assert good.stdout.splitlines()[-1] == "handoff: live check passed"
    assert bad.returncode == 1
    assert "✗ HubSpot: won_stage 'closedwonn'" in bad.stdout
