"""OAuth 2.0 access tokens for vendors that rotate their refresh tokens (QuickBooks Online, Xero).

Both vendors hand out a NEW refresh token on every refresh and retire the old one, so:
- refreshes are serialised with `TokenStore.locked` and the token is re-read inside the lock, so two
  processes never both spend the same refresh token (the loser would get `invalid_grant`);
- the new refresh token is saved before the access token is used;
- the admin is warned while there is still time to reconnect (refresh token near its expiry) and
  when reconnecting is the only way forward (`invalid_grant`).
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import requests

from integrations.http import VendorHttp
from integrations.ports import (
    OAuthToken,
    TokenStore,
    VendorOutcomeUnknown,
    VendorRejected,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

REFRESH_MARGIN = timedelta(minutes=5)
REFRESH_EXPIRY_WARNING = timedelta(days=7)
_NEVER_VALID = datetime(1970, 1, 1, tzinfo=UTC)


def utc_now() -> datetime:
    """The current time, timezone-aware (the default clock)."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class OAuthClientConfig:
    """Everything needed to refresh one connection's tokens."""

    provider: str  # TokenStore key and the vendor name given to warn_admin
    account: str  # QBO realm id or Xero tenant id
    token_url: str
    client_id: str
    client_secret: str
    refresh_token_env: str  # where a new install finds its first refresh token
    # Used when the token response does not say how long the refresh token lives (Xero).
    default_refresh_lifetime: timedelta | None = None


class OAuthRefresher:
    """Hands out a valid access token, refreshing it (once, across processes) when needed."""

    def __init__(
        self,
        config: OAuthClientConfig,
        store: TokenStore,
        *,
        env: Mapping[str, str],
        warn_admin: Callable[[str, str], None],
        now: Callable[[], datetime] = utc_now,
        sleep: Callable[[float], None] = time.sleep,
        session: requests.Session | None = None,
    ) -> None:
        self._config = config
        self._store = store
        self._env = env
        self._warn_admin = warn_admin
        self._now = now
        self._http = VendorHttp(
            config.provider,
            config.token_url,
            self._basic_auth,
            sleep=sleep,
            session=session,
            describe_error=describe_oauth_error,
        )
        self._issued: str | None = None
        self._rejected: str | None = None
        self._warned_expiries: set[datetime] = set()

    def access_token(self) -> str:
        """A usable access token, refreshed under the store lock when missing or near expiry."""
        token = self._store.load(self._config.provider, self._config.account)
        if token is None or not self._usable(token):
            token = self._refresh_under_lock()
        self._warn_if_refresh_expiring(token)
        self._issued = token.access_token
        return token.access_token

    def auth_headers(self) -> dict[str, str]:
        """The Authorization header for one vendor request (VendorHttp calls this per attempt)."""
        return {"Authorization": f"Bearer {self.access_token()}"}

    def invalidate(self) -> None:
        """Mark the last access token handed out as rejected (after a 401), forcing one refresh."""
        self._rejected = self._issued
        log.info(
            "oauth_token_invalidated provider=%s account=%s",
            self._config.provider,
            self._config.account,
        )

    def _usable(self, token: OAuthToken) -> bool:
        return (
            bool(token.access_token)
            and token.access_token != self._rejected
            and self._now() < token.expires_at - REFRESH_MARGIN
        )

    def _refresh_under_lock(self) -> OAuthToken:
        provider, account = self._config.provider, self._config.account
        with self._store.locked(provider, account):
            # Another process may have refreshed while we waited: its token is the one to use.
            token = self._store.load(provider, account) or self._seed_from_env()
            if self._usable(token):
                return token
            return self._refresh(token)

    def _seed_from_env(self) -> OAuthToken:
        refresh_token = self._env.get(self._config.refresh_token_env, "")
        if not refresh_token:
            message = (
                f"not connected: no stored token for {self._config.account} and "
                f"{self._config.refresh_token_env} is not set"
            )
            self._warn_admin(self._config.provider, f"{message}; reconnect needed")
            raise VendorRejected(self._config.provider, message)
        log.info(
            "oauth_token_seeded_from_env provider=%s account=%s",
            self._config.provider,
            self._config.account,
        )
        return OAuthToken(access_token="", refresh_token=refresh_token, expires_at=_NEVER_VALID)

    def _refresh(self, current: OAuthToken) -> OAuthToken:
        provider, account = self._config.provider, self._config.account
        if not (self._config.client_id and self._config.client_secret):
            raise VendorRejected(provider, "OAuth client id/secret are not configured")
        try:
            # Retrying after a lost answer is fine: at worst it fails with invalid_grant (warned).
            response = self._http.request(
                "POST",
                self._config.token_url,
                data={"grant_type": "refresh_token", "refresh_token": current.refresh_token},
                safe_to_repeat=True,
            )
        except VendorRejected as exc:
            if "invalid_grant" in exc.message:
                self._on_invalid_grant()
                raise VendorRejected(
                    provider,
                    "refresh token rejected (invalid_grant): reconnect needed",
                    status=exc.status,
                ) from exc
            raise
        token = self._token_from(response, current)
        self._store.save(provider, account, token)
        log.info(
            "oauth_token_refreshed provider=%s account=%s expires_at=%s refresh_expires_at=%s",
            provider,
            account,
            token.expires_at.isoformat(),
            token.refresh_expires_at.isoformat() if token.refresh_expires_at else "unknown",
        )
        return token

    def _token_from(self, response: requests.Response, current: OAuthToken) -> OAuthToken:
        try:
            payload: dict[str, Any] = response.json()
            access_token = str(payload["access_token"])
            expires_in = int(payload.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError) as exc:
            # The vendor may already have rotated the refresh token: say so, do not guess.
            raise VendorOutcomeUnknown(
                self._config.provider, "token endpoint answered without a usable access_token"
            ) from exc
        now = self._now()
        return OAuthToken(
            access_token=access_token,
            refresh_token=str(payload.get("refresh_token") or current.refresh_token),
            expires_at=now + timedelta(seconds=expires_in),
            refresh_expires_at=self._refresh_expiry(payload, now, current),
        )

    def _refresh_expiry(
        self, payload: Mapping[str, Any], now: datetime, current: OAuthToken
    ) -> datetime | None:
        seconds = payload.get("x_refresh_token_expires_in")  # Intuit states it; Xero does not
        if seconds is not None:
            return now + timedelta(seconds=int(seconds))
        if self._config.default_refresh_lifetime is not None:
            return now + self._config.default_refresh_lifetime
        return current.refresh_expires_at

    def _on_invalid_grant(self) -> None:
        log.warning(
            "oauth_invalid_grant provider=%s account=%s",
            self._config.provider,
            self._config.account,
        )
        self._warn_admin(
            self._config.provider,
            f"{self._config.provider} connection for {self._config.account} was refused "
            "(invalid_grant): reconnect needed",
        )

    def _warn_if_refresh_expiring(self, token: OAuthToken) -> None:
        expires = token.refresh_expires_at
        if expires is None or expires in self._warned_expiries:
            return
        left = expires - self._now()
        if left > REFRESH_EXPIRY_WARNING:
            return
        self._warned_expiries.add(expires)  # once per refresh token, not on every call
        log.warning(
            "oauth_refresh_token_expiring provider=%s account=%s expires_at=%s",
            self._config.provider,
            self._config.account,
            expires.isoformat(),
        )
        self._warn_admin(
            self._config.provider,
            f"{self._config.provider} connection for {self._config.account} expires on "
            f"{expires.date().isoformat()}: reconnect before then",
        )

    def _basic_auth(self) -> dict[str, str]:
        pair = f"{self._config.client_id}:{self._config.client_secret}".encode()
        return {"Authorization": f"Basic {base64.b64encode(pair).decode()}"}


def describe_oauth_error(response: requests.Response) -> tuple[str, str | None]:
    """`error: error_description` from a token endpoint's RFC 6749 error body."""
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}: {response.text[:200]}", None
    if not isinstance(body, dict):
        return f"HTTP {response.status_code}", None
    error = body.get("error", f"HTTP {response.status_code}")
    description = body.get("error_description")
    return (f"{error}: {description}" if description else str(error)), None


def call_with_reauth(refresher: OAuthRefresher, send: Callable[[], T]) -> T:
    """Run `send`; after a 401, invalidate the access token and run it once more."""
    try:
        return send()
    except VendorRejected as exc:
        if exc.status != 401:
            raise
        refresher.invalidate()
        return send()
