"""OAuth tokens in the database: rotated refresh tokens survive, and refreshes never race."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from bot.services.token_store import SqlTokenStore
from integrations.oauth import OAuthClientConfig, OAuthRefresher
from integrations.ports import OAuthToken
from storage.models import Handoff
from storage.uow import UnitOfWorkFactory
from tests.integrations.fakes import (
    CLIENT_ID,
    CLIENT_SECRET,
    QBO_TOKEN_PATH,
    Clock,
    Sleeps,
    TokenEndpoint,
    Warnings,
    utc,
)
from tests.support.stub_server import StubServer

NOW = utc(2027, 3, 1, 9)
log = logging.getLogger(__name__)


@pytest.fixture
def endpoint() -> Iterator[tuple[TokenEndpoint, StubServer]]:
    tokens = TokenEndpoint()
    with StubServer(tokens.handle) as server:
        yield tokens, server


def refresher(server: StubServer, store: SqlTokenStore) -> OAuthRefresher:
    config = OAuthClientConfig(
        provider="quickbooks",
        account="9130",
        token_url=server.url + QBO_TOKEN_PATH,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        refresh_token_env="QBO_REFRESH_TOKEN",
    )
    return OAuthRefresher(
        config, store, env={}, warn_admin=Warnings(), now=Clock(NOW), sleep=Sleeps()
    )


def expired_token(store: SqlTokenStore) -> None:
    store.save(
        "quickbooks",
        "9130",
        OAuthToken(
            access_token="access-0",
            refresh_token="refresh-0",
            expires_at=NOW - timedelta(minutes=1),
            refresh_expires_at=NOW + timedelta(days=90),
        ),
    )


def test_token_store_keeps_the_rotated_refresh_token(
    uow_factory: UnitOfWorkFactory, endpoint: tuple[TokenEndpoint, StubServer]
) -> None:
    tokens, server = endpoint
    expired_token(SqlTokenStore(uow_factory))

    assert refresher(server, SqlTokenStore(uow_factory)).access_token() == "access-1"

    assert len(tokens.calls) == 1
    saved = SqlTokenStore(uow_factory).load("quickbooks", "9130")  # as a restarted process
    assert saved is not None
    assert (saved.access_token, saved.refresh_token) == ("access-1", "refresh-1")
    assert saved.expires_at > NOW


def test_token_store_two_processes_refresh_once(
    uow_factory: UnitOfWorkFactory, endpoint: tuple[TokenEndpoint, StubServer]
) -> None:
    tokens, server = endpoint
    expired_token(SqlTokenStore(uow_factory))
    # Hold the first refresh open long enough that the second process reaches the lock meanwhile.
    tokens.before_reply = lambda: threading.Event().wait(0.3)
    # Two "processes": separate stores and refreshers over the same database.
    processes = [refresher(server, SqlTokenStore(uow_factory)) for _ in range(2)]
    results: list[str] = []
    threads = [
        threading.Thread(target=lambda r=r: results.append(r.access_token())) for r in processes
    ]

    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(tokens.calls) == 1
    assert results == ["access-1", "access-1"]


def test_token_refresh_holds_no_database_lock_while_the_token_endpoint_answers(
    uow_factory: UnitOfWorkFactory, endpoint: tuple[TokenEndpoint, StubServer]
) -> None:
    tokens, server = endpoint
    expired_token(SqlTokenStore(uow_factory))
    reached, release = threading.Event(), threading.Event()

    def slow_reply() -> None:
        reached.set()
        release.wait(60)

    tokens.before_reply = slow_reply
    refreshing = threading.Thread(
        target=lambda: refresher(server, SqlTokenStore(uow_factory)).access_token()
    )
    refreshing.start()
    assert reached.wait(30), "the refresh never reached the token endpoint"

    # While the token endpoint is still thinking, a webhook or a form submission writes.
    written = threading.Event()

    def write_a_handoff() -> None:
        with uow_factory() as uow:
            uow.repo.add(Handoff(kind="sales_to_delivery", status="awaiting_form", deal_id="7"))
            uow.commit()
        written.set()

    writer = threading.Thread(target=write_a_handoff)
    writer.start()
    try:
        assert written.wait(20), "a database write waited for the token endpoint"
    finally:
        release.set()
        refreshing.join(60)
        writer.join(60)
    assert len(tokens.calls) == 1


def test_token_store_failed_save_keeps_tokens_out_of_the_error(
    uow_factory: UnitOfWorkFactory, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    store = SqlTokenStore(uow_factory)
    # The same columns, and a rule the new token breaks: the INSERT itself fails.
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE oauth_connections"))
        conn.execute(
            text(
                "CREATE TABLE oauth_connections (id INTEGER PRIMARY KEY, provider VARCHAR(32), "
                "account VARCHAR(128), access_token TEXT, refresh_token TEXT, "
                "expires_at TIMESTAMP, refresh_expires_at TIMESTAMP, updated_at TIMESTAMP, "
                "CHECK (length(access_token) < 3))"
            )
        )
    token = OAuthToken(
        access_token="xyzzy-access-41",
        refresh_token="xyzzy-refresh-41",
        expires_at=NOW,
        refresh_expires_at=NOW + timedelta(days=90),
    )

    with pytest.raises(DBAPIError) as failed:
        store.save("quickbooks", "9130", token)
    log.exception("token_save_failed")  # what the outbox's failure log would write

    assert "xyzzy" not in str(failed.value)
    assert "xyzzy" not in caplog.text
