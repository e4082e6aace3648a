"""Benchmark: our sandbox vs Stoplight Prism vs a bare Flask ceiling, side by side.

    python bench/run.py                  # full run: ~10 min of load, then the memory part
    python bench/run.py --quick          # short durations, for a smoke test
    python bench/run.py --targets prism,ceiling --no-memory

Needs wrk, Prism 5.14 under bench/.node and `flexprice-mock` on PATH; prints what to install when
one is missing. Prints a Markdown table and writes JSON to bench/results/.
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
from harness import ENDPOINTS, RESULTS, need, wrk

GATED = ("create", "get")  # the endpoints with throughput targets
FACTORIES = {"ours": harness.ours, "prism": harness.prism, "ceiling": harness.ceiling}


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--duration", type=int, default=5, help="seconds measured per run (default 5)")
    p.add_argument("--warmup", type=int, default=3, help="seconds of discarded load before each cell")
    p.add_argument("--connections", default="1,8,32", help="comma-separated wrk connection counts")
    p.add_argument("--endpoints", default="create,get,topup", help="subset of " + ",".join(ENDPOINTS))
    p.add_argument("--targets", default="ours,prism,ceiling", help="subset of ours,prism,ceiling")
    p.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="measured runs per cell, taken in turns by the targets; medians are reported",
    )
    p.add_argument("--startup-trials", type=int, default=5, help="starts timed per target")
    p.add_argument(
        "--quick",
        action="store_true",
        help="one round of 3 s runs, 1 s warm-up, 2 startup trials, memory with 20,000 wallets",
    )
    p.add_argument("--no-memory", action="store_true", help="skip bench/memory.py's part")
    p.add_argument(
        "--no-pin", action="store_true", help="don't pin servers to the last CPU and wrk to the others"
    )
    a = p.parse_args()
    if a.quick:
        a.duration, a.warmup, a.rounds, a.startup_trials = 3, 1, 1, 2
    a.connections = [int(c) for c in a.connections.split(",")]
    a.endpoints = [e for e in a.endpoints.split(",") if e]
    a.targets = [t for t in a.targets.split(",") if t]
    for t in a.targets:
        FACTORIES[t]()  # fails early, with the install command, if a tool is missing
    need("wrk")
    return a


def cpu_split(no_pin: bool) -> tuple[set[int] | None, set[int] | None]:
    """Servers on one CPU, wrk on the rest: on a small machine this keeps the load generator
    from stealing the server's core, and every target gets the same single core (Prism's Node
    and our GIL-bound Python both use about one anyway)."""
    cpus = sorted(os.sched_getaffinity(0))
    if no_pin or len(cpus) < 2:
        return None, None
    return {cpus[-1]}, set(cpus[:-1])


def startup(name: str, trials: int, cpus) -> dict:
    times = []
    for _ in range(trials):
        t = FACTORIES[name]()
        times.append(t.start(cpus))
        t.stop()
    return {"median_s": statistics.median(times), "max_s": max(times), "all_s": times}


def load(a, server_cpus, wrk_cpus) -> dict:
    """All targets run at once (idle ones cost nothing) and take turns, cell by cell and round by
    round: load from anything else on the machine then hits every target alike, and the median of
    the rounds drops a round that was unlucky."""
    targets = {n: FACTORIES[n]() for n in a.targets}
    out: dict = {n: {} for n in targets}
    try:
        for t in targets.values():
            t.start(server_cpus)
        for op in a.endpoints:
            for c in a.connections:
                # a fresh world (API key) and wallet per cell: what one cell's creates and top-ups
                # leave behind must not weigh on the next (and a world holds 200,000 objects at most)
                key = f"bench-{op}-{c}"
                wallets = {n: t.create_wallet(key) for n, t in targets.items()}
                runs: dict = {n: [] for n in targets}
                for rnd in range(a.rounds):
                    for n, t in targets.items():
                        if a.warmup and rnd == 0:
                            wrk(t, op, c, a.warmup, wallet=wallets[n], key=key, cpus=wrk_cpus)
                        runs[n].append(wrk(t, op, c, a.duration, wallet=wallets[n], key=key, cpus=wrk_cpus))
                for n in targets:
                    r = out[n][f"{op}@{c}"] = summarize(runs[n])
                    bad = r["non_2xx"] + r["connect_errors"] + r["read_errors"] + r["timeouts"]
                    print(
                        f"  {n:8} {ENDPOINTS[op]:30} c={c:<3} {r['rps']:9.0f} req/s  "
                        f"p50 {r['p50_ms']:7.2f} ms  p99 {r['p99_ms']:7.2f} ms"
                        + (f"  ({bad} errors/non-2xx)" if bad else ""),
                        flush=True,
                    )
        for n, t in targets.items():
            out[n]["rss_mb_after_load"] = t.rss_mb()
    finally:
        for t in targets.values():
            t.stop()
    return out


def summarize(runs: list[dict]) -> dict:
    """Median of each figure over the rounds; errors summed; the raw runs kept for the JSON."""
    med = {k: statistics.median(r[k] for r in runs) for k in ("rps", "p50_ms", "p99_ms", "cpu_us_per_req")}
    errs = {
        k: sum(r[k] for r in runs)
        for k in ("non_2xx", "connect_errors", "read_errors", "write_errors", "timeouts")
    }
    return {**med, **errs, "runs": runs}


def ratio(a, b):
    return a / b if a and b else None


def fmt(x, spec=".2f", none="–"):
    return none if x is None else format(x, spec)


def table(res: dict, a) -> list[str]:
    names = [n for n in ("ours", "prism", "ceiling") if n in res]
    head = ["endpoint", "conns"] + [f"{n} {m}" for n in names for m in ("req/s", "p50 ms", "p99 ms")]
    both = "ours" in res and "prism" in res
    if "ours" in res:
        head += ["ours/prism req/s"] * both + ["ours/prism p99"] * both
        head += ["ours/ceiling req/s"] * ("ceiling" in res)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for op in a.endpoints:
        for c in a.connections:
            k = f"{op}@{c}"
            row = [ENDPOINTS[op], str(c)]
            for n in names:
                r = res[n]["load"][k]
                flag = " !" if r["non_2xx"] or r["timeouts"] or r["read_errors"] else ""
                row += [f"{r['rps']:.0f}{flag}", f"{r['p50_ms']:.2f}", f"{r['p99_ms']:.2f}"]
            if "ours" in res:
                o = res["ours"]["load"][k]
                if both:
                    p = res["prism"]["load"][k]
                    row += [fmt(ratio(o["rps"], p["rps"])) + "x", fmt(ratio(o["p99_ms"], p["p99_ms"])) + "x"]
                if "ceiling" in res:
                    row += [fmt(100 * ratio(o["rps"], res["ceiling"]["load"][k]["rps"]), ".0f") + "%"]
            lines.append("| " + " | ".join(row) + " |")
    return lines


def cpu_table(res: dict, a) -> list[str]:
    """Server CPU time per request: the comparison that holds even when the machine is busy."""
    names = [n for n in ("ours", "prism", "ceiling") if n in res]
    head = ["endpoint", "conns"] + [f"{n} CPU µs/req" for n in names]
    head += [f"ours/{n}" for n in names if n != "ours" and "ours" in res]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for op in a.endpoints:
        for c in a.connections:
            cpu = {n: res[n]["load"][f"{op}@{c}"]["cpu_us_per_req"] for n in names}
            row = [ENDPOINTS[op], str(c)] + [f"{cpu[n]:.0f}" for n in names]
            row += [fmt(ratio(cpu["ours"], cpu[n])) + "x" for n in names if n != "ours" and "ours" in res]
            lines.append("| " + " | ".join(row) + " |")
    return lines


def verdicts(res: dict, mem: dict | None, a) -> list[tuple[str, bool, str]]:
    """The performance targets, each with pass/fail and the figure behind it."""
    out = []
    if "ours" not in res:
        return out
    o = res["ours"]
    for op in (e for e in GATED if e in a.endpoints):
        for c in a.connections:
            k, r = f"{op}@{c}", o["load"][f"{op}@{c}"]
            if "prism" in res:
                p = res["prism"]["load"][k]
                out.append(
                    (
                        f"{ENDPOINTS[op]} c={c}: req/s >= 1.25x Prism",
                        r["rps"] >= 1.25 * p["rps"],
                        f"{r['rps'] / p['rps']:.2f}x",
                    )
                )
                out.append(
                    (
                        f"{ENDPOINTS[op]} c={c}: p99 <= Prism's",
                        r["p99_ms"] <= p["p99_ms"],
                        f"{r['p99_ms']:.2f} vs {p['p99_ms']:.2f} ms",
                    )
                )
            if "ceiling" in res:
                ce = res["ceiling"]["load"][k]
                out.append(
                    (
                        f"{ENDPOINTS[op]} c={c}: req/s >= 75% of ceiling",
                        r["rps"] >= 0.75 * ce["rps"],
                        f"{100 * r['rps'] / ce['rps']:.0f}%",
                    )
                )
    s = o["startup"]["max_s"]
    out.append(("start to healthy < 1 s (worst of trials)", s < 1, f"{s * 1000:.0f} ms"))
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
        "waitress": version("waitress"),
        "node": out("node", "--version"),
        "prism": out("prism", "--version"),
        "wrk": out("wrk", "-v"),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "kernel": platform.release(),
    }


def main() -> None:
    a = parse_args()
    server_cpus, wrk_cpus = cpu_split(a.no_pin)
    print(
        f"servers on CPUs {server_cpus or 'any'}, wrk on CPUs {wrk_cpus or 'any'}; "
        f"{a.duration:g} s runs after {a.warmup:g} s warm-up",
        flush=True,
    )
    load_before = harness.loadavg()
    if load_before > 0.5:
        print(
            f"warning: load average {load_before:.2f} before starting: other processes use the "
            "CPU, expect noisy figures (targets take turns, so ratios suffer least)",
            flush=True,
        )
    res: dict = {}
    for name in a.targets:
        res[name] = {"startup": startup(name, a.startup_trials, server_cpus)}
        print(
            f"  {name:8} start to healthy: median {res[name]['startup']['median_s'] * 1000:.0f} ms",
            flush=True,
        )
    for name, figures in load(a, server_cpus, wrk_cpus).items():
        res[name]["load"] = figures
    mem = None
    if "ours" in a.targets and not a.no_memory:
        import memory

        try:
            mem = memory.measure(
                20_000 if a.quick else 100_000, 1000, a.duration, a.rounds, server_cpus, wrk_cpus
            )
        except RuntimeError as e:  # still print the load figures
            print(f"memory part failed: {e}", flush=True)

    lines = ["", "## Throughput and latency (wrk, same machine)", ""] + table(res, a)
    lines += [
        "",
        "Prism answers the same operations at /wallets... (it ignores the spec's `servers`). "
        "`!` = some non-2xx answers or errors (see JSON).",
        "",
        "## Server CPU per request (lower is better)",
        "",
    ] + cpu_table(res, a)
    lines += ["", "## Start to healthy", "", "| server | median ms | worst ms |", "|---|---|---|"]
    lines += [
        f"| {n} | {r['startup']['median_s'] * 1000:.0f} | {r['startup']['max_s'] * 1000:.0f} |"
        for n, r in res.items()
    ]
    if mem:
        lines += ["", "## Memory (ours)", ""] + memory.table(mem)
    v = verdicts(res, mem, a)
    if v:
        lines += ["", "## Targets", "", "| target | met | figure |", "|---|---|---|"]
        lines += [f"| {what} | {'yes' if ok else '**no**'} | {fig} |" for what, ok, fig in v]
    print("\n".join(lines))

    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / time.strftime("run-%Y%m%d-%H%M%S.json")
    path.write_text(
        json.dumps(
            {
                "args": {k: v for k, v in vars(a).items()},
                "versions": versions(),
                "pinning": {"server": sorted(server_cpus or []), "wrk": sorted(wrk_cpus or [])},
                "loadavg_before": load_before,
                "loadavg_after": harness.loadavg(),
                "results": res,
                "memory": mem,
                "targets": [{"target": w, "met": ok, "figure": f} for w, ok, f in v],
            },
            indent=1,
        )
    )
    print(f"\nJSON: {path.relative_to(harness.ROOT)}")


if __name__ == "__main__":
    main()
