"""Unit of work: one transaction per use case, rolled back unless the use case commits."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from types import TracebackType

from sqlalchemy.orm import Session, sessionmaker

from storage.models import utcnow
from storage.repositories import LaneOf, Repository, default_lane

Clock = Callable[[], datetime]


class UnitOfWork:
    """`with uow_factory() as uow: ...; uow.commit()`. Leaving without commit rolls back."""

    def __init__(
        self, sessions: sessionmaker[Session], clock: Clock = utcnow, lane_of: LaneOf = default_lane
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._lane_of = lane_of

    def __enter__(self) -> UnitOfWork:
        self.session = self._sessions()
        self.repo = Repository(self.session, self._clock, self._lane_of)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # close() rolls back anything uncommitted and detaches objects *without* expiring them,
        # so what a use case loaded stays readable after the unit of work ends.
        self.session.close()

    def commit(self) -> None:
        self.session.commit()

    def flush(self) -> None:
        self.session.flush()


class UnitOfWorkFactory:
    """Callable that opens a fresh UnitOfWork; injected into every service."""

    def __init__(
        self, sessions: sessionmaker[Session], clock: Clock = utcnow, lane_of: LaneOf = default_lane
    ) -> None:
        self.sessions = sessions
        self.clock = clock  # stamps audit events and outbox due times (tests inject one)
        self.lane_of = lane_of  # routes each enqueued job to its outbox lane

    def __call__(self) -> UnitOfWork:
        return UnitOfWork(self.sessions, self.clock, self.lane_of)
