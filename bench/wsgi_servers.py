"""Which WSGI server should serve the sandbox? The same app under each candidate, measured alike.

Candidates run the app in ONE process (every world lives in that process's memory): waitress
(threads), cheroot (threads) and gunicorn with one gthread worker. Each serves the sandbox as the
CLI builds it (request log on, to a file), pinned to one CPU, under wrk from the other.

    pip install cheroot gunicorn      # the candidates besides waitress
    python bench/wsgi_servers.py [--duration 5] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys

from harness import ENDPOINTS, Target, wrk

THREADS = 8


def serve(name: str, port: int) -> None:
    """Run the sandbox under one server (called in the child process)."""
    from mockserver import Settings, create_app
    from mockserver.http import logs
    from mockserver.http.server import make_server, tune_garbage_collector

    logs.configure()
    app = create_app(Settings(port=port))
    tune_garbage_collector()
    if name == "waitress":
        make_server(app, "127.0.0.1", port, THREADS).run()
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


def candidates() -> list[str]:
    found = ["waitress"]
    for module in ("cheroot", "gunicorn"):
        try:
            __import__(module)
            found.append(module)
        except ImportError:
            print(f"skipping {module}: pip install {module}", file=sys.stderr)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8)
    a = parser.parse_args()
    if a.serve:
        return serve(a.serve, a.port)
    server_cpus, wrk_cpus = {1}, {0}
    targets = {
        name: Target(
            name,
            [sys.executable, __file__, "--serve", name, "--port", "{port}"],
            prefix="/v1",
            health="/_mock/health",
        )
        for name in candidates()
    }
    print(f"| server | endpoint | req/s (c={a.connections}) | p99 ms | CPU µs/req |")
    print("|---|---|---|---|---|")
    try:
        for t in targets.values():
            t.start(server_cpus)
        for op in ("get", "create"):
            runs = {name: [] for name in targets}
            for rnd in range(a.rounds):
                for name, t in targets.items():
                    key = f"servers-{op}"
                    wallet = t.create_wallet(key) if rnd == 0 else runs[name][0]["wallet"]
                    r = wrk(t, op, a.connections, a.duration, wallet=wallet, key=key, cpus=wrk_cpus)
                    r["wallet"] = wallet
                    runs[name].append(r)
            for name, rs in runs.items():
                med = {k: statistics.median(r[k] for r in rs) for k in ("rps", "p99_ms", "cpu_us_per_req")}
                # gunicorn serves from a child process, which the CPU reading does not see
                cpu = f"{med['cpu_us_per_req']:.0f}" if med["cpu_us_per_req"] else "–"
                print(
                    f"| {name} | {ENDPOINTS[op]} | {med['rps']:.0f} | {med['p99_ms']:.2f} | {cpu} |",
                    flush=True,
                )
    finally:
        for t in targets.values():
            t.stop()


if __name__ == "__main__":
    main()
