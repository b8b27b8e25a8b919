"""The `Messenger` port over slack_sdk's WebClient, with Slack's 429 Retry-After honoured."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

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


IN_CALL_WAIT_LIMIT = 5.0  # seconds; longer waits go back to the outbox's schedule


class ShortRateLimitRetry(RetryHandler):
    """Retries a 429 in the call only when Slack asks for a short wait.

    A long Retry-After is left to raise SlackApiError (status 429, the header kept), so the
    outbox reschedules the job for then instead of holding a worker or listener thread asleep.
    """

    def __init__(
        self, max_retry_count: int = 2, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self._sleep = sleep

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is None or response.status_code != 429:
            return False
        return retry_after_seconds(response.headers) <= IN_CALL_WAIT_LIMIT

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        state.next_attempt_requested = True
        wait = retry_after_seconds(response.headers if response else {})
        self._sleep(wait + random.uniform(0, 0.5))  # noqa: S311 - jitter, not crypto
        state.increment_current_attempt()


def retry_after_seconds(headers: Mapping[str, Any]) -> float:
    """Slack's Retry-After in seconds (1 when absent or unreadable, as Slack's SDK assumes)."""
    for key, value in headers.items():
        if key.lower() == "retry-after":
            raw = value[0] if isinstance(value, list) else value
            try:
                return max(0.0, float(raw))
            except (TypeError, ValueError):
                return 1.0
    return 1.0


def make_web_client(
    token: str, base_url: str, sleep: Callable[[float], None] = time.sleep
) -> WebClient:
    """A WebClient that honours short 429 waits in the call and retries dropped connections."""
    client = WebClient(token=token, base_url=_with_slash(base_url), timeout=15)
    client.retry_handlers.append(ShortRateLimitRetry(sleep=sleep))
    client.retry_handlers.append(ConnectionErrorRetryHandler(max_retry_count=1))
    return client


def _with_slash(url: str) -> str:
    return url if url.endswith("/") else url + "/"


class SlackMessenger:
    """Posts, updates and looks up on Slack; DMs open the conversation first."""

    def __init__(self, client: WebClient, name_cache_seconds: float = 300.0) -> None:
        self.client = client
        self._name_cache: dict[str, tuple[float, str | None]] = {}
        self._name_ttl = name_cache_seconds
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
            if cached and now - cached[0] < self._name_ttl:
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
        """Uncached: TeamDirectory caches memberships for the whole app."""
        response = self.client.usergroups_users_list(usergroup=usergroup_id)
        users: list[object] = list(response.get("users") or [])
        return [str(u) for u in users]

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
