"""Choosing the API version from the command line and the environment: the default, `latest`,
an unknown one refused in one line, and the start-up line and health naming what is served."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
import requests

from mockserver import api

from .v2025_05_24.test_cli import free_port, wait_healthy


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k != "FLEXPRICE_MOCK_API_VERSION"}
    return subprocess.run(
        [sys.executable, "-m", "mockserver", *args],
        capture_output=True,
        text=True,
        env={**environ, **(env or {})},
        timeout=30,
    )


def test_help_names_the_versions_and_the_default():
    out = run("--help").stdout
    assert "--api-version VERSION" in out
    assert "serving API version 2026-08-22 by default (also: 2025-05-24)" in " ".join(out.split())
    assert api.DEFAULT == api.LATEST == "2026-08-22"


@pytest.mark.parametrize(
    "args, env, shown",
    [
        (("--api-version", "2024-01-01"), {}, "'2024-01-01'"),
        ((), {"FLEXPRICE_MOCK_API_VERSION": "v2"}, "'v2'"),
    ],
)
def test_an_unknown_version_stops_the_start_in_one_line(args, env, shown):
    result = run(*args, env=env)
    assert result.returncode == 2
    assert result.stderr == (
        f"flexprice-mock: --api-version: unknown API version {shown} "
        "(known: 2025-05-24, 2026-08-22, latest)\n"
    )


@pytest.mark.parametrize(
    "args, env, served",
    [
        ((), {}, "2026-08-22"),
        (("--api-version", "latest"), {}, "2026-08-22"),
        ((), {"FLEXPRICE_MOCK_API_VERSION": "2025-05-24"}, "2025-05-24"),
        (("--api-version", "2025-05-24"), {"FLEXPRICE_MOCK_API_VERSION": "2026-08-22"}, "2025-05-24"),
    ],
)
def test_the_start_up_line_and_health_name_the_version_served(args, env, served):
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if k != "FLEXPRICE_MOCK_API_VERSION"}
    process = subprocess.Popen(
        [sys.executable, "-m", "mockserver", "--port", str(port), "--no-fixtures", *args],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env={**environ, **env},
    )
    try:
        assert wait_healthy(port, process).json()["api_version"] == served
        # Decimals tell the versions apart on the wire: strings now, numbers before.
        wallet = requests.post(
            f"http://127.0.0.1:{port}/v1/wallets",
            headers={"x-api-key": "sk_v"},
            json={"customer_id": "cust_1", "currency": "usd"},
            timeout=5,
        ).json()
        assert wallet["balance"] == ("0" if served == "2026-08-22" else 0)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
    assert f"serving Flexprice API {served} on http://127.0.0.1:{port}/v1" in process.stderr.read()


@pytest.mark.parametrize(
    "args, env, line",
    [
        ((), {"FLEXPRICE_MOCK_PORT": "abc"}, "FLEXPRICE_MOCK_PORT='abc' is not a valid int"),
        (
            (),
            {"FLEXPRICE_MOCK_VALIDATE_RESPONSES": "maybe"},
            "FLEXPRICE_MOCK_VALIDATE_RESPONSES='maybe' is not a valid bool",
        ),
        (
            ("--webhook-url", "ftp://x"),
            {},
            "--webhook-url: must be an http or https URL with a host, not 'ftp://x'",
        ),
        (
            ("--webhook-url", "http://x", "--webhook-secret", "abc"),
            {},
            "--webhook-secret: must start with whsec_",
        ),
    ],
)
def test_a_bad_setting_stops_the_start_in_one_line_naming_it(args, env, line):
    result = run(*args, env=env)
    assert (result.returncode, result.stderr) == (2, f"flexprice-mock: {line}\n")


def test_the_package_has_one_version_number():
    from pathlib import Path

    import tomllib

    import mockserver

    declared = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    assert mockserver.__version__ == declared["project"]["version"]
