"""Instructions per request, counted by callgrind: a figure that does not move with what else the
machine does (req/s and CPU time swing by 20 % on a shared VM), to compare two releases.

    python bench/instructions.py                         # this checkout
    python bench/instructions.py --other ../old-checkout  # and another one, side by side

Each workload runs in a fresh process under ``valgrind --tool=callgrind`` twice, with no requests
and with ``--requests`` of them; the difference divided by their number is one request's cost. The
app's operations go through Werkzeug's test client (the app alone); ``socket`` sends a GET and a
top-up over a real connection to the sandbox's own server in the same process (server and app).
Needs valgrind (Debian: ``apt-get install -y valgrind``); each run takes a minute or two.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

WORKLOADS = ("get", "topup", "create", "event", "socket")
TOP_UP = {"credits_to_add": 1, "transaction_reason": "PURCHASED_CREDIT_DIRECT"}
HERE = Path(__file__).resolve().parent


def run(workload: str, count: int) -> None:
    """The workload itself (in the process callgrind watches)."""
    from mockserver import create_app

    app = create_app(log_requests=False, api_version="2026-08-22")
    if workload == "socket":
        _over_a_socket(app, count)
        return
    client = app.test_client()
    headers = {"x-api-key": "sk_bench", "Content-Type": "application/json"}

    def post(path: str, body: dict) -> dict:
        reply = client.post(path, data=json.dumps(body), headers=headers)
        assert reply.status_code < 300, reply.get_json()
        return reply.get_json()

    customer = post("/v1/customers", {"external_id": "b", "name": "B"})
    wallet = post("/v1/wallets", {"customer_id": customer["id"], "currency": "usd"})
    for i in range(count):
        if workload == "get":
            assert client.get(f"/v1/wallets/{wallet['id']}", headers=headers).status_code == 200
        elif workload == "create":
            post("/v1/wallets", {"customer_id": f"cust_{i}", "currency": "usd"})
        elif workload == "event":
            post("/v1/events", {"event_name": "api_call", "external_customer_id": "b", "event_id": f"e{i}"})
        else:
            post(
                f"/v1/wallets/{wallet['id']}/top-up",
                {
                    "credits_to_add": 1,
                    "transaction_reason": "PURCHASED_CREDIT_DIRECT",
                    "idempotency_key": f"k{i}",
                },
            )


def _over_a_socket(app, count: int) -> None:
    from mockserver.http.server import BackgroundServer

    server = BackgroundServer(app)
    port = int(server.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as conn:

        def ask(method: str, path: str, body: dict | None = None) -> dict:
            data = json.dumps(body).encode() if body is not None else b""
            conn.sendall(
                f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nx-api-key: sk_bench\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n".encode()
                + data
            )
            got = b""
            while b"\r\n\r\n" not in got:
                got += conn.recv(65536)
            head, _, rest = got.partition(b"\r\n\r\n")
            length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
            while len(rest) < length:
                rest += conn.recv(65536)
            return json.loads(rest)

        customer = ask("POST", "/v1/customers", {"external_id": "b", "name": "B"})
        wallet = ask("POST", "/v1/wallets", {"customer_id": customer["id"], "currency": "usd"})
        for i in range(count):
            ask("GET", f"/v1/wallets/{wallet['id']}")
            ask(
                "POST",
                f"/v1/wallets/{wallet['id']}/top-up",
                {
                    "credits_to_add": 1,
                    "transaction_reason": "PURCHASED_CREDIT_DIRECT",
                    "idempotency_key": f"k{i}",
                },
            )
    server.stop()


def counted(checkout: Path, workload: str, count: int) -> int:
    """Instructions of a fresh process running ``workload`` ``count`` times from ``checkout``."""
    # One hash seed for every run: the start-up alone is billions of instructions, and its share
    # that moves with the seed would otherwise be a large error on a few hundred requests.
    environ = {**os.environ, "PYTHONPATH": str(checkout), "PYTHONHASHSEED": "0"}
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, __file__]
        + ["--run", workload, str(count)],
        env=environ,
        capture_output=True,
        text=True,
        check=True,
    )
    return int(re.search(r"Collected : (\d+)", done.stderr).group(1))  # type: ignore[union-attr]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--other", type=Path, help="another checkout of the sandbox, measured beside this one"
    )
    parser.add_argument("--requests", type=int, default=200, help="requests per workload (default 200)")
    parser.add_argument("--workloads", default=",".join(WORKLOADS), help="subset of " + ",".join(WORKLOADS))
    parser.add_argument("--run", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        run(args.run[0], int(args.run[1]))
        return
    checkouts = [HERE.parent] + ([args.other.resolve()] if args.other else [])
    print("workload  " + "  ".join(f"{str(c)[-28:]:>28}" for c in checkouts) + "  (instructions per request)")
    for workload in args.workloads.split(","):
        costs = []
        for checkout in checkouts:
            base = counted(checkout, workload, 0)
            costs.append((counted(checkout, workload, args.requests) - base) / args.requests)
        change = f"  {(costs[0] / costs[1] - 1) * 100:+.1f} % against the other" if len(costs) == 2 else ""
        print(f"{workload:8}  " + "  ".join(f"{c:28,.0f}" for c in costs) + change, flush=True)


if __name__ == "__main__":
    main()
