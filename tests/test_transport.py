"""Below the app: what the HTTP server answers to requests that are not sound HTTP, to slow and
idle clients, on each API version, over real sockets.

Every answer is JSON in the served version's error body (checked against its document's error
schema), with the status HTTP gives the problem, and the connection closes after it.
"""

from __future__ import annotations

import functools
import json
import socket
import threading
import time
from decimal import Decimal

import pytest
from jsonschema import Draft4Validator

from mockserver import api as versions
from mockserver.http.server import CONTINUE, MAX_HEADER_BYTES, MAX_URL_BYTES, BackgroundServer

from .support import Contract, Suite

TIMEOUT = 1  # seconds: the request and idle timeouts of the sandboxes here


@pytest.fixture(scope="module", params=list(versions.VERSIONS))
def served(request):
    suite = Suite(request.param)
    app = suite.create_app(log_requests=False, request_timeout=TIMEOUT, idle_timeout=TIMEOUT)
    server = BackgroundServer(app)
    host, port = server.url.removeprefix("http://").split(":")
    yield request.param, (host, int(port))
    server.stop()


def exchange(address: tuple[str, int], raw: bytes, timeout: float = 5) -> bytes:
    """Send ``raw``, then read until the server closes the connection."""
    with socket.create_connection(address, timeout=timeout) as sock:
        sock.sendall(raw)
        return read_to_end(sock)


def read_to_end(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def parse(answer: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body


def assert_refusal(version: str, answer: bytes, status: int, message: str, reason: str) -> None:
    got, headers, body = parse(answer)
    assert got == status, answer[:300]
    assert headers["content-type"] == "application/json"
    assert headers["connection"] == "close"
    assert int(headers["content-length"]) == len(body)
    document = json.loads(body, parse_float=Decimal)
    get_wallet = contract(version).operation_for("GET", "/v1/wallets/w1")
    assert get_wallet is not None
    schema = get_wallet.responses["400"]
    assert not list(Draft4Validator(schema).iter_errors(document)), document
    if version == "2025-05-24":
        error = document["error"]
        assert (error["message"], error["internal_error"]) == (message, reason)
    else:
        assert (document["message"], document["http_status_code"]) == (message, status)
        assert document["details"] == {"reason": reason}


@functools.cache
def contract(version: str) -> Contract:
    return Contract(version)


GET = b"GET /v1/wallets/w1 HTTP/1.1\r\nHost: localhost\r\nx-api-key: k\r\n"


@pytest.mark.parametrize(
    "raw, status, message, reason",
    [
        (
            b"GARBAGE\r\n\r\n",
            400,
            "Invalid HTTP request",
            "the request line is not: METHOD target HTTP/version",
        ),
        (
            b"GET /v1/wallets/\xc3\xa9 HTTP/1.1\r\nHost: localhost\r\n\r\n",
            400,
            "Invalid HTTP request",
            "the request target has a character that must be percent-encoded",
        ),
        (
            b"GET /v1/wallets/w1 HTTP/9\r\nHost: localhost\r\n\r\n",
            400,
            "Invalid HTTP request",
            "the HTTP version is not HTTP/1.0 or HTTP/1.1",
        ),
        (
            b"GET /v1/wallets/w1 HTTP/1.1\r\nBad Header: x\r\n\r\n",
            400,
            "Invalid HTTP request",
            "the header name 'Bad Header' has a character a header name cannot have",
        ),
        (
            b"POST /v1/wallets HTTP/1.1\r\nHost: localhost\r\nContent-Length: ten\r\n\r\n",
            400,
            "Invalid HTTP request",
            "Content-Length is not a whole number of bytes",
        ),
        (
            b"POST /v1/wallets HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            400,
            "Invalid HTTP request",
            "Content-Length is given more than once",
        ),
        (
            b"POST /v1/wallets HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n",
            400,
            "Invalid HTTP request",
            "the chunked body is malformed: each chunk starts with its size in hexadecimal",
        ),
        (
            b"FETCH /v1/wallets HTTP/1.1\r\nHost: localhost\r\n\r\n",
            501,
            "Method not implemented",
            "unknown HTTP method FETCH",
        ),
        (
            b"GET /v1/wallets/w1 HTTP/1.1\r\nx-api-key: k\r\n\r\n",
            400,
            "Invalid HTTP request",
            "an HTTP/1.1 request needs a Host header",
        ),
        (
            GET + b"Host: elsewhere.test\r\n\r\n",
            400,
            "Invalid HTTP request",
            "the Host header is given more than once",
        ),
        (
            b"GET /v1/" + b"w" * MAX_URL_BYTES + b" HTTP/1.1\r\nHost: localhost\r\n\r\n",
            414,
            "Request URI too long",
            f"the URL is over {MAX_URL_BYTES} bytes",
        ),
        (
            GET + b"X-Padding: " + b"p" * MAX_HEADER_BYTES + b"\r\n\r\n",
            431,
            "Request header fields too large",
            f"the headers are over {MAX_HEADER_BYTES} bytes",
        ),
        (
            GET + b"".join(b"X-Many-%d: %s\r\n" % (n, b"p" * 100) for n in range(1000)) + b"\r\n",
            431,
            "Request header fields too large",
            f"the headers are over {MAX_HEADER_BYTES} bytes",
        ),
    ],
    ids=[
        "not-http",
        "raw-utf8-path",
        "bad-version",
        "bad-header-name",
        "bad-content-length",
        "two-content-lengths",
        "bad-chunk-size",
        "unknown-method",
        "http11-without-host",
        "two-hosts",
        "url-too-long",
        "header-too-large",
        "too-many-headers",
    ],
)
def test_a_request_that_is_not_sound_http_gets_the_versions_error_body(served, raw, status, message, reason):
    version, address = served
    assert_refusal(version, exchange(address, raw), status, message, reason)


def test_a_client_still_sending_after_the_refusal_gets_it_and_no_reset(served):
    """Refused after 64 KiB of headers, a client that goes on sending (half a megabyte in all)
    still reads the whole 431: the server reads and drops the rest before it closes, so the
    socket is not reset under the answer."""
    version, address = served
    with socket.create_connection(address, timeout=5) as sock:
        sock.sendall(GET)
        for _ in range(32):
            sock.sendall(b"X-Padding: " + b"p" * 16_000 + b"\r\n")
        answer = read_to_end(sock)
    assert_refusal(
        version,
        answer,
        431,
        "Request header fields too large",
        f"the headers are over {MAX_HEADER_BYTES} bytes",
    )


def test_http10_without_host_is_served_as_http_allows(served):
    version, address = served
    status, headers, body = parse(exchange(address, b"GET /v1/wallets/w1 HTTP/1.0\r\nx-api-key: k\r\n\r\n"))
    assert status == 404 and headers["content-type"] == "application/json"
    contract(version).assert_conforms("GET", "/v1/wallets/w1", status, headers["content-type"], body)


def test_a_refused_request_leaves_no_world_behind(served):
    """Refused below the app, a request never reaches a world: its key has none afterwards."""
    _, address = served
    raw = (
        b"POST /v1/customers HTTP/1.1\r\nHost: localhost\r\nx-api-key: k-refused\r\n"
        b"Content-Length: x\r\n\r\n{}"
    )
    assert parse(exchange(address, raw))[0] == 400
    state = exchange(
        address,
        b"GET /_mock/state HTTP/1.1\r\nHost: localhost\r\nx-api-key: k-refused\r\nConnection: close\r\n\r\n",
        5,
    )
    assert b'"customers":[]' in state.replace(b" ", b"")


def test_slow_and_idle_connections_are_closed_on_time_while_others_are_served(served):
    """Ten clients sending their head a byte at a time get a 408 once the request timeout passes;
    twenty connections that never send a byte are closed after the idle timeout; meanwhile every
    normal request is answered."""
    version, address = served
    slow = [socket.create_connection(address, timeout=5) for _ in range(10)]
    idle = [socket.create_connection(address, timeout=5) for _ in range(20)]
    head = GET + b"\r\n"
    started = time.monotonic()
    try:
        served_meanwhile = 0
        for n in range(8):  # ~0.8 s: within the timeout, the slow ones are still dribbling
            for sock in slow:
                sock.sendall(head[n : n + 1])
            answer = exchange(address, GET + b"Connection: close\r\n\r\n")
            served_meanwhile += parse(answer)[0] == 404
            time.sleep(0.1)
        assert served_meanwhile == 8
        for sock in slow:
            assert_refusal(
                version,
                read_to_end(sock),
                408,
                "Request timeout",
                f"the request did not arrive whole within {TIMEOUT} s",
            )
        assert [read_to_end(sock) for sock in idle] == [b""] * 20
        assert time.monotonic() - started < 4 * TIMEOUT
    finally:
        for sock in slow + idle:
            sock.close()


def read_answers(sock: socket.socket, count: int) -> list[tuple[int, dict[str, str], bytes]]:
    """Read ``count`` answers off a kept-alive connection (each framed by its Content-Length)."""
    buffer, answers = b"", []
    while len(answers) < count:
        while b"\r\n\r\n" not in buffer:
            chunk = sock.recv(65536)
            assert chunk, f"the connection closed after {len(answers)} answers"
            buffer += chunk
        head, _, buffer = buffer.partition(b"\r\n\r\n")
        status, headers, _ = parse(head + b"\r\n\r\n")
        size = int(headers["content-length"])
        while len(buffer) < size:
            chunk = sock.recv(65536)
            assert chunk, "the connection closed inside an answer"
            buffer += chunk
        answers.append((status, headers, buffer[:size]))
        buffer = buffer[size:]
    return answers


def request(method: str, path: str, body: bytes = b"", key: bytes = b"k-transport", **extra: str) -> bytes:
    head = b"%s %s HTTP/1.1\r\nHost: localhost\r\nx-api-key: %s\r\n" % (method.encode(), path.encode(), key)
    for name, value in extra.items():
        head += b"%s: %s\r\n" % (name.replace("_", "-").encode(), value.encode())
    if body:
        head += b"Content-Type: application/json\r\nContent-Length: %d\r\n" % len(body)
    return head + b"\r\n" + body


def test_pipelined_requests_are_answered_in_order_even_behind_a_held_one(served):
    """Three requests in one write: the first is held 300 ms by a fault, yet the answers come in
    the order asked, on the one connection, which stays open."""
    _, address = served
    customer = json.dumps({"external_id": "pipelined", "name": "pipelined"}).encode()
    with socket.create_connection(address, timeout=5) as sock:
        sock.sendall(
            request("GET", "/v1/wallets/w1", X_Mock_Fault="latency=300ms")
            + request("POST", "/v1/customers", customer)
            + request("GET", "/_mock/health")
        )
        started = time.monotonic()
        answers = read_answers(sock, 3)
        assert time.monotonic() - started >= 0.3
        assert [status for status, _, _ in answers] == [404, 201, 200]
        assert json.loads(answers[1][2])["external_id"] == "pipelined"
        assert json.loads(answers[2][2])["status"] == "ok"
        assert all(headers.get("connection") != "close" for _, headers, _ in answers)
        sock.sendall(request("GET", "/_mock/health"))  # still open for the next one
        assert read_answers(sock, 1)[0][0] == 200


def test_expect_100_continue_gets_its_go_ahead_before_the_body(served):
    _, address = served
    body = json.dumps({"external_id": "expecting", "name": "expecting"}).encode()
    with socket.create_connection(address, timeout=5) as sock:
        head = request("POST", "/v1/customers", body, Expect="100-continue").removesuffix(body)
        sock.sendall(head)
        assert sock.recv(64) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(body)
        status, _, answer = read_answers(sock, 1)[0]
    assert status in (200, 201) and json.loads(answer)["external_id"] == "expecting"


def test_a_chunked_body_is_read_whole(served):
    _, address = served
    body = json.dumps({"external_id": "chunked", "name": "chunked"}).encode()
    head = request("POST", "/v1/customers").removesuffix(b"\r\n")
    raw = head + b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    raw += b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:5], body[5:])) + b"0\r\n\r\n"
    with socket.create_connection(address, timeout=5) as sock:
        sock.sendall(raw)
        status, _, answer = read_answers(sock, 1)[0]
    assert status in (200, 201) and json.loads(answer)["external_id"] == "chunked"


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_past_the_limit_is_a_413_read_whole_by_a_client_still_sending(served, chunked):
    """A body over the limit is answered 413 at once (from its declared length, or when the
    chunks pass the limit); the client that goes on sending still reads the whole answer, and
    nothing is created."""
    version, address = served
    limit = 1024 * 1024
    head = request("POST", "/v1/customers", key=b"k-too-large").removesuffix(b"\r\n")
    if chunked:
        head += b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        piece = b"a" * 65536
        parts = [b"%x\r\n%s\r\n" % (len(piece), piece)] * 24
    else:
        head += b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % (limit * 2)
        parts = [b"a" * 65536] * 24
    with socket.create_connection(address, timeout=5) as sock:
        sock.sendall(head)
        try:
            for part in parts:
                sock.sendall(part)
        except (BrokenPipeError, ConnectionResetError):  # the server stopped reading: fine
            pass
        status, headers, body = parse(read_to_end(sock))
    assert status == 413 and headers["connection"] == "close"
    contract(version).assert_conforms("POST", "/v1/customers", status, headers["content-type"], body)
    state = exchange(address, request("GET", "/_mock/state", key=b"k-too-large", Connection="close"))
    assert b'"customers":[]' in state.replace(b" ", b"")


def test_http10_and_connection_close_end_the_connection_after_the_answer(served):
    _, address = served
    for raw in (
        b"GET /_mock/health HTTP/1.0\r\n\r\n",
        request("GET", "/_mock/health", Connection="close"),
    ):
        status, headers, body = parse(exchange(address, raw))
        assert (status, headers["connection"], json.loads(body)["status"]) == (200, "close", "ok")


def test_a_client_done_sending_still_gets_its_answer(served):
    """A client that half-closes after its request (shutdown of its sending side) is answered."""
    _, address = served
    with socket.create_connection(address, timeout=5) as sock:
        sock.sendall(request("GET", "/v1/wallets/w1", X_Mock_Fault="latency=100ms"))
        sock.shutdown(socket.SHUT_WR)
        status, _, _ = parse(read_to_end(sock))
    assert status == 404


def test_an_upgrade_request_is_answered_as_plain_http_then_closed(served):
    _, address = served
    http2 = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"  # what follows an h2c upgrade's head
    raw = request("GET", "/_mock/health", Connection="Upgrade", Upgrade="h2c") + http2
    status, headers, body = parse(exchange(address, raw))
    assert (status, headers["connection"], json.loads(body)["status"]) == (200, "close", "ok")


def test_an_absolute_form_target_is_routed_by_its_path(served):
    _, address = served
    raw = b"GET http://localhost/_mock/health?x=1 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    status, _, body = parse(exchange(address, raw))
    assert (status, json.loads(body)["status"]) == (200, "ok")


def test_a_stop_lets_a_held_request_finish_and_then_takes_no_more(served):
    """A graceful stop: the request in hand (held 500 ms by a fault) is answered, and its
    connection closes after it; the listening socket is closed at once."""
    version, _ = served
    server = BackgroundServer(Suite(version).create_app(log_requests=False))
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(request("GET", "/v1/wallets/w1", X_Mock_Fault="latency=500ms"))
        time.sleep(0.1)
        stopping = threading.Thread(target=server.stop)
        stopping.start()
        time.sleep(0.1)
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((host, int(port)), timeout=1)
        status, headers, _ = parse(read_to_end(sock))
        stopping.join()
    assert (status, headers["connection"]) == (404, "close")


def test_a_header_name_with_an_underscore_is_dropped_not_read_as_its_dashed_twin(served):
    """``X_Api_Key`` is not ``x-api-key`` (nor ``Content_Length`` the body's length): such names are
    dropped, as Django's runserver, nginx and gunicorn do, so the request has no key at all."""
    version, address = served
    raw = b"GET /v1/wallets/w1 HTTP/1.1\r\nHost: localhost\r\nX_Api_Key: k\r\nConnection: close\r\n\r\n"
    status, headers, body = parse(exchange(address, raw))
    assert status == 401, body
    contract(version).assert_conforms("GET", "/v1/wallets/w1", status, headers["content-type"], body)


def test_http10_keep_alive_is_kept_and_said(served):
    """HTTP/1.0 asking keep-alive gets ``Connection: keep-alive`` and a second answer on the same
    connection; without asking, it gets ``Connection: close`` (see the test above)."""
    _, address = served
    with socket.create_connection(address, timeout=5) as sock:
        for _ in range(2):
            sock.sendall(b"GET /_mock/health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            status, headers, body = read_answers(sock, 1)[0]
            assert (status, headers["connection"], json.loads(body)["status"]) == (200, "keep-alive", "ok")


def test_http10_gets_no_100_continue(served):
    """RFC 9110 10.1.1: Expect is ignored on HTTP/1.0, so its only answer is the final one."""
    _, address = served
    body = json.dumps({"external_id": "expecting-10", "name": "expecting-10"}).encode()
    raw = request("POST", "/v1/customers", body, Expect="100-continue").replace(b"HTTP/1.1", b"HTTP/1.0", 1)
    answer = exchange(address, raw)
    assert answer.startswith(b"HTTP/1.1 201 ") or answer.startswith(b"HTTP/1.1 200 "), answer[:100]
    assert b"100 Continue" not in answer


def test_a_pipelined_request_expecting_100_gets_it_after_the_answers_before_it(served):
    """A request that waits for 100 Continue behind one held 300 ms gets it once the held answer
    is out, then sends its body and is answered."""
    _, address = served
    body = json.dumps({"external_id": "expecting-late", "name": "expecting-late"}).encode()
    second = request("POST", "/v1/customers", body, Expect="100-continue").removesuffix(body)
    with socket.create_connection(address, timeout=5) as sock:
        sock.sendall(request("GET", "/v1/wallets/w1", X_Mock_Fault="latency=300ms") + second)
        received = b""
        while not received.endswith(CONTINUE):
            chunk = sock.recv(65536)
            assert chunk, received
            received += chunk
        assert parse(received.removesuffix(CONTINUE))[0] == 404
        sock.sendall(body)
        status, _, answer = read_answers(sock, 1)[0]
    assert status in (200, 201) and json.loads(answer)["external_id"] == "expecting-late"


def test_a_204_has_no_content_length(served):
    """deleteCustomer's 204: RFC 9110 8.6, a server sends no Content-Length with a 204."""
    _, address = served
    body = json.dumps({"external_id": "to-delete", "name": "to-delete"}).encode()
    with socket.create_connection(address, timeout=5) as sock:
        sock.sendall(request("POST", "/v1/customers", body))
        created = json.loads(read_answers(sock, 1)[0][2])
        sock.sendall(request("DELETE", f"/v1/customers/{created['id']}", Connection="close"))
        answer = read_to_end(sock)
    status, headers, rest = parse(answer)
    assert (status, rest) == (204, b"")
    assert "content-length" not in headers


def test_a_head_just_within_both_limits_is_served_even_in_small_pieces(served):
    """A URL of nearly 8 KiB and headers of nearly 64 KiB, sent 1 KiB at a time (so the raw count
    of a head still arriving sees all of it but the first piece), is served, not refused."""
    _, address = served
    path = b"/v1/wallets/w1?pad=" + b"p" * (MAX_URL_BYTES - 32)
    head = b"GET %s HTTP/1.1\r\nHost: localhost\r\nx-api-key: k\r\nConnection: close\r\n" % path
    room = MAX_HEADER_BYTES - 200  # what the headers above take, with the parser's 4 bytes a line
    head += b"".join(b"X-Pad-%03d: %s\r\n" % (n, b"v" * 990) for n in range(room // 1004)) + b"\r\n"
    with socket.create_connection(address, timeout=5) as sock:
        for start in range(0, len(head), 1024):
            sock.sendall(head[start : start + 1024])
        status, _, _ = parse(read_to_end(sock))
    assert status == 404
