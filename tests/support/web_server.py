"""The app's own WSGI routes served on 127.0.0.1, for vendors that call us back (Asana's
webhook handshake happens while our registration request waits)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class AppServer:
    """`with AppServer() as server:` then set `server.app`; `server.url` is known at once, so
    the app can be built with it as its PUBLIC_URL."""

    def __init__(self) -> None:
        self.app: WsgiApp | None = None
        self._server = make_server(
            "127.0.0.1", 0, self._dispatch, server_class=_ThreadingServer, handler_class=_Quiet
        )
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def _dispatch(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        assert self.app is not None, "set AppServer.app before calling it"
        return self.app(environ, start_response)

    def __enter__(self) -> AppServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
