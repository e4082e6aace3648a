"""The HTTP server under a small WSGI app of the test's own, over real sockets: how it frames what
an app answers, and how it ends connections whose client stops reading."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from mockserver.http.server import Server, listen, make_server

from .test_transport import parse, read_answers, read_to_end

IDLE = 1.0  # seconds: the idle and request timeouts here
BIG = 16 * 1024 * 1024  # an answer no socket buffer holds


def app(environ: dict[str, Any], start_response: Callable) -> list[bytes]:
    path = environ["PATH_INFO"]
    if path == "/lying":  # declares fewer bytes than it sends
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "3")])
        return [b"hello"]
    if path == "/no-content":  # as Flask answers a 204: with a length of 0
        start_response("204 No Content", [("Content-Length", "0")])
        return [b""]
    if path == "/big":
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return [b"x" * BIG]
    if path == "/not-latin-1":  # a header the server cannot write
        start_response("200 OK", [("X-Price", "\u20ac1")])
        return [b"{}"]
    headers = {k: v for k, v in environ.items() if k.startswith(("HTTP_", "CONTENT_"))}
    body = json.dumps(headers).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Server, tuple[str, int]]]:
    sock = listen("127.0.0.1", 0)
    server = make_server(app, idle_timeout=IDLE, request_timeout=IDLE)  # type: ignore[arg-type]
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    yield server, sock.getsockname()
    server.stop()
    thread.join(10)


def test_an_answer_goes_out_with_the_length_of_its_body_whatever_the_app_declared(served):
    """The app declares 3 bytes and sends 5: the client gets 5 with a length of 5, and the
    connection stays in step for the next request."""
    _, address = served
    with socket.create_connection(address, timeout=5) as sock:
        sock.sendall(b"GET /lying HTTP/1.1\r\nHost: x\r\n\r\nGET /echo HTTP/1.1\r\nHost: x\r\n\r\n")
        (status, headers, body), (second, _, echoed) = read_answers(sock, 2)
    assert (status, headers["content-length"], body) == (200, "5", b"hello")
    assert second == 200 and json.loads(echoed)["HTTP_HOST"] == "x"


def test_a_204_goes_out_without_a_length_even_when_the_app_gives_one(served):
    _, address = served
    with socket.create_connection(address, timeout=5) as sock:
        sock.sendall(b"GET /no-content HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        status, headers, body = parse(read_to_end(sock))
    assert (status, body) == (204, b"") and "content-length" not in headers


def test_a_head_answer_keeps_the_declared_length_and_sends_no_body(served):
    _, address = served
    with socket.create_connection(address, timeout=5) as sock:
        sock.sendall(b"HEAD /lying HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        status, headers, body = parse(read_to_end(sock))
    assert (status, headers["content-length"], body) == (200, "3", b"")


def test_underscored_header_names_never_reach_the_app(served):
    """``Content_Length`` never becomes CONTENT_LENGTH, nor ``X_Forwarded_For`` X-Forwarded-For."""
    _, address = served
    raw = (
        b"GET /echo HTTP/1.1\r\nHost: x\r\nContent_Length: 9\r\nX_Forwarded_For: 10.0.0.1\r\n"
        b"X-Forwarded-For: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    with socket.create_connection(address, timeout=5) as sock:
        sock.sendall(raw)
        status, _, body = parse(read_to_end(sock))
    assert status == 200
    assert json.loads(body) == {
        "HTTP_HOST": "x",
        "HTTP_X_FORWARDED_FOR": "127.0.0.1",
        "HTTP_CONNECTION": "close",
    }


def test_a_failure_in_answering_is_not_reported_as_a_bad_request(served):
    """The app runs inside the parser's callbacks; a failure writing its answer (a header that is
    not latin-1) is the server's own: a 500 saying it failed to answer, not to read."""
    _, address = served
    with socket.create_connection(address, timeout=5) as sock:
        sock.sendall(b"GET /not-latin-1 HTTP/1.1\r\nHost: x\r\n\r\n")
        status, _, body = parse(read_to_end(sock))
    assert (status, json.loads(body)["cause"]) == (500, "the server failed to answer the request")


def test_a_connection_whose_client_stops_reading_is_aborted_after_the_idle_timeout(served):
    """A 16 MiB answer to a client that never reads: the close waits for a buffer that never
    drains, so once the idle timeout passes the connection is aborted and forgotten."""
    server, address = served
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(address)
    try:
        sock.sendall(b"GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        time.sleep(0.3)
        assert len(server.connections) == 1
        deadline = time.monotonic() + IDLE + 2
        while server.connections and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not server.connections
        sock.settimeout(5)
        try:  # what the kernel still held, then the end: never the whole answer
            assert len(read_to_end(sock)) < BIG
        except ConnectionResetError:
            pass
    finally:
        sock.close()
