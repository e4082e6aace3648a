"""The server's reading of request heads against h11's, as an oracle.

Hypothesis writes one request (valid ones, and ones with odd bytes, duplicate or odd headers, bad
lengths, chunked bodies); h11 reads the bytes, and the server gets them over a real socket. They
must agree on whether the request is served, refused or still incomplete, except where the
server refuses on purpose (``deliberate``, each with its reason); every refusal is a 4xx or 5xx
in the version's error body, and every answer comes within ``BOUND``.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import h11
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft4Validator

from mockserver import api as versions
from mockserver.domain.errors import ApiError
from mockserver.http import jsonio
from mockserver.http.server import listen, make_server

from .test_transport import contract, parse, read_to_end

_CONTROL = re.compile(rb"[\x01-\x08\x0b-\x1f\x7f]")
BOUND = 1.0  # seconds for any answer, accepted or refused
REACHED = "x-reached-app"


def app(environ: dict[str, Any], start_response: Callable) -> list[bytes]:
    body = environ["wsgi.input"].read()
    start_response("200 OK", [(REACHED, "yes"), ("Content-Length", str(len(body)))])
    return [body]


@pytest.fixture(scope="module", params=list(versions.VERSIONS))
def served(request) -> Iterator[tuple[str, tuple[str, int]]]:
    """A server with the version's refusals (its error body) in front of an app that echoes."""
    version = versions.load(request.param)

    def refusal(status: int, message: str, cause: str) -> bytes:  # as the sandbox's (http/app.py)
        return jsonio.dumps(version.error_body(ApiError(status, message, cause, {"reason": cause}))).encode()

    sock = listen("127.0.0.1", 0)
    server = make_server(app, refusal=refusal, idle_timeout=5, request_timeout=5)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    yield request.param, sock.getsockname()
    server.stop()
    thread.join(10)


# ---- requests ------------------------------------------------------------------------------------

TOKENS = st.sampled_from([b"GET", b"POST", b"PUT", b"DELETE", b"PATCH", b"HEAD", b"OPTIONS"])
ODD_METHODS = st.sampled_from([b"get", b"FETCH", b"G@T", b""])
TARGETS = st.sampled_from([b"/", b"/v1/wallets/w1", b"/a?b=c&d=%20", b"*", b"http://localhost/x"])
ODD_TARGETS = st.sampled_from([b"/\xc3\xa9", b"/a b", b"", b"/\x7f"])
VERSIONS = st.sampled_from([b"HTTP/1.1", b"HTTP/1.1", b"HTTP/1.0"])
ODD_VERSIONS = st.sampled_from([b"HTTP/1.2", b"HTTP/2.0", b"HTTP/1", b"http/1.1", b"HTTP/1.1 "])
NAMES = st.sampled_from([b"X-Foo", b"Accept", b"X_Foo", b"User-Agent", b"Cookie"])
ODD_NAMES = st.sampled_from([b"X Foo", b"X@Foo", b"", b"X-Foo ", b"\xc3\xa9"])
VALUES = st.sampled_from([b"bar", b"", b"a, b", b"  padded  ", b"\tx", b"caf\xc3\xa9"])
ODD_VALUES = st.sampled_from([b"a\x00b", b"a\x01", b" " * 3000 + b"\x01", b"a\x7fb", b"a\rb"])
LENGTHS = st.sampled_from([b"ten", b"-1", b"1 1", b"0x5", b"+5", b""])


@st.composite
def requests(draw: st.DrawFn) -> bytes:
    odd = draw(st.integers(0, 5)) == 0  # one in six with an odd request line
    method = draw(ODD_METHODS if odd and draw(st.booleans()) else TOKENS)
    target = draw(ODD_TARGETS if odd and draw(st.booleans()) else TARGETS)
    version = draw(ODD_VERSIONS if odd and draw(st.booleans()) else VERSIONS)
    lines = [method + b" " + target + b" " + version]
    hosts = draw(st.sampled_from([1, 1, 1, 0, 2]))
    lines += [b"Host: localhost"] * hosts
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.integers(0, 9))
        name = draw(ODD_NAMES if kind == 0 else NAMES)
        value = draw(ODD_VALUES if kind == 1 else VALUES)
        lines.append(name + b":" + (b" " if draw(st.booleans()) else b"") + value)
    if draw(st.integers(0, 9)) == 0:
        lines.append(b" folded continuation")
    body = b""
    framing = draw(st.sampled_from(["none", "none", "length", "length", "chunked", "bad-length", "both"]))
    if framing in ("length", "both"):
        body = draw(st.binary(max_size=20))
        for _ in range(draw(st.sampled_from([1, 1, 1, 2]))):
            lines.append(b"Content-Length: %d" % len(body))
    elif framing == "bad-length":
        lines.append(b"Content-Length: " + draw(LENGTHS))
    if framing in ("chunked", "both"):
        lines.append(b"Transfer-Encoding: " + draw(st.sampled_from([b"chunked", b"chunked", b"gzip"])))
        piece = draw(st.binary(max_size=10))
        good = b"%x\r\n%s\r\n0\r\n\r\n" % (len(piece), piece) if piece else b"0\r\n\r\n"
        body = draw(st.sampled_from([good, good, b"zz\r\nab\r\n0\r\n\r\n"]))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


# ---- the two readings ----------------------------------------------------------------------------


def h11_reads(raw: bytes) -> str:
    """served, refused or incomplete, by h11 as a server."""
    connection = h11.Connection(h11.SERVER)
    connection.receive_data(raw)
    try:
        while True:
            event = connection.next_event()
            if isinstance(event, h11.EndOfMessage):
                return "served"
            if event is h11.NEED_DATA:
                return "incomplete"
    except h11.RemoteProtocolError:
        return "refused"


def server_reads(version: str, address: tuple[str, int], raw: bytes) -> str:
    started = time.monotonic()
    with socket.create_connection(address, timeout=BOUND + 2) as sock:
        sock.sendall(raw)
        sock.shutdown(socket.SHUT_WR)
        answer = read_to_end(sock)
    took = time.monotonic() - started
    assert took < BOUND, (raw, took)
    if not answer:  # the client ended its side before the request was whole
        return "incomplete"
    status, headers, body = parse(answer.partition(b"\r\n\r\nHTTP/1.1 ")[0])
    if headers.get(REACHED) == "yes":
        assert status == 200
        return "served"
    assert 400 <= status < 600, answer[:200]
    assert headers["content-type"] == "application/json" and headers["connection"] == "close"
    operation = contract(version).operation_for("GET", "/v1/wallets/w1")
    assert operation is not None
    document = json.loads(body, parse_float=Decimal)
    assert not list(Draft4Validator(operation.responses["400"]).iter_errors(document)), document
    return "refused"


def deliberate(raw: bytes) -> str | None:
    """Why the server refuses what h11 serves, on purpose; None when it should agree."""
    head = raw.partition(b"\r\n\r\n")[0]
    line, *fields = head.split(b"\r\n")
    method, _, rest = line.partition(b" ")
    names = [field.partition(b":")[0].lower() for field in fields]
    if method not in (b"GET", b"POST", b"PUT", b"DELETE", b"PATCH", b"HEAD", b"OPTIONS"):
        return "a method llhttp does not know (h11 takes any token): 501, the sandbox serves none"
    if not rest.endswith((b" HTTP/1.1", b" HTTP/1.0")):
        return "an HTTP version other than 1.0 and 1.1: h11 reads any d.d, the server only these"
    if any(field.startswith((b" ", b"\t")) for field in fields):
        return "a folded header line (obs-fold, RFC 9112 5.2: a server may refuse it)"
    values = [field.partition(b":")[2] for field in fields]
    if any(_CONTROL.search(value) for value in values):
        return "a control byte in a header value: RFC 9110 5.5 allows none; h11 takes all but NUL"
    if names.count(b"content-length") > 1:
        return "Content-Length given twice, even alike: refused rather than guessed (RFC 9112 6.3)"
    if b"content-length" in names and b"transfer-encoding" in names:
        return "both Content-Length and Transfer-Encoding: refused, the shape of request smuggling"
    return None


@settings(
    derandomize=True,
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(raw=requests())
def test_the_server_accepts_and_refuses_what_h11_does(served, raw):
    version, address = served
    oracle = h11_reads(raw)
    ours = server_reads(version, address, raw)
    if oracle == "served" and ours == "refused" and deliberate(raw) is not None:
        return
    assert ours == oracle, (raw, deliberate(raw))
