"""Memory and start-up of our server, through its real process and HTTP API.

    python bench/memory.py                   # 100,000 wallets; about two minutes
    python bench/memory.py --wallets 20000   # quicker

Every server is a fresh `flexprice-mock` (spawn to first 200 on /_mock/health is timed):
  1. an empty one and one loaded with N wallets (one FREE_CREDIT_GRANT transaction each) in one
     world: RSS of both, then wrk req/s of GET /v1/wallets/{id} and POST /v1/wallets on both,
     taking turns, in the loaded world itself;
  2. N wallets spread over 1,000 worlds (API keys): RSS.
RSS is VmRSS of the server process, read from /proc.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
from concurrent.futures import ThreadPoolExecutor

import harness
from harness import wrk

LOADERS = 4  # keep-alive connections filling the server; it, not the client, is the bottleneck


def load(target: harness.Target, wallets: int, keys: list[str]) -> None:
    """Create `wallets` wallets, cycling over `keys`, each with initial credits (one transaction).
    Plain keep-alive HTTP: 100,000 creates take well under a minute, no need to go in-process."""
    def worker(first: int) -> None:  # each thread takes every LOADERS-th wallet
        conn = http.client.HTTPConnection("127.0.0.1", target.port, timeout=30)
        for i in range(first, wallets, LOADERS):
            body = json.dumps({"customer_id": f"cust_load_{i}", "currency": "usd",
                               "initial_credits_to_load": 1})
            conn.request("POST", "/v1/wallets", body, {"x-api-key": keys[i % len(keys)],
                                                       "Content-Type": "application/json"})
            resp = conn.getresponse()
            data = resp.read()
            if resp.status != 200:
                raise RuntimeError(f"create {i} answered {resp.status}: {data[:300]!r}")
        conn.close()
    with ThreadPoolExecutor(LOADERS) as pool:
        list(pool.map(worker, range(LOADERS)))


def throughput(targets: list, duration: int, rounds: int, wrk_cpus) -> list[dict]:
    """Median req/s of GET and create at 8 connections in world "mem" of each target; the targets
    take turns, so load from anything else on the machine hits them alike."""
    wallets = [t.create_wallet("mem") for t in targets]
    out = [{} for _ in targets]
    for op in ("get", "create"):
        runs = [[] for _ in targets]
        for rnd in range(rounds + 1):  # round 0 is the warm-up
            for i, t in enumerate(targets):
                r = wrk(t, op, 8, min(duration, 3) if rnd == 0 else duration, wallet=wallets[i],
                        key="mem", cpus=wrk_cpus)
                if rnd:
                    runs[i].append(r["rps"])
        for i in range(len(targets)):
            out[i][op] = statistics.median(runs[i])
    return out


def measure(wallets: int = 100_000, worlds: int = 1000, duration: int = 5, rounds: int = 3,
            server_cpus=None, wrk_cpus=None) -> dict:
    res: dict = {"wallets": wallets, "worlds": worlds, "startup_s": []}
    own = os.sched_getaffinity(0)
    if wrk_cpus:
        os.sched_setaffinity(0, wrk_cpus)  # the loader threads run here: off the server's CPU
    empty, full, spread = harness.ours(), harness.ours(), harness.ours()
    try:
        for t in (empty, full):
            res["startup_s"].append(t.start(server_cpus))
        res["empty"] = {"rss_mb": empty.rss_mb()}
        load(full, wallets, ["mem"])  # in world "mem", the one throughput() then measures
        res["one_world"] = {"rss_mb": full.rss_mb()}
        print(f"  memory: empty {res['empty']['rss_mb']:.0f} MB, {wallets:,} wallets in one world "
              f"{res['one_world']['rss_mb']:.0f} MB", flush=True)
        res["empty"]["rps"], res["one_world"]["rps"] = throughput([empty, full], duration, rounds, wrk_cpus)
        for t in (empty, full):
            t.stop()
        res["startup_s"].append(spread.start(server_cpus))
        load(spread, wallets, [f"mem_{i}" for i in range(worlds)])
        res["spread"] = {"rss_mb": spread.rss_mb()}
        print(f"  memory: {wallets:,} wallets in {worlds:,} worlds {res['spread']['rss_mb']:.0f} MB",
              flush=True)
    finally:
        for t in (empty, full, spread):
            t.stop()
        os.sched_setaffinity(0, own)
    res["rps_change"] = {op: res["one_world"]["rps"][op] / res["empty"]["rps"][op] - 1
                         for op in res["empty"]["rps"]}
    return res


def table(m: dict) -> list[str]:
    e, o, s = m["empty"], m["one_world"], m["spread"]
    n = f"{m['wallets']:,}"
    return ["| state | RSS MB | GET req/s (c=8) | POST create req/s (c=8) |", "|---|---|---|---|",
            f"| empty | {e['rss_mb']:.0f} | {e['rps']['get']:.0f} | {e['rps']['create']:.0f} |",
            f"| {n} wallets, one world | {o['rss_mb']:.0f} | {o['rps']['get']:.0f} "
            f"({100 * m['rps_change']['get']:+.1f}%) | {o['rps']['create']:.0f} "
            f"({100 * m['rps_change']['create']:+.1f}%) |",
            f"| {n} wallets, {m['worlds']:,} worlds | {s['rss_mb']:.0f} | – | – |",
            "", f"Start to healthy over these starts: "
            + ", ".join(f"{x * 1000:.0f} ms" for x in m["startup_s"])]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--wallets", type=int, default=100_000)
    p.add_argument("--worlds", type=int, default=1000)
    p.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    p.add_argument("--rounds", type=int, default=3, help="wrk runs per figure (median)")
    p.add_argument("--no-pin", action="store_true", help="don't pin server and load to separate CPUs")
    a = p.parse_args()
    from run import cpu_split
    server_cpus, wrk_cpus = cpu_split(a.no_pin)
    m = measure(a.wallets, a.worlds, a.duration, a.rounds, server_cpus, wrk_cpus)
    print("\n".join([""] + table(m)))
    harness.RESULTS.mkdir(exist_ok=True)
    (harness.RESULTS / "memory.json").write_text(json.dumps(m, indent=1))


if __name__ == "__main__":
    main()
