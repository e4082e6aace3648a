"""The ceiling of our stack: a bare Flask app on waitress with the settings our server uses.

Same routes as the sandbox's hot paths, but each one only parses the JSON body and returns a
constant JSON object, so its requests/s is the most Flask + waitress can give on this machine.

    python bench/ceiling.py --port 8081
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from flask import Flask, request

FALLBACK_THREADS = 8  # the thread count the sandbox documents, if mockserver can't be imported


def make_server(host: str, port: int):
    """A waitress server made by the sandbox's own factory (same threads, timeouts, ...) and its
    garbage-collector tuning, so the only difference from `flexprice-mock` is the app; plain
    waitress if the sandbox can't be imported or its factory can't serve a foreign app."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # works from a fresh clone
    try:
        from mockserver.config import Settings
        from mockserver.http import server

        threads = Settings.from_env().threads
        made = server.make_server(app, host, port, threads)
    except Exception as exc:
        from waitress.server import create_server

        print(
            f"ceiling: mockserver's server factory unusable ({exc!r}); "
            f"plain waitress, threads={FALLBACK_THREADS}",
            flush=True,
        )
        return create_server(app, host=host, port=port, threads=FALLBACK_THREADS)
    tune = getattr(server, "tune_garbage_collector", None)
    if tune:
        tune()
    print(
        f"ceiling: mockserver.http.server.make_server, threads={threads}"
        + (", tune_garbage_collector()" if tune else ""),
        flush=True,
    )
    return made


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
    make_server(args.host, args.port).run()


if __name__ == "__main__":
    main()
