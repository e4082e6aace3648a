"""Serving the app: uvicorn's HTTP/1.1 protocol on one event loop, the Flask app run inline.

Why this shape (measured with bench/wsgi_servers.py on a shared 2-core machine):
- One process, since every world lives in this process's memory.
- One thread runs every request. A request costs a few hundred microseconds of CPU; a pool of
  worker threads beside an I/O thread spent more than that again handing the GIL between cores.
- A fault that holds an answer (latency, timeout) waits on the loop, not in a thread, so any number
  of held requests never stop the others.
- The server owns the socket, so a fault can end the connection unanswered, with FIN or RST.

The app asks for those two things through its WSGI environ (see ``faults``): ``environ[HOLD]``
(wait before answering) and ``environ[DROP_CONNECTION]`` (end the connection instead).
"""

from __future__ import annotations

import asyncio
import gc
import io
import logging
import signal
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_to_bytes

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .. import api
from ..config import Settings
from .faults import DROP_CONNECTION, HOLD

log = logging.getLogger("mockserver")

# How long an idle keep-alive connection stays open (a cloud load balancer's usual 60 s).
KEEP_ALIVE_SECONDS = 60
# Requests still running at a stop get this long to finish before their connections close.
GRACEFUL_STOP_SECONDS = 5
_CONNECTION = "mockserver.connection"  # scope["extensions"]: ends this request's connection
_LINGER_RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends RST instead of FIN


class _Protocol(HttpToolsProtocol):
    """uvicorn's HTTP/1.1 protocol, plus a way for one request to end its connection unanswered."""

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is not None and cycle.scope is self.scope:  # not a protocol upgrade
            extensions: dict[str, Any] = {_CONNECTION: lambda reset: self._drop(cycle, reset)}
            self.scope["extensions"] = extensions

    def _drop(self, cycle: Any, reset: bool) -> None:
        cycle.disconnected = True  # uvicorn sends nothing more for this request
        if reset:
            sock = self.transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
            self.transport.abort()
        else:
            self.transport.close()


class WsgiBridge:
    """An ASGI app that runs a WSGI app inline on the loop, holding or dropping as it asks.

    The body is read whole first (the app's limit plus one byte at most: a larger one is left
    unread, the app answers 413 from the declared length, and the connection closes).
    """

    def __init__(self, wsgi_app: Callable, max_body_bytes: int):
        self.wsgi_app = wsgi_app
        self.max_body_bytes = max_body_bytes
        self._header_keys: dict[bytes, str] = {}

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return
        body, too_large = await self._read_body(receive)
        environ = self._environ(scope, body)
        if too_large:
            environ["CONTENT_LENGTH"] = environ.get("CONTENT_LENGTH") or str(self.max_body_bytes + 1)
        hold: list[float] = []
        drop: list[bool] = []
        environ[HOLD] = hold.append
        environ[DROP_CONNECTION] = lambda reset=False: drop.append(reset)

        started: list[Any] = []

        def start_response(status: str, headers: list, exc_info: Any = None) -> Callable:
            started[:] = [status, headers]
            return _no_write

        chunks = self.wsgi_app(environ, start_response)
        try:
            payload = b"".join(chunks)
        finally:
            if hasattr(chunks, "close"):
                chunks.close()
        if hold:
            await asyncio.sleep(sum(hold))
        if drop:
            scope["extensions"][_CONNECTION](drop[-1])
            return
        status, headers = started
        raw_headers = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]
        if too_large:
            raw_headers.append((b"connection", b"close"))  # the unread body cannot be skipped
        await send({"type": "http.response.start", "status": int(status[:3]), "headers": raw_headers})
        await send({"type": "http.response.body", "body": payload})

    async def _read_body(self, receive: Callable) -> tuple[bytes, bool]:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if len(body) > self.max_body_bytes:
                return b"", True
            if not message.get("more_body", False):
                return body, False

    def _environ(self, scope: dict, body: bytes) -> dict[str, Any]:
        raw_path = scope["raw_path"]
        if b"%" in raw_path:
            raw_path = unquote_to_bytes(raw_path)
        server = scope.get("server") or ("127.0.0.1", 80)
        client = scope.get("client") or ("", 0)
        environ: dict[str, Any] = {
            "REQUEST_METHOD": scope["method"],
            "SCRIPT_NAME": "",
            "PATH_INFO": raw_path.decode("latin-1"),
            "QUERY_STRING": scope["query_string"].decode("latin-1"),
            "SERVER_NAME": server[0],
            "SERVER_PORT": str(server[1]),
            "SERVER_PROTOCOL": "HTTP/" + scope["http_version"],
            "REMOTE_ADDR": client[0],
            "REMOTE_PORT": str(client[1]),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": scope.get("scheme", "http"),
            "wsgi.input": io.BytesIO(body),
            "wsgi.input_terminated": True,
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": False,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        keys = self._header_keys
        for name, value in scope["headers"]:
            key = keys.get(name)
            if key is None:
                key = name.decode("latin-1").upper().replace("-", "_")
                if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                    key = "HTTP_" + key
                if len(keys) < 1000:  # the usual names, not whatever a client invents
                    keys[name] = key
            text = value.decode("latin-1")
            if key in environ:
                text = environ[key] + ("; " if key == "HTTP_COOKIE" else ",") + text
            environ[key] = text
        return environ


def _no_write(data: bytes) -> None:
    raise RuntimeError("the sandbox's app returns its body; it never calls write()")


def make_server(app: Callable, max_body_bytes: int = Settings.max_body_bytes) -> uvicorn.Server:
    """A server for any WSGI app (the bench's bare-Flask ceiling uses it too); run it on ``listen()``."""
    config = uvicorn.Config(
        WsgiBridge(app, max_body_bytes),
        interface="asgi3",
        http=_Protocol,
        ws="none",
        lifespan="off",
        loop="auto",  # uvloop where installed
        log_config=None,
        log_level="warning",
        access_log=False,  # the app writes its own request log
        proxy_headers=False,
        server_header=False,
        headers=[("server", "flexprice-mock")],
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        timeout_graceful_shutdown=GRACEFUL_STOP_SECONDS,
    )
    return uvicorn.Server(config)


class ListenError(Exception):
    """The server could not open its listening socket."""


def listen(host: str, port: int) -> socket.socket:
    """The listening socket, opened here so that a taken port is one clear error."""
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:  # the port is taken, the address is not this machine's, ...
        raise ListenError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def tune_garbage_collector() -> None:
    """Keep collector pauses short while the worlds grow.

    Everything loaded at start (Flask, the compiled spec) is frozen out of collections, and so is
    whatever survives a full collection (the worlds' state, acyclic): a full pass then scans what
    is new since the last one, not every wallet ever made (measured: the longest pause while
    creating 100,000 wallets went from 215 ms to 10 ms). Frozen objects are still freed by
    reference counting when nothing refers to them.
    """
    gc.collect()
    gc.freeze()
    if _freeze_survivors not in gc.callbacks:
        gc.callbacks.append(_freeze_survivors)


def _freeze_survivors(phase: str, info: dict) -> None:
    if phase == "stop" and info["generation"] == 2:
        gc.freeze()


class BackgroundServer:
    """The app served on a socket from a daemon thread: for test suites (and the pytest plugin)."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0):
        settings = app.extensions["mockserver"].settings
        sock = listen(host, port)
        self.url = f"http://{host}:{sock.getsockname()[1]}"
        self._server = make_server(app, settings.max_body_bytes)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="flexprice-mock", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.005)
        if not self._server.started:
            raise RuntimeError(f"the sandbox did not start on {self.url}")

    def stop(self, timeout: float = GRACEFUL_STOP_SECONDS + 1) -> None:
        # Requests still running (held by a fault) may finish; then the sockets close.
        self._server.should_exit = True
        self._thread.join(timeout)


def serve(app, settings: Settings) -> None:
    """Serve until Ctrl-C or SIGTERM, let running requests finish, then return."""
    sock = listen(settings.host, settings.port)
    server = make_server(app, settings.max_body_bytes)
    tune_garbage_collector()
    log.info(
        "flexprice-mock serving Flexprice API %s on http://%s:%s/v1 (health: /_mock/health)",
        api.resolve(settings.api_version),
        settings.host,
        sock.getsockname()[1],
    )

    def stop(signum, frame):
        raise KeyboardInterrupt

    # uvicorn stops gracefully on SIGINT/SIGTERM, then raises the signal again: it ends here.
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, stop)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        log.info("shutting down")
        sock.close()
