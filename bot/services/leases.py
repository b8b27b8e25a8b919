"""Named leases over the database: one holder at a time across threads and processes, with no
transaction held open while the holder works (a holder that dies frees the name on expiry)."""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from storage.uow import UnitOfWorkFactory

POLL_SECONDS = 0.05


class LeaseBusy(Exception):
    """Another holder kept the lease longer than the caller was willing to wait."""


def _wall_clock() -> datetime:
    return datetime.now(UTC)


class Leases:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        *,
        now: Callable[[], datetime] = _wall_clock,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._uow = uow
        self._now = now  # leases measure real elapsed time, whatever clock the app is given
        self._sleep = sleep
        self._process = f"{socket.gethostname()}-{os.getpid()}"

    @contextmanager
    def hold(self, name: str, *, ttl: timedelta, wait: float) -> Iterator[bool]:
        """Hold `name` for the block; yields whether it had to wait. Raises LeaseBusy after
        `wait` seconds."""
        holder = f"{self._process}-{threading.get_ident()}-{uuid.uuid4().hex[:6]}"
        deadline = time.monotonic() + wait
        waited = False
        while True:
            with self._uow() as uow:
                if uow.repo.take_lease(name, holder, self._now(), ttl):
                    uow.commit()
                    break
            if time.monotonic() > deadline:
                raise LeaseBusy(name)
            waited = True
            self._sleep(POLL_SECONDS)
        try:
            yield waited
        finally:
            with self._uow() as uow:
                uow.repo.release_lease(name, holder)
                uow.commit()
