"""`python -m bot check --live`: every setting proven against the real services, one line each.

Each line is ✓ or ✗; a ✗ says how to fix it. The exit status is 1 when any line is ✗, so a deploy
can run this first. Only reads are made, except that QuickBooks and Xero tokens are refreshed the
way the app refreshes them (and stored the same way), since a token that cannot be refreshed is
exactly what this should find.

Calls (one per setting): Slack `auth.test` (granted scopes come back in the `x-oauth-scopes`
header), `conversations.info`, `usergroups.users.list`, `users.info`; HubSpot
`GET /crm/v3/pipelines/deals/{id}` and one `POST /crm/v3/objects/deals/search`; Asana
`GET /workspaces/{gid}`, `/teams/{gid}`, `/project_templates/{gid}`; Jira `GET /myself`,
`/project/{key}`; QuickBooks `companyinfo`, `item`, `term`; Xero `GET /connections`, `/Accounts`.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import requests
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import inspect

from bot.config import OrgConfig, Settings, ToolConfig
from bot.manifest import load_manifest
from bot.services.token_store import SqlTokenStore
from integrations.asana import AsanaConfig
from integrations.jira import JiraConfig
from integrations.oauth import OAuthClientConfig, OAuthRefresher
from integrations.ports import TokenStore, VendorError
from integrations.quickbooks import QuickBooksConfig
from integrations.xero import XeroConfig, connections_url
from storage.db import create_engine_for, session_factory
from storage.uow import UnitOfWorkFactory

log = logging.getLogger(__name__)

TIMEOUT = 15  # seconds per call: a hung service is a ✗, not a hung deploy

Print = Callable[[str], None]


@dataclass(frozen=True)
class Line:
    ok: bool
    what: str
    fix: str = ""

    def render(self) -> str:
        if self.ok:
            return f"✓ {self.what}"
        return f"✗ {self.what}" + (f" — fix: {self.fix}" if self.fix else "")


class LiveCheck:
    """Collects one `Line` per setting; `run()` calls every service in turn."""

    def __init__(
        self,
        settings: Settings,
        org: OrgConfig,
        env: Mapping[str, str],
        token_store: TokenStore | None,
        *,
        session: requests.Session | None = None,
    ) -> None:
        self.settings = settings
        self.org = org
        self.env = env
        self.token_store = token_store
        self.http = session or requests.Session()
        self.lines: list[Line] = []

    def good(self, what: str) -> None:
        self.lines.append(Line(True, what))

    def bad(self, what: str, fix: str) -> None:
        self.lines.append(Line(False, what, fix))

    @property
    def failed(self) -> bool:
        return any(not line.ok for line in self.lines)

    def run(self) -> list[Line]:
        """Check everything; an unexpected error in one area is a ✗ line, not a crash."""
        for area, check in (
            ("Slack", self.slack),
            ("HubSpot", self.hubspot),
            ("Team tools", self.tools),
        ):
            try:
                check()
            except (requests.RequestException, SlackApiError, VendorError, ValueError) as exc:
                self.bad(f"{area}: could not finish the checks ({exc})", "see the error above")
        return self.lines

    # --- Slack ----------------------------------------------------------------------------------

    def slack(self) -> None:
        if not self.settings.slack_bot_token:
            self.bad("Slack: SLACK_BOT_TOKEN is not set", "copy the Bot User OAuth Token (xoxb-)")
            return
        client = WebClient(
            token=self.settings.slack_bot_token, base_url=self.settings.slack_api_url
        )
        try:
            auth = client.auth_test()
        except SlackApiError as exc:
            self.bad(
                f"Slack: bot token refused ({exc.response.get('error')})",
                "copy the Bot User OAuth Token from OAuth & Permissions into SLACK_BOT_TOKEN",
            )
            return
        self.good(f"Slack: bot token works (team {auth.get('team_id')}, bot {auth.get('user')})")
        granted = {s.strip() for s in str(_header(auth.headers, "x-oauth-scopes") or "").split(",")}
        wanted = set(load_manifest()["oauth_config"]["scopes"]["bot"])
        missing = sorted(wanted - granted)
        if missing:
            self.bad(
                f"Slack: scopes missing: {', '.join(missing)}",
                "add them under OAuth & Permissions (or re-create from app_manifest.yml) and "
                "reinstall the app",
            )
        else:
            self.good("Slack: granted scopes cover the manifest's")
        self._channel(client, "handoff_channel", self.org.handoff_channel)
        for key, team in self.org.teams.items():
            if team.channel:
                self._channel(client, f"teams.{key}.channel", team.channel)
            if team.members.usergroup:
                self._usergroup(client, f"teams.{key}.members.usergroup", team.members.usergroup)
            for user in team.members.users:
                self._user(client, f"teams.{key}.members.users", user)
            if team.manager:
                self._user(client, f"teams.{key}.manager", team.manager)
        self._user(client, "admin_user", self.org.admin_user)

    def _channel(self, client: WebClient, key: str, channel: str) -> None:
        try:
            info = client.conversations_info(channel=channel)
        except SlackApiError as exc:
            self.bad(
                f"Slack: {key} {channel} not found ({exc.response.get('error')})",
                "use the channel id (channel details > About, C...); for a private channel "
                "invite the app first",
            )
            return
        data = info.get("channel") or {}
        name = data.get("name", channel)
        if not data.get("is_member"):
            self.bad(
                f"Slack: the app is not in #{name} ({key})", f"type /invite @Handoff in #{name}"
            )
            return
        self.good(f"Slack: {key} #{name} exists and the app is in it")

    def _usergroup(self, client: WebClient, key: str, group: str) -> None:
        try:
            members = client.usergroups_users_list(usergroup=group).get("users") or []
        except SlackApiError as exc:
            self.bad(
                f"Slack: {key} {group} not found ({exc.response.get('error')})",
                "use the user group id (S...) from the group's profile, or list users instead",
            )
            return
        if not members:
            self.bad(f"Slack: {key} {group} has no members", "add people to the user group")
            return
        self.good(f"Slack: {key} {group} exists ({len(members)} members)")

    def _user(self, client: WebClient, key: str, user: str) -> None:
        try:
            info = client.users_info(user=user).get("user") or {}
        except SlackApiError as exc:
            self.bad(
                f"Slack: {key} {user} not found ({exc.response.get('error')})",
                "use the member id (profile > ⋮ > Copy member ID, U...)",
            )
            return
        if info.get("deleted"):
            self.bad(f"Slack: {key} {user} is deactivated", "name someone who is still here")
            return
        self.good(f"Slack: {key} {user} is {info.get('real_name') or info.get('name') or user}")

    # --- HubSpot --------------------------------------------------------------------------------

    def hubspot(self) -> None:
        hub = self.org.hubspot
        token = self.settings.hubspot_token
        if not token:
            self.bad("HubSpot: HUBSPOT_TOKEN is not set", "create a private app and copy its token")
            return
        base = self.settings.hubspot_base_url.rstrip("/")
        auth = {"Authorization": f"Bearer {token}"}
        response = self._get(f"{base}/crm/v3/pipelines/deals/{hub.pipeline_id}", auth)
        if response.status_code in (401, 403):
            self.bad(
                f"HubSpot: token refused (HTTP {response.status_code})",
                "copy the private app's access token into HUBSPOT_TOKEN; it needs the scopes "
                "crm.objects.deals.read/write, crm.objects.contacts.read, "
                "crm.objects.companies.read, crm.objects.owners.read",
            )
            return
        self.good("HubSpot: token works")
        if response.status_code == 404:
            pipelines = self._get(f"{base}/crm/v3/pipelines/deals", auth)
            known = [
                f"{p.get('id')} ({p.get('label')})"
                for p in (pipelines.json().get("results") or [] if pipelines.ok else [])
            ]
            self.bad(
                f"HubSpot: pipeline {hub.pipeline_id!r} not found",
                f"set hubspot.pipeline_id to one of: {', '.join(known) or 'none listed'}",
            )
            return
        response.raise_for_status()
        stages = {str(s.get("id")): str(s.get("label")) for s in response.json().get("stages", [])}
        self.good(f"HubSpot: pipeline {hub.pipeline_id!r} exists")
        listing = "; ".join(f"{sid} ({label})" for sid, label in stages.items())
        for key, stage in (("won_stage", hub.won_stage), ("pending_stage", hub.pending_stage)):
            if stage in stages:
                self.good(f"HubSpot: {key} {stage!r} is {stages[stage]!r}")
            else:
                self.bad(
                    f"HubSpot: {key} {stage!r} is not a stage of pipeline {hub.pipeline_id!r}",
                    f"use one of these stage ids: {listing}",
                )
        self._renewal_stage(base, auth, stages)
        self._search(base, auth)
        self._webhook_secret()

    def _renewal_stage(self, base: str, auth: dict[str, str], stages: dict[str, str]) -> None:
        """The stage new renewal deals start in, in the pipeline they are created in."""
        renewals, hub = self.org.renewals, self.org.hubspot
        pipeline = renewals.pipeline_id or hub.pipeline_id
        if pipeline != hub.pipeline_id:
            response = self._get(f"{base}/crm/v3/pipelines/deals/{pipeline}", auth)
            if response.status_code == 404:
                self.bad(
                    f"HubSpot: renewals.pipeline_id {pipeline!r} not found",
                    "set renewals.pipeline_id to a deal pipeline id, or leave it out to use "
                    "hubspot.pipeline_id",
                )
                return
            response.raise_for_status()
            stages = {
                str(s.get("id")): str(s.get("label")) for s in response.json().get("stages", [])
            }
        stage = renewals.deal_stage
        if stage in stages:
            self.good(f"HubSpot: renewals.deal_stage {stage!r} is {stages[stage]!r}")
        else:
            listing = "; ".join(f"{sid} ({label})" for sid, label in stages.items())
            self.bad(
                f"HubSpot: renewals.deal_stage {stage!r} is not a stage of pipeline {pipeline!r}",
                f"use one of these stage ids: {listing}",
            )

    def _search(self, base: str, auth: dict[str, str]) -> None:
        body = {"filterGroups": [], "properties": ["dealstage"], "limit": 1}
        response = self.http.post(
            f"{base}/crm/v3/objects/deals/search", json=body, headers=auth, timeout=TIMEOUT
        )
        if response.ok:
            self.good("HubSpot: deal search works (the won-deal sweep)")
        else:
            self.bad(
                f"HubSpot: deal search refused (HTTP {response.status_code})",
                "give the private app the crm.objects.deals.read scope",
            )

    def _webhook_secret(self) -> None:
        if self.settings.slack_app_token:
            self.good(
                f"HubSpot: Socket Mode, so the sweep is the trigger "
                f"(every {self.org.hubspot.sweep_seconds}s)"
            )
            if not self.org.hubspot.sweep_seconds:
                self.bad(
                    "HubSpot: hubspot.sweep_seconds is 0 in Socket Mode: nothing sees won deals",
                    "set hubspot.sweep_seconds (e.g. 120) or run in HTTP mode with the webhook",
                )
            return
        if self.settings.hubspot_client_secret:
            self.good("HubSpot: webhook secret is set (HTTP mode)")
        else:
            self.bad(
                "HubSpot: HUBSPOT_CLIENT_SECRET is not set, so webhooks are refused (HTTP mode)",
                "copy the private app's client secret (Auth tab) into HUBSPOT_CLIENT_SECRET",
            )

    # --- team tools -----------------------------------------------------------------------------

    def tools(self) -> None:
        for key, team in self.org.teams.items():
            if team.tool is None:
                continue
            check = {
                "asana": self._asana,
                "jira": self._jira,
                "quickbooks": self._quickbooks,
                "xero": self._xero,
            }.get(team.tool.vendor)
            if check is None:
                self.bad(f"teams.{key}.tool: unknown vendor {team.tool.vendor!r}", "see README")
                continue
            check(f"teams.{key}.tool", team.tool)

    def _asana(self, where: str, tool: ToolConfig) -> None:
        config = AsanaConfig.model_validate(tool.settings())
        token = self.env.get(config.token_env)
        if not token:
            self.bad(f"Asana ({where}): {config.token_env} is not set", "create a personal token")
            return
        base = config.base_url.rstrip("/")
        auth = {"Authorization": f"Bearer {token}"}
        lookups = [("workspace_gid", "workspaces", config.workspace_gid)]
        if config.team_gid:
            lookups.append(("team_gid", "teams", config.team_gid))
        if config.template_gid:
            lookups.append(("template_gid", "project_templates", config.template_gid))
        for key, kind, gid in lookups:
            response = self._get(f"{base}/{kind}/{gid}", auth)
            if response.status_code == 401:
                self.bad(f"Asana ({where}): token refused", f"check {config.token_env}")
                return
            if response.ok:
                name = (response.json().get("data") or {}).get("name", gid)
                self.good(f"Asana ({where}): {key} {gid} is {name!r}")
            else:
                self.bad(
                    f"Asana ({where}): {key} {gid} not found (HTTP {response.status_code})",
                    f"copy the {kind.rstrip('s').replace('_', ' ')} gid from its Asana URL",
                )

    def _jira(self, where: str, tool: ToolConfig) -> None:
        config = JiraConfig.model_validate(tool.settings())
        email, token = self.env.get(config.email_env), self.env.get(config.token_env)
        if not (email and token):
            self.bad(
                f"Jira ({where}): {config.email_env}/{config.token_env} not set",
                "create an API token at id.atlassian.com and set both",
            )
            return
        base = config.base_url.rstrip("/")
        pair = base64.b64encode(f"{email}:{token}".encode()).decode()
        auth = {"Authorization": f"Basic {pair}"}
        me = self._get(f"{base}/rest/api/3/myself", auth)
        if not me.ok:
            self.bad(
                f"Jira ({where}): credentials refused (HTTP {me.status_code})",
                f"check {config.email_env} and {config.token_env}",
            )
            return
        self.good(f"Jira ({where}): credentials work ({me.json().get('displayName')})")
        project = self._get(f"{base}/rest/api/3/project/{config.project_key}", auth)
        if not project.ok:
            self.bad(
                f"Jira ({where}): project {config.project_key!r} not found",
                "use the project key shown in its issue keys (e.g. OPS-12 -> OPS)",
            )
            return
        types = [str(t.get("name")) for t in project.json().get("issueTypes") or []]
        self.good(f"Jira ({where}): project {config.project_key!r} exists")
        if config.issue_type in types:
            self.good(f"Jira ({where}): issue type {config.issue_type!r} exists")
        else:
            self.bad(
                f"Jira ({where}): issue type {config.issue_type!r} not in the project",
                f"use one of: {', '.join(types)}",
            )

    def _quickbooks(self, where: str, tool: ToolConfig) -> None:
        config = QuickBooksConfig.model_validate(tool.settings())
        token = self._oauth_token(
            where,
            "quickbooks",
            config.realm_id,
            config.token_url,
            (config.client_id_env, config.client_secret_env, config.refresh_token_env),
            None,
        )
        if token is None:
            return
        base = f"{config.base_url.rstrip('/')}/v3/company/{config.realm_id}"
        auth = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        params = {"minorversion": str(config.minor_version)}
        company = self._get(f"{base}/companyinfo/{config.realm_id}", auth, params)
        if not company.ok:
            self.bad(
                f"QuickBooks ({where}): realm {config.realm_id} not reachable "
                f"(HTTP {company.status_code})",
                "run `python -m bot connect quickbooks` and use the company it names",
            )
            return
        name = (company.json().get("CompanyInfo") or {}).get("CompanyName")
        self.good(f"QuickBooks ({where}): connected to {name!r} (realm {config.realm_id})")
        lookups = [("item_ref", "item", "Item", config.item_ref)]
        lookups += [
            (f"term_refs.{days}", "term", "Term", ref) for days, ref in config.term_refs.items()
        ]
        for key, path, entity, ref in lookups:
            response = self._get(f"{base}/{path}/{ref}", auth, params)
            found = response.json().get(entity) if response.ok else None
            if found:
                self.good(f"QuickBooks ({where}): {key} {ref} is {found.get('Name')!r}")
            else:
                self.bad(
                    f"QuickBooks ({where}): {key} {ref} not found",
                    f"use the Id of an existing {entity} (Sales > Products and services, "
                    "or Settings > Terms)",
                )

    def _xero(self, where: str, tool: ToolConfig) -> None:
        config = XeroConfig.model_validate(tool.settings())
        token = self._oauth_token(
            where,
            "xero",
            config.tenant_id,
            config.token_url,
            (config.client_id_env, config.client_secret_env, config.refresh_token_env),
            timedelta(days=config.refresh_token_lifetime_days),
        )
        if token is None:
            return
        auth = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        response = self._get(connections_url(config), auth)
        tenants = {str(c.get("tenantId")): str(c.get("tenantName")) for c in response.json()}
        if config.tenant_id not in tenants:
            known = ", ".join(f"{tid} ({name})" for tid, name in tenants.items())
            self.bad(
                f"Xero ({where}): tenant {config.tenant_id} is not connected",
                f"use one of: {known or 'none - run `python -m bot connect xero`'}",
            )
            return
        self.good(f"Xero ({where}): connected to {tenants[config.tenant_id]!r}")
        accounts = self._get(
            f"{config.base_url.rstrip('/')}/Accounts",
            {**auth, "xero-tenant-id": config.tenant_id},
        )
        codes = {
            str(a.get("Code")): str(a.get("Name"))
            for a in (accounts.json().get("Accounts") or [] if accounts.ok else [])
            if a.get("Status", "ACTIVE") == "ACTIVE"
        }
        if config.account_code in codes:
            self.good(
                f"Xero ({where}): account_code {config.account_code} is "
                f"{codes[config.account_code]!r}"
            )
        else:
            self.bad(
                f"Xero ({where}): account_code {config.account_code} is not an active account",
                "use a revenue account code from Accounting > Chart of accounts",
            )

    def _oauth_token(
        self,
        where: str,
        provider: str,
        account: str,
        token_url: str,
        env_names: tuple[str, str, str],
        refresh_lifetime: timedelta | None,
    ) -> str | None:
        client_id_env, client_secret_env, refresh_env = env_names
        label = provider.capitalize() if provider == "xero" else "QuickBooks"
        missing = [n for n in (client_id_env, client_secret_env) if not self.env.get(n)]
        if missing:
            self.bad(
                f"{label} ({where}): {', '.join(missing)} not set",
                "copy the app's client id and secret from the vendor's developer portal",
            )
            return None
        if self.token_store is None:
            self.bad(f"{label} ({where}): no database for tokens", "check DATABASE_URL")
            return None
        refresher = OAuthRefresher(
            OAuthClientConfig(
                provider=provider,
                account=account,
                token_url=token_url,
                client_id=self.env[client_id_env],
                client_secret=self.env[client_secret_env],
                refresh_token_env=refresh_env,
                default_refresh_lifetime=refresh_lifetime,
            ),
            self.token_store,
            env=self.env,
            warn_admin=lambda _vendor, _message: None,
            sleep=lambda _s: None,
            session=self.http,
        )
        try:
            return refresher.access_token()
        except VendorError as exc:
            self.bad(
                f"{label} ({where}): no working token ({exc.message})",
                f"run `python -m bot connect {provider}` (or set {refresh_env})",
            )
            return None

    def _get(
        self, url: str, headers: dict[str, str], params: dict[str, str] | None = None
    ) -> requests.Response:
        return self.http.get(url, headers=headers, params=params, timeout=TIMEOUT)


def _header(headers: Mapping[str, Any], name: str) -> Any:
    wanted = name.lower()
    return next((v for k, v in headers.items() if k.lower() == wanted), None)


def run_live_check(settings: Settings, org: OrgConfig, env: Mapping[str, str], out: Print) -> int:
    """Print one line per setting; 0 when everything is ✓, 1 otherwise."""
    token_store: TokenStore | None = None
    try:
        engine = create_engine_for(settings.database_url)
        with engine.connect() as connection:
            tables = set(inspect(connection).get_table_names())
        if "oauth_connections" in tables:
            out(Line(True, "Database: reachable and migrated").render())
            token_store = SqlTokenStore(UnitOfWorkFactory(session_factory(engine)))
        else:
            out(Line(False, "Database: not migrated", "run `python -m bot migrate`").render())
    except Exception as exc:  # any driver error: report it as a line, keep checking the rest
        out(Line(False, f"Database: not reachable ({exc})", "check DATABASE_URL").render())
    check = LiveCheck(settings, org, env, token_store)
    for line in check.run():
        out(line.render())
    failed = check.failed or token_store is None
    out("handoff: live check " + ("FAILED" if failed else "passed"))
    return 1 if failed else 0
