"""`connect quickbooks|xero`: consent URL, callback, state check, tokens stored and working."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
import requests

from bot.config import OrgConfig, Settings, parse_org_config
from bot.connect import OAuthConnect, find_target, run_connect, web_callback
from bot.live_check import LiveCheck
from bot.services.token_store import SqlTokenStore
from bot.web import WebApp
from integrations.ports import OAuthToken
from storage.uow import UnitOfWorkFactory
from tests.bot.conftest import Harness, org_dict
from tests.integrations.fakes import CLIENT_ID, CLIENT_SECRET
from tests.support.fake_live_vendors import REALM, TENANT, FakeLiveVendors


@pytest.fixture
def vendors() -> Iterator[FakeLiveVendors]:
    fake = FakeLiveVendors()
    with fake.serving():
        yield fake


def _org(vendors: FakeLiveVendors) -> OrgConfig:
    org = org_dict()
    org["teams"]["finance"]["tool"] = {
        "vendor": "quickbooks",
        "realm_id": REALM,
        "item_ref": "7",
        "base_url": vendors.url + "/qbo",
        "token_url": vendors.url + "/qbo/token",
        "authorize_url": vendors.url + "/qbo/authorize",
    }
    org["teams"]["ops"]["tool"] = {
        "vendor": "xero",
        "tenant_id": TENANT,
        "account_code": "200",
        "base_url": vendors.url + "/xero/api.xro/2.0",
        "token_url": vendors.url + "/xero/token",
        "authorize_url": vendors.url + "/xero/authorize",
    }
    return parse_org_config(org)


ENV = {
    "QBO_CLIENT_ID": CLIENT_ID,
    "QBO_CLIENT_SECRET": CLIENT_SECRET,
    "XERO_CLIENT_ID": CLIENT_ID,
    "XERO_CLIENT_SECRET": CLIENT_SECRET,
}  # no QBO_REFRESH_TOKEN / XERO_REFRESH_TOKEN: the connection comes from the consent alone


def _settings(**extra: Any) -> Settings:
    return Settings(_env_file=None, **extra)  # type: ignore[call-arg]


def _consent(url: str) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(url).query).items()}


def test_connect_quickbooks_through_local_callback_stores_a_working_token(
    vendors: FakeLiveVendors, uow_factory: UnitOfWorkFactory
) -> None:
    store = SqlTokenStore(uow_factory)
    org = _org(vendors)
    urls: list[str] = []
    out: list[str] = []
    ready = threading.Event()
    result: list[int] = []

    def on_url(url: str) -> None:
        urls.append(url)
        ready.set()

    def cli() -> None:
        result.append(
            run_connect(
                _settings(),
                org,
                "quickbooks",
                None,
                ENV,
                out.append,
                store=store,
                port=0,
                timeout=10,
                on_url=on_url,
            )
        )

    thread = threading.Thread(target=cli)
    thread.start()
    assert ready.wait(5)
    consent = _consent(urls[0])
    assert urls[0].startswith(vendors.url + "/qbo/authorize?")
    assert consent["client_id"] == CLIENT_ID
    assert consent["response_type"] == "code"
    assert consent["scope"] == "com.intuit.quickbooks.accounting"
    # The person approves; Intuit redirects the browser back with a code and the realm.
    vendors.codes["code-1"] = "refresh-connected"
    callback = (
        consent["redirect_uri"]
        + "?"
        + urlencode({"code": "code-1", "state": consent["state"], "realmId": REALM})
    )
    page = requests.get(callback, timeout=5)
    thread.join(10)

    assert page.status_code == 200
    assert result == [0]
    assert out[-1] == "handoff: connected: QuickBooks company 'Example Inc' (realm_id 9130)"
    stored = store.load("quickbooks", REALM)
    assert stored is not None and stored.refresh_token == "refresh-connected"
    # The stored token works for the app, and so does its refresh token once it expires.
    check = LiveCheck(_settings(), org, ENV, store)
    check.tools()
    assert _quickbooks_failures(check) == []
    assert any("connected to 'Example Inc'" in line.what for line in check.lines)
    store.save(
        "quickbooks",
        REALM,
        OAuthToken(
            access_token="expired",
            refresh_token="refresh-connected",
            expires_at=datetime(2020, 1, 1, tzinfo=UTC),
        ),
    )
    check = LiveCheck(_settings(), org, ENV, store)
    check.tools()
    assert _quickbooks_failures(check) == []
    assert vendors.qbo_tokens.calls[-1].form["refresh_token"] == "refresh-connected"


def test_connect_callback_with_a_forged_state_is_refused_and_stores_nothing(
    vendors: FakeLiveVendors, uow_factory: UnitOfWorkFactory
) -> None:
    store = SqlTokenStore(uow_factory)
    target = find_target(_org(vendors), "quickbooks", None, ENV)
    connect = OAuthConnect(target, store, "http://localhost:8765/oauth/quickbooks/callback")
    state = _consent(connect.consent_url())["state"]
    vendors.codes["code-2"] = "refresh-x"
    payload, _signature = state.rsplit(".", 1)

    from bot.connect import ConnectError

    for bad in (None, "", payload + ".forged", "nope"):
        with pytest.raises(ConnectError):
            connect.complete({"code": "code-2", "state": bad or "", "realmId": REALM})

    assert store.load("quickbooks", REALM) is None
    assert "code-2" in vendors.codes  # the code was never even exchanged


def test_connect_xero_through_the_apps_callback_route(
    vendors: FakeLiveVendors, harness: Harness
) -> None:
    org = _org(vendors)
    settings = _settings(public_url="https://handoff.example.com")
    store = SqlTokenStore(harness.services.uow)
    web = WebApp(
        harness.app, harness.webhook, settings.public_url, web_callback(settings, org, ENV, store)
    )
    server = make_server("127.0.0.1", 0, web, handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02})
    thread.start()
    try:
        target = find_target(org, "xero", None, ENV)
        redirect = "https://handoff.example.com/oauth/xero/callback"
        consent = _consent(OAuthConnect(target, store, redirect).consent_url())
        assert consent["redirect_uri"] == redirect
        assert "offline_access" in consent["scope"].split()
        vendors.codes["code-3"] = "refresh-xero"
        # Xero redirects the browser to the app's public URL; here that is the local server.
        local = f"http://127.0.0.1:{server.server_port}/oauth/xero/callback"
        page = requests.get(local, params={"code": "code-3", "state": consent["state"]}, timeout=5)
        forged = requests.get(local, params={"code": "x", "state": "a.b"}, timeout=5)
    finally:
        server.shutdown()
        server.server_close()

    assert page.status_code == 200, page.text
    assert "Xero organisation 'Example UK Ltd'" in page.json()["message"]
    stored = store.load("xero", TENANT)
    assert stored is not None and stored.refresh_token == "refresh-xero"
    assert stored.refresh_expires_at is not None  # Xero's 60 days, as the refresh assumes
    assert forged.status_code == 400


def _quickbooks_failures(check: LiveCheck) -> list[str]:
    return [line.render() for line in check.lines if "QuickBooks" in line.what and not line.ok]


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return
