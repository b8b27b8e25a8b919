"""Durable OAuth tokens with a cross-process refresh lock (the `TokenStore` port over SQL)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import select

from integrations.ports import OAuthToken
from storage.models import OAuthConnection
from storage.uow import UnitOfWork, UnitOfWorkFactory


class SqlTokenStore:
    """Inside `locked(...)`, loads and saves share the lock's transaction, so a refresh is atomic:
    the row lock (PostgreSQL) or the write lock (SQLite) is held until the new token is stored.
    """

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow
        self._local = threading.local()

    @contextmanager
    def locked(self, provider: str, account: str) -> Iterator[None]:
        with self._uow() as uow:
            uow.repo.lock(f"oauth:{provider}:{account}")
            self._local.uow = uow
            try:
                yield
                uow.commit()
            finally:
                self._local.uow = None

    def load(self, provider: str, account: str) -> OAuthToken | None:
        with self._session() as uow:
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
        with self._session() as uow:
            row = _row(uow, provider, account)
            if row is None:
                row = OAuthConnection(provider=provider, account=account)
                uow.repo.add(row)
            row.access_token = token.access_token
            row.refresh_token = token.refresh_token
            row.expires_at = token.expires_at
            row.refresh_expires_at = token.refresh_expires_at
            if getattr(self._local, "uow", None) is None:
                uow.commit()
            else:
                uow.flush()  # committed when the lock is released

    @contextmanager
    def _session(self) -> Iterator[UnitOfWork]:
        held: UnitOfWork | None = getattr(self._local, "uow", None)
        if held is not None:
            yield held
            return
        with self._uow() as uow:
            yield uow


def _row(uow: UnitOfWork, provider: str, account: str) -> OAuthConnection | None:
    stmt = select(OAuthConnection).where(
        OAuthConnection.provider == provider, OAuthConnection.account == account
    )
    return uow.session.scalars(stmt).first()
