"""The worker keeps finance connections alive, and tells the admin when one is lost."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from bot.services.token_store import SqlTokenStore
from bot.worker import keep_connections_alive
from tests.bot.conftest import ADMIN, Harness
from tests.bot.test_delivery import WorldFactory, world_factory


@pytest.fixture
def worlds(make_harness: Callable[..., Harness]) -> Iterator[WorldFactory]:
    with world_factory(make_harness) as factory:
        yield factory


@pytest.mark.parametrize("vendor", ["quickbooks", "xero"])
def test_keep_alive_refreshes_and_stores_the_rotated_token(
    worlds: WorldFactory, vendor: str
) -> None:
    world = worlds(finance=vendor)
    fake = world.qbo if vendor == "quickbooks" else world.xero

    checked = keep_connections_alive(world.h.services)
    again = keep_connections_alive(world.h.services)  # the access token is still fresh

    assert (checked, again) == (1, 1)
    assert len(fake.tokens.calls) == 1
    store = SqlTokenStore(world.h.services.uow)
    account = "9130" if vendor == "quickbooks" else "7c9e6679-7425-40de-944b-e07fc1f90ae7"
    saved = store.load(vendor, account)
    assert saved is not None
    assert saved.refresh_token == fake.tokens.refresh_token
    assert world.admin_dms() == []


def test_keep_alive_tells_the_admin_when_the_connection_is_lost(worlds: WorldFactory) -> None:
    world = worlds(finance="xero")
    world.xero.tokens.refresh_token = "revoked-elsewhere"  # the grant no longer exists

    checked = keep_connections_alive(world.h.services)

    assert checked == 0
    alerts = [m.text for m in world.h.slack.dms_to(ADMIN)]
    assert any("xero" in text.lower() and "reconnect" in text.lower() for text in alerts)
