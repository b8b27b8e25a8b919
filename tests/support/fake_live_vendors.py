"""One loopback stand-in for the lookups `check --live` makes at Asana, Jira, QuickBooks and Xero.

Paths are prefixed per vendor (/asana, /jira, /qbo, /xero) so one server serves all four; the
QuickBooks and Xero token endpoints rotate refresh tokens like the real ones (TokenEndpoint).
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from typing import Any

from tests.integrations.fakes import CLIENT_ID, CLIENT_SECRET, TokenEndpoint
from tests.support.stub_server import Recorded, Reply, StubServer

ASANA_TOKEN = "asana-live-token"
JIRA_EMAIL = "ops@example.com"
JIRA_TOKEN = "jira-live-token"
REALM = "9130"
TENANT = "5d7a3c1e-0f2b-4a60-9c3e-7b1d2e4f6a80"


@dataclass
class FakeLiveVendors:
    asana: dict[str, dict[str, str]] = field(
        default_factory=lambda: {
            "workspaces": {"1100": "Example Ltd"},
            "teams": {"2200": "Delivery"},
            "project_templates": {"3300": "Client onboarding"},
        }
    )
    jira_projects: dict[str, list[str]] = field(default_factory=lambda: {"OPS": ["Task", "Epic"]})
    qbo_items: dict[str, str] = field(default_factory=lambda: {"7": "Services"})
    qbo_terms: dict[str, str] = field(default_factory=lambda: {"3": "Net 30"})
    xero_tenants: dict[str, str] = field(default_factory=lambda: {TENANT: "Example UK Ltd"})
    xero_accounts: dict[str, str] = field(default_factory=lambda: {"200": "Sales"})
    qbo_tokens: TokenEndpoint = field(default_factory=TokenEndpoint)
    xero_tokens: TokenEndpoint = field(default_factory=TokenEndpoint)
    # authorization codes the "consent page" handed out: code -> refresh token issued for it
    codes: dict[str, str] = field(default_factory=dict)
    server: StubServer | None = None

    def __post_init__(self) -> None:
        self.xero_tokens.refresh_expires_in = None

    def serving(self) -> StubServer:
        self.server = StubServer(self._handle)
        return self.server

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url

    def _handle(self, rec: Recorded) -> Reply:
        vendor, _, rest = rec.path.lstrip("/").partition("/")
        route = {
            "asana": self._asana,
            "jira": self._jira,
            "qbo": self._qbo,
            "xero": self._xero,
        }.get(vendor)
        return route(rec, "/" + rest) if route else Reply(404, {"message": "no such vendor"})

    def _asana(self, rec: Recorded, path: str) -> Reply:
        if rec.header("Authorization") != f"Bearer {ASANA_TOKEN}":
            return Reply(401, {"errors": [{"message": "Not Authorized"}]})
        match = re.fullmatch(r"/(workspaces|teams|project_templates)/(\d+)", path)
        name = self.asana.get(match.group(1), {}).get(match.group(2)) if match else None
        if match is None or name is None:
            return Reply(404, {"errors": [{"message": "Unknown object"}]})
        return Reply(200, {"data": {"gid": match.group(2), "name": name}})

    def _jira(self, rec: Recorded, path: str) -> Reply:
        pair = base64.b64encode(f"{JIRA_EMAIL}:{JIRA_TOKEN}".encode()).decode()
        if rec.header("Authorization") != f"Basic {pair}":
            return Reply(401, {"errorMessages": ["Unauthorized"]})
        if path == "/rest/api/3/myself":
            return Reply(200, {"accountId": "5b10a2844c20165700ede21g", "displayName": "Ops Bot"})
        match = re.fullmatch(r"/rest/api/3/project/([A-Z0-9]+)", path)
        if match and match.group(1) in self.jira_projects:
            types = [{"id": str(i), "name": n} for i, n in enumerate(self.jira_projects[match[1]])]
            return Reply(200, {"key": match.group(1), "issueTypes": types})
        return Reply(404, {"errorMessages": ["No project could be found"]})

    def _qbo(self, rec: Recorded, path: str) -> Reply:
        if path == "/token":
            return self._token(self.qbo_tokens, rec)
        if not self.qbo_tokens.authorised(rec):
            return Reply(401, {"fault": {"error": [{"message": "AuthenticationFailed"}]}})
        prefix = f"/v3/company/{REALM}"
        if not path.startswith(prefix):
            return Reply(403, {"Fault": {"Error": [{"Message": "ApplicationAuthorizationFailed"}]}})
        entity = path.removeprefix(prefix)
        if entity == f"/companyinfo/{REALM}":
            return Reply(200, {"CompanyInfo": {"Id": "1", "CompanyName": "Example Inc"}})
        for kind, table in (("item", self.qbo_items), ("term", self.qbo_terms)):
            match = re.fullmatch(rf"/{kind}/(\d+)", entity)
            if match and match.group(1) in table:
                key = kind.capitalize()
                return Reply(200, {key: {"Id": match.group(1), "Name": table[match.group(1)]}})
        not_found = {"Error": [{"Message": "Object Not Found", "code": "610"}]}
        return Reply(400, {"Fault": {**not_found, "type": "ValidationFault"}})

    def _xero(self, rec: Recorded, path: str) -> Reply:
        if path == "/token":
            return self._token(self.xero_tokens, rec)
        if not self.xero_tokens.authorised(rec):
            return Reply(401, {"Title": "Unauthorized"})
        if path == "/connections":
            rows = [
                {"id": f"c-{i}", "tenantId": t, "tenantType": "ORGANISATION", "tenantName": n}
                for i, (t, n) in enumerate(self.xero_tenants.items())
            ]
            return Reply(200, rows)
        if path == "/api.xro/2.0/Accounts":
            if rec.header("xero-tenant-id") not in self.xero_tenants:
                return Reply(403, {"Title": "Forbidden"})
            accounts = [
                {"Code": c, "Name": n, "Status": "ACTIVE", "Type": "REVENUE"}
                for c, n in self.xero_accounts.items()
            ]
            return Reply(200, {"Accounts": accounts})
        return Reply(404, {"Title": "Not Found"})

    def _token(self, endpoint: TokenEndpoint, rec: Recorded) -> Reply:
        """The refresh grant (TokenEndpoint), plus the authorization code grant for `connect`."""
        form = rec.form
        if form.get("grant_type") != "authorization_code":
            return endpoint.handle(rec)
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if rec.header("Authorization") != f"Basic {expected}":
            return Reply(401, {"error": "invalid_client"})
        code = form.get("code", "")
        if code not in self.codes or not form.get("redirect_uri"):
            return Reply(400, {"error": "invalid_grant"})
        refresh = self.codes.pop(code)  # a code is good once
        endpoint.refresh_token = refresh
        access = f"access-{code}"
        endpoint.valid_access.add(access)
        body: dict[str, Any] = {
            "access_token": access,
            "refresh_token": refresh,
            "token_type": "bearer",
            "expires_in": 3600,
        }
        if endpoint.refresh_expires_in is not None:
            body["x_refresh_token_expires_in"] = endpoint.refresh_expires_in
        return Reply(200, body)
