"""Hostile request heads against a sandbox in a process of its own, over real sockets.

The server runs every request on one event loop, so work on a refused head stalls every client:
these tests time a refusal and another client's request side by side. In one process the GIL
would hide the stall (the test's threads would wait on the server's), hence the second process.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mockserver import api as versions
from mockserver.http.server import MAX_HEADER_BYTES, listen

from .test_transport import GET, assert_refusal, parse, read_to_end

ROOT = Path(__file__).resolve().parent.parent
REQUEST_TIMEOUT = 6  # seconds: long enough that a 408 is never mistaken for a prompt refusal
PROMPT = 1.0  # seconds: what "answered promptly" means here, on a shared 2-core machine

SERVE = """
import socket, sys
import mockserver
from mockserver.http.server import sandbox_server
sock = socket.socket(fileno=int(sys.argv[1]))
app = mockserver.create_app(
    api_version=sys.argv[2], log_requests=False, request_timeout=float(sys.argv[3]), idle_timeout=30
)
print("ready", flush=True)
sandbox_server(app).run([sock])
"""


class Apart:
    """A sandbox served by a child process on a socket opened here."""

    def __init__(self, version: str):
        sock = listen("127.0.0.1", 0)
        self.address = sock.getsockname()
        self.process = subprocess.Popen(
            [sys.executable, "-c", SERVE, str(sock.fileno()), version, str(REQUEST_TIMEOUT)],
            pass_fds=[sock.fileno()],
            cwd=ROOT,
            stdout=subprocess.PIPE,
        )
        sock.close()
        assert self.process.stdout is not None and self.process.stdout.readline() == b"ready\n"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # the loop is up once a request is answered
            try:
                if self.get_health() is not None:
                    break
            except OSError:
                time.sleep(0.05)

    def get_health(self, timeout: float = 5) -> float | None:
        """Seconds a plain request took to be answered 200 (None: answered otherwise)."""
        started = time.monotonic()
        with socket.create_connection(self.address, timeout=timeout) as sock:
            sock.sendall(b"GET /_mock/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            status = parse(read_to_end(sock))[0]
        return time.monotonic() - started if status == 200 else None

    def rss_bytes(self) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS")

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


@pytest.fixture(scope="module", params=list(versions.VERSIONS))
def apart(request):
    server = Apart(request.param)
    yield request.param, server
    server.stop()


class Prober(threading.Thread):
    """Times a plain request every 50 ms while a test goes on."""

    def __init__(self, server: Apart):
        super().__init__(daemon=True)
        self.server = server
        self.times: list[float] = []
        self.failures: list[str] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            try:
                took = self.server.get_health(timeout=10)
                if took is None:
                    self.failures.append("not 200")
                else:
                    self.times.append(took)
            except OSError as exc:
                self.failures.append(repr(exc))
            time.sleep(0.05)

    def finish(self) -> list[float]:
        self.done.set()
        self.join(15)
        assert not self.failures, self.failures
        assert self.times, "no request was answered meanwhile"
        return self.times


def test_a_header_value_of_spaces_ending_in_a_control_byte_is_refused_at_once(apart):
    """64 KB of spaces and a control byte in a header value: a 400 naming the header within a
    second, while another client's request is answered promptly (wording the refusal once took
    time growing with the cube of the spaces, on the loop every client shares)."""
    version, server = apart
    prober = Prober(server)
    prober.start()
    time.sleep(0.1)
    started = time.monotonic()
    with socket.create_connection(server.address, timeout=10) as sock:
        sock.sendall(GET + b"X-A: " + b" " * 65_000 + b"\x01\r\n\r\n")
        answer = read_to_end(sock)
    took = time.monotonic() - started
    time.sleep(0.2)
    times = prober.finish()
    assert_refusal(
        version,
        answer,
        400,
        "Invalid HTTP request",
        "the value of header 'X-A' has a character a header value cannot have",
    )
    assert took < PROMPT, took
    assert max(times) < PROMPT, times


def flood(server: Apart, results: list, sent_at_most: int) -> None:
    """One client sending a header line that never ends, in 64 KiB pieces, until the server stops
    reading or ``sent_at_most`` bytes are out; then what it answered, and when."""
    started = time.monotonic()
    piece = b"a" * 65536
    with socket.create_connection(server.address, timeout=10) as sock:
        try:
            sock.sendall(GET + b"X-Endless: ")
            for _ in range(sent_at_most // len(piece)):
                sock.sendall(piece)
            sock.shutdown(socket.SHUT_WR)
        except OSError:  # the server closed: its answer is still to be read
            pass
        try:
            answer = read_to_end(sock)
        except ConnectionResetError:
            answer = b""
    results.append((time.monotonic() - started, answer))


def test_header_lines_that_never_end_are_refused_431_without_holding_them(apart):
    """Eight clients each sending a header line without end get a 431 as soon as their head
    passes the head limit (MAX_HEAD_BYTES, not at the request timeout), the server's memory
    stays near where it was, and another client is served promptly meanwhile."""
    version, server = apart
    before = server.rss_bytes()
    prober = Prober(server)
    prober.start()
    results: list = []
    clients = [threading.Thread(target=flood, args=(server, results, 16 * 1024 * 1024)) for _ in range(8)]
    for client in clients:
        client.start()
    for client in clients:
        client.join(30)
    grown = server.rss_bytes() - before
    times = prober.finish()
    assert len(results) == 8
    for took, answer in results:
        assert_refusal(
            version,
            answer,
            431,
            "Request header fields too large",
            f"the headers are over {MAX_HEADER_BYTES} bytes",
        )
        assert took < REQUEST_TIMEOUT / 2, took
    assert grown < 32 * 1024 * 1024, grown
    assert max(times) < PROMPT, times
