"""OAuthRefresher against a loopback token endpoint that rotates refresh tokens like the vendors."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta

import pytest

from integrations.oauth import OAuthClientConfig, OAuthRefresher, call_with_reauth
from integrations.ports import OAuthToken, VendorRejected
from tests.integrations.fakes import (
    CLIENT_ID,
    CLIENT_SECRET,
    QBO_TOKEN_PATH,
    Clock,
    InMemoryTokenStore,
    Sleeps,
    TokenEndpoint,
    Warnings,
    utc,
)
from tests.support.stub_server import StubServer

PROVIDER, ACCOUNT = "quickbooks", "9130"
NOW = utc(2027, 3, 1, 9)


@pytest.fixture
def endpoint() -> TokenEndpoint:
    return TokenEndpoint()


@pytest.fixture
def server(endpoint: TokenEndpoint) -> Iterator[StubServer]:
    with StubServer(endpoint.handle) as stub:
        yield stub


@pytest.fixture
def store() -> InMemoryTokenStore:
    return InMemoryTokenStore()


@pytest.fixture
def warnings() -> Warnings:
    return Warnings()


def refresher(
    server: StubServer,
    store: InMemoryTokenStore,
    warnings: Warnings,
    *,
    env: Mapping[str, str] | None = None,
    lifetime: timedelta | None = None,
) -> OAuthRefresher:
    config = OAuthClientConfig(
        provider=PROVIDER,
        account=ACCOUNT,
        token_url=server.url + QBO_TOKEN_PATH,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        refresh_token_env="QBO_REFRESH_TOKEN",
        default_refresh_lifetime=lifetime,
    )
    return OAuthRefresher(
        config, store, env=env or {}, warn_admin=warnings, now=Clock(NOW), sleep=Sleeps()
    )


def seed(
    store: InMemoryTokenStore, expires_in: timedelta, refresh_expires_at: datetime | None = None
) -> None:
    token = OAuthToken(
        access_token="access-0",
        refresh_token="refresh-0",
        expires_at=NOW + expires_in,
        refresh_expires_at=refresh_expires_at,
    )
    store.save(PROVIDER, ACCOUNT, token)


def test_refresher_returns_stored_token_while_fresh(
    server: StubServer, endpoint: TokenEndpoint, store: InMemoryTokenStore, warnings: Warnings
) -> None:
    seed(store, timedelta(minutes=6))

    assert refresher(server, store, warnings).access_token() == "access-0"
    assert endpoint.calls == []


def test_refresher_refreshes_within_five_minutes_of_expiry_and_stores_rotated_token(
    server: StubServer, endpoint: TokenEndpoint, store: InMemoryTokenStore, warnings: Warnings
) -> None:
    seed(store, timedelta(minutes=4))

    assert refresher(server, store, warnings).access_token() == "access-1"

    [call] = endpoint.calls
    assert call.form == {"grant_type": "refresh_token", "refresh_token": "refresh-0"}
    saved = store.load(PROVIDER, ACCOUNT)
    assert saved is not None
    assert saved.refresh_token == "refresh-1"
    assert saved.expires_at == NOW + timedelta(seconds=3600)
    assert saved.refresh_expires_at == NOW + timedelta(seconds=8_726_400)


def test_refresher_seeds_from_env_when_store_is_empty(
    server: StubServer, endpoint: TokenEndpoint, store: InMemoryTokenStore, warnings: Warnings
) -> None:
    env = {"QBO_REFRESH_TOKEN": "refresh-0"}

    assert refresher(server, store, warnings, env=env).access_token() == "access-1"

    saved = store.load(PROVIDER, ACCOUNT)
    assert saved is not None
    assert saved.refresh_token == "refresh-1"


def test_refresher_without_any_token_warns_admin_and_raises(
    server: StubServer, endpoint: TokenEndpoint, store: InMemoryTokenStore, warnings: Warnings
) -> None:
    with pytest.raises(VendorRejected, match="QBO_REFRESH_TOKEN is not set"):
        refresher(server, store, warnings).access_token()

    assert [vendor for vendor, _ in warnings] == [PROVIDER]
    assert "reconnect needed" in warnings[0][1]
    assert endpoint.calls == []


def test_refresher_concurrent_refreshes_call_token_endpoint_once(
    server: StubServer, endpoint: TokenEndpoint, store: InMemoryTokenStore, warnings: Warnings
) -> None:
    seed(store, timedelta(minutes=-1))
    # The token endpoint answers only once the second caller is waiting for the lock.
    endpoint.before_reply = lambda: store.wait_for_lock_attempts(2)
    processes = [refresher(server, store, warnings) for _ in range(2)]
    results: list[str] = []
    threads = [
        threading.Thread(target=lambda r=r: results.append(r.access_token())) for r in processes
    ]

    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert len(endpoint.calls) == 1
    assert results == ["access-1", "access-1"]
    saved = store.load(PROVIDER, ACCOUNT)
    assert saved is not None
    assert saved.refresh_token == "refresh-1"


def test_refresher_after_401_refreshes_once_and_retries(
    server: StubServer, endpoint: TokenEndpoint, store: InMemoryTokenStore, warnings: Warnings
) -> None:
    seed(store, timedelta(hours=1))
    oauth = refresher(server, store, warnings)
    seen: list[str] = []

    def send() -> str:
        token = oauth.access_token()
        seen.append(token)
        if token == "access-0":
            raise VendorRejected("quickbooks", "HTTP 401", status=401)
        return token

    assert call_with_reauth(oauth, send) == "access-1"
    assert seen == ["access-0", "access-1"]
    assert len(endpoint.calls) == 1


def test_refresher_second_401_is_not_retried_again(
    server: StubServer, endpoint: TokenEndpoint, store: InMemoryTokenStore, warnings: Warnings
) -> None:
    seed(store, timedelta(hours=1))
    oauth = refresher(server, store, warnings)
    attempts: list[str] = []

    def send() -> None:
        attempts.append(oauth.access_token())
        raise VendorRejected("quickbooks", "HTTP 401", status=401)

    with pytest.raises(VendorRejected):
        call_with_reauth(oauth, send)
    assert attempts == ["access-0", "access-1"]


def test_refresher_invalid_grant_warns_admin_reconnect_needed(
    server: StubServer, endpoint: TokenEndpoint, store: InMemoryTokenStore, warnings: Warnings
) -> None:
    seed(store, timedelta(minutes=-1))
    endpoint.refresh_token = "refresh-that-someone-else-spent"

    with pytest.raises(VendorRejected, match="invalid_grant") as raised:
        refresher(server, store, warnings).access_token()

    assert not raised.value.retryable
    assert len(warnings) == 1
    assert warnings[0][0] == PROVIDER
    assert "reconnect needed" in warnings[0][1]
    assert len(endpoint.calls) == 1  # a rejected refresh token is not retried


def test_refresher_warns_once_when_refresh_token_expires_within_seven_days(
    server: StubServer, endpoint: TokenEndpoint, store: InMemoryTokenStore, warnings: Warnings
) -> None:
    seed(store, timedelta(hours=1), refresh_expires_at=NOW + timedelta(days=6))
    oauth = refresher(server, store, warnings)

    oauth.access_token()
    oauth.access_token()

    assert len(warnings) == 1
    vendor, message = warnings[0]
    assert vendor == PROVIDER
    assert "2027-03-07" in message
    assert "reconnect" in message


def test_refresher_does_not_warn_while_refresh_token_has_weeks_left(
    server: StubServer, endpoint: TokenEndpoint, store: InMemoryTokenStore, warnings: Warnings
) -> None:
    seed(store, timedelta(hours=1), refresh_expires_at=NOW + timedelta(days=8))

    refresher(server, store, warnings).access_token()

    assert warnings == []


def test_refresher_uses_default_lifetime_when_vendor_does_not_state_it(
    server: StubServer, endpoint: TokenEndpoint, store: InMemoryTokenStore, warnings: Warnings
) -> None:
    endpoint.refresh_expires_in = None  # Xero's token response
    seed(store, timedelta(minutes=-1))

    refresher(server, store, warnings, lifetime=timedelta(days=60)).access_token()

    saved = store.load(PROVIDER, ACCOUNT)
    assert saved is not None
    assert saved.refresh_expires_at == NOW + timedelta(days=60)


def test_refresher_sends_client_credentials_as_basic_auth(
    server: StubServer, endpoint: TokenEndpoint, store: InMemoryTokenStore, warnings: Warnings
) -> None:
    seed(store, timedelta(minutes=-1))

    refresher(server, store, warnings).access_token()

    [call] = endpoint.calls
    assert (call.header("Authorization") or "").startswith("Basic ")
    assert "refresh-0" not in (call.header("Authorization") or "")
    assert call.header("Content-Type") == "application/x-www-form-urlencoded"
