"""Does a hung webhook receiver slow the API? Requests per second and latency of top-ups with
no endpoint, then with an endpoint that accepts connections and never answers, side by side.

    python bench/webhooks.py                 # 3,000 top-ups each way, 4 client threads
    python bench/webhooks.py --requests 10000

The sandbox is `flexprice-mock` on its defaults (a short --webhook-timeout, so the hung
receiver is retried often during the run). The client is plain http.client in this process.
"""

from __future__ import annotations

import argparse
import http.client
import json
import socket
import statistics
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import harness


def hung_receiver() -> tuple[socket.socket, str]:
    """A listening socket that accepts and never answers (the kernel completes the handshake)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1024)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                held.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    return server, f"http://127.0.0.1:{server.getsockname()[1]}/hooks"


def quick_receiver() -> tuple[ThreadingHTTPServer, str]:
    """A receiver that answers 204 at once."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/hooks"


def top_ups(port: int, key: str, count: int, threads: int) -> list[float]:
    """Latencies (ms) of ``count`` top-ups of one wallet, sent over ``threads`` connections."""
    conn = http.client.HTTPConnection("127.0.0.1", port)
    conn.request(
        "POST",
        "/v1/wallets",
        json.dumps({"customer_id": "c", "currency": "usd"}),
        {"x-api-key": key, "Content-Type": "application/json"},
    )
    wallet = json.loads(conn.getresponse().read())["id"]
    latencies: list[float] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        c = http.client.HTTPConnection("127.0.0.1", port)
        mine = []
        for i in range(count // threads):
            body = json.dumps(
                {
                    "credits_to_add": "1",
                    "transaction_reason": "PURCHASED_CREDIT_DIRECT",
                    "idempotency_key": f"{key}-{n}-{i}",
                }
            )
            started = time.perf_counter()
            c.request(
                "POST",
                f"/v1/wallets/{wallet}/top-up",
                body,
                {"x-api-key": key, "Content-Type": "application/json"},
            )
            reply = c.getresponse()
            reply.read()
            assert reply.status == 200, reply.status
            mine.append((time.perf_counter() - started) * 1000)
        with lock:
            latencies.extend(mine)

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return latencies


def summary(name: str, latencies: list[float], seconds: float) -> str:
    cuts = statistics.quantiles(latencies, n=100)
    return (
        f"| {name} | {len(latencies) / seconds:.0f} | {statistics.median(latencies):.2f} ms "
        f"| {cuts[98]:.2f} ms |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    target = harness.ours(["--quiet", "--webhook-timeout", "2"])
    target.start()
    hung, hung_url = hung_receiver()
    quick, quick_url = quick_receiver()
    try:
        rows = []
        for name, key, url in (
            ("no endpoint", "bench_plain", None),
            ("a receiver answering at once", "bench_quick", quick_url),
            ("a hung receiver", "bench_hung", hung_url),
        ):
            if url:
                conn = http.client.HTTPConnection("127.0.0.1", target.port)
                headers = {"x-api-key": key, "Content-Type": "application/json"}
                conn.request("POST", "/_mock/webhooks", json.dumps({"url": url}), headers)
                assert conn.getresponse().status == 201
            started = time.perf_counter()
            latencies = top_ups(target.port, key, args.requests, args.threads)
            rows.append(summary(name, latencies, time.perf_counter() - started))
        print("| webhooks | top-ups/s | p50 | p99 |\n|---|---|---|---|")
        print("\n".join(rows))
    finally:
        hung.close()
        quick.shutdown()
        target.stop()


if __name__ == "__main__":
    main()
