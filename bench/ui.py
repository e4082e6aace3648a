"""Benchmark: how fast the dashboard's reads answer with a world of 10,000 wallets.

    python bench/ui.py                       # memory store; about 10 s
    python bench/ui.py --redis               # the same on the Redis store too (needs redis-server)
    python bench/ui.py --wallets 2000 --requests 20
    python bench/ui.py --worlds 1000         # 1,000 other worlds beside it, listed by the page

The sandbox runs as a real process, `python -m mockserver --port P --quiet --no-fixtures
--max-body-bytes B` (B large enough for the state document below), the client on the same
machine. One world (API key `bench-ui`) gets N customers with a wallet each (one initial credit
per wallet), and one wallet gets `--ledger` more top-ups: a template customer, wallet and top-up
are made through the API, exported (`GET /_mock/state`), copied N times with fresh ids and
imported in one `PUT /_mock/state`. Then, one keep-alive connection as a browser holds, each read
is requested `--requests` times after one warm-up: the page (`GET /_mock/ui`), the worlds
(`/_mock/ui/worlds`), the world's first page and a late page (`/_mock/ui/world`,
`?wallets_offset=N-50`), and a wallet's ledger (`/_mock/ui/wallets/<id>/ledger`, of a wallet with
one transaction and of the one with the long ledger). Time to first byte (request sent to status
line and headers read) and total (body read), p50 / p95 / max in ms; the target is p95 < 200 ms.
`--worlds N` adds N other worlds (a wallet each, made through the API) for the page and the
worlds list to show. With `--redis`, a second sandbox on `--store redis://...` (its own
redis-server on a free port, nothing kept on disk) is measured the same way. Prints the machine
and the date; JSON to bench/results/ui-*.json.
"""

from __future__ import annotations

import argparse
import copy
import http.client
import json
import math
import os
import platform
import subprocess
import sys
import time
from typing import Any

import harness
from harness import RESULTS, ROOT, Target

from mockserver.domain.ids import encode

KEY = "bench-ui"
TARGET_MS = 200.0


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--wallets", type=int, default=10_000, help="wallets (and customers) in the world")
    p.add_argument("--ledger", type=int, default=1_000, help="extra top-ups in one wallet's ledger")
    p.add_argument("--requests", type=int, default=50, help="measured requests per read (after 1 warm-up)")
    p.add_argument("--redis", action="store_true", help="measure the Redis store too (needs redis-server)")
    p.add_argument(
        "--worlds", type=int, default=0, help="other worlds beside it (a wallet each), listed by the page"
    )
    a = p.parse_args()
    if a.wallets < 51:
        p.error("--wallets: at least 51 (a first page and a later one)")
    if a.requests < 1:
        p.error("--requests: 1 or more")
    if a.redis:
        harness.need("redis-server")  # fails early, with the install command
    return a


# ---- the world ---------------------------------------------------------------------------------


def ulid(prefix: str, n: int) -> str:
    """An id of the sandbox's shape (prefix, 26 Crockford base32 characters), unique per ``n``."""
    return f"{prefix}_01M8BENCH0{encode(n, 16)}"


class Conn:
    """One keep-alive HTTP connection to the sandbox, as a browser tab holds."""

    def __init__(self, port: int):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def call(self, method: str, path: str, body: Any = None, key: str | None = KEY) -> tuple[int, bytes]:
        headers = {"Accept": "*/*"}
        if key is not None:
            headers["x-api-key"] = key
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        self.conn.request(method, path, data, headers)
        resp = self.conn.getresponse()
        return resp.status, resp.read()

    def json(self, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        status, raw = self.call(method, path, body)
        if status != expect:
            raise RuntimeError(f"{method} {path} answered {status}: {raw[:300]!r}")
        return json.loads(raw) if raw else None

    def timed(self, path: str, key: str | None) -> tuple[float, float, int, int]:
        """(ms to first byte, ms in all, status, body bytes) of one GET."""
        headers = {"Accept": "*/*"} | ({"x-api-key": key} if key else {})
        t0 = time.perf_counter()
        self.conn.request("GET", path, headers=headers)
        resp = self.conn.getresponse()  # returns once the status line and headers are read
        t1 = time.perf_counter()
        body = resp.read()
        t2 = time.perf_counter()
        return (t1 - t0) * 1000, (t2 - t0) * 1000, resp.status, len(body)

    def close(self) -> None:
        self.conn.close()


def build(conn: Conn, wallets: int, ledger: int) -> tuple[bytes, str, str]:
    """The state document of the benchmark's world; returns it with the id of a wallet holding one
    transaction and of the one with the long ledger."""
    customer = conn.json("POST", "/v1/customers", {"external_id": "template", "name": "T"}, expect=201)
    wallet = conn.json(
        "POST",
        "/v1/wallets",
        {"customer_id": customer["id"], "currency": "usd", "initial_credits_to_load": "100"},
    )
    conn.json(
        "POST",
        f"/v1/wallets/{wallet['id']}/top-up",
        {"credits_to_add": "1", "transaction_reason": "FREE_CREDIT_GRANT", "idempotency_key": "template"},
    )
    template = conn.json("GET", "/_mock/state")
    (c0,), (w0,), (grant, top_up) = template["customers"], template["wallets"], template["transactions"]
    customers, wallet_docs, transactions = [], [], []
    for i in range(wallets):
        cid, wid = ulid("cust", i), ulid("wallet", i)
        customers.append({**c0, "id": cid, "external_id": f"customer-{i:05}", "name": f"Customer {i:05}"})
        w = {**w0, "id": wid, "customer_id": cid, "balance": "100", "credit_balance": "100"}
        wallet_docs.append(w)
        key = f"grant-{i:05}"
        transactions.append(
            {**grant, "id": ulid("wtxn", i), "wallet_id": wid, "reference_id": key, "idempotency_key": key}
        )
    long_wallet = wallet_docs[0]  # the first page's first wallet has the long ledger
    balance = 100
    for j in range(ledger):
        key = f"top-up-{j:05}"
        txn = copy.deepcopy(top_up)
        txn.update(
            id=ulid("wtxn", wallets + j),
            wallet_id=long_wallet["id"],
            reference_id=key,
            idempotency_key=key,
            credit_balance_before=str(balance),
            credit_balance_after=str(balance + 1),
        )
        transactions.append(txn)
        balance += 1
    long_wallet.update(balance=str(balance), credit_balance=str(balance))
    document = {
        **template,
        "customers": customers,
        "wallets": wallet_docs,
        "transactions": transactions,
        "idempotency": [],
    }
    return json.dumps(document, separators=(",", ":")).encode(), wallet_docs[1]["id"], long_wallet["id"]


# ---- measuring ---------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    """Nearest rank: the smallest value with at least p % of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def reads(
    wallets: int, short_wallet: str, long_wallet: str, ledger: int
) -> list[tuple[str, str, str | None]]:
    late = (wallets - 1) // 50 * 50 if wallets % 50 else wallets - 50
    return [
        ("page", "/_mock/ui", None),
        ("worlds", "/_mock/ui/worlds", KEY),
        ("world, first page", "/_mock/ui/world", KEY),
        (f"world, wallets_offset={late}", f"/_mock/ui/world?wallets_offset={late}", KEY),
        ("ledger, 1 transaction", f"/_mock/ui/wallets/{short_wallet}/ledger", KEY),
        (f"ledger, {ledger + 1:,} transactions", f"/_mock/ui/wallets/{long_wallet}/ledger", KEY),
    ]


def measure(name: str, extra: list[str], a: argparse.Namespace) -> dict[str, Any]:
    """Start a sandbox, load the world, time every read; returns the figures."""
    target = Target(
        name,
        [sys.executable, "-m", "mockserver", "--port", "{port}", "--quiet", "--no-fixtures"]
        + ["--max-body-bytes", str(max(64 * 1024 * 1024, a.wallets * 4096)), *extra],
        prefix="/v1",
        health="/_mock/health",
        cwd=ROOT,
    )
    target.start()
    conn = Conn(target.port)
    try:
        document, short_wallet, long_wallet = build(conn, a.wallets, a.ledger)
        t0 = time.perf_counter()
        loaded = conn.json("PUT", "/_mock/state", document)
        load_s = time.perf_counter() - t0
        if loaded["wallets"] != a.wallets:
            raise RuntimeError(f"the world holds {loaded['wallets']} wallets, not {a.wallets}")
        if a.worlds:
            target.create_wallets([f"{KEY}-other-{i}" for i in range(a.worlds)])
        print(
            f"  {name}: {loaded['customers']:,} customers, {loaded['wallets']:,} wallets, "
            f"{loaded['transactions']:,} transactions imported in {load_s:.1f} s "
            f"({len(document) / 1e6:.1f} MB); RSS {target.rss_mb():.0f} MB",
            flush=True,
        )
        rows = []
        for label, path, key in reads(a.wallets, short_wallet, long_wallet, a.ledger):
            first = conn.timed(path, key)  # warm-up, not counted
            if first[2] != 200:
                raise RuntimeError(f"GET {path} answered {first[2]}")
            samples = [conn.timed(path, key) for _ in range(a.requests)]
            bad = [s for s in samples if s[2] != 200]
            if bad:
                raise RuntimeError(f"GET {path}: {len(bad)} answers not 200 ({bad[0][2]})")
            ttfb, total = [s[0] for s in samples], [s[1] for s in samples]
            rows.append(
                {
                    "read": label,
                    "path": path,
                    "bytes": samples[-1][3],
                    "ttfb_ms": {"p50": percentile(ttfb, 50), "p95": percentile(ttfb, 95), "max": max(ttfb)},
                    "total_ms": {
                        "p50": percentile(total, 50),
                        "p95": percentile(total, 95),
                        "max": max(total),
                    },
                    "samples_total_ms": total,
                }
            )
        return {"load_s": load_s, "document_bytes": len(document), "rss_mb": target.rss_mb(), "reads": rows}
    finally:
        conn.close()
        target.stop()


def table(name: str, result: dict[str, Any]) -> list[str]:
    head = [
        "store",
        "read",
        "bytes",
        "TTFB p50",
        "TTFB p95",
        "TTFB max",
        "total p50",
        "total p95",
        "total max",
    ]
    head += [f"p95 < {TARGET_MS:.0f} ms"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in result["reads"]:
        t, f = r["ttfb_ms"], r["total_ms"]
        row = [name, r["read"], f"{r['bytes']:,}"]
        row += [f"{t['p50']:.2f}", f"{t['p95']:.2f}", f"{t['max']:.2f}"]
        row += [f"{f['p50']:.2f}", f"{f['p95']:.2f}", f"{f['max']:.2f}"]
        row += ["yes" if f["p95"] < TARGET_MS else "**no**"]
        lines.append("| " + " | ".join(row) + " |")
    return lines


def commit() -> str:
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return out.stdout.strip() or "?"


def main() -> None:
    a = parse_args()
    machine = {
        "cpu": harness.cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    load_before = os.getloadavg()
    print(
        f"{started}; {machine['cpu']}, {machine['cores']} cores ({machine['usable_cores']} usable); "
        f"load average {' '.join(f'{x:.2f}' for x in load_before)}; Python {machine['python']}; "
        f"commit {commit()}",
        flush=True,
    )
    others = f" beside {a.worlds:,} other worlds of a wallet each" if a.worlds else ""
    print(f"world: {a.wallets:,} wallets{others}; {a.requests} requests per read after 1 warm-up", flush=True)
    results: dict[str, Any] = {"memory": measure("ui-memory", [], a)}
    if a.redis:
        redis = harness.redis_server()
        redis.start()
        try:
            store = ["--store", f"redis://127.0.0.1:{redis.port}/0", "--redis-prefix", "bench-ui:"]
            results["redis"] = measure("ui-redis", store, a)
        finally:
            redis.stop()
    load_after = os.getloadavg()

    lines = [
        "",
        f"## Dashboard reads, {a.wallets:,} wallets in one world (ms, one keep-alive connection)",
        "",
    ]
    for name, result in results.items():
        lines += table(name, result)[0 if name == "memory" else 2 :]
    met = all(r["total_ms"]["p95"] < TARGET_MS for res in results.values() for r in res["reads"])
    lines += [
        "",
        f"TTFB: request sent to status line and headers read; total: body read too. {a.requests} "
        f"requests per read after a warm-up, nearest-rank percentiles. p95 < {TARGET_MS:.0f} ms "
        f"everywhere: {'yes' if met else 'NO'}.",
        f"Machine: {machine['cpu']}, {machine['cores']} cores, load average "
        f"{load_before[0]:.2f} before, {load_after[0]:.2f} after; Python {machine['python']}; {started}.",
    ]
    print("\n".join(lines))

    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / time.strftime("ui-%Y%m%d-%H%M%S.json")
    summary = {"args": vars(a), "date": started, "machine": machine, "commit": commit()}
    summary |= {"loadavg_before": load_before, "loadavg_after": load_after, "results": results}
    path.write_text(json.dumps(summary, indent=1))
    print(f"\nJSON: {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
