"""``flexprice-mock trigger EVENT``: ask a running sandbox to raise a webhook event now.

Posts ``{"event", "overrides"}`` to ``/_mock/trigger`` as the world of ``--key`` (default: the
``FLEXPRICE_API_KEY`` variable; there is no default world, a made-up key would be a world nobody
looks at) and prints what was created, what was used and the events raised. A refusal prints the
sandbox's message and exits 1. The standard library only, like ``health``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sys
from typing import Any
from urllib.parse import urlsplit

from .text import error_message

KEY_VARIABLE = "FLEXPRICE_API_KEY"
DEFAULT_URL = "http://127.0.0.1:8080"
PATH = "/_mock/trigger"


def scalar(text: str) -> Any:
    """A ``--set`` value: a JSON scalar when it is one (``5``, ``2.5``, ``true``, ``"42"``), else
    the text itself. Decimals stay exact: they are sent as strings, which the sandbox reads."""
    try:
        value = json.loads(text, parse_float=str)
    except ValueError:
        return text
    return value if isinstance(value, (str, int, bool)) or value is None else text


def overrides(pairs: list[str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for pair in pairs:
        name, equals, value = pair.partition("=")
        if not equals or not name.strip():
            raise ValueError(f"--set {pair!r}: expected field=value, e.g. wallet.currency=eur")
        found[name.strip()] = scalar(value)
    return found


def post(url: str, body: dict[str, Any], headers: dict[str, str], timeout: float) -> tuple[int, Any]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"--url {url!r}: expected http://host:port")
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    connection = kind(parts.hostname, parts.port, timeout=timeout)
    try:
        connection.request(
            "POST",
            parts.path.rstrip("/") + PATH,
            json.dumps(body),
            {"Content-Type": "application/json", **headers},
        )
        answer = connection.getresponse()
        raw = answer.read()
    finally:
        connection.close()
    try:
        return answer.status, json.loads(raw)
    except ValueError:
        return answer.status, raw.decode("utf-8", "replace")


def show(answer: dict[str, Any]) -> str:
    lines = [f"triggered {answer['event']}"]
    for verb in ("created", "used"):
        lines += [f"  {verb:<8} {o['type']:<19} {o['id']}" for o in answer[verb]]
    lines.append("events raised, in order:")
    lines += [f"  {n}. {name}" for n, name in enumerate(answer["events"], 1)]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="flexprice-mock trigger",
        description="Make a running sandbox raise a webhook event now: it performs the API "
        "operations that raise it in the key's world, creating what is missing.",
    )
    parser.add_argument("event", help="a webhook event type, e.g. wallet.transaction.created")
    parser.add_argument(
        "--key", default=os.environ.get(KEY_VARIABLE), help=f"the world's API key (default ${KEY_VARIABLE})"
    )
    parser.add_argument("--url", default=DEFAULT_URL, help=f"the sandbox (default {DEFAULT_URL})")
    parser.add_argument(
        "--set",
        dest="pairs",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="an override, e.g. --set wallet.currency=eur --set credits=25 (repeatable)",
    )
    parser.add_argument(
        "--admin-token",
        default=os.environ.get("FLEXPRICE_MOCK_ADMIN_TOKEN"),
        help="X-Mock-Admin-Token, for a sandbox that requires one",
    )
    parser.add_argument("--json", action="store_true", help="print the sandbox's answer as JSON")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait (default 30)")
    args = parser.parse_args(argv)
    if not args.key:
        parser.exit(2, f"{parser.prog}: give --key or set {KEY_VARIABLE}: it names the world\n")
    body: dict[str, Any] = {"event": args.event}
    headers = {"x-api-key": args.key}
    if args.admin_token:
        headers["X-Mock-Admin-Token"] = args.admin_token
    try:
        given = overrides(args.pairs)
        if given:
            body["overrides"] = given
        status, answer = post(args.url, body, headers, args.timeout)
    except ValueError as exc:
        parser.exit(2, f"{parser.prog}: {exc}\n")
    except (OSError, http.client.HTTPException) as exc:
        print(f"{parser.prog}: nothing answers on {args.url} ({exc})", file=sys.stderr)
        return 1
    if status >= 400 or not isinstance(answer, dict):
        print(f"{parser.prog}: {status}: {error_message(answer)}", file=sys.stderr)
        return 1
    print(json.dumps(answer, indent=2) if args.json else show(answer))
    return 0
