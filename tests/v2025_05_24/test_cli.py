"""The command line: start on a port, answer health, log without whole keys, stop on SIGTERM."""

import os
import signal
import socket
import subprocess
import sys
import time

import requests

from .contract import assert_conforms


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(*args, env=None):
    return subprocess.Popen(
        [sys.executable, "-m", "mockserver", *args],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
        text=True,
    )


def wait_healthy(port: int, process, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read()
        try:
            reply = requests.get(f"http://127.0.0.1:{port}/_mock/health", timeout=0.5)
            if reply.status_code == 200:
                return reply
        except requests.ConnectionError:
            time.sleep(0.05)
    raise AssertionError("server did not become healthy")


def test_serves_logs_masked_keys_and_stops_cleanly_on_sigterm():
    port = free_port()
    process = start(env={"FLEXPRICE_MOCK_PORT": str(port)})
    try:
        assert wait_healthy(port, process).json()["status"] == "ok"
        key = "sk_live_supersecretvalue_1234"
        body = {"customer_id": "cust_1", "currency": "usd"}
        reply = requests.post(f"http://127.0.0.1:{port}/v1/wallets", json=body, headers={"x-api-key": key})
        assert reply.status_code == 200 and reply.json()["currency"] == "usd"
        assert_conforms(
            "POST", "/v1/wallets", reply.status_code, reply.headers["Content-Type"], reply.content
        )
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    log = process.stderr.read()
    assert "POST /v1/wallets 200" in log
    assert key not in log and "sk_l…1234" in log
    assert "shutting down" in log


def test_flags_win_over_environment_and_bad_spec_stops_the_start(tmp_path):
    port = free_port()
    process = start("--port", str(port), env={"FLEXPRICE_MOCK_PORT": "1"})
    try:
        wait_healthy(port, process)
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
    broken = tmp_path / "broken.yaml"
    broken.write_text("paths: [unclosed")
    result = subprocess.run(
        [sys.executable, "-m", "mockserver", "--spec", str(broken)],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert result.returncode == 2
    assert "broken.yaml is not valid YAML" in result.stderr


def test_help_lists_the_options():
    result = subprocess.run(
        [sys.executable, "-m", "mockserver", "--help"], capture_output=True, text=True, timeout=20
    )
    assert result.returncode == 0
    for option in ("--host", "--port", "--spec", "FLEXPRICE_MOCK_"):
        assert option in result.stdout


def test_a_taken_port_is_a_clear_error():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "mockserver", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=20,
        )
    assert result.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in result.stderr
