"""Benchmark: our sandbox vs Stoplight Prism vs a bare Flask ceiling, on both API versions.

    python bench/run.py                  # full run, unpinned: ~35 min of load, then the memory part
    python bench/run.py --pin            # servers on the last CPU, wrk on the others
    python bench/run.py --quick          # short durations, for a smoke test
    python bench/run.py --versions 2026-08-22 --targets ours,prism --no-memory --no-held

Needs wrk, Prism 5.14 under bench/.node and `flexprice-mock` on PATH; prints what to install when
one is missing. Prints the issue's table of targets and writes JSON to bench/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import time

import harness
from harness import ENDPOINTS, RESULTS, VERSIONS, need

KINDS = ("ours", "prism", "ceiling")
MIN_VS_PRISM = 1.5  # ours req/s over Prism's, every cell
MIN_VS_CEILING = 0.75  # ours req/s over the bare-Flask ceiling's, every cell


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--duration", type=int, default=5, help="seconds measured per run (default 5)")
    p.add_argument("--warmup", type=int, default=3, help="seconds of discarded load before each cell")
    p.add_argument("--connections", default="1,8,32", help="comma-separated wrk connection counts")
    p.add_argument("--endpoints", default="create,get,topup", help="subset of " + ",".join(ENDPOINTS))
    p.add_argument("--versions", default=",".join(VERSIONS), help="API versions (default: all)")
    p.add_argument("--targets", default=",".join(KINDS), help="subset of " + ",".join(KINDS))
    p.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="measured runs per cell, taken in turns by the targets; medians are reported",
    )
    p.add_argument("--startup-trials", type=int, default=5, help="starts timed per server")
    p.add_argument(
        "--quick",
        action="store_true",
        help="one round of 3 s runs, 1 s warm-up, 2 startup trials, memory with 20,000 wallets",
    )
    p.add_argument("--no-memory", action="store_true", help="skip bench/memory.py's part")
    p.add_argument("--no-held", action="store_true", help="skip bench/held.py's part")
    p.add_argument("--pin", action="store_true", help="servers on the last CPU, wrk on the others")
    a = p.parse_args()
    if a.quick:
        a.duration, a.warmup, a.rounds, a.startup_trials = 3, 1, 1, 2
    a.connections = [int(c) for c in a.connections.split(",")]
    a.endpoints = [e for e in a.endpoints.split(",") if e]
    a.versions = [v for v in a.versions.split(",") if v]
    a.targets = [t for t in KINDS if t in a.targets.split(",")]
    servers(a)  # fails early, with the install command, if a tool is missing
    need("wrk")
    return a


def servers(a) -> dict[str, dict[str, harness.Target]]:
    """Per API version, its servers by kind: ours and Prism serve that version; the one bare-Flask
    ceiling (no API version) takes every version's turn."""
    ceiling = harness.ceiling() if "ceiling" in a.targets else None
    make = {"ours": lambda v: harness.ours(version=v), "prism": harness.prism, "ceiling": lambda v: ceiling}
    return {v: {k: make[k](v) for k in a.targets} for v in a.versions}


def unique(srv: dict) -> list[harness.Target]:
    return list({id(t): t for per in srv.values() for t in per.values()}.values())


def startup(a, cpus) -> dict:
    """Spawn to healthy, over fresh starts of every server."""
    out = {}
    for _ in range(a.startup_trials):
        for t in unique(servers(a)):
            out.setdefault(t.name, []).append(t.start(cpus))
            t.stop()
    return {n: {"median_s": statistics.median(x), "max_s": max(x), "all_s": x} for n, x in out.items()}


def load(a, server_cpus, wrk_cpus) -> dict:
    """All servers run at once (idle ones cost nothing) and take turns, cell by cell and round by
    round: load from anything else on the machine then hits every target alike, and the median of
    the rounds drops a round that was unlucky."""
    srv = servers(a)
    out: dict = {v: {k: {} for k in a.targets} for v in a.versions}
    try:
        for t in unique(srv):
            t.start(server_cpus)
        for v, targets in srv.items():
            for op in a.endpoints:
                for c in a.connections:
                    # a fresh world (API key) and wallet per cell: what one cell's creates and
                    # top-ups leave behind must not weigh on the next (a world holds 200,000
                    # objects at most)
                    runs = harness.take_turns(
                        targets,
                        op,
                        c,
                        f"bench-{v}-{op}-{c}",
                        rounds=a.rounds,
                        duration=a.duration,
                        warmup=a.warmup,
                        cpus=wrk_cpus,
                    )
                    for k in targets:
                        r = out[v][k][f"{op}@{c}"] = summarize(runs[k])
                        print(
                            f"  {v} {k:8} {ENDPOINTS[op]:30} c={c:<3} {r['rps']:7.0f} req/s  "
                            f"{r['cpu_us_per_req']:5.0f} µs CPU/req  p99 {r['p99_ms']:7.2f} ms"
                            + (f"  ({r['bad']} errors/non-2xx)" if r["bad"] else ""),
                            flush=True,
                        )
    finally:
        for t in unique(srv):
            t.stop()
    return out


def summarize(runs: list[dict]) -> dict:
    """Median of each figure over the rounds; errors summed; the raw runs kept for the JSON."""
    med = {k: statistics.median(r[k] for r in runs) for k in ("rps", "p50_ms", "p99_ms", "cpu_us_per_req")}
    errs = ("non_2xx", "connect_errors", "read_errors", "write_errors", "timeouts")
    return {**med, "bad": sum(r[k] for r in runs for k in errs), "runs": runs}


def targets_table(res: dict, a) -> tuple[list[str], int, int]:
    """The issue's table: per version, endpoint and connections, ours against Prism and the
    ceiling, with each target's verdict. Returns the lines, the cells met and the cells judged."""
    has = {k: k in a.targets for k in KINDS}
    head = ["version", "endpoint", "conns", "ours req/s", "ours µs CPU/req", "ours p99 ms"]
    if has["prism"]:
        head += ["Prism req/s", "Prism µs CPU/req", "Prism p99 ms", f"ours/Prism (≥{MIN_VS_PRISM}x)"]
        head += ["p99 ≤ Prism's"]
    if has["ceiling"]:
        head += ["ceiling req/s", f"ours/ceiling (≥{MIN_VS_CEILING:.0%})"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    met = judged = 0

    def verdict(ok: bool, text: str) -> str:
        nonlocal met, judged
        met, judged = met + ok, judged + 1
        return text if ok else f"**{text}** no"

    def figures(r: dict) -> list[str]:
        return [
            f"{r['rps']:.0f}" + (" !" if r["bad"] else ""),
            f"{r['cpu_us_per_req']:.0f}",
            f"{r['p99_ms']:.2f}",
        ]

    for v in a.versions:
        for op in a.endpoints:
            for c in a.connections:
                cell = {k: res[v][k][f"{op}@{c}"] for k in a.targets}
                o = cell["ours"]
                row = [v, ENDPOINTS[op], str(c)] + figures(o)
                if has["prism"]:
                    p = cell["prism"]
                    x = o["rps"] / p["rps"]
                    row += figures(p) + [verdict(x >= MIN_VS_PRISM, f"{x:.2f}x")]
                    row += [verdict(o["p99_ms"] <= p["p99_ms"], f"{o['p99_ms'] / p['p99_ms']:.2f}x")]
                if has["ceiling"]:
                    x = o["rps"] / cell["ceiling"]["rps"]
                    row += [f"{cell['ceiling']['rps']:.0f}", verdict(x >= MIN_VS_CEILING, f"{x:.0%}")]
                lines.append("| " + " | ".join(row) + " |")
    return lines, met, judged


def verdicts(start: dict, mem: dict | None, held: dict | None) -> list[tuple[str, bool, str]]:
    """The targets outside the load table, each with pass/fail and the figure behind it."""
    out = []
    for name, s in start.items():
        if name.startswith("ours"):
            w = s["max_s"]
            out.append((f"{name}: start to healthy < 1 s (worst of trials)", w < 1, f"{w * 1000:.0f} ms"))
    if mem:
        for label, key in (("one world", "one_world"), ("1,000 worlds", "spread")):
            m = mem[key]["rss_mb"]
            out.append((f"{mem['wallets']:,} wallets in {label} < 300 MB RSS", m < 300, f"{m:.0f} MB"))
        for op, d in mem["rps_change"].items():
            out.append(
                (
                    f"{ENDPOINTS[op]} req/s with {mem['wallets']:,} wallets within 10% of empty",
                    abs(d) <= 0.10,
                    f"{100 * d:+.1f}%",
                )
            )
    if held:
        x = held["p99_ratio"]
        out.append((f"p99 beside {held['held']} held requests within 2x of p99 alone", x <= 2, f"{x:.2f}x"))
    return out


def versions() -> dict:
    from importlib.metadata import version

    def out(tool, flag):
        try:
            argv = [need(tool), flag] if tool in harness.INSTALL else [tool, flag]
            r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
            return (r.stdout or r.stderr).strip().splitlines()[0]
        except (SystemExit, OSError, IndexError, subprocess.TimeoutExpired):
            return None

    with open("/proc/cpuinfo") as info:
        cpu = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), "")
    return {
        "python": platform.python_version(),
        "flask": version("flask"),
        "httptools": version("httptools"),
        "uvloop": version("uvloop"),
        "node": out("node", "--version"),
        "prism": out("prism", "--version"),
        "wrk": out("wrk", "-v"),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "kernel": platform.release(),
    }


def main() -> None:
    a = parse_args()
    server_cpus, wrk_cpus = harness.cpu_split(a.pin)
    print(
        f"servers on CPUs {server_cpus or 'any'}, wrk on CPUs {wrk_cpus or 'any'}; "
        f"{a.duration:g} s runs after {a.warmup:g} s warm-up, {a.rounds} rounds",
        flush=True,
    )
    load_before = harness.loadavg()
    if load_before > 0.5:
        print(
            f"warning: load average {load_before:.2f} before starting: other processes use the "
            "CPU, expect noisy figures (targets take turns, so ratios suffer least)",
            flush=True,
        )
    start = startup(a, server_cpus)
    for name, s in start.items():
        print(f"  {name:18} start to healthy: median {s['median_s'] * 1000:.0f} ms", flush=True)
    res = load(a, server_cpus, wrk_cpus)
    mem = None
    if "ours" in a.targets and not a.no_memory:
        import memory

        try:
            mem = memory.measure(
                20_000 if a.quick else 100_000, 1000, a.duration, a.rounds, server_cpus, wrk_cpus
            )
        except RuntimeError as e:  # still print the load figures
            print(f"memory part failed: {e}", flush=True)
    held_result = None
    if "ours" in a.targets and not a.no_held:
        import held

        target = harness.ours(version=a.versions[-1])
        target.start(server_cpus)
        try:
            held_result = held.measure(target, a.rounds, a.duration, cpus=wrk_cpus)
        finally:
            target.stop()

    pinning = (
        f"servers on CPU {sorted(server_cpus)}, wrk on {sorted(wrk_cpus)}" if server_cpus else "unpinned"
    )
    lines = ["", f"## Targets under load (wrk, same machine, {pinning}, medians of {a.rounds})", ""]
    if "ours" in a.targets:
        table, met, judged = targets_table(res, a)
        lines += table + [
            "",
            f"{met} of {judged} verdicts met. CPU = the server's CPU time per request (all its "
            "processes). Prism serves the same operations at /wallets... (it ignores the spec's "
            "`servers`). `!` = some non-2xx answers or errors (see JSON).",
        ]
    lines += ["", "## Start to healthy", "", "| server | median ms | worst ms |", "|---|---|---|"]
    lines += [f"| {n} | {s['median_s'] * 1000:.0f} | {s['max_s'] * 1000:.0f} |" for n, s in start.items()]
    if mem:
        lines += ["", "## Memory (ours)", ""] + memory.table(mem)
    if held_result:
        lines += ["", f"## Held requests ({a.versions[-1]})", ""] + held.table(held_result)
    v = verdicts(start, mem, held_result)
    if v:
        lines += ["", "## Other targets", "", "| target | met | figure |", "|---|---|---|"]
        lines += [f"| {what} | {'yes' if ok else '**no**'} | {fig} |" for what, ok, fig in v]
    print("\n".join(lines))

    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / time.strftime("run-%Y%m%d-%H%M%S.json")
    path.write_text(
        json.dumps(
            {
                "args": vars(a),
                "versions": versions(),
                "pinning": {"server": sorted(server_cpus or []), "wrk": sorted(wrk_cpus or [])},
                "loadavg_before": load_before,
                "loadavg_after": harness.loadavg(),
                "startup": start,
                "results": res,
                "memory": mem,
                "held": held_result,
                "targets": [{"target": w, "met": ok, "figure": f} for w, ok, f in v],
            },
            indent=1,
        )
    )
    print(f"\nJSON: {path.relative_to(harness.ROOT)}")


if __name__ == "__main__":
    main()
