"""Durable OAuth tokens with a cross-process refresh lease (the `TokenStore` port over SQL).

`locked` takes a lease row in one short transaction and releases it in another, so the token
call in between holds no database lock: webhooks and form submissions never wait for a vendor's
token endpoint. Other processes wanting the same refresh wait for the lease, then re-read the
token the holder stored.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import select

from bot.services.leases import LeaseBusy, Leases
from integrations.ports import OAuthToken, VendorUnavailable
from storage.models import OAuthConnection
from storage.uow import UnitOfWork, UnitOfWorkFactory

log = logging.getLogger(__name__)

# Longer than one refresh can take (connect 5 s + read 30 s, up to 3 attempts): a holder that
# died frees the lease after this, and nobody else refreshes meanwhile.
LEASE_TTL = timedelta(seconds=120)


class SqlTokenStore:
    def __init__(self, uow: UnitOfWorkFactory, *, leases: Leases | None = None) -> None:
        self._uow = uow
        self._leases = leases or Leases(uow)

    @contextmanager
    def locked(self, provider: str, account: str) -> Iterator[None]:
        """Hold the refresh lease of one connection; no transaction stays open inside."""
        try:
            with self._leases.hold(
                f"oauth:{provider}:{account}", ttl=LEASE_TTL, wait=LEASE_TTL.total_seconds() + 10
            ) as waited:
                if waited:
                    log.info("oauth_lease_waited provider=%s account=%s", provider, account)
                yield
        except LeaseBusy as exc:
            raise VendorUnavailable(
                provider, "another process is still refreshing the token"
            ) from exc

    def load(self, provider: str, account: str) -> OAuthToken | None:
        with self._uow() as uow:
            row = _row(uow, provider, account)
            if row is None:
                return None
            return OAuthToken(
                access_token=row.access_token,
                refresh_token=row.refresh_token,
                expires_at=row.expires_at,
                refresh_expires_at=row.refresh_expires_at,
            )

    def save(self, provider: str, account: str, token: OAuthToken) -> None:
        with self._uow() as uow:
            row = _row(uow, provider, account)
            if row is None:
                row = OAuthConnection(provider=provider, account=account)
                uow.repo.add(row)
            row.access_token = token.access_token
            row.refresh_token = token.refresh_token
            row.expires_at = token.expires_at
            row.refresh_expires_at = token.refresh_expires_at
            uow.commit()


def _row(uow: UnitOfWork, provider: str, account: str) -> OAuthConnection | None:
    stmt = select(OAuthConnection).where(
        OAuthConnection.provider == provider, OAuthConnection.account == account
    )
    return uow.session.scalars(stmt).first()
