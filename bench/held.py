"""Held requests beside normal traffic: do 50 requests held by faults slow the others down?

Fifty clients keep one request each held by the sandbox at all times (half `latency=2s`, half
`timeout=2s`, sent as the X-Mock-Fault header, each sent again as soon as it ends) while wrk runs
GET /v1/wallets/{id} at 8 connections. Rounds alternate without and with the held requests;
medians are printed. The target: p99 with them within 2x of p99 without.

    python bench/held.py [--version 2026-08-22] [--duration 5] [--rounds 3] [--held 50] [--pin]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import threading

import harness
from harness import wrk

HOLD = "2s"
CONNECTIONS = 8


def _hold_forever(url: str, key: str, wallet: str, fault: str, stop: threading.Event) -> None:
    host, port = url.removeprefix("http://").split(":")
    request = (
        f"GET /v1/wallets/{wallet} HTTP/1.1\r\nHost: {host}\r\nx-api-key: {key}\r\n"
        f"X-Mock-Fault: {fault}\r\nConnection: close\r\n\r\n"
    ).encode()
    while not stop.is_set():
        with socket.create_connection((host, int(port)), timeout=30) as sock:
            sock.sendall(request)
            while sock.recv(65536):
                pass


def measure(
    target: harness.Target, rounds: int, duration: int, held: int = 50, cpus: set[int] | None = None
) -> dict:
    """p99 and req/s of GET at 8 connections, without and with ``held`` requests held throughout."""
    key = "bench-held"
    wallet = target.create_wallet(key)
    runs: dict[str, list[dict]] = {"without": [], "with": []}
    wrk(target, "get", CONNECTIONS, 2, wallet=wallet, key=key, cpus=cpus)  # warm-up
    for _ in range(rounds):
        runs["without"].append(wrk(target, "get", CONNECTIONS, duration, wallet=wallet, key=key, cpus=cpus))
        stop = threading.Event()
        holders = [
            threading.Thread(
                target=_hold_forever,
                args=(target.base, key, wallet, f"latency={HOLD}" if n % 2 else f"timeout={HOLD}", stop),
                daemon=True,
            )
            for n in range(held)
        ]
        for h in holders:
            h.start()
        runs["with"].append(wrk(target, "get", CONNECTIONS, duration, wallet=wallet, key=key, cpus=cpus))
        stop.set()
        for h in holders:
            h.join(10)
    out = {
        name: {k: statistics.median(r[k] for r in rs) for k in ("rps", "p99_ms", "cpu_us_per_req")}
        for name, rs in runs.items()
    }
    out["held"] = held
    out["p99_ratio"] = out["with"]["p99_ms"] / out["without"]["p99_ms"]
    return out


def table(result: dict) -> list[str]:
    lines = ["| GET /v1/wallets/{id}, c=8 | req/s | p99 ms | µs CPU/req |", "|---|---|---|---|"]
    for name, label in (("without", "alone"), ("with", f"beside {result['held']} held requests")):
        r = result[name]
        lines.append(f"| {label} | {r['rps']:.0f} | {r['p99_ms']:.2f} | {r['cpu_us_per_req']:.0f} |")
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--version", default=harness.VERSIONS[-1])
    p.add_argument("--duration", type=int, default=5)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--held", type=int, default=50)
    p.add_argument("--pin", action="store_true", help="server on the last CPU, wrk on the others")
    a = p.parse_args()
    server_cpus, wrk_cpus = harness.cpu_split(a.pin)
    target = harness.ours(version=a.version)
    target.start(server_cpus)
    try:
        result = measure(target, a.rounds, a.duration, a.held, wrk_cpus)
    finally:
        target.stop()
    print("\n".join(table(result)))
    print(f"\np99 with held requests / without: {result['p99_ratio']:.2f}x (target ≤ 2x)")


if __name__ == "__main__":
    main()
