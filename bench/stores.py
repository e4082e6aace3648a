"""Benchmark: the sandbox on its memory store against the Redis store, in one and in N processes.

    python bench/stores.py                                    # ~6 min: 3 rounds of 5 s per cell
    python bench/stores.py --rounds 1 --duration 2            # a smoke test
    python bench/stores.py --connections 8 --endpoints get --api-version 2025-05-24
    python bench/stores.py --worlds 200                       # requests spread over 200 worlds

Three targets, all `flexprice-mock` on their defaults (request log on unless --quiet) and the
chosen API version: `memory` (one process, worlds in it), `redis-1` (`--store redis://...`) and
`redis-N` (the same with `--workers N`, default 2: a parent and N forked workers on one port).
The script starts its own redis-server on a free port, nothing kept on disk, and stops it at the
end; each Redis target has its own `--redis-prefix`, so they never share a world. Unpinned: wrk,
the sandboxes and Redis share the machine, as users run them. The targets take turns, round by
round, on a fresh world (API key) per cell, or on --worlds N fresh worlds per cell with wrk's
requests going round-robin over them (as when many tests, each with its own key, share a
sandbox); medians are printed as a Markdown table, with the sandbox's CPU per request (all its
processes) and, separately, redis-server's. Needs wrk, redis-server and `flexprice-mock` on PATH;
writes JSON to bench/results/.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import subprocess
import time

import harness
from harness import ENDPOINTS, RESULTS, VERSIONS, Target, need
from run import summarize

ORDER = ("get", "topup", "create")


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=3, help="measured runs per cell; medians are reported")
    p.add_argument("--duration", type=int, default=5, help="seconds measured per run (default 5)")
    p.add_argument("--warmup", type=int, default=2, help="seconds of discarded load per target and cell")
    p.add_argument("--connections", default="8,32", help="comma-separated wrk connection counts")
    p.add_argument("--endpoints", default=",".join(ORDER), help="subset of " + ",".join(ORDER))
    p.add_argument("--api-version", default=VERSIONS[-1], choices=VERSIONS)
    p.add_argument("--workers", type=int, default=2, help="processes of the multi-process Redis target")
    p.add_argument("--quiet", action="store_true", help="start every sandbox with --quiet (no request log)")
    p.add_argument(
        "--worlds",
        type=int,
        default=1,
        help="worlds (API keys, each with a wallet) set up per cell; wrk goes round-robin over them",
    )
    a = p.parse_args()
    a.connections = [int(c) for c in a.connections.split(",") if c]
    a.endpoints = [e for e in a.endpoints.split(",") if e]
    unknown = set(a.endpoints) - set(ORDER)
    if unknown:
        p.error(f"unknown endpoints {', '.join(sorted(unknown))}; choose from {', '.join(ORDER)}")
    if a.worlds < 1:
        p.error("--worlds: 1 or more")
    if a.workers < 2:
        p.error("--workers: 2 or more (redis-1 is the one-process Redis target)")
    for tool in ("wrk", "redis-server", "flexprice-mock"):
        need(tool)  # fails early, with the install command
    return a


def targets(a, redis: Target) -> dict[str, Target]:
    """The sandboxes, by name: memory, redis-1 and redis-N, each Redis one on its own prefix."""
    quiet = ["--quiet"] if a.quiet else []
    out = {"memory": dataclasses.replace(harness.ours(quiet, a.api_version), name="memory")}
    for workers in (1, a.workers):
        name = f"redis-{workers}"
        extra = ["--store", f"redis://127.0.0.1:{redis.port}/0", "--redis-prefix", f"bench-{name}:"]
        extra += ["--workers", str(workers)] if workers > 1 else []
        out[name] = dataclasses.replace(harness.ours(extra + quiet, a.api_version), name=name, beside=[redis])
    return out


def summary(runs: list[dict]) -> dict:
    """run.py's medians, plus redis-server's CPU per request and the non-2xx answers apart."""
    s = summarize(runs)
    s["non_2xx"] = sum(r["non_2xx"] for r in runs)
    s["errors"] = s["bad"] - s["non_2xx"]  # connect, read and write errors, timeouts
    beside = [r["beside_cpu_us_per_req"]["redis-server"] for r in runs if "beside_cpu_us_per_req" in r]
    s["redis_cpu_us_per_req"] = statistics.median(beside) if beside else None
    return s


def load(a, redis: Target) -> dict[str, dict[str, dict]]:
    """Every cell (endpoint, connections), the targets taking turns; results by target and cell."""
    srv = targets(a, redis)
    out: dict[str, dict[str, dict]] = {name: {} for name in srv}
    try:
        for t in srv.values():
            t.start()
        for op in a.endpoints:
            for c in a.connections:
                runs = harness.take_turns(
                    srv,
                    op,
                    c,
                    f"stores-{op}-{c}",
                    rounds=a.rounds,
                    duration=a.duration,
                    warmup=a.warmup,
                    worlds=a.worlds,
                )
                for name in srv:
                    r = out[name][f"{op}@{c}"] = summary(runs[name])
                    redis_cpu = r["redis_cpu_us_per_req"]
                    print(
                        f"  {name:8} {ENDPOINTS[op]:30} c={c:<3} {r['rps']:7.0f} req/s  "
                        f"p99 {r['p99_ms']:7.2f} ms  {r['cpu_us_per_req']:5.0f} µs CPU/req"
                        + (f" + redis {redis_cpu:4.0f}" if redis_cpu is not None else "")
                        + f"  non-2xx {r['non_2xx']}, errors {r['errors']}",
                        flush=True,
                    )
    finally:
        for t in srv.values():
            t.stop()
    return out


def table(res: dict[str, dict[str, dict]], a) -> list[str]:
    head = ["target", "endpoint", "conns", "req/s", "p99 ms", "µs CPU/req", "redis µs CPU/req"]
    head += ["req/s vs memory", "non-2xx", "errors"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for op in a.endpoints:
        for c in a.connections:
            memory = res["memory"][f"{op}@{c}"]["rps"]
            for name, cells in res.items():
                r = cells[f"{op}@{c}"]
                redis_cpu = r["redis_cpu_us_per_req"]
                row = [name, ENDPOINTS[op], str(c), f"{r['rps']:.0f}", f"{r['p99_ms']:.2f}"]
                row += [f"{r['cpu_us_per_req']:.0f}", "–" if redis_cpu is None else f"{redis_cpu:.0f}"]
                row += [f"{r['rps'] / memory:.2f}x", str(r["non_2xx"]), str(r["errors"])]
                lines.append("| " + " | ".join(row) + " |")
    return lines


def worlds(n: int) -> str:
    return "1 world" if n == 1 else f"{n} worlds"


def main() -> None:
    a = parse_args()
    machine = {"cpu": harness.cpu_model(), "cpus": os.cpu_count(), "kernel": platform.release()}
    redis_version = subprocess.run([need("redis-server"), "--version"], capture_output=True, text=True)
    machine["redis"] = redis_version.stdout.strip()
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    load_before = harness.loadavg()
    print(
        f"unpinned; API {a.api_version}; {worlds(a.worlds)} per cell; {a.duration} s runs after "
        f"{a.warmup} s warm-up, medians of {a.rounds} rounds; load average {load_before:.2f}",
        flush=True,
    )
    if load_before > 0.5:
        print("warning: other processes use the CPU, expect noisy figures (ratios suffer least)", flush=True)
    redis = harness.redis_server()
    redis.start()
    try:
        res = load(a, redis)
    finally:
        redis.stop()
    load_after = harness.loadavg()

    title = f"## Stores under load (wrk, same machine, unpinned, {worlds(a.worlds)} per cell, "
    title += f"medians of {a.rounds})"
    lines = ["", title, ""]
    lines += table(res, a)
    lines += [
        "",
        f"µs CPU/req: the sandbox's processes (parent and workers); redis µs CPU/req: redis-server's, "
        f"beside it. API {a.api_version}, {a.duration} s runs. Machine: {machine['cpu']}, "
        f"{machine['cpus']} cores, load average {load_before:.2f} before, {load_after:.2f} after; "
        f"{machine['redis'].split(' sha=')[0]}; {started}.",
    ]
    print("\n".join(lines))

    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / time.strftime("stores-%Y%m%d-%H%M%S.json")
    path.write_text(
        json.dumps(
            {
                "args": vars(a),
                "date": started,
                "worlds": a.worlds,
                "machine": machine,
                "loadavg_before": load_before,
                "loadavg_after": load_after,
                "results": res,
            },
            indent=1,
        )
    )
    print(f"\nJSON: {path.relative_to(harness.ROOT)}")


if __name__ == "__main__":
    main()
