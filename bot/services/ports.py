"""What the services need from the outside world, as small interfaces (Slack, the clock)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class PostedMessage:
    channel: str
    ts: str


class SlackUnreachableUser(Exception):
    """A DM could not be delivered (deactivated user, unknown id...): route to the admin."""


class Messenger(Protocol):
    """The Slack Web API calls the services make. Implemented over slack_sdk's WebClient."""

    def post(
        self,
        channel: str,
        text: str,
        blocks: Sequence[dict[str, Any]] | None = None,
        *,
        thread_ts: str | None = None,
    ) -> PostedMessage:
        """Post to a channel id or (for a user id) that user's DM; raises SlackUnreachableUser."""
        ...

    def update(
        self, channel: str, ts: str, text: str, blocks: Sequence[dict[str, Any]] | None = None
    ) -> None: ...

    def post_ephemeral(self, channel: str, user: str, text: str) -> None: ...

    def publish_home(self, user_id: str, view: dict[str, Any]) -> None: ...

    def user_id_by_email(self, email: str) -> str | None: ...

    def user_name(self, user_id: str) -> str | None:
        """The person's real name (users.info), or None when Slack cannot say."""
        ...

    def usergroup_members(self, usergroup_id: str) -> list[str]: ...

    def permalink(self, channel: str, ts: str) -> str | None: ...

    def upload_file(self, channel: str, filename: str, content: str, title: str) -> None: ...
