"""Does one world's trouble slow the other worlds down? The memory store against Redis.

    python bench/loop.py [--duration 5] [--rounds 3] [--held 50] [--writers 16]

For each store (``memory``; ``redis``: one process on a redis-server this script starts), wrk runs
GET /v1/wallets/{id} on one world at 8 connections, three ways, round after round:

- alone;
- beside ``--held`` requests of another world held by faults (half ``latency=2s``, half
  ``timeout=2s``, each sent again as soon as it ends);
- beside ``--writers`` threads topping up one wallet of a third world as fast as they can, so that
  world's lock is always contended.

Medians are printed, with the p99 of each loaded case over the p99 alone. The target: within 2x,
on Redis as on memory (a Redis round trip or a lock wait must never hold the event loop).
Unpinned: wrk, the client threads, the sandbox and Redis share the machine, as users run them.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import statistics
import threading
import uuid
from http.client import HTTPConnection

import harness
from harness import wrk
from held import _hold_forever

CONNECTIONS = 8


def _top_up_forever(port: int, key: str, wallet: str, stop: threading.Event, done: list[int]) -> None:
    conn = HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json", "x-api-key": key}
    while not stop.is_set():
        order = {"credits_to_add": "1", "transaction_reason": "PURCHASED_CREDIT_DIRECT"}
        body = json.dumps({**order, "idempotency_key": uuid.uuid4().hex})  # a new purchase each time
        conn.request("POST", f"/v1/wallets/{wallet}/top-up", body, headers)
        response = conn.getresponse()
        response.read()
        done.append(response.status)
    conn.close()


def measure(target: harness.Target, rounds: int, duration: int, held: int, writers: int) -> dict:
    reader, holder, writer = "bench-loop-read", "bench-loop-held", "bench-loop-write"
    wallet = target.create_wallet(reader)
    held_wallet, written = target.create_wallet(holder), target.create_wallet(writer)
    wrk(target, "get", CONNECTIONS, 2, wallet=wallet, key=reader)  # warm-up
    runs: dict[str, list[dict]] = {"alone": [], "held": [], "contended": []}
    writes: list[int] = []
    for _ in range(rounds):
        runs["alone"].append(wrk(target, "get", CONNECTIONS, duration, wallet=wallet, key=reader))
        for case, count in (("held", held), ("contended", writers)):
            stop = threading.Event()
            if case == "held":
                threads = [
                    threading.Thread(
                        target=_hold_forever,
                        args=(
                            target.base,
                            holder,
                            held_wallet,
                            "latency=2s" if n % 2 else "timeout=2s",
                            stop,
                        ),
                        daemon=True,
                    )
                    for n in range(count)
                ]
            else:
                threads = [
                    threading.Thread(
                        target=_top_up_forever, args=(target.port, writer, written, stop, writes), daemon=True
                    )
                    for _ in range(count)
                ]
            for t in threads:
                t.start()
            runs[case].append(wrk(target, "get", CONNECTIONS, duration, wallet=wallet, key=reader))
            stop.set()
            for t in threads:
                t.join(10)
    out = {
        case: {k: statistics.median(r[k] for r in rs) for k in ("rps", "p99_ms")} for case, rs in runs.items()
    }
    for case in ("held", "contended"):
        out[case]["ratio"] = out[case]["p99_ms"] / out["alone"]["p99_ms"]
    out["writes"] = {"count": len(writes), "non_2xx": sum(s >= 300 for s in writes)}
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--duration", type=int, default=5)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--held", type=int, default=50)
    p.add_argument("--writers", type=int, default=16)
    a = p.parse_args()
    for tool in ("wrk", "redis-server", "flexprice-mock"):
        harness.need(tool)
    redis = harness.redis_server()
    redis.start()
    stores = {
        "memory": harness.ours(["--quiet"]),
        "redis": dataclasses.replace(
            harness.ours(
                ["--quiet", "--store", f"redis://127.0.0.1:{redis.port}/0", "--redis-prefix", "loop:"]
            ),
            name="ours-redis",
        ),
    }
    print(f"{platform.machine()}, {harness.cpu_model()}, load {harness.loadavg():.2f}")
    print("| store | case | req/s | p99 ms | p99 / alone | top-ups (non-2xx) |")
    print("|---|---|---|---|---|---|")
    try:
        for name, target in stores.items():
            target.start()
            try:
                r = measure(target, a.rounds, a.duration, a.held, a.writers)
            finally:
                target.stop()
            for case, label in (
                ("alone", "alone"),
                ("held", f"beside {a.held} held"),
                ("contended", f"beside {a.writers} writers on one world"),
            ):
                c = r[case]
                ratio = f"{c['ratio']:.2f}x" if "ratio" in c else ""
                extra = f"{r['writes']['count']} ({r['writes']['non_2xx']})" if case == "contended" else ""
                print(
                    f"| {name} | {label} | {c['rps']:.0f} | {c['p99_ms']:.2f} | {ratio} | {extra} |",
                    flush=True,
                )
    finally:
        redis.stop()


if __name__ == "__main__":
    main()
