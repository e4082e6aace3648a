"""Bad configuration stops the start: one line on stderr naming what is wrong, exit code 2, no
traceback, and nothing served."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from mockserver.state import persist


def run(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("FLEXPRICE_MOCK_")}
    return subprocess.run(
        [sys.executable, "-m", "mockserver", "--port", "0", *args],
        capture_output=True,
        text=True,
        env={**environ, **(env or {})},
        cwd=cwd,
        timeout=30,
    )


def assert_refused_start(result: subprocess.CompletedProcess, *named: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("flexprice-mock: "), lines[0]
    assert "Traceback" not in result.stderr
    for text in named:
        assert text in lines[0]


@pytest.mark.parametrize(
    "args, named",
    [
        (("--port", "eighty"), ("--port", "'eighty'")),
        (("--api-version", "2024-01-01"), ("--api-version", "2024-01-01")),
        (("--no-such-flag",), ("--no-such-flag",)),
        (("--idle-timeout", "0"), ("--idle-timeout", "at least 1")),
        (("--request-timeout", "-5"), ("--request-timeout", "at least 1")),
        (("--max-body-bytes", "0"), ("--max-body-bytes", "at least 1")),
        (("--state-save-interval", "-1"), ("--state-save-interval", "at least 0")),
        (("--port", "70000"), ("--port", "65535")),
        (("--spec", "/nonexistent/openapi.yaml"), ("/nonexistent/openapi.yaml",)),
        (("--faults", "/nonexistent/faults.yaml"), ("/nonexistent/faults.yaml", "cannot be read")),
        (("--fixtures", "/nonexistent/fixtures"), ("/nonexistent/fixtures",)),
    ],
)
def test_a_bad_flag_stops_the_start_in_one_line(args, named):
    assert_refused_start(run(*args), *named)


def test_a_bad_environment_value_is_named_as_its_variable():
    result = run(env={"FLEXPRICE_MOCK_IDLE_TIMEOUT": "soon"})
    assert_refused_start(result, "FLEXPRICE_MOCK_IDLE_TIMEOUT", "'soon'")


def test_unreadable_and_broken_files_are_named(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text("paths: [unclosed")
    assert_refused_start(run("--spec", str(spec)), str(spec), "not valid YAML")
    faults = tmp_path / "faults.yaml"
    faults.write_text("- status: 999\n")
    assert_refused_start(run("--faults", str(faults)), str(faults))
    fixtures = tmp_path / "fixtures"
    fixtures.mkdir()
    (fixtures / "bad.yaml").write_text("customers: [{name: no external id}]\n")
    assert_refused_start(run("--fixtures", str(fixtures)), "bad.yaml")


def test_a_taken_port_is_named():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run("--port", str(port))
    assert_refused_start(result, f"127.0.0.1:{port}", "Address already in use")


def test_a_state_file_of_another_version_is_refused_and_kept(tmp_path):
    path = tmp_path / "worlds.json"
    document = {"format": persist.FORMAT, "api_version": "2025-05-24", "worlds": []}
    path.write_text(json.dumps(document))
    before = path.read_bytes()
    result = run("--state-file", str(path), "--api-version", "2026-08-22")
    assert_refused_start(result, str(path), "written by API version 2025-05-24", "serves 2026-08-22")
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    "content, problem",
    [
        (b'{"format": "flexprice-mock-worlds/1", "api_version": "2026-08-22", "worl', "damaged"),
        (b"\xff\xfe not text", "damaged"),
        (b'{"hello": "world"}', "not a state file"),
        (
            b'{"format": "flexprice-mock-worlds/1", "api_version": "2026-08-22", "worlds": '
            b'[{"api_key": "k", "state": {"format": "flexprice-mock-state/2", "api_version": "2026-08-22", '
            b'"wallets": [{"id": 1}]}}]}',
            "worlds[0].state.",
        ),
    ],
)
def test_a_damaged_state_file_stops_the_start_and_is_never_overwritten(tmp_path, content, problem):
    path = tmp_path / "worlds.json"
    path.write_bytes(content)
    result = run("--state-file", str(path))
    assert_refused_start(result, str(path), problem)
    assert path.read_bytes() == content
    assert [p.name for p in tmp_path.iterdir()] == ["worlds.json"]  # no temporary file left


def test_an_unreadable_state_file_is_named(tmp_path):
    path = tmp_path / "worlds.json"
    path.mkdir()  # a directory where the file should be: unreadable as a file, even for root
    assert_refused_start(run("--state-file", str(path)), str(path), "cannot read")
