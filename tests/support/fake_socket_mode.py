"""A local stand-in for Slack's Socket Mode endpoint: the WebSocket a Socket Mode app connects to.

What it plays, after Slack's "Socket Mode implementation" guide
(api.slack.com/apis/connections/socket-implement):
- `apps.connections.open` (served by FakeSlack) hands out a single-use `ws://…/link/?ticket=…`
  URL from `connection_url()`; a connection with an unknown or reused ticket is refused;
- each new connection is greeted with `{"type": "hello", "num_connections", "debug_info",
  "connection_info": {"app_id"}}`;
- `request()` sends an envelope `{"envelope_id", "type", "payload", "accepts_response_payload"}`
  (types `slash_commands`, `interactive`, `events_api`) and waits for the app's ack
  `{"envelope_id", "payload"?}`; an ack's payload is only allowed where the envelope accepts one,
  and any view in it is checked like a `views.*` call;
- `refresh()` sends `{"type": "disconnect", "reason": "refresh_requested"}` and waits for the app
  to open a new connection (through `apps.connections.open` again).
Anything the app sends that is not a well-formed ack lands in `problems`.
"""

from __future__ import annotations

import itertools
import json
import threading
import uuid
from typing import Any
from urllib.parse import parse_qs, urlparse

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

from tests.support.fake_slack import view_problems

APP_ID = "A0HANDOFF"


class FakeSocketMode:
    """Start with `with FakeSocketMode() as link:`; give FakeSlack `link.connection_url`."""

    def __init__(self, app_id: str = APP_ID, timeout: float = 30.0) -> None:
        self.app_id = app_id
        self.timeout = timeout
        self.connections: list[ServerConnection] = []  # greeted with hello, oldest first
        self.closed: set[int] = set()  # indexes into `connections` that have gone away
        self.acks: dict[str, dict[str, Any]] = {}  # envelope id -> the app's ack
        self.problems: list[str] = []
        self._accepts: dict[str, bool] = {}  # envelope id -> accepts_response_payload
        self._issued: set[str] = set()
        self._tickets = itertools.count(1)
        self._changed = threading.Condition()
        self._server: Server | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ------------------------------------------------------------------------------

    def __enter__(self) -> FakeSocketMode:
        self._server = serve(self._serve, "127.0.0.1", 0)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None and self._thread is not None
        self._server.shutdown()
        self._thread.join(timeout=10)

    def connection_url(self) -> str:
        """A fresh single-use WebSocket URL, as `apps.connections.open` answers with."""
        assert self._server is not None
        port = self._server.socket.getsockname()[1]
        ticket = f"ticket-{next(self._tickets)}"
        with self._changed:
            self._issued.add(ticket)
        return f"ws://127.0.0.1:{port}/link/?ticket={ticket}&app_id={self.app_id}"

    # --- what a test does -----------------------------------------------------------------------

    def wait_connected(self, count: int = 1) -> ServerConnection:
        """The newest open connection, once at least `count` connections have been greeted."""
        with self._changed:
            ok = self._changed.wait_for(
                lambda: (
                    len(self.connections) >= count and len(self.connections) - 1 not in self.closed
                ),
                timeout=self.timeout,
            )
            assert ok, f"the app opened {len(self.connections)} connection(s), wanted {count}"
            return self.connections[-1]

    def request(
        self, kind: str, payload: dict[str, Any], *, accepts_response_payload: bool
    ) -> dict[str, Any]:
        """Send one envelope on the newest connection and return the app's ack for it."""
        connection = self.wait_connected()
        envelope_id = str(uuid.uuid4())
        with self._changed:
            self._accepts[envelope_id] = accepts_response_payload
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": accepts_response_payload,
        }
        if kind == "events_api":
            envelope.update(retry_attempt=0, retry_reason="")
        connection.send(json.dumps(envelope))
        with self._changed:
            acked = self._changed.wait_for(lambda: envelope_id in self.acks, timeout=self.timeout)
            assert acked, f"no ack for {kind} envelope {envelope_id}; problems: {self.problems}"
            return self.acks[envelope_id]

    def refresh(self) -> None:
        """Ask the app to reconnect, as Slack does before it retires a connection."""
        before = len(self.connections)
        current = self.wait_connected()
        message = {
            "type": "disconnect",
            "reason": "refresh_requested",
            "debug_info": {"host": "applink-fake"},
        }
        current.send(json.dumps(message))
        self.wait_connected(before + 1)

    def wait_closed(self, index: int) -> bool:
        """Whether the connection at `index` is (or soon gets) closed, by either side."""
        with self._changed:
            return self._changed.wait_for(lambda: index in self.closed, timeout=self.timeout)

    # --- the server side ------------------------------------------------------------------------

    def _serve(self, connection: ServerConnection) -> None:
        request = connection.request
        query = parse_qs(urlparse(request.path if request else "").query)
        ticket = (query.get("ticket") or [""])[0]
        with self._changed:
            valid = ticket in self._issued
            self._issued.discard(ticket)  # single use, like Slack's
        if not valid:
            self.problems.append(f"connection with an unknown or reused ticket {ticket!r}")
            connection.close(code=1008, reason="invalid ticket")
            return
        with self._changed:
            open_now = len(self.connections) - len(self.closed)
        hello = {
            "type": "hello",
            "num_connections": open_now + 1,
            "debug_info": {"host": "applink-fake", "approximate_connection_time": 18060},
            "connection_info": {"app_id": self.app_id},
        }
        connection.send(json.dumps(hello))
        with self._changed:
            self.connections.append(connection)
            index = len(self.connections) - 1
            self._changed.notify_all()
        try:
            for raw in connection:
                self._receive(raw)
        except ConnectionClosed:
            pass
        finally:
            with self._changed:
                self.closed.add(index)
                self._changed.notify_all()

    def _receive(self, raw: str | bytes) -> None:
        try:
            message = json.loads(raw)
        except ValueError:
            self.problems.append(f"not JSON: {raw!r:.200}")
            return
        envelope_id = message.get("envelope_id") if isinstance(message, dict) else None
        with self._changed:
            if envelope_id not in self._accepts:
                self.problems.append(f"not an ack of a sent envelope: {raw!r:.200}")
                return
            if set(message) - {"envelope_id", "payload"}:
                self.problems.append(f"unexpected keys in ack: {sorted(message)}")
            payload = message.get("payload")
            if payload and not self._accepts[envelope_id]:
                self.problems.append(f"payload in ack of {envelope_id}, which accepts none")
            view = payload.get("view") if isinstance(payload, dict) else None
            if isinstance(view, dict):
                self.problems += view_problems(view)
            self.acks[envelope_id] = message
            self._changed.notify_all()
