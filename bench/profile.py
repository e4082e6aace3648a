"""Where our server spends its time under load: py-spy samples it while wrk drives one endpoint.

    pip install py-spy
    python bench/profile.py --endpoint create --seconds 10 [--raw /tmp/create.txt]

Samples only the thread holding the GIL (py-spy --gil): with one interpreter lock, that is the
Python work that bounds requests/s. Prints the functions with the most samples, inclusive (it or
its callees) and self. Time in send/recv and waiting for the GIL is not in these samples.
"""

from __future__ import annotations

import argparse
import collections
import re
import subprocess
import sys
import tempfile
import time

import harness
from harness import need, wrk

FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")


def short(frame: str) -> str:
    """`func (path/to/pkg/mod.py:12)` -> `pkg/mod.py:func` (line numbers merged)."""
    m = FRAME.match(frame)
    if not m:
        return frame
    parts = m["file"].split("/")
    return "/".join(parts[-2:]) + ":" + m["func"]


def package(frame: str) -> str:
    """Which library a frame's code belongs to (py-spy names files from their package root)."""
    m = FRAME.match(frame)
    top = (m["file"] if m else frame).split("/")[0].removesuffix(".py")
    if top.startswith("<frozen") or top in sys.stdlib_module_names:
        return "stdlib"
    return top


def summarize(raw: str, top: int) -> list[str]:
    incl, self_, pkgs = collections.Counter(), collections.Counter(), collections.Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        full = [f for f in stack.split(";") if not f.startswith(("thread (", "process "))]
        frames = [short(f) for f in full]
        total += n
        for f in set(frames):
            incl[f] += n
        if frames:
            self_[frames[-1]] += n
            pkgs[package(full[-1])] += n
    out = [f"{total} samples holding the GIL", "", "self time by library:"]
    out += [f"  {100 * n / total:5.1f}%  {p}" for p, n in pkgs.most_common()]
    out += ["", "inclusive:"]
    out += [f"  {100 * n / total:5.1f}%  {f}" for f, n in incl.most_common(top)]
    out += ["", "self:"]
    out += [f"  {100 * n / total:5.1f}%  {f}" for f, n in self_.most_common(top)]
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--endpoint", default="create", choices=list(harness.ENDPOINTS))
    p.add_argument("--connections", type=int, default=8)
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--top", type=int, default=30)
    p.add_argument("--raw", help="keep py-spy's collapsed stacks here (for flamegraph.pl, speedscope)")
    p.add_argument("--ours-args", default="", help="extra flexprice-mock flags, e.g. --quiet")
    p.add_argument("--pin", action="store_true", help="pin server and wrk to separate CPUs")
    a = p.parse_args()
    spy = need("py-spy")
    server_cpus, wrk_cpus = harness.cpu_split(a.pin)
    t = harness.ours(a.ours_args.split())
    t.start(server_cpus)
    try:
        wallet = t.create_wallet()
        wrk(t, a.endpoint, a.connections, 2, wallet=wallet, cpus=wrk_cpus)  # warm-up
        with tempfile.TemporaryDirectory() as tmp:
            raw = a.raw or f"{tmp}/stacks.txt"
            # --nonblocking: sample without pausing the server, so the load stays realistic
            rec = subprocess.Popen(
                [
                    spy,
                    "record",
                    "--nonblocking",
                    "--gil",
                    "--format",
                    "raw",
                    "-r",
                    "200",
                    "-d",
                    str(a.seconds),
                    "-o",
                    raw,
                    "--pid",
                    str(t.proc.pid),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(0.5)  # let py-spy attach before the load starts
            r = wrk(t, a.endpoint, a.connections, a.seconds, wallet=wallet, cpus=wrk_cpus)
            rec.wait()
            print(f"{harness.ENDPOINTS[a.endpoint]} c={a.connections}: {r['rps']:.0f} req/s while sampled\n")
            print("\n".join(summarize(open(raw).read(), a.top)))
    finally:
        t.stop()


if __name__ == "__main__":
    main()
