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
import json
import logging
import os
import re
import signal
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote_to_bytes

import httptools
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .. import api
from ..config import Settings
from .faults import DROP_CONNECTION, HOLD

log = logging.getLogger("mockserver")

# Threads that run the waiting routes (the webhook wait), so that they never hold the event loop.
WAITING_THREADS = 4
# Threads that run every request of an app that waits on I/O (the Redis store: round trips, and a
# world locked by another request or process), so that the loop goes on serving everyone else.
IO_THREADS = 32
# Requests still running at a stop get this long to finish before their connections close.
GRACEFUL_STOP_SECONDS = 5
# Limits of a request's head (a cloud load balancer's usual ones): past them 414 and 431.
MAX_URL_BYTES = 8 * 1024
MAX_HEADER_BYTES = 64 * 1024
INVALID = "Invalid HTTP request"
# After a refusal, what the client still sends is read and dropped this long before the close: a
# socket closed with unread data sends RST, and the client could lose the answer with it.
LINGER_SECONDS = 2.0
_CONNECTION = "mockserver.connection"  # scope["extensions"]: ends this request's connection
_LINGER_RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends RST instead of FIN
# "METHOD target HTTP/x.y": a request line whose only fault is a method the parser does not know.
_REQUEST_LINE = re.compile(rb"(?:^|\n)([!#$%&'*+.^_`|~0-9A-Za-z-]+) \S+ HTTP/\d\.\d\r?\n")

# The JSON body of a refusal in the served version's error shape: (status, message, cause).
Refusal = Callable[[int, str, str], bytes]


def _plain_refusal(status: int, message: str, cause: str) -> bytes:
    return json.dumps({"error": message, "cause": cause}).encode()


class _Refused(Exception):
    """A request refused below the app, raised from a parser callback."""

    def __init__(self, status: int, message: str, cause: str):
        super().__init__(message)
        self.status, self.message, self.cause = status, message, cause


class _Protocol(HttpToolsProtocol):
    """uvicorn's HTTP/1.1 protocol, plus what the sandbox needs below the app.

    - Every answer is JSON in the API version's error body, also for requests the HTTP parser
      refuses (bad request line, bad header, bad Content-Length or chunk), for a head past its
      limits (414, 431), a missing Host on HTTP/1.1 (400) and an unknown method (501).
    - A connection that sends nothing closes after the idle timeout, like one idle between
      requests; a request whose head and body are not in within the request timeout gets 408.
    - One request may end its connection unanswered (``scope["extensions"]``), for faults.
    """

    refusal: Refusal = staticmethod(_plain_refusal)
    request_timeout: float = 15.0
    log_refusals: bool = True

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._head_bytes = 0
        self._deadline: asyncio.TimerHandle | None = None
        self._lingering = False
        # uvicorn arms the idle timer after a response only: a silent new connection would stay.
        self.timeout_keep_alive_task = self.loop.call_later(
            self.timeout_keep_alive, self.timeout_keep_alive_handler
        )

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            return
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._unsupported_upgrade_warning()
        except httptools.HttpParserCallbackError as exc:
            refused = exc.__context__
            if isinstance(refused, _Refused):
                self._refuse(refused.status, refused.message, refused.cause)
            else:  # a parser callback of the server's own failed: its fault, said as such
                log.error("the HTTP protocol failed on a request", exc_info=refused or exc)
                self._refuse(500, "An unexpected error occurred", "the server failed to read the request")
        except httptools.HttpParserInvalidMethodError:
            line = _REQUEST_LINE.search(data)
            if line:
                method = line.group(1).decode("ascii")
                self._refuse(501, "Method not implemented", f"unknown HTTP method {method}")
            else:
                self._refuse(400, INVALID, "the request line is not: METHOD target HTTP/version")
        except httptools.HttpParserError as exc:
            self._refuse(400, INVALID, str(exc))

    def eof_received(self) -> None:
        if self._lingering:  # the client has stopped sending: the close can come now
            self.transport.close()

    def send_400_response(self, msg: str) -> None:
        self._refuse(400, INVALID, msg)

    # ---- parser callbacks ----

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0
        self._cancel_deadline()
        self._deadline = self.loop.call_later(self.request_timeout, self._too_slow)

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        if len(self.url) > MAX_URL_BYTES:
            raise _Refused(414, "Request URI too long", f"the URL is over {MAX_URL_BYTES} bytes")

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_bytes += len(name) + len(value) + 4
        if self._head_bytes > MAX_HEADER_BYTES:
            raise _Refused(
                431, "Request header fields too large", f"the headers are over {MAX_HEADER_BYTES} bytes"
            )
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        if self.parser.get_http_version() == "1.1" and not any(n == b"host" for n, _ in self.headers):
            raise _Refused(400, INVALID, "an HTTP/1.1 request needs a Host header")
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is not None and cycle.scope is self.scope:  # not a protocol upgrade
            extensions: dict[str, Any] = {_CONNECTION: lambda reset: self._drop(cycle, reset)}
            self.scope["extensions"] = extensions

    def on_message_complete(self) -> None:
        self._cancel_deadline()
        super().on_message_complete()

    # ---- ours ----

    def _cancel_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        timeout = f"{self.request_timeout:g}"
        self._refuse(408, "Request timeout", f"the request did not arrive whole within {timeout} s")

    def _refuse(self, status: int, message: str, cause: str) -> None:
        """Answer in the API's error body, then close: the rest of the stream cannot be trusted."""
        if self.cycle is not None and not self.cycle.response_complete:
            if self.cycle.response_started:  # an answer is half out: nothing sound can follow it
                self.transport.close()
                return
            self.cycle.disconnected = True  # the app never sees this request (or its rest)
            self.cycle.message_event.set()
        if self.transport.is_closing() or self._lingering:
            return
        if self.log_refusals:
            log.info("- - %d refused by the server: %s (%s)", status, message, cause)
        body = self.refusal(status, message, cause)
        head = [b"HTTP/1.1 %d %s\r\n" % (status, HTTPStatus(status).phrase.encode())]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head.append(b"content-type: application/json\r\ncontent-length: %d\r\n" % len(body))
        head.append(b"connection: close\r\n\r\n")
        self.transport.write(b"".join(head) + body)
        self._linger()

    def _linger(self) -> None:
        """Stop writing and drop what still comes in, then close (at the client's EOF at the latest)."""
        self._lingering = True
        self._cancel_deadline()
        self._unset_keepalive_if_required()
        self.flow.resume_reading()
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, self.transport.close)

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
    """An ASGI app that runs a WSGI app inline on the loop (on threads when the app waits on
    I/O, and for the waiting routes), holding or dropping as it asks.

    The body is read whole first (the app's limit plus one byte at most: a larger one is left
    unread, the app answers 413 from the declared length, and the connection closes).
    """

    def __init__(
        self,
        wsgi_app: Callable,
        max_body_bytes: int,
        refusal: Refusal,
        waiting_paths: frozenset[str],
        app_waits_on_io: bool = False,
    ):
        self.wsgi_app = wsgi_app
        self.max_body_bytes = max_body_bytes
        self.refusal = refusal
        self.waiting_paths = waiting_paths
        # A few threads for routes that wait (a wait per world at once; more queue behind them).
        self._waiters = ThreadPoolExecutor(WAITING_THREADS, thread_name_prefix="flexprice-mock-wait")
        # An app on a shared store runs on threads: inline, its round trips and lock waits would
        # stall the loop and every other connection with it. In memory, inline is fastest.
        self._io = (
            ThreadPoolExecutor(IO_THREADS, thread_name_prefix="flexprice-mock-io")
            if app_waits_on_io
            else None
        )
        self._header_keys: dict[bytes, str] = {}

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return
        read = await self._read_body(receive)
        if read is None:  # the client left, or the protocol refused the rest (408)
            return
        body, too_large = read
        try:
            await self._answer(scope, send, body, too_large)
        except Exception:  # a fault of the sandbox's own: still an answer in the API's body
            log.exception("unhandled error serving %s %s", scope["method"], scope["path"])
            answer = self.refusal(500, "An unexpected error occurred", "the server failed")
            start = {
                "type": "http.response.start",
                "status": 500,
                "headers": [(b"content-type", b"application/json")],
            }
            await send(start)
            await send({"type": "http.response.body", "body": answer})

    async def _answer(self, scope: dict, send: Callable, body: bytes, too_large: bool) -> None:
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

        pool = self._waiters if environ["PATH_INFO"] in self.waiting_paths else self._io
        if pool is not None:  # it blocks: on a thread, off the loop
            loop = asyncio.get_running_loop()
            payload = await loop.run_in_executor(pool, self._run, environ, start_response)
        else:
            payload = self._run(environ, start_response)
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

    def _run(self, environ: dict[str, Any], start_response: Callable) -> bytes:
        chunks = self.wsgi_app(environ, start_response)
        try:
            return b"".join(chunks)
        finally:
            if hasattr(chunks, "close"):
                chunks.close()

    async def _read_body(self, receive: Callable) -> tuple[bytes, bool] | None:
        body = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
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


def make_server(
    app: Callable,
    *,
    max_body_bytes: int = Settings.max_body_bytes,
    idle_timeout: int = Settings.idle_timeout,
    request_timeout: float = Settings.request_timeout,
    refusal: Refusal = _plain_refusal,
    log_refusals: bool = False,
    waiting_paths: frozenset[str] = frozenset(),
    app_waits_on_io: bool = False,
) -> uvicorn.Server:
    """A server for any WSGI app (the bench's bare-Flask ceiling uses it too); run it on ``listen()``."""
    protocol = type(
        "SandboxProtocol",
        (_Protocol,),
        {
            "refusal": staticmethod(refusal),
            "request_timeout": float(request_timeout),
            "log_refusals": log_refusals,
        },
    )
    config = uvicorn.Config(
        WsgiBridge(app, max_body_bytes, refusal, waiting_paths, app_waits_on_io),
        interface="asgi3",
        http=protocol,
        ws="none",
        lifespan="off",
        loop="auto",  # uvloop where installed
        log_config=None,
        log_level="warning",
        access_log=False,  # the app writes its own request log
        proxy_headers=False,
        server_header=False,
        headers=[("server", "flexprice-mock")],
        timeout_keep_alive=idle_timeout,
        timeout_graceful_shutdown=GRACEFUL_STOP_SECONDS,
    )
    return uvicorn.Server(config)


def sandbox_server(app: Any) -> uvicorn.Server:
    """The server for a sandbox app, with its settings and its API version's error body."""
    sandbox = app.extensions["mockserver"]
    settings = sandbox.settings
    return make_server(
        app,
        max_body_bytes=settings.max_body_bytes,
        idle_timeout=settings.idle_timeout,
        request_timeout=settings.request_timeout,
        refusal=sandbox.refusal,
        log_refusals=settings.log_requests,
        waiting_paths=sandbox.waiting_paths,
        app_waits_on_io=settings.store != "memory",
    )


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


# Every so often the frozen objects are thawed and collected once (see tune_garbage_collector).
SWEEP_SECONDS = 300


def tune_garbage_collector() -> None:
    """Keep collector pauses short while the worlds grow.

    Everything loaded at start (Flask, the compiled spec) is frozen out of collections, and so is
    whatever survives a full collection (the worlds' state, acyclic): a full pass then scans what
    is new since the last one, not every wallet ever made (measured: the longest pause while
    creating 100,000 wallets went from 215 ms to 10 ms). A frozen object is still freed by
    reference counting when nothing refers to it, but a cycle frozen while alive (a connection's
    protocol and transport, a request in flight) is never collected once dead: every
    ``SWEEP_SECONDS`` a thread thaws everything and collects once, one longer pause that keeps
    such leftovers bounded.
    """
    gc.collect()
    gc.freeze()
    if _freeze_survivors not in gc.callbacks:
        gc.callbacks.append(_freeze_survivors)
        threading.Thread(target=_sweep_forever, name="flexprice-mock-gc", daemon=True).start()


def _freeze_survivors(phase: str, info: dict) -> None:
    if phase == "stop" and info["generation"] == 2:
        gc.freeze()


def _sweep_forever() -> None:
    while True:
        time.sleep(SWEEP_SECONDS)
        gc.unfreeze()
        gc.collect()  # the callback freezes the survivors again


class BackgroundServer:
    """The app served on a socket from a daemon thread: for test suites (and the pytest plugin)."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0):
        sock = listen(host, port)
        self.url = f"http://{host}:{sock.getsockname()[1]}"
        self._server = sandbox_server(app)
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


def raise_open_file_limit(wanted: int = 65536) -> None:
    """Every connection is a descriptor: thousands of idle keep-alive clients need that many."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        if soft < target:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ImportError, OSError, ValueError):  # not on this system, or not allowed: keep the limit
        pass


def serve(app, settings: Settings, sock: socket.socket | None = None) -> None:
    """Serve until Ctrl-C or SIGTERM, let running requests finish, then return."""
    if sock is None:
        sock = listen(settings.host, settings.port)
        raise_open_file_limit()
    server = sandbox_server(app)
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


# A worker that ends this soon after it started is not started again: it would only end again.
QUICK_EXIT_SECONDS = 2.0


def _stop_with_parent() -> None:
    """Have Linux send this worker SIGTERM when its parent dies (even by kill -9), so that no
    orphan keeps serving the port."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def serve_workers(build: Callable[[], Any], settings: Settings) -> int:
    """Serve one port with ``settings.workers`` processes (each its own event loop and app, on a
    shared store), forked after the socket is open; a worker that dies is replaced. SIGTERM or
    Ctrl-C stops them all gracefully. Returns the exit status."""
    sock = listen(settings.host, settings.port)
    raise_open_file_limit()
    workers: dict[int, float] = {}  # pid -> when it started

    def start_one() -> None:
        pid = os.fork()
        if pid == 0:  # the worker: default signal handling, its own app, then serve
            signal.signal(signal.SIGINT, signal.default_int_handler)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            _stop_with_parent()
            status = 1
            try:
                serve(build(), settings, sock)
                status = 0
            except SystemExit as exc:
                status = exc.code if isinstance(exc.code, int) else 1
            except BaseException:
                log.exception("worker %d failed", os.getpid())
            finally:
                logging.shutdown()
                os._exit(status)
        workers[pid] = time.monotonic()

    stopping = False

    def stop(signum, frame):
        nonlocal stopping
        stopping = True
        for pid in list(workers):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for _ in range(settings.workers):
        start_one()
    log.info(
        "flexprice-mock: %d workers on http://%s:%s", settings.workers, settings.host, sock.getsockname()[1]
    )
    status = 0
    while workers:
        try:
            pid, raw = os.wait()
        except ChildProcessError:
            break
        started = workers.pop(pid, None)
        if started is None or stopping:
            continue
        code = os.waitstatus_to_exitcode(raw)
        if time.monotonic() - started < QUICK_EXIT_SECONDS:
            log.error("worker %d ended at start (exit %s): stopping", pid, code)
            status = code if code > 0 else 1
            stop(signal.SIGTERM, None)
            continue
        log.warning("worker %d ended (exit %s); starting another", pid, code)
        start_one()
    sock.close()
    return status
