"""Which HTTP server should serve the sandbox? The same app under each candidate, measured alike.

Candidates run the app in ONE process (every world lives in that process's memory): `sandbox`
(what `flexprice-mock` uses: its own HTTP/1.1 server on one event loop, the app run inline),
waitress (an I/O thread and 8 worker threads; what it used before), granian (Rust HTTP server,
WSGI interface, one worker process, several --blocking-threads counts), and cheroot and gunicorn
(one gthread worker) when installed. Each serves the sandbox with its request log on (to a file),
unpinned unless --pin, under wrk; the servers take turns, round by round, and medians are printed.

    pip install waitress granian     # (and cheroot, gunicorn: the other candidates)
    python bench/wsgi_servers.py [--pin] [--duration 5] [--rounds 3] [--connections 8,32]
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import statistics
import sys

from harness import BENCH, ENDPOINTS, Target, cpu_split, take_turns

THREADS = 8


def serve(name: str, port: int) -> None:
    """Run the sandbox under one server (called in the child process)."""
    from mockserver import Settings, create_app
    from mockserver.http import logs, server

    logs.configure()
    app = create_app(Settings(port=port))
    server.tune_garbage_collector()
    if name == "sandbox":
        server.make_server(app).run(sockets=[server.listen("127.0.0.1", port)])
    elif name == "waitress":
        from waitress import serve as waitress_serve

        waitress_serve(app, host="127.0.0.1", port=port, threads=THREADS, _quiet=True)
    elif name == "cheroot":
        from cheroot.wsgi import Server

        Server(("127.0.0.1", port), app, numthreads=THREADS).safe_start()
    elif name == "gunicorn":
        from gunicorn.app.base import BaseApplication

        class One(BaseApplication):
            def load_config(self):
                for key, value in {
                    "bind": f"127.0.0.1:{port}",
                    "workers": 1,
                    "threads": THREADS,
                    "worker_class": "gthread",
                    "accesslog": None,
                }.items():
                    self.cfg.set(key, value)

            def load(self):
                return app

        One().run()


def candidates(granian_threads: list[int]) -> dict[str, list[str]]:
    """Each candidate's command line ("{port}" is replaced)."""
    found = {"sandbox": [sys.executable, __file__, "--serve", "sandbox", "--port", "{port}"]}
    for name in ("waitress", "cheroot", "gunicorn"):
        if importlib.util.find_spec(name):
            found[name] = [sys.executable, __file__, "--serve", name, "--port", "{port}"]
        else:
            print(f"skipping {name}: pip install {name}", file=sys.stderr)
    granian = shutil.which("granian")
    if not granian:
        print("skipping granian: pip install granian", file=sys.stderr)
    for n in granian_threads if granian else []:
        # granian_app.py builds the app as `flexprice-mock` does; one worker: one process, one state
        found[f"granian-bt{n}"] = [
            *(granian, "--interface", "wsgi", "--workers", "1", "--blocking-threads", str(n)),
            *("--no-ws", "--host", "127.0.0.1", "--port", "{port}", "--working-dir", str(BENCH)),
            "granian_app:app",
        ]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2, help="seconds of discarded load per cell")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", default="8,32")
    parser.add_argument("--granian-threads", default="1,2,8", help="--blocking-threads values tried")
    parser.add_argument("--pin", action="store_true", help="servers on the last CPU, wrk on the others")
    a = parser.parse_args()
    if a.serve:
        return serve(a.serve, a.port)
    server_cpus, wrk_cpus = cpu_split(a.pin)
    targets = {
        name: Target(name, argv, prefix="/v1", health="/_mock/health")
        for name, argv in candidates([int(n) for n in a.granian_threads.split(",")]).items()
    }
    print(f"{'pinned' if server_cpus else 'unpinned'}; {a.duration} s runs, medians of {a.rounds}\n")
    print("| server | endpoint | conns | req/s | p99 ms | CPU µs/req |")
    print("|---|---|---|---|---|---|")
    try:
        for t in targets.values():
            t.start(server_cpus)
        for op in ("get", "create"):
            for c in (int(c) for c in a.connections.split(",")):
                runs = take_turns(
                    targets,
                    op,
                    c,
                    f"servers-{op}-{c}",
                    rounds=a.rounds,
                    duration=a.duration,
                    warmup=a.warmup,
                    cpus=wrk_cpus,
                )
                for name, rs in runs.items():
                    med = {
                        k: statistics.median(r[k] for r in rs) for k in ("rps", "p99_ms", "cpu_us_per_req")
                    }
                    bad = sum(r["non_2xx"] + r["read_errors"] + r["timeouts"] for r in rs)
                    print(
                        f"| {name} | {ENDPOINTS[op]} | {c} | {med['rps']:.0f}{' !' if bad else ''} | "
                        f"{med['p99_ms']:.2f} | {med['cpu_us_per_req']:.0f} |",
                        flush=True,
                    )
    finally:
        for t in targets.values():
            t.stop()


if __name__ == "__main__":
    main()
