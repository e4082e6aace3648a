"""``flexprice-mock health``: exit 0 when the sandbox on the configured port is healthy, 1 with one
line saying why not; it follows ``--port`` or ``FLEXPRICE_MOCK_PORT`` (a container's HEALTHCHECK
runs it with the container's environment)."""

from __future__ import annotations

import socket
import subprocess
import threading
import time

import pytest

from mockserver.cli import main
from mockserver.http.server import BackgroundServer

from .support import Suite

SUITE = Suite("2026-08-22")


@pytest.fixture(scope="module")
def sandbox():
    server = BackgroundServer(SUITE.create_app(log_requests=False))
    yield server
    server.stop()


def port_of(server: BackgroundServer) -> str:
    return server.url.rpartition(":")[2]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_healthy_sandbox_exits_0_and_says_what_answers(sandbox, capsys, monkeypatch):
    port = port_of(sandbox)
    assert main(["health", "--port", port]) == 0
    assert capsys.readouterr().out == (
        f"ok: Flexprice API 2026-08-22 on http://127.0.0.1:{port} (memory, 0 worlds)\n"
    )
    # The server's own settings: the port from the environment, a wildcard host asked on loopback.
    monkeypatch.setenv("FLEXPRICE_MOCK_PORT", port)
    monkeypatch.setenv("FLEXPRICE_MOCK_HOST", "0.0.0.0")
    assert main(["health"]) == 0
    assert f"on http://127.0.0.1:{port} " in capsys.readouterr().out


def test_nothing_listening_exits_1_with_one_line(capsys):
    port = closed_port()
    assert main(["health", "--port", str(port), "--timeout", "1"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"flexprice-mock health: nothing answers on http://127.0.0.1:{port} (Connection refused)\n"
    )


def test_a_sandbox_whose_store_is_away_is_unhealthy(capsys):
    server = BackgroundServer(
        SUITE.create_app(log_requests=False, store=f"redis://127.0.0.1:{closed_port()}/0")
    )
    try:
        assert main(["health", "--port", port_of(server)]) == 1
        err = capsys.readouterr().err
        assert err.startswith(f"flexprice-mock health: http://127.0.0.1:{port_of(server)} is unhealthy: 503 ")
        assert "Redis" in err and err.count("\n") == 1
    finally:
        server.stop()


def test_something_else_on_the_port_is_not_the_sandbox(capsys):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]

    def answer() -> None:
        connection, _ = listener.accept()
        connection.recv(4096)
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")
        connection.close()

    threading.Thread(target=answer, daemon=True).start()
    try:
        assert main(["health", "--port", str(port)]) == 1
        assert capsys.readouterr().err == (
            f"flexprice-mock health: http://127.0.0.1:{port}/_mock/health answered 200, "
            "not the sandbox's health\n"
        )
    finally:
        listener.close()


def test_wait_keeps_asking_until_the_sandbox_is_up(capsys):
    port = closed_port()
    started: list[BackgroundServer] = []

    def start_later() -> None:
        time.sleep(0.5)
        started.append(BackgroundServer(SUITE.create_app(log_requests=False), port=port))

    threading.Thread(target=start_later).start()
    try:
        assert main(["health", "--port", str(port), "--wait", "20"]) == 0
        assert capsys.readouterr().out.startswith("ok: ")
    finally:
        deadline = time.monotonic() + 20
        while not started and time.monotonic() < deadline:
            time.sleep(0.05)
        for server in started:
            server.stop()


def test_a_bad_port_is_said_in_one_line(capsys):
    assert main(["health", "--port", "eighty"]) == 2
    assert capsys.readouterr().err == "flexprice-mock health: --port must be from 1 to 65535, not 'eighty'\n"


def test_the_installed_command_answers(sandbox):
    done = subprocess.run(
        ["flexprice-mock", "health", "--port", port_of(sandbox)], capture_output=True, text=True, timeout=30
    )
    assert (done.returncode, done.stdout.startswith("ok: Flexprice API 2026-08-22"), done.stderr) == (
        0,
        True,
        "",
    )
