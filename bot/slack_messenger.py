"""The `Messenger` port over slack_sdk's WebClient (429s honoured by the SDK's retry handler)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
)

from bot.services.ports import PostedMessage, SlackUnreachableUser

log = logging.getLogger(__name__)

# Errors meaning "this person cannot be reached", as opposed to "try again later".
UNREACHABLE = {
    "channel_not_found",
    "user_not_found",
    "user_disabled",
    "account_inactive",
    "cannot_dm_bot",
    "not_in_channel",
    "is_archived",
    "users_not_found",
}


def make_web_client(token: str, base_url: str) -> WebClient:
    """A WebClient that waits out Slack's Retry-After on 429 and retries dropped connections."""
    client = WebClient(token=token, base_url=_with_slash(base_url), timeout=15)
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=2))
    client.retry_handlers.append(ConnectionErrorRetryHandler(max_retry_count=1))
    return client


def _with_slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"


class SlackMessenger:
    """Posts, updates and looks up on Slack; DMs open the conversation first."""

    def __init__(self, client: WebClient, group_cache_seconds: float = 300.0) -> None:
        self.client = client
        self._group_cache: dict[str, tuple[float, list[str]]] = {}
        self._name_cache: dict[str, tuple[float, str | None]] = {}
        self._group_ttl = group_cache_seconds
        self._lock = threading.Lock()

    def post(
        self,
        channel: str,
        text: str,
        blocks: Sequence[dict[str, Any]] | None = None,
        *,
        thread_ts: str | None = None,
    ) -> PostedMessage:
        target = self._dm_channel(channel) if channel.startswith(("U", "W")) else channel
        try:
            response = self.client.chat_postMessage(
                channel=target,
                text=text,
                blocks=list(blocks) if blocks else None,
                thread_ts=thread_ts,
                unfurl_links=False,
            )
        except SlackApiError as exc:
            if exc.response.get("error") in UNREACHABLE:
                raise SlackUnreachableUser(str(exc.response.get("error"))) from exc
            raise
        return PostedMessage(channel=str(response["channel"]), ts=str(response["ts"]))

    def _dm_channel(self, user_id: str) -> str:
        try:
            response = self.client.conversations_open(users=user_id)
        except SlackApiError as exc:
            if exc.response.get("error") in UNREACHABLE:
                raise SlackUnreachableUser(str(exc.response.get("error"))) from exc
            raise
        return str(response["channel"]["id"])

    def update(
        self, channel: str, ts: str, text: str, blocks: Sequence[dict[str, Any]] | None = None
    ) -> None:
        self.client.chat_update(channel=channel, ts=ts, text=text, blocks=list(blocks or []))

    def post_ephemeral(self, channel: str, user: str, text: str) -> None:
        self.client.chat_postEphemeral(channel=channel, user=user, text=text)

    def publish_home(self, user_id: str, view: dict[str, Any]) -> None:
        self.client.views_publish(user_id=user_id, view=view)

    def user_id_by_email(self, email: str) -> str | None:
        try:
            response = self.client.users_lookupByEmail(email=email)
        except SlackApiError as exc:
            if exc.response.get("error") == "users_not_found":
                return None
            raise
        user = response["user"]
        if user.get("deleted"):
            return None
        return str(user["id"])

    def user_name(self, user_id: str) -> str | None:
        """Real name, else display name; None (logged) when Slack has no answer."""
        now = time.monotonic()
        with self._lock:
            cached = self._name_cache.get(user_id)
            if cached and now - cached[0] < self._group_ttl:
                return cached[1]
        try:
            user = self.client.users_info(user=user_id)["user"]
        except SlackApiError as exc:
            # A name is a nicety on a mirrored comment: never worth failing the effect over.
            error = exc.response.get("error")
            log.warning("slack_user_name_failed user=%s error=%s", user_id, error)
            return None
        profile = user.get("profile") or {}
        name = profile.get("real_name") or user.get("real_name") or profile.get("display_name")
        found = str(name) if name else None
        with self._lock:
            self._name_cache[user_id] = (now, found)
        return found

    def usergroup_members(self, usergroup_id: str) -> list[str]:
        now = time.monotonic()
        with self._lock:
            cached = self._group_cache.get(usergroup_id)
            if cached and now - cached[0] < self._group_ttl:
                return cached[1]
        response = self.client.usergroups_users_list(usergroup=usergroup_id)
        users: list[object] = list(response.get("users") or [])
        members = [str(u) for u in users]
        with self._lock:
            self._group_cache[usergroup_id] = (now, members)
        return members

    def permalink(self, channel: str, ts: str) -> str | None:
        try:
            response = self.client.chat_getPermalink(channel=channel, message_ts=ts)
        except SlackApiError:
            log.warning("slack_permalink_failed channel=%s ts=%s", channel, ts)
            return None
        return str(response["permalink"])

    def upload_file(self, channel: str, filename: str, content: str, title: str) -> None:
        target = self._dm_channel(channel) if channel.startswith(("U", "W")) else channel
        self.client.files_upload_v2(channel=target, filename=filename, content=content, title=title)
