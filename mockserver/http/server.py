"""Serving the app: a small HTTP/1.1 server of our own on one event loop, the Flask app called inline.

Why this shape (measured with bench/wsgi_servers.py and bench/run.py on a shared 2-core machine):
- One process, since every world lives in this process's memory.
- One thread runs every request. A request costs a few hundred microseconds of CPU; a pool of
  worker threads beside an I/O thread spent more than that again handing the GIL between cores.
  (On the Redis store, whose requests wait on round trips and locks, they run on a thread pool.)
- A fault that holds an answer (latency, timeout) waits on the loop, not in a thread, so any number
  of held requests never stop the others.
- The server owns the socket, so a fault can end the connection unanswered, with FIN or RST.

Why our own server rather than uvicorn's: the sandbox needs all of that below the app, and every
refusal in the API version's own error body. Bolted onto uvicorn, it reached into what uvicorn does
not export. Here it rests on public interfaces only: asyncio's ``Protocol`` and transports, and
httptools' ``HttpRequestParser`` (its callbacks, its getters, its exception types; never the text
of its messages). The request goes from the parser's callbacks straight into a WSGI environ, and
the answer leaves in one write.

The app asks for the two fault effects through its environ (see ``faults``): ``environ[HOLD]``
(wait before answering) and ``environ[DROP_CONNECTION]`` (end the connection instead).
"""

from __future__ import annotations

import asyncio
import gc
import io
import json
import logging
import os
import signal
import socket
import struct
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from email.utils import formatdate
from functools import partial
from http import HTTPStatus
from typing import Any, NamedTuple
from urllib.parse import unquote_to_bytes

import httptools

from .. import api
from ..config import Settings
from .faults import DROP_CONNECTION, HOLD
from .head import MAX_HEAD_BYTES, MAX_HEADER_BYTES, MAX_URL_BYTES, describe_bad_head, request_line

log = logging.getLogger("mockserver")

# Threads that run the waiting routes (the webhook wait), so that they never hold the event loop.
WAITING_THREADS = 4
# Threads that run every request of an app that waits on I/O (the Redis store: round trips, and a
# world locked by another request or process), so that the loop goes on serving everyone else.
IO_THREADS = 32
# Requests still running at a stop get this long to finish before their connections close.
GRACEFUL_STOP_SECONDS = 5
# Requests a client may send ahead of its answers before the server stops reading from it.
MAX_PIPELINED = 16
INVALID = "Invalid HTTP request"
HEADERS_TOO_LARGE = "Request header fields too large"
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
# Headers of the app's answer the server writes itself, from the body and the connection's state.
_FRAMING = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive"})
_BODILESS = frozenset({"100", "101", "102", "103", "204", "304"})
# After a refusal, what the client still sends is read and dropped this long before the close: a
# socket closed with unread data sends RST, and the client could lose the answer with it.
LINGER_SECONDS = 2.0
SERVER_NAME = b"flexprice-mock"
_LINGER_RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends RST instead of FIN

# The JSON body of a refusal in the served version's error shape: (status, message, cause).
Refusal = Callable[[int, str, str], bytes]


class Answer(NamedTuple):
    """What the app made of one request."""

    status: str  # the status line's code and phrase: "200 OK"
    headers: list[tuple[str, str]]
    body: bytes
    hold: float  # seconds to wait before sending it
    drop: bool | None  # end the connection instead: with RST (True) or FIN (False)


def _plain_refusal(status: int, message: str, cause: str) -> bytes:
    return json.dumps({"error": message, "cause": cause}).encode()


class _Refused(Exception):
    """A request refused below the app, raised from a parser callback."""

    def __init__(self, status: int, message: str, cause: str):
        super().__init__(message)
        self.status, self.message, self.cause = status, message, cause


class _AnswerFailed(Exception):
    """The server failed answering a request while the parser was reading (its callbacks run
    the app inline): a fault of the server's own, not of what the client sent."""


# ---- one connection --------------------------------------------------------------------------

# Header names as WSGI spells them (the usual ones, kept; not whatever a client invents).
_ENVIRON_KEYS: dict[bytes, str] = {}


def _environ_key(name: bytes) -> str:
    """The environ key of a header name; "" for a name with "_", which is dropped: WSGI spells
    "-" as "_", so X_Foo would pass for X-Foo (and Content_Length for the body's length), as
    Django's runserver, nginx and gunicorn also refuse to let happen."""
    key = _ENVIRON_KEYS.get(name)
    if key is None:
        key = "" if b"_" in name else name.decode("latin-1").upper().replace("-", "_")
        if key and key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = "HTTP_" + key
        if len(_ENVIRON_KEYS) < 1000:
            _ENVIRON_KEYS[name] = key
    return key


class _Request:
    __slots__ = ("body", "cancelled", "environ", "keep_alive", "size", "too_large", "wants_continue")

    def __init__(self, environ: dict[str, Any], keep_alive: bool):
        self.environ = environ
        self.keep_alive = keep_alive
        self.body: list[bytes] = []
        self.size = 0
        self.too_large = False  # answered before its body was read: the connection closes after
        self.cancelled = False  # refused or dropped while the app ran: its answer is never sent
        self.wants_continue = False  # 100 Continue is owed once the answers before it are out


class _Connection(asyncio.Protocol):
    """One client's connection: parse its requests, answer them in order, enforce the limits.

    - Every refusal is JSON in the API version's error body, also for requests the HTTP parser
      refuses (bad request line, bad header, bad Content-Length or chunk), for a head past its
      limits (414, 431; also while it is still arriving), a missing Host on HTTP/1.1 or two
      Hosts (400) and an unknown method (501).
    - A connection that sends nothing closes after the idle timeout; a request whose head and
      body are not in within the request timeout gets 408; a connection asked to close whose
      client does not read what is left is aborted once the idle timeout passes.
    - The answer's framing is the server's: the body's own length (none on 1xx, 204 and 304),
      ``Connection: close`` when it closes, ``Connection: keep-alive`` to an HTTP/1.0 client
      that asked to stay.
    - One request may end its connection unanswered (``environ[DROP_CONNECTION]``), for faults.
    """

    def __init__(self, server: Server):
        self.server = server
        self.loop = server.loop
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.base: dict[str, Any] = {}
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.head_bytes = 0
        # A head being read (begun, headers not complete); its raw bytes in the reads after the
        # one it began in, and those reads.
        self.in_head = False
        self.head_seen = 0
        self.head_reads: list[bytes] = []
        self.request: _Request | None = None  # the one being read
        self.pending: deque[_Request] = deque()  # read, waiting for their turn
        self.answering: _Request | None = None  # the app runs it, or its answer is held
        self.reading = True  # False once the rest of the stream is to be dropped
        self.stopping = False  # the server stops: close after the answer in hand
        self.write_paused = False
        self.read_paused = False
        # When the connection fell idle, and when the request being read began (loop time, or
        # None): the server's sweep closes or refuses on these, no timer per request.
        self.idle_since: float | None = None
        self.begun_at: float | None = None
        self.held: asyncio.TimerHandle | None = None
        # When the transport was asked to close: past the idle timeout it is aborted, since a
        # close waits for the write buffer to drain, forever if the client does not read.
        self.closing_since: float | None = None

    # ---- asyncio.Protocol ----

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.server.connections.add(self)
        local = transport.get_extra_info("sockname") or ("127.0.0.1", 80)
        peer = transport.get_extra_info("peername") or ("", 0)
        self.base = {
            "SCRIPT_NAME": "",
            "SERVER_NAME": str(local[0]),
            "SERVER_PORT": str(local[1]),
            "REMOTE_ADDR": str(peer[0]),
            "REMOTE_PORT": str(peer[1]),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input_terminated": True,
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": self.server.pools_used,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        self.idle_since = self.loop.time()

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.connections.discard(self)
        self.reading = False
        self.idle_since = self.begun_at = None
        if self.held is not None:
            self.held.cancel()
        if self.answering is not None:
            self.answering.cancelled = True
        self.pending.clear()

    def data_received(self, data: bytes) -> None:
        """Parse one read. A head that goes on past the read it began in is counted (its first
        read is not: that costs one read's size at most) and kept for the wording of a refusal:
        httptools holds an unfinished header line whole, and only the count bounds it."""
        if not self.reading:
            return
        continued = self.in_head
        if continued:
            room = MAX_HEAD_BYTES - self.head_seen
            if len(data) > room:  # the head may take this much more: the rest must follow its end
                self.data_received(data[:room])
                if self.in_head and self.reading:
                    self._headers_too_large()
                elif self.reading:
                    self.data_received(data[room:])
                return
            self.head_seen += len(data)
            self.head_reads.append(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserCallbackError as exc:
            refused = exc.__context__
            if isinstance(refused, _Refused):
                self._refuse(refused.status, refused.message, refused.cause)
            elif isinstance(refused, _AnswerFailed):
                log.error("the HTTP server failed answering a request", exc_info=refused.__cause__)
                self._refuse(500, "An unexpected error occurred", "the server failed to answer the request")
            else:  # a callback of the server's own failed: its fault, said as such
                log.error("the HTTP server failed on a request", exc_info=refused or exc)
                self._refuse(500, "An unexpected error occurred", "the server failed to read the request")
        except httptools.HttpParserUpgrade:  # nothing after an upgrade's head is read (see below)
            self.reading = False
            self._stop_after_answers()
        except httptools.HttpParserInvalidMethodError:
            line = request_line(data)
            if line and self.request is None:
                method = line[0].decode("ascii")
                self._refuse(501, "Method not implemented", f"unknown HTTP method {method}")
            else:
                self._refuse(400, INVALID, "the request line is not: METHOD target HTTP/version")
        except httptools.HttpParserError:
            if self.request is not None and self.request.size:
                cause = "the body does not match its framing (Content-Length or chunked encoding)"
            elif self.request is not None and "HTTP_TRANSFER_ENCODING" in self.request.environ:
                cause = "the chunked body is malformed: each chunk starts with its size in hexadecimal"
            else:
                cause = describe_bad_head(b"".join(self.head_reads) if continued else data)
            self._refuse(400, INVALID, cause)
        else:
            if self.in_head and not continued:  # a head began here and goes on in the next read
                self.head_reads = [data]

    def eof_received(self) -> bool | None:
        if not self.reading or (self.answering is None and not self.pending):
            self._closing()
            return None  # nothing left to answer: the transport closes
        self._stop_after_answers()  # the client is done sending; it still gets its answers
        return True

    def pause_writing(self) -> None:
        self.write_paused = True
        self._update_reading()

    def resume_writing(self) -> None:
        self.write_paused = False
        self._update_reading()

    # ---- parser callbacks ----

    def on_message_begin(self) -> None:
        self.url = b""
        self.headers = []
        self.head_bytes = 0
        self.in_head = True
        self.head_seen = 0
        if self.head_reads:
            self.head_reads = []
        self.idle_since = None
        self.begun_at = self.loop.time()

    def on_url(self, url: bytes) -> None:
        self.url += url
        if len(self.url) > MAX_URL_BYTES:
            raise _Refused(414, "Request URI too long", f"the URL is over {MAX_URL_BYTES} bytes")

    def on_header(self, name: bytes, value: bytes) -> None:
        self.head_bytes += len(name) + len(value) + 4
        if self.head_bytes > MAX_HEADER_BYTES:
            raise _Refused(431, HEADERS_TOO_LARGE, f"the headers are over {MAX_HEADER_BYTES} bytes")
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.in_head = False
        if self.head_reads:
            self.head_reads = []
        parser = self.parser
        http_version = parser.get_http_version()
        url = self.url
        if url.startswith(b"/"):
            path, _, query = url.partition(b"?")
            path = path.partition(b"#")[0]
        else:  # absolute-form ("http://host/path") or "*"
            try:
                parsed = httptools.parse_url(url)
            except httptools.HttpParserInvalidURLError:
                raise _Refused(400, INVALID, "the request target is not a valid URL") from None
            path, query = parsed.path or b"/", parsed.query or b""
        if b"%" in path:
            path = unquote_to_bytes(path)
        environ = self.base.copy()
        environ["REQUEST_METHOD"] = parser.get_method().decode("ascii")
        environ["PATH_INFO"] = path.decode("latin-1")
        environ["QUERY_STRING"] = query.decode("latin-1")
        environ["SERVER_PROTOCOL"] = "HTTP/" + http_version
        keys = _ENVIRON_KEYS
        for name, value in self.headers:
            key = keys.get(name) or _environ_key(name)
            if not key:  # a name with "_"
                continue
            text = value.decode("latin-1")
            if key in environ:
                if key == "HTTP_HOST":  # RFC 9110 7.2: a request with two is refused
                    raise _Refused(400, INVALID, "the Host header is given more than once")
                text = environ[key] + ("; " if key == "HTTP_COOKIE" else ",") + text
            environ[key] = text
        if http_version == "1.1" and "HTTP_HOST" not in environ:
            raise _Refused(400, INVALID, "an HTTP/1.1 request needs a Host header")
        # A request to switch protocols is answered as plain HTTP; what follows its head is not
        # HTTP/1.1, so the connection closes after the answer. HTTP/1.0 stays open only when it
        # asks (Connection: keep-alive), and its answer then says so.
        request = self.request = _Request(environ, parser.should_keep_alive() and not parser.should_upgrade())
        declared = environ.get("CONTENT_LENGTH")
        if declared is not None and declared.isdigit() and int(declared) > self.server.max_body_bytes:
            self._too_large(request)  # answered now from the declared length; the body is never read
        elif http_version == "1.1" and environ.get("HTTP_EXPECT", "").lower() == "100-continue":
            # Go ahead now, or once the answers before it are out (RFC 9110 10.1.1: never to 1.0).
            if self.answering is None and not self.pending:
                self.transport.write(CONTINUE)
            else:
                request.wants_continue = True

    def on_body(self, body: bytes) -> None:
        request = self.request
        if request is None or request.too_large:
            return
        request.size += len(body)
        if request.size > self.server.max_body_bytes:
            self._too_large(request)
        else:
            request.body.append(body)

    def on_message_complete(self) -> None:
        self.begun_at = None
        request, self.request = self.request, None
        if request is None or request.too_large:
            return
        body = b"".join(request.body)
        environ = request.environ
        if environ.pop("HTTP_TRANSFER_ENCODING", None) is not None:  # de-chunked: the app sees a length
            environ["CONTENT_LENGTH"] = str(len(body))
        environ["wsgi.input"] = io.BytesIO(body)
        self._queue(request)

    # ---- answering, in order ----

    def _queue(self, request: _Request) -> None:
        """Answer a request read whole (called from the parser's callbacks)."""
        self.pending.append(request)
        try:
            if self.answering is None:
                self._answer_next()
            else:
                self._update_reading()
        except Exception as exc:  # told apart from a fault in reading the request
            raise _AnswerFailed() from exc

    def _answer_next(self) -> None:
        """Run the app on the requests that wait, in order, until one must wait on something."""
        server = self.server
        while self.pending and self.answering is None:
            request = self.pending.popleft()
            self.answering = request
            pool = server.pool_for(request.environ["PATH_INFO"])
            if pool is None:
                self._answered(request, server.call(request.environ))
            else:  # it blocks: on a thread, off the loop
                future = self.loop.run_in_executor(pool, server.call, request.environ)
                future.add_done_callback(partial(self._answered_later, request))
        self._update_reading()
        if self.answering is None and self.reading:
            waiting = self.request
            if waiting is None:
                self.idle_since = self.loop.time()
            elif waiting.wants_continue and not self.pending and not self.transport.is_closing():
                waiting.wants_continue = False
                self.transport.write(CONTINUE)

    def _answered_later(self, request: _Request, future: asyncio.Future) -> None:
        if not future.cancelled():
            self._answered(request, future.result())
            self._answer_next()

    def _answered(self, request: _Request, answer: Answer) -> None:
        hold = answer.hold
        if hold > 0 and not request.cancelled:
            self.held = self.loop.call_later(hold, self._send_held, request, answer)
        else:
            self._send(request, answer)

    def _send_held(self, request: _Request, answer: Answer) -> None:
        self.held = None
        self._send(request, answer)
        self._answer_next()

    def _send(self, request: _Request, answer: Answer) -> None:
        if self.answering is request:
            self.answering = None
        if request.cancelled or self.transport.is_closing():
            return
        status, headers, body, _, drop = answer
        if drop is not None:
            self._drop(drop)
            return
        environ = request.environ
        close = request.too_large or not request.keep_alive or self.stopping
        head = [b"HTTP/1.1 ", status.encode("latin-1"), b"\r\n"]
        declared = None
        for name, value in headers:
            lowered = name.lower()
            if lowered in _FRAMING:
                if lowered == "connection" and value.lower() == "close":
                    close = True
                elif lowered == "content-length":
                    declared = value
                continue
            head += [lowered.encode("latin-1"), b": ", value.encode("latin-1"), b"\r\n"]
        if status[:3] in _BODILESS:  # RFC 9110 8.6: no length, no body
            body = b""
        elif environ["REQUEST_METHOD"] == "HEAD":  # the length a GET would get; never a body
            body = b""
            if declared is not None and declared.isdigit():
                head.append(b"content-length: %s\r\n" % declared.encode())
        else:  # the body's own length, whatever the app declared: a wrong one would desync
            head.append(b"content-length: %d\r\n" % len(body))
        head += [b"server: ", SERVER_NAME, b"\r\ndate: ", self.server.date(), b"\r\n"]
        if close:
            head.append(b"connection: close\r\n")
        elif environ["SERVER_PROTOCOL"] == "HTTP/1.0":
            head.append(b"connection: keep-alive\r\n")
        head += [b"\r\n", body]
        self.transport.write(b"".join(head))
        if request.too_large:
            self._linger()
        elif close:
            self.reading = False
            self.pending.clear()
            self._close()

    # ---- ending requests and connections ----

    def _too_large(self, request: _Request) -> None:
        """Answer now (the app says 413 from the length) and read no more of this stream."""
        request.too_large = True
        request.body = []
        environ = request.environ
        if environ.pop("HTTP_TRANSFER_ENCODING", None) is not None:  # chunked: the size it reached
            environ["CONTENT_LENGTH"] = str(self.server.max_body_bytes + 1)
        environ["wsgi.input"] = io.BytesIO()
        self.reading = False
        self.begun_at = None
        self._queue(request)

    def _headers_too_large(self) -> None:
        # Past the raw head limit the URL is within its own (refused as it arrives), so what is
        # over is the headers: the same answer as when they are counted parsed.
        self._refuse(431, HEADERS_TOO_LARGE, f"the headers are over {MAX_HEADER_BYTES} bytes")

    def _too_slow(self) -> None:
        self.begun_at = None
        timeout = f"{self.server.request_timeout:g}"
        self._refuse(408, "Request timeout", f"the request did not arrive whole within {timeout} s")

    def _refuse(self, status: int, message: str, cause: str) -> None:
        """Answer in the API's error body, then close: the rest of the stream cannot be trusted."""
        if self.transport.is_closing() or not self.reading:
            return
        if self.answering is not None:  # an earlier request's answer cannot come in order now
            self.answering.cancelled = True
            self.answering = None
        self.pending.clear()
        if self.server.log_refusals:
            log.info("- - %d refused by the server: %s (%s)", status, message, cause)
        body = self.server.refusal(status, message, cause)
        head = b"HTTP/1.1 %d %s\r\n" % (status, HTTPStatus(status).phrase.encode())
        head += b"content-type: application/json\r\ncontent-length: %d\r\n" % len(body)
        head += b"server: " + SERVER_NAME + b"\r\ndate: " + self.server.date() + b"\r\n"
        self.transport.write(head + b"connection: close\r\n\r\n" + body)
        self._linger()

    def _linger(self) -> None:
        """Stop writing and drop what still comes in, then close (at the client's EOF at the latest)."""
        self.reading = False
        self.pending.clear()
        self.idle_since = self.begun_at = None
        self.read_paused = False
        self.transport.resume_reading()  # to see the client's EOF
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, self._close)

    def _drop(self, reset: bool) -> None:
        self.reading = False
        self.pending.clear()
        if reset:
            sock = self.transport.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
            self.transport.abort()
        else:
            self._close()

    def _stop_after_answers(self) -> None:
        self.stopping = True
        if self.answering is None and not self.pending and self.request is None:
            self._close()

    def _close(self) -> None:
        self._closing()
        self.transport.close()

    def _closing(self) -> None:
        if self.closing_since is None:
            self.closing_since = self.loop.time()

    def check_time(self, now: float) -> None:
        """The server's sweep: refuse a request too slow to arrive, close a connection idle too long."""
        server = self.server
        if self.closing_since is not None:
            if now - self.closing_since >= server.idle_timeout:  # its client reads nothing more
                self.transport.abort()
        elif self.begun_at is not None and now - self.begun_at >= server.request_timeout:
            self._too_slow()
        elif self.idle_since is not None and now - self.idle_since >= server.idle_timeout:
            self.idle_since = None
            if self.answering is None and not self.pending and self.request is None:
                self._close()

    def _update_reading(self) -> None:
        """Read no more while the client does not read its answers or sends too many ahead."""
        wanted_pause = self.reading and (self.write_paused or len(self.pending) >= MAX_PIPELINED)
        if wanted_pause != self.read_paused and not self.transport.is_closing():
            self.read_paused = wanted_pause
            if wanted_pause:
                self.transport.pause_reading()
            else:
                self.transport.resume_reading()


# ---- the server --------------------------------------------------------------------------------


class Server:
    """A WSGI app served on listening sockets by one event loop (uvloop where installed).

    ``run(sockets)`` serves until ``stop()`` (from any thread) or, in the main thread, SIGINT or
    SIGTERM; requests in hand then get ``GRACEFUL_STOP_SECONDS`` to finish.
    """

    def __init__(
        self,
        app: Callable,
        *,
        max_body_bytes: int,
        idle_timeout: float,
        request_timeout: float,
        refusal: Refusal,
        log_refusals: bool,
        waiting_paths: frozenset[str],
        app_waits_on_io: bool,
    ):
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.idle_timeout = idle_timeout
        self.request_timeout = request_timeout
        self.refusal = refusal
        self.log_refusals = log_refusals
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
        self.pools_used = app_waits_on_io or bool(waiting_paths)
        self.connections: set[_Connection] = set()
        self.started = False
        self.loop: asyncio.AbstractEventLoop = None  # type: ignore[assignment]
        self._stop: asyncio.Event | None = None
        self._forced = False  # a second signal: stop without waiting for requests in hand
        self._date = (0, b"")

    # ---- what connections ask of it ----

    def pool_for(self, path: str) -> ThreadPoolExecutor | None:
        return self._waiters if path in self.waiting_paths else self._io

    def call(self, environ: dict[str, Any]) -> Answer:
        """Run the app on one request (on the loop, or on a pool's thread)."""
        hold: list[float] = []
        drop: list[bool] = []
        environ[HOLD] = hold.append
        environ[DROP_CONNECTION] = lambda reset=False: drop.append(reset)
        started: list[Any] = []

        def start_response(status: str, headers: list, exc_info: Any = None) -> Callable:
            started[:] = [status, headers]
            return _no_write

        try:
            chunks = self.app(environ, start_response)
            try:
                body = b"".join(chunks)
            finally:
                if hasattr(chunks, "close"):
                    chunks.close()
            status, headers = started
        except Exception:  # a fault of the sandbox's own: still an answer in the API's body
            log.exception("unhandled error serving %s %s", environ["REQUEST_METHOD"], environ["PATH_INFO"])
            status = "500 Internal Server Error"
            headers = [("Content-Type", "application/json")]
            body = self.refusal(500, "An unexpected error occurred", "the server failed")
            hold, drop = [], []
        # Made as a tuple: NamedTuple's own constructor costs 0.4 us more, on every request.
        return tuple.__new__(Answer, (status, headers, body, sum(hold), drop[-1] if drop else None))

    def date(self) -> bytes:
        now = int(time.time())
        if now != self._date[0]:
            self._date = (now, formatdate(now, usegmt=True).encode())
        return self._date[1]

    # ---- running ----

    def run(self, sockets: Iterable[socket.socket], handle_signals: bool = False) -> None:
        loop = _new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self.serve(list(sockets), handle_signals))
        finally:
            loop.close()

    async def serve(self, sockets: list[socket.socket], handle_signals: bool = False) -> None:
        self.loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        listeners = [
            await self.loop.create_server(lambda: _Connection(self), sock=sock, backlog=2048)
            for sock in sockets
        ]
        if handle_signals:
            for signum in (signal.SIGINT, signal.SIGTERM):
                self.loop.add_signal_handler(signum, self._on_signal)
        sweep = self.loop.create_task(self._sweep())
        self.started = True
        await self._stop.wait()
        sweep.cancel()
        for listener in listeners:
            listener.close()
        for connection in list(self.connections):
            connection._stop_after_answers()
        deadline = self.loop.time() + GRACEFUL_STOP_SECONDS
        while self.connections and self.loop.time() < deadline and not self._forced:
            await asyncio.sleep(0.05)
        for connection in list(self.connections):
            connection.transport.abort()
        for pool in (self._waiters, self._io):
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)

    async def _sweep(self) -> None:
        """Enforce the idle and request timeouts, to within a quarter of the shorter one (0.25 s at
        most): a timestamp per request instead of a timer armed and cancelled per request, which
        cost about 9 % of a request's CPU."""
        tick = min(0.25, self.idle_timeout / 4, self.request_timeout / 4)
        while True:
            await asyncio.sleep(tick)
            now = self.loop.time()
            for connection in list(self.connections):
                connection.check_time(now)

    def _on_signal(self) -> None:
        if self._stop is not None and self._stop.is_set():
            self._forced = True  # a second Ctrl-C: stop now
        self.stop_now()

    def stop_now(self) -> None:
        """Stop (on the loop's thread)."""
        if self._stop is not None:
            self._stop.set()

    def stop(self) -> None:
        """Stop, from any thread: listening ends, requests in hand may finish."""
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.stop_now)


def _new_event_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:  # not on this platform (Windows): asyncio's own loop
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


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
) -> Server:
    """A server for any WSGI app (the bench's bare-Flask ceiling uses it too); run it on ``listen()``."""
    return Server(
        app,
        max_body_bytes=max_body_bytes,
        idle_timeout=idle_timeout,
        request_timeout=float(request_timeout),
        refusal=refusal,
        log_refusals=log_refusals,
        waiting_paths=waiting_paths,
        app_waits_on_io=app_waits_on_io,
    )


def sandbox_server(app: Any) -> Server:
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
        self._server.stop()
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

    # SIGINT and SIGTERM stop it gracefully (in the main thread, where signals arrive).
    try:
        server.run([sock], handle_signals=threading.current_thread() is threading.main_thread())
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
