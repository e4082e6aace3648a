"""The container image in figures: what it adds to its base, how fast it is healthy, how fast it stops.

    python bench/container.py [--runs 5] [--cold]

Builds the image from this checkout on the debootstrap base the tests use (``tests/containers``),
then, ``--runs`` times each:

- start to healthy inside the container: a process in the container starts ``flexprice-mock`` and
  asks ``/_mock/health`` on loopback until it answers (the server's own start, no engine around it);
- start to healthy as a user sees it: from ``podman run -d`` until the health check answers 200
  through the port mapping on the host (the engine's start included);
- stop: ``podman stop -t 10`` (SIGTERM) until the container is gone, and its exit code.

``--cold`` also times a build without the cache. Prints medians and every sample.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.containers.engine import (
    added_size,
    build_image,
    ensure_base_image,
    exit_code,
    find_engine,
    remove_container,
    run_container,
    stop_container,
    wait_healthy,
)

INSIDE = """
import subprocess, time, urllib.request
started = time.perf_counter()
server = subprocess.Popen(["flexprice-mock", "--quiet"], stderr=subprocess.DEVNULL)
while True:
    try:
        if urllib.request.urlopen("http://127.0.0.1:8080/_mock/health", timeout=1).status == 200:
            break
    except OSError:
        time.sleep(0.005)
print(round(time.perf_counter() - started, 4))
server.terminate()
server.wait()
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cold", action="store_true", help="also time a build without the cache")
    args = parser.parse_args()
    engine = find_engine()
    if engine is None:
        print("no container engine (apt-get install -y podman runc debootstrap)", file=sys.stderr)
        return 2
    base = ensure_base_image(engine)
    started = time.monotonic()
    image = build_image(engine, base=base)
    cached = time.monotonic() - started
    cold = None
    if args.cold:
        started = time.monotonic()
        build_image(engine, base=base, no_cache=True)
        cold = time.monotonic() - started
    size = added_size(engine, image, base)

    inside, outside, stops, codes = [], [], [], []
    for _ in range(args.runs):
        done = engine.run("run", "--rm", *engine.ulimit_args, "--entrypoint", "python3", image, "-c", INSIDE)
        inside.append(float(done.stdout.strip().splitlines()[-1]))
        box = run_container(engine, image)
        try:
            wait_healthy(box.url, 60, engine, box.id)
            outside.append(time.monotonic() - box.started)
            stops.append(stop_container(engine, box.id, timeout=10))
            codes.append(exit_code(engine, box.id))
        finally:
            remove_container(engine, box.id)

    def line(name: str, samples: list[float]) -> str:
        shown = ", ".join(f"{s:.3f}" for s in samples)
        return f"{name:<34} median {statistics.median(samples):.3f} s   ({shown})"

    print(f"machine: {platform.machine()}, {platform.system()} {platform.release()}; engine {engine.exe}")
    print(f"image: {image} on {base}")
    print(f"added to the base: {size / 1e6:.1f} MB")
    print(f"build, cached layers: {cached:.1f} s" + (f"; without cache: {cold:.1f} s" if cold else ""))
    print(line("start to healthy, inside", inside))
    print(line("start to healthy, run -d to host", outside))
    print(line("stop (SIGTERM) to gone", stops) + f"   exit codes {sorted(set(codes))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
