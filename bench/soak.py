"""Soak: a real sandbox under long mixed traffic; does it stay healthy and bounded?

    python bench/soak.py --minutes 10
    python bench/soak.py --seconds 60 [--clients 8] [--keys 200] [--interval 5] [--seed 7]
    python bench/soak.py --seconds 60 --validate-responses   # the server checks its own answers too

It starts `python -m mockserver --quiet --no-fixtures` on a free loopback port (run from
bench/results, not the repo root) and a local webhook receiver that answers 204, or 500 to a
share of deliveries so retries run. Client threads (requests sessions, one each) then drive
traffic over many API keys (worlds) for the set time: customers, wallets, direct and invoiced
top-ups, debits, reads, lists; `X-Mock-Fault` headers and fault rules on some requests; clock
moves; webhook endpoints; and every world is reset when its short life ends, as test suites
do, so the total state stays bounded.

Every few seconds it samples the server process from /proc (RSS, open fds, threads) and the
traffic of that window (requests, req/s, latency p50/p99/max of requests without injected
faults, unexpected answers). An unexpected answer is a 5xx that was not injected, a connection
error that no fault explains, a status the request should not get, or a body that is not JSON.
An answer slower than 200 ms is looked up in the journal for the time the app itself spent on it.

It prints the table and the bounds' verdicts, writes everything to bench/results/soak-*.json,
and exits 1 when a bound fails. `soak()` and `verdicts()` are what tests/test_soak.py runs.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests
from harness import RESULTS, free_port

# ---- bounds -----------------------------------------------------------------------------------

# RSS at the end may be at most this much above RSS after the warm-up third. Every world is reset
# when its life ends (world_life), so the live state is at its steady size by then and a healthy
# server only moves by allocator noise. Measured on a 2-core VM: +0.2 to +1 % in runs of 30-210 s,
# +5.7 % in 5 minutes; the same server patched to leak 512 bytes per request grows +12.7 % in the
# 30 s test, 1 KB per request +20.6 %. 10 % fails both (25 % would pass both) and leaves the
# healthy 30 s run a tenfold margin; a 10 minute run fails leaks of a few tens of bytes a request.
RSS_GROWTH = 0.10
# Open fds at the end (clients gone, up to 5 s of settling) over those at the start: a delivery
# to the receiver may still be in flight. Measured: back to the start within 2 s. A leak of one fd
# per connection, per dropped connection or per delivery is hundreds.
FD_MARGIN = 2
# Threads at any sample over those at the start: the webhook outbox starts a scheduler and up to
# 8 senders once an endpoint is registered (measured: exactly +9), the server runs webhook waits
# on up to 4 threads of their own (server.WAITING_THREADS), plus 2 spare.
THREAD_ALLOWANCE = 8 + 1 + 4 + 2

# ---- traffic ----------------------------------------------------------------------------------

CLIENTS = 8
KEYS = 200
FAULT_SHARE = 0.06  # API requests sent with an X-Mock-Fault header
RECEIVER_FAILS = 0.15  # deliveries the receiver answers 500
TIMEOUT = (5.0, 15.0)  # connect, read: well over any hold a fault asks for
SLOW_MS = 200.0  # an answer this late is looked up in the journal: the server's own time for it
FAULT_HEADER = "X-Mock-Fault"

# (header value, what the client sees): "status" and "malformed" answers carry X-Mock-Fault,
# "drop" ends the connection unanswered, "latency" is a late normal answer.
HEADER_FAULTS = [
    ("status=503", "status"),
    ("status=500", "status"),
    ("status=429; retry-after=1", "status"),
    ("latency=20ms", "latency"),
    ("latency=5ms..40ms", "latency"),
    ("reset", "drop"),
    ("empty", "drop"),
    ("lost-response", "drop"),
    ("timeout=150ms", "drop"),
    ("malformed=truncated", "malformed"),
    ("malformed=not-json", "malformed"),
]
# Rules for one key (POST /_mock/faults with its x-api-key); True: the rule may drop connections.
RULES: list[tuple[dict[str, Any], bool]] = [
    ({"operation": "getWallet", "status": 503, "probability": 0.5, "times": 5}, False),
    ({"path": "/v1/wallets/*/top-up", "status": 500, "first": 1}, False),
    ({"operation": "getWalletBalance", "latency": "10ms..30ms", "times": 10}, False),
    ({"method": "POST", "path": "/v1/wallets/*/debit", "lost_response": True, "times": 1}, True),
    ({"operation": "listCustomers", "reset": True, "nth": 2}, True),
    ({"operation": "getWalletTransactions", "malformed": "truncated", "every": 2, "times": 2}, False),
]
# Top-ups sometimes carry this expiry; a clock set to LATE_CLOCK expires them. Clock advances
# (days at most) from any date the soak sets never reach it.
EXPIRY = "2099-12-31T00:00:00Z"
LATE_CLOCK = "2100-02-01T00:00:00Z"
AUTO_TOPUP = {"enabled": True, "threshold": "5", "amount": "20", "invoicing": False}
ALERTS = {
    "critical": {"threshold": "0", "condition": "below"},
    "warning": {"threshold": "10", "condition": "below"},
    "alert_enabled": True,
}


def world_life(seconds: float) -> tuple[float, float]:
    """Shortest and longest life of a world (seconds, drawn per world): a quarter of the run at
    most, so every world has been reset at least once before the warm-up third ends and the live
    state is at its steady size by then; 9-60 s, so worlds gather some objects."""
    longest = min(60.0, max(9.0, seconds / 4))
    return longest / 3, longest


# ---- the server and the webhook receiver ------------------------------------------------------


def proc_stats(pid: int) -> tuple[float, int, int]:
    """RSS (MB), open file descriptors and threads of a process, from /proc."""
    rss_kb = threads = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss_kb = int(line.split()[1])
        elif line.startswith("Threads:"):
            threads = int(line.split()[1])
    return rss_kb / 1024, len(os.listdir(f"/proc/{pid}/fd")), threads


class Sandbox:
    """`python -m mockserver` in its own session, its stderr in a log file."""

    def __init__(self, workdir: Path, log: Path, validate: bool = False):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        argv = [sys.executable, "-m", "mockserver", "--port", str(self.port), "--quiet", "--no-fixtures"]
        if validate:
            argv.append("--validate-responses")
        # the caller's FLEXPRICE_MOCK_* (a test session sets some) must not change the server
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLEXPRICE_MOCK_")}
        with open(log, "wb") as logf:
            self.proc = subprocess.Popen(
                argv, cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=logf, start_new_session=True
            )
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the sandbox exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if requests.get(self.url + "/_mock/health", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the sandbox was not healthy within 30 s:\n{self.log_tail()}")
            time.sleep(0.05)

    def stop(self) -> int | None:
        """SIGTERM, as a user stops it; its exit status (None if it had to be killed)."""
        if self.proc.poll() is not None:
            return self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            return None

    def log_tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


class Receiver:
    """A webhook receiver: 204, or 500 to a share of deliveries so the outbox retries them."""

    def __init__(self, fail_share: float, seed: int):
        self.received: Counter[str] = Counter()
        lock = threading.Lock()
        rng = random.Random(seed)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    event = str(json.loads(body).get("event_type"))
                except (ValueError, AttributeError):
                    event = "not json"
                with lock:
                    fail = rng.random() < fail_share
                    outer.received["failed with 500" if fail else event] += 1
                self.send_response(500 if fail else 204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        threading.Thread(target=self.server.serve_forever, name="receiver", daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# ---- what the clients know of the worlds ------------------------------------------------------


@dataclass
class World:
    """One API key's world as the clients know it; every field is guarded by ``lock``."""

    key: str
    lock: threading.Lock = field(default_factory=threading.Lock)
    generation: int = 0  # bumped before each reset: a 404 for an id of an older one is a race
    ends: float = 0.0  # monotonic time when its life ends and it is reset
    customers: list[str] = field(default_factory=list)  # customers without a wallet
    wallets: list[str] = field(default_factory=list)
    invoices: list[str] = field(default_factory=list)  # pending invoices of invoiced top-ups
    fresh: bool = True  # not yet used since its reset
    drop_rules: int = 0  # rules that may drop connections, added and not yet known cleared
    drop_added: int = 0  # such rules whose POST was answered: a DELETE sent after it clears them
    drop_epoch: int = 0  # such rules ever added
    rules: int = 0  # rules of any kind added since they were last cleared
    late_clock: bool = False  # its clock was set past EXPIRY, the expiry date the clients send


@dataclass
class Tally:
    """What every client saw; the sampler takes the window's share every interval."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: int = 0
    unexpected: int = 0
    kinds: Counter[str] = field(default_factory=Counter)  # ok, injected, dropped, raced, unexpected
    window: list[float] = field(default_factory=list)  # ms of requests without injected faults
    window_max: float = 0.0
    window_max_path: str = ""
    examples: list[dict[str, Any]] = field(default_factory=list)
    drains: dict[str, float] = field(default_factory=lambda: {"calls": 0, "timed_out": 0, "max_ms": 0.0})
    slow: list[dict[str, Any]] = field(default_factory=list)  # answers over SLOW_MS, the first 30
    t0: float = field(default_factory=time.monotonic)

    def note(self, kind: str, ms: float | None = None, where: str = "", example: dict | None = None) -> None:
        with self.lock:
            self.requests += 1
            self.kinds[kind] += 1
            if ms is not None:
                if ms > self.window_max:
                    self.window_max, self.window_max_path = ms, where
                self.window.append(ms)
            if kind == "unexpected":
                self.unexpected += 1
                if example is not None and len(self.examples) < 25:
                    self.examples.append(example)

    def drained(self, seconds: float, drained: bool) -> None:
        with self.lock:
            self.drains["calls"] += 1
            self.drains["timed_out"] += not drained
            self.drains["max_ms"] = round(max(self.drains["max_ms"], seconds * 1000), 1)

    def take_window(self) -> tuple[int, int, list[float], str]:
        with self.lock:
            taken, self.window = self.window, []
            slowest, self.window_max_path, self.window_max = self.window_max_path, "", 0.0
            return self.requests, self.unexpected, taken, slowest


def percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (0 when empty)."""
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


# ---- a client ---------------------------------------------------------------------------------


def close_session(session: requests.Session) -> None:
    """Close a session's connections now. Session.close() only forgets urllib3 2.x's pools; their
    sockets close when the pools are collected, and a pool held in a cycle by a connection
    error's traceback would keep a live connection to the server (seen: 1-4 of them, closed by
    the server's 60 s keep-alive timeout), which the fd count at the end would blame on it."""
    for adapter in session.adapters.values():
        pools = getattr(getattr(adapter, "poolmanager", None), "pools", None)
        if pools is None:
            continue
        for key in list(pools.keys()):
            pool = pools.get(key)
            if pool is not None:
                pool.close()
    session.close()


class Client(threading.Thread):
    """One keep-alive session driving random operations on random worlds until stopped."""

    def __init__(
        self,
        n: int,
        base: str,
        worlds: list[World],
        tally: Tally,
        receiver_url: str,
        stop: threading.Event,
        seed: int,
        life: tuple[float, float],
    ):
        super().__init__(name=f"soak-client-{n}", daemon=True)
        self.base, self.worlds, self.tally = base, worlds, tally
        self.receiver_url, self.stop_event, self.life = receiver_url, stop, life
        self.rng = random.Random(seed)
        self.session = requests.Session()
        self.tag = f"c{n}"
        self.counter = 0
        ops: list[tuple[Callable[[World], None], float]] = [
            (self.create_customer, 10),
            (self.create_wallet, 10),
            (self.top_up, 18),
            (self.invoiced_top_up, 3),
            (self.pay_invoice, 3),
            (self.debit, 10),
            (self.get_wallet, 12),
            (self.balance, 8),
            (self.transactions, 8),
            (self.list_customers, 5),
            (self.list_wallets, 3),
            (self.journal, 1),
            (self.move_clock, 1.5),
            (self.add_rule, 1),
            (self.clear_rules, 0.5),
            (self.deliveries, 0.3),
            (self.drain_webhooks, 0.2),
        ]
        self.ops = [op for op, _ in ops]
        self.weights = [w for _, w in ops]

    def run(self) -> None:
        try:
            while not self.stop_event.is_set():
                world = self.rng.choice(self.worlds)
                with world.lock:
                    due = time.monotonic() >= world.ends
                    fresh, world.fresh = world.fresh, False
                if due:
                    self.reset(world)
                    continue
                if fresh and self.rng.random() < 0.3:
                    self.register_webhook(world)
                    continue
                self.rng.choices(self.ops, self.weights)[0](world)
        finally:
            close_session(self.session)

    def unique(self) -> str:
        self.counter += 1
        return f"{self.tag}-{self.counter}-{uuid.uuid4().hex[:8]}"

    # ---- the one place a request is sent and judged ----

    def call(
        self,
        world: World,
        method: str,
        path: str,
        expect: tuple[int, ...],
        body: Any = None,
        fault: bool = True,
        generation: int | None = None,
        timed: bool = True,
        expires: bool = False,
    ) -> tuple[int, Any] | None:
        """Send one request; returns (status, JSON body) of an expected, unspoiled answer, else None.

        ``fault``: an API call that may carry an X-Mock-Fault header (never /_mock/, which
        faults never touch). ``generation``: the world's when the id in the path was picked.
        ``timed``: its latency counts in the percentiles (not for calls that wait on purpose).
        ``expires``: a top-up with EXPIRY, which a late clock set meanwhile makes a 400."""
        headers = {"x-api-key": world.key}
        kind = None
        if fault and self.rng.random() < FAULT_SHARE:
            value, kind = self.rng.choice(HEADER_FAULTS)
            headers[FAULT_HEADER] = value
        with world.lock:
            drop_epoch, drop_rules = world.drop_epoch, world.drop_rules
            if generation is None:
                generation = world.generation
        where = f"{method} {path}"
        started = time.perf_counter()
        try:
            reply = self.session.request(
                method, self.base + path, headers=headers, json=body, timeout=TIMEOUT
            )
        except requests.RequestException as exc:
            with world.lock:
                rule_may_drop = drop_rules or world.drop_rules or world.drop_epoch != drop_epoch
            if kind == "drop" or rule_may_drop:
                self.tally.note("dropped")
            else:
                self.tally.note("unexpected", example=self.example(where, headers, error=repr(exc)))
            return None
        ms = (time.perf_counter() - started) * 1000
        injected = reply.headers.get(FAULT_HEADER)
        if injected and not injected.startswith("latency"):
            # an injected status or a spoiled body: what the fault promised, nothing more to read
            ok = not injected.startswith("status") or reply.status_code >= 400
            self.tally.note("injected" if ok else "unexpected", example=self.example(where, headers, reply))
            return None
        if kind is not None and kind != "latency":
            # a fault was asked for and not labelled as applied
            self.tally.note(
                "unexpected", example=self.example(where, headers, reply, note="fault not applied")
            )
            return None
        if reply.status_code not in expect:
            with world.lock:
                late = reply.status_code == 400 and expires
                raced = (reply.status_code == 404 or late) and world.generation != generation
                raced = raced or (late and world.late_clock)
            if raced:  # the world was reset, or its clock set late, while this request travelled
                self.tally.note("raced")
            else:
                self.tally.note("unexpected", example=self.example(where, headers, reply))
            return None
        parsed = None
        if reply.status_code != 204:
            try:
                parsed = reply.json()
            except ValueError:
                self.tally.note("unexpected", example=self.example(where, headers, reply, note="not JSON"))
                return None
        if timed and ms > SLOW_MS and path.startswith("/v1/"):
            self.explain_slow(world, where, ms, reply)
        # latency figures are the server's own: held (latency-faulted) answers are left out
        self.tally.note("injected" if injected else "ok", None if injected or not timed else ms, where)
        return reply.status_code, parsed

    def explain_slow(self, world: World, where: str, ms: float, reply: requests.Response) -> None:
        """Record a slow answer with the time the app itself spent on it (from the journal): a
        small figure there means the request waited for the event loop, or for this client."""
        with self.tally.lock:
            if len(self.tally.slow) >= 30:
                return
        rid = reply.headers.get("X-Request-ID")
        server_ms = None
        try:
            journal = self.session.get(
                f"{self.base}/_mock/journal?limit=100", headers={"x-api-key": world.key}, timeout=TIMEOUT
            ).json()
            items = journal.get("items", journal) if isinstance(journal, dict) else journal
            server_ms = next((e.get("duration_ms") for e in items if e.get("request_id") == rid), None)
        except (requests.RequestException, ValueError, AttributeError):
            pass
        at = round(time.monotonic() - self.tally.t0, 1)
        with self.tally.lock:
            entry = {"at_s": at, "request": where, "client_ms": round(ms, 1), "server_ms": server_ms}
            self.tally.slow.append(entry)

    @staticmethod
    def example(
        where: str,
        headers: dict[str, str],
        reply: requests.Response | None = None,
        error: str | None = None,
        note: str | None = None,
    ) -> dict[str, Any]:
        return {
            "request": where,
            "fault_sent": headers.get(FAULT_HEADER),
            "status": reply.status_code if reply is not None else None,
            "fault_answered": reply.headers.get(FAULT_HEADER) if reply is not None else None,
            "body": reply.text[:300] if reply is not None else None,
            "error": error,
            "note": note,
        }

    def pick(self, world: World, attr: str, take: bool = False) -> tuple[str | None, int]:
        """An id the clients know in the world (removed from it with ``take``), and the world's
        generation then."""
        with world.lock:
            items: list[str] = getattr(world, attr)
            if not items:
                return None, world.generation
            item = items.pop(self.rng.randrange(len(items))) if take else self.rng.choice(items)
            return item, world.generation

    @staticmethod
    def remember(world: World, attr: str, item: str, generation: int, most: int | None = None) -> None:
        """Keep an id the server answered, unless the world was reset meanwhile: the reset may
        have come after the object was made, and the id would be a 404 in the new world."""
        with world.lock:
            items: list[str] = getattr(world, attr)
            if world.generation == generation and (most is None or len(items) < most):
                items.append(item)

    # ---- operations ----

    def create_customer(self, world: World) -> None:
        ext = self.unique()
        with world.lock:
            generation = world.generation
        got = self.call(world, "POST", "/v1/customers", (201,), {"external_id": ext, "name": f"Soak {ext}"})
        if got and isinstance(got[1], dict) and "id" in got[1]:
            self.remember(world, "customers", got[1]["id"], generation, most=50)

    def create_wallet(self, world: World) -> None:
        customer, generation = self.pick(world, "customers", take=True)
        if customer is None:
            self.create_customer(world)
            return
        body: dict[str, Any] = {
            "customer_id": customer,
            "currency": "usd",
            "initial_credits_to_load": self.rng.choice([0, 5, "12.5", 100]),
        }
        extra = self.rng.random()
        if extra < 0.15:
            body["auto_topup"] = AUTO_TOPUP
        elif extra < 0.3:
            body["alert_settings"] = ALERTS
        got = self.call(world, "POST", "/v1/wallets", (200,), body, generation=generation)
        if got and isinstance(got[1], dict) and "id" in got[1]:
            self.remember(world, "wallets", got[1]["id"], generation)

    def top_up(self, world: World) -> None:
        wallet, generation = self.pick(world, "wallets")
        if wallet is None:
            return self.create_wallet(world)
        body: dict[str, Any] = {
            "credits_to_add": self.rng.choice(["1", "2.5", 10, "0.000000001"]),
            "transaction_reason": "PURCHASED_CREDIT_DIRECT",
            "idempotency_key": self.unique(),
        }
        path = f"/v1/wallets/{wallet}/top-up"
        with world.lock:
            expires = not world.late_clock and self.rng.random() < 0.2
        if expires:  # a late clock set while it travels makes it a 400: call() excuses that race
            body["expiry_date_utc"] = EXPIRY
        answered = self.call(world, "POST", path, (200,), body, generation=generation, expires=expires)
        if answered is None and self.rng.random() < 0.5:
            # the client's retry with the same key: a credit that went through is a 409, never twice
            self.call(world, "POST", path, (200, 409), body, fault=False, generation=generation)

    def invoiced_top_up(self, world: World) -> None:
        wallet, generation = self.pick(world, "wallets")
        if wallet is None:
            return
        body = {
            "credits_to_add": "25",
            "transaction_reason": "PURCHASED_CREDIT_INVOICED",
            "idempotency_key": self.unique(),
        }
        got = self.call(world, "POST", f"/v1/wallets/{wallet}/top-up", (200,), body, generation=generation)
        if got and isinstance(got[1], dict) and got[1].get("invoice_id"):
            self.remember(world, "invoices", got[1]["invoice_id"], generation)

    def pay_invoice(self, world: World) -> None:
        invoice, generation = self.pick(world, "invoices", take=True)
        if invoice is None:
            self.call(world, "GET", "/_mock/invoices", (200,), fault=False)
            return
        action = "pay" if self.rng.random() < 0.8 else "void"
        self.call(world, "POST", f"/_mock/invoices/{invoice}/{action}", (200,), None, False, generation)

    def debit(self, world: World) -> None:
        wallet, generation = self.pick(world, "wallets")
        if wallet is None:
            return
        body = {
            "credits": self.rng.choice(["1", "3.25", 8, 30]),
            "transaction_reason": "MANUAL_BALANCE_DEBIT",
            "idempotency_key": self.unique(),
        }
        self.call(world, "POST", f"/v1/wallets/{wallet}/debit", (200,), body, generation=generation)

    def get_wallet(self, world: World) -> None:
        wallet, generation = self.pick(world, "wallets")
        if wallet:
            self.call(world, "GET", f"/v1/wallets/{wallet}", (200,), generation=generation)

    def balance(self, world: World) -> None:
        wallet, generation = self.pick(world, "wallets")
        if wallet:
            self.call(world, "GET", f"/v1/wallets/{wallet}/balance/real-time", (200,), generation=generation)

    def transactions(self, world: World) -> None:
        wallet, generation = self.pick(world, "wallets")
        if wallet:
            path = f"/v1/wallets/{wallet}/transactions?limit=20"
            self.call(world, "GET", path, (200,), generation=generation)

    def list_customers(self, world: World) -> None:
        self.call(world, "GET", "/v1/customers?limit=20", (200,))

    def list_wallets(self, world: World) -> None:
        self.call(world, "GET", "/v1/wallets?limit=20", (200,))

    def journal(self, world: World) -> None:
        self.call(world, "GET", "/_mock/journal?limit=10", (200,), fault=False)

    def move_clock(self, world: World) -> None:
        roll = self.rng.random()
        if roll < 0.6:
            by = self.rng.choice(["PT10S", "PT5M", "PT1H", "P1D", "P31D", 30])
            self.call(world, "POST", "/_mock/clock/advance", (200,), {"by": by}, fault=False)
        elif roll < 0.85:
            late = self.rng.random() < 0.3
            body = {"now": LATE_CLOCK if late else "2027-03-01T12:00:00Z", "frozen": self.rng.random() < 0.5}
            with world.lock:  # marked before it is sent: a top-up's 400 after it is a race
                world.late_clock = world.late_clock or late
            self.call(world, "PUT", "/_mock/clock", (200,), body, fault=False)
        else:
            self.call(world, "DELETE", "/_mock/clock", (200,), fault=False)

    def add_rule(self, world: World) -> None:
        rule, drops = self.rng.choice(RULES)
        with world.lock:
            world.rules += 1
            if drops:  # marked before it can fire
                world.drop_rules += 1
                world.drop_epoch += 1
        self.call(
            world, "POST", "/_mock/faults", (201,), {**rule, "seed": self.rng.randrange(1 << 30)}, False
        )
        if drops:
            with world.lock:
                world.drop_added += 1

    def clear_rules(self, world: World) -> None:
        # Only rules added before the DELETE was sent are surely gone: one whose POST was still on
        # its way may land after the DELETE and stays (and may drop a later request).
        with world.lock:
            cleared = world.drop_added
        if self.call(world, "DELETE", "/_mock/faults", (200,), fault=False) is not None:
            with world.lock:
                world.drop_added -= cleared
                world.drop_rules -= cleared
                world.rules = world.drop_rules

    def register_webhook(self, world: World) -> None:
        body: dict[str, Any] = {"url": self.receiver_url}
        if self.rng.random() < 0.2:
            body["faults"] = {"fail_first": 1, "fail_status": 503}
        self.call(world, "POST", "/_mock/webhooks", (201,), body, fault=False)

    def deliveries(self, world: World) -> None:
        self.call(world, "GET", "/_mock/webhooks/deliveries?status=pending", (200,), fault=False)

    def drain_webhooks(self, world: World) -> None:
        """What the pytest plugin's drain_webhooks() sends (with a shorter timeout than its 5 s)."""
        started = time.perf_counter()
        got = self.call(world, "POST", "/_mock/webhooks/wait", (200,), {"timeout": 0.5}, False, timed=False)
        if got is not None:
            self.tally.drained(
                time.perf_counter() - started, bool(isinstance(got[1], dict) and got[1].get("drained"))
            )

    def reset(self, world: World) -> None:
        """The end of a world's life, as a test's teardown: its state and its fault rules go."""
        with world.lock:
            if time.monotonic() < world.ends:  # another client got here first
                return
            world.generation += 1
            world.ends = time.monotonic() + self.rng.uniform(*self.life)
            world.customers, world.wallets, world.invoices = [], [], []
            world.fresh, world.late_clock = True, False
            rules = world.rules
        self.call(world, "POST", "/_mock/reset", (200,), fault=False)
        if rules:  # a reset keeps a key's fault rules (README): the teardown clears them too
            self.clear_rules(world)


# ---- the run ----------------------------------------------------------------------------------


@dataclass
class Sample:
    elapsed_s: float
    requests: int  # completed so far
    rps: float  # in this window
    p50_ms: float
    p99_ms: float
    max_ms: float
    rss_mb: float
    fds: int
    threads: int
    unexpected: int  # so far
    slowest: str = ""  # the request behind max_ms
    phase: str = "traffic"  # or "start" (no client yet), "settled" (clients gone, fds settled)


def soak(
    seconds: float,
    *,
    clients: int = CLIENTS,
    keys: int = KEYS,
    interval: float | None = None,
    seed: int | None = None,
    out_dir: Path = RESULTS,
    validate_responses: bool = False,
    echo: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the soak and return everything measured (also written to ``out_dir``/soak-*.json).

    ``echo`` gets the table's lines as they are measured (None: quiet)."""
    seed = random.randrange(1 << 30) if seed is None else seed
    interval = interval or min(30.0, max(2.0, seconds / 12))
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    receiver = Receiver(RECEIVER_FAILS, seed)
    sandbox = Sandbox(out_dir, out_dir / f"soak-{stamp}-server.log", validate_responses)
    tally = Tally()
    stop = threading.Event()
    samples: list[Sample] = []
    pid = sandbox.proc.pid
    last = [time.monotonic(), 0]

    def sample(elapsed: float, phase: str = "traffic") -> Sample:
        done, unexpected, window, slowest = tally.take_window()
        now = time.monotonic()
        rps = (done - last[1]) / max(now - last[0], 1e-9)
        last[:] = [now, done]
        window.sort()
        rss, fds, threads = proc_stats(pid)
        row = Sample(
            round(elapsed, 1),
            done,
            round(rps, 1),
            round(percentile(window, 0.50), 2),
            round(percentile(window, 0.99), 2),
            round(window[-1] if window else 0.0, 2),
            round(rss, 1),
            fds,
            threads,
            unexpected,
            slowest,
            phase,
        )
        samples.append(row)
        if echo:
            echo(table_row(row))
        return row

    try:
        if echo:
            echo("\n".join(table_head()))
        sample(0.0, "start")  # the baseline: no client connected yet
        worlds = [World(f"sk_soak_{seed}_{n:04d}") for n in range(keys)]
        rng = random.Random(seed)
        life, now = world_life(seconds), time.monotonic()
        for w in worlds:  # staggered, so resets spread over time from the start
            w.ends = now + rng.uniform(0, life[1])
        threads = [
            Client(n, sandbox.url, worlds, tally, receiver.url, stop, seed + n + 1, life)
            for n in range(clients)
        ]
        started = tally.t0 = time.monotonic()
        for t in threads:
            t.start()
        end_at, next_at = started + seconds, started + interval
        while (now := time.monotonic()) < end_at:
            if sandbox.proc.poll() is not None:
                raise RuntimeError(f"the sandbox died during the soak:\n{sandbox.log_tail()}")
            if now < next_at:
                time.sleep(min(next_at, end_at, now + 0.5) - now)
                continue
            if end_at - now > interval / 4:  # else the last window just runs a little longer
                sample(now - started)
            next_at += interval
        stop.set()
        for t in threads:
            t.join(30)
        gc.collect()  # anything else of the clients' that still holds a socket
        traffic_s = time.monotonic() - started
        sample(traffic_s)  # the last window, with every client stopped and its session closed
        # The server notices closed connections (and finishes a delivery in flight) shortly after:
        # the end figures are taken once fds are back to the start, or after 5 s with what is left.
        deadline = time.monotonic() + 5
        while proc_stats(pid)[1] > samples[0].fds and time.monotonic() < deadline:
            time.sleep(0.1)
        end = sample(time.monotonic() - started, "settled")
        end.rps = 0.0  # the settling window has no traffic
        with tally.lock:
            kinds = dict(tally.kinds)
            drains = dict(tally.drains)
            slow = list(tally.slow)
            examples = list(tally.examples)
        try:
            health = requests.get(sandbox.url + "/_mock/health", timeout=5).json()
            rules = requests.get(sandbox.url + "/_mock/faults", timeout=5).json().get("total")
        except (requests.RequestException, ValueError) as exc:
            health, rules = {"error": repr(exc)}, None
    finally:
        stop.set()
        exit_status = sandbox.stop()
        receiver.close()
    log_text = sandbox.log_tail(1 << 20)
    error_lines = [ln for ln in log_text.splitlines() if " ERROR " in ln or ln.startswith("Traceback")]
    result: dict[str, Any] = {
        "started": stamp,
        "settings": {
            "seconds": seconds,
            "clients": clients,
            "keys": keys,
            "interval_s": interval,
            "seed": seed,
            "validate_responses": validate_responses,
            "world_life_s": world_life(seconds),
            "fault_share": FAULT_SHARE,
            "receiver_fails": RECEIVER_FAILS,
            "python": sys.version.split()[0],
            "cpus": os.cpu_count(),
        },
        "traffic_s": round(traffic_s, 1),
        "samples": [asdict(s) for s in samples],
        "answers": kinds,
        "unexpected_examples": examples,
        "webhook_waits": drains,
        "slow_answers": slow,
        "webhooks_received": dict(receiver.received),
        "server": {
            "health_at_end": health,
            "fault_rules_at_end": rules,
            "exit_status": exit_status,
            "log": str(sandbox.log),
            "log_error_lines": error_lines[:20],
            "log_error_count": len(error_lines),
        },
    }
    result["verdicts"] = [{"what": w, "ok": ok, "figure": f} for w, ok, f in verdicts(result)]
    path = out_dir / f"soak-{stamp}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    result["json_path"] = str(path)
    return result


def verdicts(result: dict[str, Any]) -> list[tuple[str, bool, str]]:
    """Each bound as (what, held, the figures behind it)."""
    samples = result["samples"]
    start, end = samples[0], samples[-1]
    total = end["requests"]
    # the first sample at or after a third of the traffic: the live set is at its steady size
    third = result["traffic_s"] / 3
    warm = next((s for s in samples[1:] if s["elapsed_s"] >= third), end)
    growth = end["rss_mb"] / warm["rss_mb"] - 1 if warm["rss_mb"] else 0.0
    busiest = max(s["threads"] for s in samples)
    traffic_windows = [s for s in samples[1:-1]]
    stalled = [s["elapsed_s"] for s in traffic_windows if s["rps"] <= 0]
    server = result["server"]
    return [
        (
            "no unexpected answers",
            end["unexpected"] == 0,
            f"{end['unexpected']} of {total} requests ({_kinds(result['answers'])})",
        ),
        (
            f"RSS at the end ≤ {1 + RSS_GROWTH:.2f}x RSS after the warm-up third",
            growth <= RSS_GROWTH,
            f"{end['rss_mb']:.1f} MB at the end vs {warm['rss_mb']:.1f} MB at {warm['elapsed_s']:.0f} s "
            f"({growth:+.1%}; {start['rss_mb']:.1f} MB at start)",
        ),
        (
            f"open fds at the end ≤ start + {FD_MARGIN}",
            end["fds"] <= start["fds"] + FD_MARGIN,
            f"{end['fds']} at the end vs {start['fds']} at start (most {max(s['fds'] for s in samples)})",
        ),
        (
            f"threads ≤ start + {THREAD_ALLOWANCE} throughout",
            busiest <= start["threads"] + THREAD_ALLOWANCE,
            f"most {busiest}, {end['threads']} at the end vs {start['threads']} at start",
        ),
        (
            "every window served requests",
            not stalled and bool(traffic_windows),
            f"{len(traffic_windows)} windows, stalled at {stalled}" if stalled else f"{total} requests",
        ),
        (
            "no errors in the server log",
            server["log_error_count"] == 0,
            f"{server['log_error_count']} lines"
            + (f": {server['log_error_lines'][0]}" if server["log_error_count"] else ""),
        ),
        (
            "clean stop (SIGTERM → exit 0)",
            server["exit_status"] == 0,
            f"exit status {server['exit_status']}",
        ),
    ]


def _kinds(kinds: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(kinds.items(), key=lambda kv: -kv[1]))


def table_head() -> list[str]:
    return [
        "| elapsed s | requests | req/s | p50 ms | p99 ms | max ms | RSS MB | fds | threads | unexpected |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]


def table_row(s: Sample) -> str:
    elapsed = f"{s.elapsed_s:.0f}" + ("" if s.phase == "traffic" else f" ({s.phase})")
    return (
        f"| {elapsed} | {s.requests} | {s.rps:.0f} | {s.p50_ms:.2f} | {s.p99_ms:.2f} "
        f"| {s.max_ms:.1f} | {s.rss_mb:.1f} | {s.fds} | {s.threads} | {s.unexpected} |"
    )


def table(result: dict[str, Any]) -> list[str]:
    """The whole table of a finished run."""
    return table_head() + [table_row(Sample(**s)) for s in result["samples"]]


def summary(result: dict[str, Any]) -> list[str]:
    lines = [f"traffic {result['traffic_s']} s, answers: {_kinds(result['answers'])}"]
    lines.append(f"webhooks received: {_kinds(result['webhooks_received']) or 'none'}")
    lines.append(f"POST /_mock/webhooks/wait: {result.get('webhook_waits')}")
    for entry in result.get("slow_answers", [])[:10]:
        lines.append(f"  slow (> {SLOW_MS:.0f} ms): {entry}")
    lines.append(f"server at the end: {result['server']['health_at_end']}")
    lines.append(f"fault rules still held at the end: {result['server']['fault_rules_at_end']}")
    for v in result["verdicts"]:
        lines.append(f"{'PASS' if v['ok'] else 'FAIL'}  {v['what']}: {v['figure']}")
    for example in result["unexpected_examples"][:10]:
        lines.append(f"  unexpected: {json.dumps(example)}")
    if "json_path" in result:
        lines.append(f"written to {result['json_path']}")
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    length = p.add_mutually_exclusive_group()
    length.add_argument("--minutes", type=float, help="how long to drive traffic (default 10)")
    length.add_argument("--seconds", type=float, help="the same, in seconds")
    p.add_argument("--clients", type=int, default=CLIENTS, help="client threads")
    p.add_argument("--keys", type=int, default=KEYS, help="API keys (worlds) picked at random")
    p.add_argument("--interval", type=float, help="seconds between samples (default: a twelfth, 2-30)")
    p.add_argument("--seed", type=int, help="seed of the traffic (printed, for a replay)")
    p.add_argument("--validate-responses", action="store_true", help="the server checks its answers")
    a = p.parse_args()
    seconds = a.seconds if a.seconds is not None else (a.minutes if a.minutes is not None else 10) * 60
    result = soak(
        seconds,
        clients=a.clients,
        keys=a.keys,
        interval=a.interval,
        seed=a.seed,
        validate_responses=a.validate_responses,
        echo=lambda line: print(line, flush=True),
    )
    print()
    print("\n".join(summary(result)))
    sys.exit(0 if all(v["ok"] for v in result["verdicts"]) else 1)


if __name__ == "__main__":
    main()
