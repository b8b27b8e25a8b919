"""`python -m bot connect quickbooks|xero`: connect a finance tool through its consent screen.

The authorization code flow (RFC 6749 §4.1), as Intuit and Xero document it: print the consent
URL, receive the redirect (a one-shot local callback server, or the app's own
`/oauth/<vendor>/callback` route in HTTP mode), check `state`, exchange the code at the token
endpoint (HTTP Basic client authentication, `grant_type=authorization_code`), store the tokens
with the token store's `save` (the store the refresh uses) and say which company or tenant is now
connected. `QBO_REFRESH_TOKEN` / `XERO_REFRESH_TOKEN` remain an alternative for the first token.

`state` is signed with the client secret and carries its expiry, so the web process can verify a
state that the CLI issued without sharing any memory or table with it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

from bot.config import ConfigError, OrgConfig, Settings
from integrations.ports import OAuthToken, TokenStore
from integrations.quickbooks import QuickBooksConfig
from integrations.xero import XeroConfig, connections_url

VENDORS = ("quickbooks", "xero")
STATE_LIFETIME = timedelta(minutes=15)
TIMEOUT = 15
CALLBACK_PORT = 8765

Print = Callable[[str], None]


class ConnectError(Exception):
    """The connection could not be made; the message says why and what to do."""


@dataclass(frozen=True)
class Connected:
    vendor: str
    account: str  # QuickBooks realm id or Xero tenant id (the token store's key)
    name: str  # the company or organisation name the vendor reports
    configured: bool  # whether the organisation file already names this account

    def describe(self) -> str:
        label = "QuickBooks company" if self.vendor == "quickbooks" else "Xero organisation"
        key = "realm_id" if self.vendor == "quickbooks" else "tenant_id"
        text = f"connected: {label} {self.name!r} ({key} {self.account})"
        if not self.configured:
            text += f"; set {key}: {self.account!r} under the team's tool in the organisation file"
        return text


@dataclass(frozen=True)
class ConnectTarget:
    """One team's finance tool, with the OAuth client it connects through."""

    vendor: str
    team: str
    config: QuickBooksConfig | XeroConfig
    client_id: str
    client_secret: str

    @property
    def account(self) -> str:
        config = self.config
        return config.realm_id if isinstance(config, QuickBooksConfig) else config.tenant_id


def find_target(
    org: OrgConfig, vendor: str, team: str | None, env: Mapping[str, str]
) -> ConnectTarget:
    """The team whose tool is `vendor` (the only one, or `--team`), with its client credentials."""
    teams = [k for k, t in org.teams.items() if t.tool is not None and t.tool.vendor == vendor]
    if team is not None and team not in teams:
        raise ConfigError(f"no team {team!r} uses {vendor} (teams that do: {teams or 'none'})")
    if team is None:
        if len(teams) != 1:
            raise ConfigError(
                f"{len(teams)} teams use {vendor}; name one with --team ({', '.join(teams)})"
                if teams
                else f"no team's tool is {vendor}: add it under teams.<team>.tool first"
            )
        team = teams[0]
    tool = org.teams[team].tool
    assert tool is not None
    config: QuickBooksConfig | XeroConfig = (
        QuickBooksConfig.model_validate(tool.settings())
        if vendor == "quickbooks"
        else XeroConfig.model_validate(tool.settings())
    )
    missing = [n for n in (config.client_id_env, config.client_secret_env) if not env.get(n)]
    if missing:
        raise ConfigError(
            f"set {', '.join(missing)} (the app's keys in the vendor's developer portal)"
        )
    return ConnectTarget(
        vendor, team, config, env[config.client_id_env], env[config.client_secret_env]
    )


class OAuthConnect:
    """Builds the consent URL and completes the callback for one target."""

    def __init__(
        self,
        target: ConnectTarget,
        store: TokenStore,
        redirect_uri: str,
        *,
        session: requests.Session | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.target = target
        self.store = store
        self.redirect_uri = redirect_uri
        self.http = session or requests.Session()
        self.now = now

    # --- state ----------------------------------------------------------------------------------

    def new_state(self) -> str:
        """A signed, expiring state naming the vendor and team (verifiable by any process)."""
        expires = int((self.now() + STATE_LIFETIME).timestamp())
        body = {
            "v": self.target.vendor,
            "t": self.target.team,
            "e": expires,
            "n": secrets.token_urlsafe(12),
        }
        payload = _b64(json.dumps(body, separators=(",", ":")).encode())
        return f"{payload}.{self._sign(payload)}"

    def check_state(self, state: str | None) -> None:
        """Raise ConnectError unless `state` is one we issued for this target, not expired."""
        if not state or "." not in state:
            raise ConnectError("the callback has no state: start again with `connect`")
        payload, signature = state.rsplit(".", 1)
        if not hmac.compare_digest(signature, self._sign(payload)):
            raise ConnectError("the callback's state was not issued here: start again")
        body = json.loads(_unb64(payload))
        if body.get("v") != self.target.vendor or body.get("t") != self.target.team:
            raise ConnectError("the callback's state is for another connection: start again")
        if self.now().timestamp() > int(body.get("e", 0)):
            raise ConnectError("the consent took too long (state expired): start again")

    def _sign(self, payload: str) -> str:
        key = self.target.client_secret.encode()
        return _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())

    # --- the flow -------------------------------------------------------------------------------

    def consent_url(self, state: str | None = None) -> str:
        config = self.target.config
        query = {
            "client_id": self.target.client_id,
            "response_type": "code",
            "scope": config.scopes,
            "redirect_uri": self.redirect_uri,
            "state": state or self.new_state(),
        }
        return f"{config.authorize_url}?{urlencode(query)}"

    def complete(self, params: Mapping[str, str]) -> Connected:
        """Handle the redirect's query: check state, exchange the code, store the tokens."""
        if params.get("error"):
            raise ConnectError(f"consent refused: {params.get('error')}")
        self.check_state(params.get("state"))
        code = params.get("code")
        if not code:
            raise ConnectError("the callback carries no code: start again")
        token = self._exchange(code)
        account, name = self._identify(token, params)
        self.store.save(self.target.vendor, account, token)
        return Connected(self.target.vendor, account, name, account == self.target.account)

    def _exchange(self, code: str) -> OAuthToken:
        pair = f"{self.target.client_id}:{self.target.client_secret}".encode()
        response = self.http.post(
            self.target.config.token_url,
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": self.redirect_uri,
            },
            headers={
                "Authorization": f"Basic {base64.b64encode(pair).decode()}",
                "Accept": "application/json",
            },
            timeout=TIMEOUT,
        )
        body = _json(response)
        if not response.ok or "access_token" not in body:
            error = body.get("error_description") or body.get("error") or response.status_code
            raise ConnectError(f"the token endpoint refused the code ({error}): start again")
        now = self.now()
        lifetime = body.get("x_refresh_token_expires_in")  # Intuit states it; Xero does not
        config = self.target.config
        refresh_expires = (
            now + timedelta(seconds=int(lifetime))
            if lifetime is not None
            else now + timedelta(days=config.refresh_token_lifetime_days)
            if isinstance(config, XeroConfig)
            else None
        )
        return OAuthToken(
            access_token=str(body["access_token"]),
            refresh_token=str(body.get("refresh_token") or ""),
            expires_at=now + timedelta(seconds=int(body.get("expires_in", 3600))),
            refresh_expires_at=refresh_expires,
        )

    def _identify(self, token: OAuthToken, params: Mapping[str, str]) -> tuple[str, str]:
        """(account, name) of what was connected: QBO's realmId, or the Xero tenant."""
        config = self.target.config
        auth = {"Authorization": f"Bearer {token.access_token}", "Accept": "application/json"}
        if isinstance(config, QuickBooksConfig):
            realm = params.get("realmId")
            if not realm:
                raise ConnectError("QuickBooks sent no realmId: pick a company on the consent page")
            url = f"{config.base_url.rstrip('/')}/v3/company/{realm}/companyinfo/{realm}"
            info = _json(self.http.get(url, headers=auth, timeout=TIMEOUT))
            return realm, str((info.get("CompanyInfo") or {}).get("CompanyName") or realm)
        response = self.http.get(connections_url(config), headers=auth, timeout=TIMEOUT)
        tenants = response.json() if response.ok else []
        if not tenants:
            raise ConnectError("Xero lists no organisation for this consent: pick one and retry")
        chosen = next((t for t in tenants if t.get("tenantId") == config.tenant_id), tenants[0])
        return str(chosen["tenantId"]), str(chosen.get("tenantName") or chosen["tenantId"])


# --- receiving the callback ---------------------------------------------------------------------


def callback_path(vendor: str) -> str:
    return f"/oauth/{vendor}/callback"


class CallbackServer:
    """A one-shot HTTP server on 127.0.0.1 that waits for the vendor's redirect."""

    def __init__(self, connect: OAuthConnect, port: int = CALLBACK_PORT) -> None:
        self.connect = connect
        self.result: Connected | None = None
        self.error: str | None = None
        self.done = threading.Event()
        owner = self
        path = callback_path(connect.target.vendor)

        class _Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path != path:
                    self._answer(404, "Not found")
                    return
                params = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                status, text = owner.handle(params)
                self._answer(status, text)

            def _answer(self, status: int, text: str) -> None:
                raw = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = HTTPServer(("127.0.0.1", port), _Handler)
        self.port = self._server.server_address[1]

    def handle(self, params: Mapping[str, str]) -> tuple[int, str]:
        try:
            self.result = self.connect.complete(params)
            return 200, f"Handoff {self.result.describe()}. You can close this tab."
        except ConnectError as exc:
            self.error = str(exc)
            return 400, f"Handoff could not connect: {exc}"
        finally:
            self.done.set()

    def wait(self, timeout: float) -> Connected:
        """Serve until one callback arrived (or `timeout` seconds passed)."""
        thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05})
        thread.daemon = True
        thread.start()
        try:
            if not self.done.wait(timeout):
                raise ConnectError("no callback arrived in time: start again")
        finally:
            self._server.shutdown()
            self._server.server_close()
        if self.result is None:
            raise ConnectError(self.error or "the callback failed")
        return self.result


def web_callback(
    settings: Settings, org: OrgConfig, env: Mapping[str, str], store: TokenStore
) -> Callable[[str, Mapping[str, str]], tuple[int, str]]:
    """The web app's `/oauth/<vendor>/callback` handler (HTTP mode), same flow as the CLI's."""

    def handle(vendor: str, params: Mapping[str, str]) -> tuple[int, str]:
        if vendor not in VENDORS:
            return 404, "unknown vendor"
        team = _state_team(params.get("state"))
        try:
            target = find_target(org, vendor, team, env)
            connect = OAuthConnect(target, store, app_redirect_uri(settings, vendor))
            result = connect.complete(params)
        except (ConnectError, ConfigError) as exc:
            return 400, f"Handoff could not connect: {exc}"
        return 200, f"Handoff {result.describe()}. You can close this tab."

    return handle


def app_redirect_uri(settings: Settings, vendor: str) -> str:
    if not settings.public_url:
        raise ConfigError("PUBLIC_URL is not set")
    return settings.public_url.rstrip("/") + callback_path(vendor)


def _state_team(state: str | None) -> str | None:
    """The team a state names (checked again, with its signature, by OAuthConnect)."""
    try:
        payload = (state or "").rsplit(".", 1)[0]
        team = json.loads(_unb64(payload)).get("t")
        return str(team) if team else None
    except (ValueError, AttributeError):
        return None


# --- the command --------------------------------------------------------------------------------


def run_connect(
    settings: Settings,
    org: OrgConfig,
    vendor: str,
    team: str | None,
    env: Mapping[str, str],
    out: Print,
    *,
    store: TokenStore | None = None,
    port: int = CALLBACK_PORT,
    timeout: float = 600,
    on_url: Callable[[str], None] | None = None,
) -> int:
    """Print the consent URL, wait for the callback, store the tokens; 0 when connected."""
    target = find_target(org, vendor, team, env)
    store = store or _sql_store(settings)
    use_app = bool(settings.public_url) and not settings.slack_app_token
    if use_app:
        connect = OAuthConnect(target, store, app_redirect_uri(settings, vendor))
        before = store.load(vendor, target.account)
        url = connect.consent_url()
        out(f"Open this URL and approve access (the app at {settings.public_url} receives it):")
        out(url)
        if on_url:
            on_url(url)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            after = store.load(vendor, target.account)
            if after is not None and after != before:
                out(f"handoff: {vendor} connected (account {target.account})")
                return 0
            time.sleep(2)
        out("handoff: no connection arrived in time; check the browser page for the reason")
        return 1
    redirect = f"http://localhost:{port}{callback_path(vendor)}"
    connect = OAuthConnect(target, store, redirect)
    server = CallbackServer(connect, port)
    connect.redirect_uri = f"http://localhost:{server.port}{callback_path(vendor)}"
    url = connect.consent_url()
    out(f"Add {connect.redirect_uri} as a redirect URI of your {vendor} app, then open:")
    out(url)
    if on_url:
        on_url(url)
    try:
        result = server.wait(timeout)
    except ConnectError as exc:
        out(f"handoff: {exc}")
        return 1
    out(f"handoff: {result.describe()}")
    return 0


def _sql_store(settings: Settings) -> TokenStore:
    from bot.services.token_store import SqlTokenStore
    from storage.db import create_engine_for, session_factory
    from storage.uow import UnitOfWorkFactory

    engine = create_engine_for(settings.database_url)
    return SqlTokenStore(UnitOfWorkFactory(session_factory(engine)))


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
