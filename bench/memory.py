"""Memory and start-up of our server, through its real process and HTTP API.

    python bench/memory.py                   # 100,000 wallets; about two minutes
    python bench/memory.py --wallets 20000   # quicker

Every server is a fresh `flexprice-mock` (spawn to first 200 on /_mock/health is timed):
  1. an empty one and one loaded with N wallets (one FREE_CREDIT_GRANT transaction each) in one
     world: RSS of both, then wrk req/s of GET /v1/wallets/{id} (of a loaded wallet, in the
     loaded world) and POST /v1/wallets (in another world: the loaded one is at its default cap
     of 200,000 objects) on both, taking turns;
  2. N wallets spread over 1,000 worlds (API keys): RSS.
RSS is VmRSS of the server process, read from /proc.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import harness
from harness import wrk

LOADERS = 4  # keep-alive connections filling the server; it, not the client, is the bottleneck


def load(target: harness.Target, wallets: int, keys: list[str]) -> str:
    """Create `wallets` wallets, cycling over `keys`, each with initial credits (one transaction);
    returns the id of one made with keys[0]. Plain keep-alive HTTP: no need to go in-process."""
    made: list[str] = []
    progress = max(wallets // 10, 1)

    def worker(first: int) -> None:  # each thread takes every LOADERS-th wallet
        conn = http.client.HTTPConnection("127.0.0.1", target.port, timeout=60)
        for i in range(first, wallets, LOADERS):
            body = json.dumps(
                {"customer_id": f"cust_load_{i}", "currency": "usd", "initial_credits_to_load": 1}
            )
            conn.request(
                "POST",
                "/v1/wallets",
                body,
                {"x-api-key": keys[i % len(keys)], "Content-Type": "application/json"},
            )
            resp = conn.getresponse()
            data = resp.read()
            if resp.status != 200:
                raise RuntimeError(f"create {i} answered {resp.status}: {data[:300]!r}")
            if i == 0:
                made.append(json.loads(data)["id"])
            if i % progress == 0 and i:
                print(f"  memory: {i:,} created, {time.perf_counter() - t0:.0f} s", flush=True)
        conn.close()

    t0 = time.perf_counter()
    with ThreadPoolExecutor(LOADERS) as pool:
        list(pool.map(worker, range(LOADERS)))
    return made[0]


def throughput(
    targets: list, worlds: list[tuple[str, str]], duration: int, rounds: int, wrk_cpus
) -> list[dict]:
    """Median req/s of GET (of the given wallet, in its world) and create (in a world of its own)
    at 8 connections; the targets take turns, so other load on the machine hits them alike."""
    out = [{} for _ in targets]
    for op in ("get", "create"):
        runs = [[] for _ in targets]
        for rnd in range(rounds + 1):  # round 0 is the warm-up
            for i, t in enumerate(targets):
                key, wallet = worlds[i] if op == "get" else ("mem_create", "")
                r = wrk(
                    t,
                    op,
                    8,
                    min(duration, 3) if rnd == 0 else duration,
                    wallet=wallet,
                    key=key,
                    cpus=wrk_cpus,
                )
                if r["non_2xx"]:
                    raise RuntimeError(f"{op}: {r['non_2xx']} non-2xx answers")
                if rnd:
                    runs[i].append(r["rps"])
        for i in range(len(targets)):
            out[i][op] = statistics.median(runs[i])
    return out


def measure(
    wallets: int = 100_000,
    worlds: int = 1000,
    duration: int = 5,
    rounds: int = 3,
    server_cpus=None,
    wrk_cpus=None,
) -> dict:
    res: dict = {"wallets": wallets, "worlds": worlds, "startup_s": []}
    own = os.sched_getaffinity(0)
    if wrk_cpus:
        os.sched_setaffinity(0, wrk_cpus)  # the loader threads run here: off the server's CPU
    empty, full, spread = harness.ours(), harness.ours(), harness.ours()
    try:
        for t in (empty, full):
            res["startup_s"].append(t.start(server_cpus))
        res["empty"] = {"rss_mb": empty.rss_mb()}
        loaded = load(full, wallets, ["mem"])
        res["one_world"] = {"rss_mb": full.rss_mb()}
        print(
            f"  memory: empty {res['empty']['rss_mb']:.0f} MB, {wallets:,} wallets in one world "
            f"{res['one_world']['rss_mb']:.0f} MB",
            flush=True,
        )
        # GET reads a loaded wallet in the loaded world; creates go to another world, because
        # 100,000 wallets + their transactions fill a world to its default cap of 200,000 objects
        res["empty"]["rps"], res["one_world"]["rps"] = throughput(
            [empty, full], [("mem", empty.create_wallet("mem")), ("mem", loaded)], duration, rounds, wrk_cpus
        )
        for t in (empty, full):
            t.stop()
        res["startup_s"].append(spread.start(server_cpus))
        load(spread, wallets, [f"mem_{i}" for i in range(worlds)])
        res["spread"] = {"rss_mb": spread.rss_mb()}
        print(
            f"  memory: {wallets:,} wallets in {worlds:,} worlds {res['spread']['rss_mb']:.0f} MB", flush=True
        )
    finally:
        for t in (empty, full, spread):
            t.stop()
        os.sched_setaffinity(0, own)
    res["rps_change"] = {
        op: res["one_world"]["rps"][op] / res["empty"]["rps"][op] - 1 for op in res["empty"]["rps"]
    }
    return res


def table(m: dict) -> list[str]:
    e, o, s = m["empty"], m["one_world"], m["spread"]
    n = f"{m['wallets']:,}"
    return [
        "| state | RSS MB | GET req/s (c=8) | POST create req/s (c=8) |",
        "|---|---|---|---|",
        f"| empty | {e['rss_mb']:.0f} | {e['rps']['get']:.0f} | {e['rps']['create']:.0f} |",
        f"| {n} wallets, one world | {o['rss_mb']:.0f} | {o['rps']['get']:.0f} "
        f"({100 * m['rps_change']['get']:+.1f}%) | {o['rps']['create']:.0f} "
        f"({100 * m['rps_change']['create']:+.1f}%) |",
        f"| {n} wallets, {m['worlds']:,} worlds | {s['rss_mb']:.0f} | – | – |",
        "",
        "Start to healthy over these starts: " + ", ".join(f"{x * 1000:.0f} ms" for x in m["startup_s"]),
    ]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--wallets", type=int, default=100_000)
    p.add_argument("--worlds", type=int, default=1000)
    p.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    p.add_argument("--rounds", type=int, default=3, help="wrk runs per figure (median)")
    p.add_argument("--pin", action="store_true", help="pin server and load to separate CPUs")
    a = p.parse_args()
    server_cpus, wrk_cpus = harness.cpu_split(a.pin)
    m = measure(a.wallets, a.worlds, a.duration, a.rounds, server_cpus, wrk_cpus)
    print("\n".join([""] + table(m)))
    harness.RESULTS.mkdir(exist_ok=True)
    (harness.RESULTS / "memory.json").write_text(json.dumps(m, indent=1))


if __name__ == "__main__":
    main()
