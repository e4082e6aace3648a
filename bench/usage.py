"""Benchmark: usage ingestion and the real-time balance (API 2026-08-22), as users run it (the
sandbox and the load generator on one machine), beside Prism on the same document.

Prints:
- single ``POST /v1/events``: req/s of the sandbox and of Prism, each at c=8 and c=32, taking
  turns round by round (medians);
- ``POST /v1/events/bulk`` with 100 events a request: events/s;
- then ``--events`` (default 1,000,000) events, each with its own ``event_id`` (what makes a
  world grow: the ids kept for dedup), sent in batches of 100: events/s and the server's memory
  growth per million;
- ``GET /v1/wallets/{id}/balance/real-time`` with all of them in the current period, at c=1 and
  c=8, beside the same read before they came: req/s, p50 and p99 (the balance is aggregated as
  events arrive; a read never scans them).

    python bench/usage.py [--duration 5] [--rounds 3] [--events 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from http.client import HTTPConnection

from harness import API_KEY, VERSIONS, Target, cpu_model, http, loadavg, ours, prism, wrk

VERSION = VERSIONS[-1]
BATCH = 100


def post(target: Target, path: str, body: dict) -> dict:
    status, answer = http("POST", target.base + target.prefix + path, body)
    if status not in (200, 201, 202) or answer is None:
        raise RuntimeError(f"{target.name}: POST {path} answered {status}")
    return answer


def set_up(target: Target) -> str:
    """A customer on a usage plan with a prepaid wallet; returns the wallet's id."""
    customer = post(target, "/customers", {"external_id": "acme", "name": "Acme"})
    meter = {"name": "Tokens", "event_name": "api_call", "aggregation": {"type": "SUM", "field": "tokens"}}
    feature = post(
        target, "/features", {"name": "Tokens", "type": "metered", "meter": {**meter, "reset_usage": "NEVER"}}
    )
    plan = post(target, "/plans", {"name": "Pay as you go"})
    post(
        target,
        "/prices",
        {
            "entity_type": "PLAN",
            "entity_id": plan["id"],
            "type": "USAGE",
            "meter_id": feature["meter_id"],
            "billing_model": "FLAT_FEE",
            "amount": "0.000001",
            "currency": "usd",
            "billing_period": "MONTHLY",
            "billing_period_count": 1,
            "invoice_cadence": "ARREAR",
            "price_unit_type": "FIAT",
        },
    )
    post(
        target,
        "/subscriptions",
        {
            "customer_id": customer["id"],
            "plan_id": plan["id"],
            "currency": "usd",
            "billing_period": "MONTHLY",
        },
    )
    wallet = post(
        target,
        "/wallets",
        {"customer_id": customer["id"], "currency": "usd", "initial_credits_to_load": 1000},
    )
    return wallet["id"]


def load(target: Target, events: int, workers: int = 4) -> float:
    """Send ``events`` events with ids, ``BATCH`` a request over ``workers`` connections; events/s."""

    def send(first: int) -> None:
        conn = HTTPConnection("127.0.0.1", target.port, timeout=30)
        headers = {"Content-Type": "application/json", "x-api-key": API_KEY}
        for start in range(first * BATCH, events, workers * BATCH):
            batch = [
                {
                    "event_name": "api_call",
                    "external_customer_id": "acme",
                    "event_id": f"evt-{n:09d}",
                    "properties": {"tokens": "12", "model": f"m{n % 7}"},
                }
                for n in range(start, min(start + BATCH, events))
            ]
            conn.request("POST", target.prefix + "/events/bulk", json.dumps({"events": batch}), headers)
            reply = conn.getresponse()
            reply.read()
            if reply.status != 202:
                raise RuntimeError(f"bulk answered {reply.status}")
        conn.close()

    t0 = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(send, range(workers)))
    return events / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()
    print(f"{cpu_model()}, {len(os.sched_getaffinity(0))} CPUs, load {loadavg():.2f}")
    # Every event id is an object its world holds: room for all of them (past the default 200,000).
    room = ["--max-objects-per-world", str(args.events + 1000)]
    sandbox, mock = ours(room, version=VERSION), prism(VERSION)
    for target in (sandbox, mock):
        target.start()
    try:
        wallet = set_up(sandbox)
        print(f"single POST /v1/events ({args.rounds} rounds of {args.duration} s, medians)")
        for connections in (8, 32):
            runs: dict[str, list[dict]] = {sandbox.name: [], mock.name: []}
            for _ in range(args.rounds):
                for target in (sandbox, mock):
                    runs[target.name].append(wrk(target, "event", connections, args.duration))
            rps = {name: statistics.median(r["rps"] for r in rs) for name, rs in runs.items()}
            for name, rs in runs.items():
                p99 = statistics.median(r["p99_ms"] for r in rs)
                cpu = statistics.median(r["cpu_us_per_req"] for r in rs)
                figures = f"{rps[name]:7.0f} req/s  p99 {p99:6.2f} ms  {cpu:4.0f} µs CPU/req"
                print(f"  c={connections:<3} {name:18} {figures}")
            print(f"  c={connections:<3} ours / prism: {rps[sandbox.name] / rps[mock.name]:.2f}x")
        bulk = wrk(sandbox, "bulk", 8, args.duration)
        rate = bulk["rps"] * BATCH
        print(f"bulk, {BATCH} events a request, c=8: {rate:,.0f} events/s (p99 {bulk['p99_ms']:.1f} ms)")
        empty = {c: wrk(sandbox, "realtime", c, args.duration, wallet=wallet) for c in (1, 8)}
        before = sandbox.rss_mb()
        rate = load(sandbox, args.events)
        grown = sandbox.rss_mb() - before
        per_million = grown * 1_000_000 / args.events
        print(f"{args.events:,} events with ids: {rate:,.0f} events/s")
        print(f"  memory +{grown:.0f} MB ({per_million:.0f} MB per million events)")
        status, balance = http("GET", f"{sandbox.base}/v1/wallets/{wallet}/balance/real-time")
        assert status == 200 and balance is not None
        print(f"  current_period_usage {balance['current_period_usage']} (the events' charge, all counted)")
        for connections in (1, 8):
            read = wrk(sandbox, "realtime", connections, args.duration, wallet=wallet)
            alone = empty[connections]
            print(
                f"real-time balance read, c={connections}: {read['rps']:.0f} req/s,"
                f" p50 {read['p50_ms']:.2f} ms,"
                f" p99 {read['p99_ms']:.2f} ms (before the events: {alone['rps']:.0f} req/s,"
                f" p99 {alone['p99_ms']:.2f} ms)"
            )
    finally:
        for target in (sandbox, mock):
            target.stop()


if __name__ == "__main__":
    sys.exit(main())
