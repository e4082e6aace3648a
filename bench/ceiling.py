"""The ceiling of our stack: a bare Flask app on the sandbox's own HTTP server and settings.

Same routes as the sandbox's hot paths, but each one only parses the JSON body and returns a
constant JSON object, so its requests/s is the most Flask and the server can give on this machine.

    python bench/ceiling.py --port 8081
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from flask import Flask, request


def serve(host: str, port: int) -> None:
    """Serve with the sandbox's own server (same protocol, timeouts, garbage-collector tuning),
    so the only difference from `flexprice-mock` is the app."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # works from a fresh clone
    from mockserver.http import server

    sock = server.listen(host, port)
    made = server.make_server(app)
    server.tune_garbage_collector()
    made.run(sockets=[sock])


WALLET = {
    "id": "wallet_01JW2K8X9F7QZ3M5N6P7R8S9TV",
    "customer_id": "cust_1",
    "currency": "usd",
    "balance": 1,
    "credit_balance": 1,
    "wallet_status": "active",
    "wallet_type": "PRE_PAID",
}

app = Flask(__name__)


@app.post("/v1/wallets")
@app.post("/v1/wallets/<wallet_id>/top-up")
def write(wallet_id: str | None = None):
    request.get_json()
    return WALLET


@app.get("/v1/wallets/<wallet_id>")
def read(wallet_id: str):
    return WALLET


@app.get("/_mock/health")
def health():
    return {"status": "ok"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    args = parser.parse_args()
    serve(args.host, args.port)


if __name__ == "__main__":
    main()
