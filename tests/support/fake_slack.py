"""A local stand-in for the Slack Web API on 127.0.0.1, strict about what it accepts.

Every message and view the app sends is checked twice before the stand-in answers `ok`:
slack_sdk's own model validation (Slack's limits) and the community Block Kit JSON Schema in
shared/contracts. A call that fails either check gets Slack's `invalid_blocks` error, and the
test that caused it sees `problems`.
"""

from __future__ import annotations

import functools
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from jsonschema import Draft202012Validator
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from tests.support.openapi_check import contracts_dir
from tests.support.stub_server import Recorded, Reply, StubServer

MESSAGE_BLOCK_LIMIT = 50


@functools.cache
def _block_kit_schema() -> dict[str, Any]:
    path = contracts_dir() / "slack" / "block-kit" / "slack-block-kit.schema.json"
    return dict(json.loads(path.read_text()))


def block_kit_problems(blocks: list[dict[str, Any]]) -> list[str]:
    """Why Slack would refuse these message blocks (empty when it would accept them)."""
    problems = []
    if len(blocks) > MESSAGE_BLOCK_LIMIT:
        problems.append(f"{len(blocks)} blocks > {MESSAGE_BLOCK_LIMIT}")
    for block in blocks:
        try:
            parsed = Block.parse(block)
            if parsed is None:
                problems.append(f"unknown block {block.get('type')}")
            else:
                parsed.validate_json()
        except Exception as exc:
            problems.append(f"slack_sdk: {exc}")
    validator = Draft202012Validator(_block_kit_schema())
    problems += [f"schema: {e.message[:200]}" for e in validator.iter_errors(blocks)]
    return problems


def view_problems(view: dict[str, Any]) -> list[str]:
    problems = []
    try:
        View(**view).validate_json()
    except Exception as exc:
        problems.append(f"slack_sdk: {exc}")
    schema = _block_kit_schema()
    kind = "home_view" if view.get("type") == "home" else "modal_view"
    sub = {"$schema": schema["$schema"], "$defs": schema["$defs"], "$ref": f"#/$defs/{kind}"}
    validator = Draft202012Validator(sub)
    problems += [f"schema: {e.message[:200]}" for e in validator.iter_errors(view)]
    return problems


@dataclass
class Posted:
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None = None
    user: str | None = None  # for ephemeral messages


@dataclass
class FakeSlack:
    """State of the fake workspace. Start with `with FakeSlack().serving() as slack:`."""

    users_by_email: dict[str, str] = field(default_factory=dict)
    usergroups: dict[str, list[str]] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)  # user id -> real name (users.info)
    unreachable: set[str] = field(default_factory=set)  # user ids whose DMs fail
    fail_next: dict[str, list[Reply]] = field(default_factory=dict)  # method -> canned replies
    messages: list[Posted] = field(default_factory=list)
    updates: list[Posted] = field(default_factory=list)
    ephemerals: list[Posted] = field(default_factory=list)
    views: dict[str, dict[str, Any]] = field(default_factory=dict)  # view id -> latest view
    view_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    homes: dict[str, dict[str, Any]] = field(default_factory=dict)
    files: list[dict[str, Any]] = field(default_factory=list)
    responses: list[dict[str, Any]] = field(default_factory=list)  # posts to response_url
    problems: list[str] = field(default_factory=list)
    # `check --live`: the bot token Slack accepts (None: any), the scopes auth.test reports in
    # its x-oauth-scopes header (None: the manifest's), channels for conversations.info.
    bot_token: str | None = None
    scopes: tuple[str, ...] | None = None
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Socket Mode: where `apps.connections.open` sends the app (FakeSocketMode.connection_url).
    socket_mode_url: Callable[[], str] | None = None
    _ts: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    # Called with each posted message before Slack answers the app (tests of what can happen
    # between Slack posting a message and the app storing its ts).
    on_post: Callable[[Posted], None] | None = None
    server: StubServer | None = None

    def serving(self) -> StubServer:
        self.server = StubServer(self._handle)
        return self.server

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url + "/api/"

    @property
    def response_url(self) -> str:
        """Where slash-command replies go (Slack's hooks.slack.com in real life)."""
        assert self.server is not None
        return self.server.url + "/respond/T111/1/x"

    # --- queries for tests ----------------------------------------------------------------------

    def calls(self, method: str) -> list[Recorded]:
        assert self.server is not None
        return self.server.calls(path=f"/api/{method}")

    def in_channel(self, channel: str, *, thread_ts: str | None = None) -> list[Posted]:
        return [m for m in self.messages if m.channel == channel and m.thread_ts == thread_ts]

    def dms_to(self, user: str) -> list[Posted]:
        return [m for m in self.messages if m.channel == f"D-{user}"]

    def latest(self, channel: str, ts: str) -> Posted:
        """A message as it looks now (after chat.update calls)."""
        found = [m for m in self.updates if m.channel == channel and m.ts == ts]
        if found:
            return found[-1]
        return next(m for m in self.messages if m.channel == channel and m.ts == ts)

    # --- the API --------------------------------------------------------------------------------

    def _handle(self, request: Recorded) -> Reply:
        method = request.path.removeprefix("/api/")
        if request.path.startswith("/upload/"):
            return Reply(200, "OK")
        if request.path.startswith("/respond/"):
            body = request.json
            problems = block_kit_problems(body.get("blocks") or [])
            self.problems += problems
            self.responses.append(body)
            return Reply(400 if problems else 200, "invalid_blocks" if problems else "ok")
        canned = self.fail_next.get(method)
        if canned:
            return canned.pop(0)
        if method == "apps.connections.open":
            return Reply(200, self._apps_connections_open(request))
        args = _arguments(request)
        if self.bot_token and request.header("Authorization") != f"Bearer {self.bot_token}":
            return Reply(200, {"ok": False, "error": "invalid_auth"})
        if method == "auth.test":
            return Reply(200, {"ok": True, **self._auth_test(args)}, headers=self._scope_header())
        handler = getattr(self, "_" + method.replace(".", "_"), None)
        if handler is None:
            return Reply(200, {"ok": False, "error": "unknown_method"})
        result: dict[str, Any] = handler(args)
        return Reply(200, {"ok": "error" not in result, **result})

    def _apps_connections_open(self, request: Recorded) -> dict[str, Any]:
        """A Socket Mode URL; like Slack, only for an app-level token (xapp-…)."""
        token = (request.header("Authorization") or "").removeprefix("Bearer ")
        if not token.startswith("xapp-"):
            return {"ok": False, "error": "not_allowed_token_type"}
        if self.socket_mode_url is None:
            return {"ok": False, "error": "socket_mode_not_enabled"}  # not a Slack error code
        return {"ok": True, "url": self.socket_mode_url()}

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"user_id": "UBOT", "bot_id": "BBOT", "team_id": "T111", "user": "handoff"}

    def _scope_header(self) -> dict[str, str]:
        scopes = self.scopes if self.scopes is not None else _manifest_scopes()
        return {"x-oauth-scopes": ",".join(scopes)}

    def _conversations_info(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self.channels.get(str(args["channel"]))
        if channel is None:
            return {"error": "channel_not_found"}
        return {"channel": {"id": args["channel"], **channel}}

    def _conversations_open(self, args: dict[str, Any]) -> dict[str, Any]:
        user = str(args["users"])
        if user in self.unreachable:
            return {"error": "user_disabled"}
        return {"channel": {"id": f"D-{user}"}}

    def _chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        blocks = _blocks(args.get("blocks"))
        problems = block_kit_problems(blocks) if blocks else []
        if problems:
            self.problems += problems
            return {"error": "invalid_blocks", "errors": problems}
        ts = f"1700000000.{next(self._ts):06d}"
        channel = str(args["channel"])
        if channel.removeprefix("D-") in self.unreachable:
            return {"error": "channel_not_found"}
        posted = Posted(channel, ts, str(args.get("text", "")), blocks, args.get("thread_ts"))
        self.messages.append(posted)
        if self.on_post is not None:  # runs before the app hears back: a race window
            self.on_post(posted)
        return {"channel": channel, "ts": ts, "message": {"ts": ts}}

    def _chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        blocks = _blocks(args.get("blocks"))
        problems = block_kit_problems(blocks) if blocks else []
        if problems:
            self.problems += problems
            return {"error": "invalid_blocks", "errors": problems}
        posted = Posted(str(args["channel"]), str(args["ts"]), str(args.get("text", "")), blocks)
        self.updates.append(posted)
        return {"channel": posted.channel, "ts": posted.ts}

    def _chat_postEphemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        self.ephemerals.append(
            Posted(str(args["channel"]), "", str(args.get("text", "")), [], user=str(args["user"]))
        )
        return {"message_ts": "1700000000.999999"}

    def _chat_getPermalink(self, args: dict[str, Any]) -> dict[str, Any]:
        ts = str(args["message_ts"]).replace(".", "")
        return {"permalink": f"https://example.slack.com/archives/{args['channel']}/p{ts}"}

    def _views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        return self._store_view("views.open", f"V{len(self.views) + 1:04d}", _view(args))

    def _views_update(self, args: dict[str, Any]) -> dict[str, Any]:
        view_id = str(args.get("view_id"))
        if view_id not in self.views:
            return {"error": "not_found"}
        return self._store_view("views.update", view_id, _view(args))

    def _views_push(self, args: dict[str, Any]) -> dict[str, Any]:
        return self._store_view("views.push", f"V{len(self.views) + 1:04d}", _view(args))

    def _views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        view = _view(args)
        problems = view_problems(view)
        if problems:
            self.problems += problems
            return {"error": "invalid_arguments", "response_metadata": {"messages": problems}}
        self.homes[str(args["user_id"])] = view
        return {"view": {"id": "VHOME", **view}}

    def _store_view(self, method: str, view_id: str, view: dict[str, Any]) -> dict[str, Any]:
        problems = view_problems(view)
        if problems:
            self.problems += problems
            return {"error": "invalid_arguments", "response_metadata": {"messages": problems}}
        self.views[view_id] = view
        self.view_calls.append((method, view))
        return {"view": {"id": view_id, "hash": f"h-{len(self.view_calls)}", **view}}

    def _users_lookupByEmail(self, args: dict[str, Any]) -> dict[str, Any]:
        user = self.users_by_email.get(str(args["email"]).lower())
        if user is None:
            return {"error": "users_not_found"}
        return {"user": {"id": user, "deleted": False}}

    def _users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = str(args["user"])
        name = self.names.get(user)
        if name is None:
            return {"error": "user_not_found"}
        handle = name.split()[0].lower()
        profile = {"real_name": name, "display_name": handle, "first_name": name.split()[0]}
        return {"user": {"id": user, "name": handle, "real_name": name, "profile": profile}}

    def _usergroups_users_list(self, args: dict[str, Any]) -> dict[str, Any]:
        group = self.usergroups.get(str(args["usergroup"]))
        if group is None:
            return {"error": "no_such_subteam"}
        return {"users": group}

    def _files_getUploadURLExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        assert self.server is not None
        file_id = f"F{len(self.files) + 1:04d}"
        self.files.append({"id": file_id, "filename": args.get("filename")})
        return {"upload_url": f"{self.server.url}/upload/{file_id}", "file_id": file_id}

    def _files_completeUploadExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        files = json.loads(args["files"]) if isinstance(args["files"], str) else args["files"]
        for entry in files:
            for stored in self.files:
                if stored["id"] == entry["id"]:
                    stored.update(channel=args.get("channel_id"), title=entry.get("title"))
        return {"files": files}


def _manifest_scopes() -> tuple[str, ...]:
    import yaml

    root = Path(__file__).resolve().parents[2]
    manifest = yaml.safe_load((root / "app_manifest.yml").read_text())
    return tuple(manifest["oauth_config"]["scopes"]["bot"])


def _arguments(request: Recorded) -> dict[str, Any]:
    ctype = request.header("Content-Type") or ""
    if "json" in ctype:
        return dict(request.json or {})
    parsed = parse_qs(request.body.decode(), keep_blank_values=True)
    return {k: v[-1] for k, v in parsed.items()}


def _blocks(raw: Any) -> list[dict[str, Any]]:
    if raw is None:
        return []
    return list(json.loads(raw) if isinstance(raw, str) else raw)


def _view(args: dict[str, Any]) -> dict[str, Any]:
    raw = args["view"]
    return dict(json.loads(raw) if isinstance(raw, str) else raw)
