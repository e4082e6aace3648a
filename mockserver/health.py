"""``flexprice-mock health``: does the sandbox on the configured address answer, and is it well?

For container health checks, CI readiness waits and scripts, with nothing but Python (no curl):
exit 0 when ``GET /_mock/health`` answers ok, 1 with one line saying why not. It reads the same
settings as the server (``--host``/``--port``, else ``FLEXPRICE_MOCK_HOST``/``FLEXPRICE_MOCK_PORT``),
so it follows the port wherever it was configured. Deliberately light: the standard library only.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sys
import time

HEALTH_PATH = "/_mock/health"
# Where a server listening on every interface is reached from its own machine.
WILDCARDS = {"0.0.0.0": "127.0.0.1", "::": "::1", "[::]": "::1", "": "127.0.0.1"}


def probe(host: str, port: int, timeout: float) -> tuple[bool, str]:
    """(healthy, one line) of the sandbox at ``host``:``port``."""
    target = WILDCARDS.get(host.strip(), host.strip().strip("[]"))
    shown = f"http://{f'[{target}]' if ':' in target else target}:{port}"
    connection = http.client.HTTPConnection(target, port, timeout=timeout)
    try:
        connection.request("GET", HEALTH_PATH)
        answer = connection.getresponse()
        raw = answer.read(64 * 1024)
    except (OSError, http.client.HTTPException) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or type(exc).__name__
        return False, f"nothing answers on {shown} ({reason})"
    finally:
        connection.close()
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return False, f"{shown}{HEALTH_PATH} answered {answer.status}, not the sandbox's health"
    if answer.status != 200 or body.get("status") != "ok":
        problem = body.get("problem") or body.get("status")
        return False, f"{shown} is unhealthy: {answer.status} {problem}"
    store = body.get("store", "memory")
    return (
        True,
        f"ok: Flexprice API {body.get('api_version')} on {shown} ({store}, {body.get('worlds')} worlds)",
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="flexprice-mock health",
        description="Exit 0 when the sandbox at the configured host and port answers its health "
        "check, 1 otherwise (one line says why).",
    )
    parser.add_argument("--host", default=os.environ.get("FLEXPRICE_MOCK_HOST") or "127.0.0.1")
    parser.add_argument("--port", default=os.environ.get("FLEXPRICE_MOCK_PORT") or "8080")
    parser.add_argument(
        "--timeout", type=float, default=2.0, help="seconds to wait for the answer (default 2)"
    )
    parser.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="keep asking until healthy, for at most this long (a readiness wait; default: ask once)",
    )
    args = parser.parse_args(argv)
    if not str(args.port).isdigit() or not 0 < int(args.port) <= 65535:
        print(
            f"flexprice-mock health: --port must be from 1 to 65535, not {args.port!r}",
            file=sys.stderr,
        )
        return 2
    deadline = time.monotonic() + max(args.wait, 0.0)
    while True:
        healthy, line = probe(args.host, int(args.port), args.timeout)
        if healthy or time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    print(line if healthy else f"flexprice-mock health: {line}", file=sys.stdout if healthy else sys.stderr)
    return 0 if healthy else 1
