"""`python -m bot jira-webhook [--team KEY]`: the URL and secret for a Jira admin webhook that
tells the app when an account's issue is done (issue 9).

Jira admin webhooks are added by a Jira admin (Settings > System > WebHooks); the app makes the
secret, stores it in its database and prints it once, here, for the admin to paste into Jira.
Running it again replaces both the URL and the secret.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.config import ConfigError, OrgConfig, Settings
from bot.services.delivery_hooks import DeliveryHooks
from integrations.jira import COMMON_LABEL
from storage.db import create_engine_for, session_factory
from storage.migrate import upgrade
from storage.uow import UnitOfWorkFactory


def run_jira_webhook(
    settings: Settings, org: OrgConfig, team: str | None, out: Callable[[str], None]
) -> int:
    """Make (or replace) the team's Jira webhook secret and print what to paste into Jira."""
    jira_teams = [k for k, t in org.teams.items() if t.tool is not None and t.tool.vendor == "jira"]
    key = team or (jira_teams[0] if len(jira_teams) == 1 else None)
    if key not in jira_teams:
        known = ", ".join(jira_teams) or "none"
        raise ConfigError(f"jira-webhook needs --team, one of the teams using Jira ({known})")
    if not settings.public_url:
        raise ConfigError("jira-webhook needs PUBLIC_URL: the public origin Jira posts to")
    engine = create_engine_for(settings.database_url)
    upgrade(engine)
    hooks = DeliveryHooks(UnitOfWorkFactory(session_factory(engine)), {}, settings.public_url)
    token, secret = hooks.jira_secret(key)
    tool = org.teams[key].tool
    project = tool.settings().get("project_key", "") if tool else ""
    out(f"Jira webhook for team {key} ({org.teams[key].name}):")
    out(f"  URL:     {hooks.url('jira', token)}")
    out(f"  Secret:  {secret}")
    out(
        "In Jira: Settings > System > WebHooks > Create a WebHook. Paste the URL and the secret, "
        f'tick Issue: updated, and filter with JQL: project = "{project}" AND '
        f'labels = "{COMMON_LABEL}"'
    )
    out("The secret is shown only now. Running this again replaces the URL and the secret.")
    engine.dispose()
    return 0
