"""Slow and idle clients beside normal traffic: do they slow it down, and are they closed in time?

wrk runs GET /v1/wallets/{id} at 8 connections, alone, then beside hostile clients kept by one
asyncio loop in a thread of this script:
- 1,000 idle keep-alive connections: each sends one whole GET, reads its answer, then stays
  silent until the server closes it (after the idle timeout); then it connects again and does the
  same, as a client pool would, so that 1,000 stay open the whole time;
- 200 slowloris connections: each sends a request head one byte a second (the real head, then
  filler headers, never the blank line that ends it); when the server closes it (408, or EOF)
  it connects again and starts over, as an attacker would.
They are opened over the first RAMP_S seconds.

Rounds alternate. A round: wrk alone; then the hostile clients start and wrk runs twice beside
them, each run centred on one wave of closes: the slowloris' first 408s (a request timeout after
they started) and the first idle connections' closes (an idle timeout after their answer), each
followed by as many reconnects. Both waves fall inside the hostile phase, whose length is set by
the idle timeout: the hostile clients stay until every idle connection opened at the start has
had its idle timeout plus a margin, so closes are seen in every round, then they go. A round is
thus about idle timeout + 10 s: with the defaults (wrk 5 s, 3 rounds, --idle-timeout 60,
--request-timeout 15) the script takes about 3.5 minutes; `--idle-timeout 20 --request-timeout
10` shows the same in about 1.5.

Targets: p99 beside the hostile clients within 2x of p99 alone (medians of rounds, both runs);
every idle connection closed about the idle timeout after its last byte; every slowloris
attempt answered 408 with a JSON body about the request timeout after its first byte.
Tables go to stdout, everything to bench/results/slow-clients-*.json.

    python bench/slow_clients.py [--version 2026-08-22] [--duration 5] [--rounds 3] [--idle 1000]
        [--slow 200] [--idle-timeout 60] [--request-timeout 15] [--pin]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import threading
import time
from collections import Counter

import harness
from harness import wrk

CONNECTIONS = 8
KEY = "bench-slow"
RAMP_S = 2.0  # the hostile clients are opened over this long
MARGIN_S = 3.0  # kept this long past the last expected idle close
# A close or a 408 counts as "at the timeout" from 0.25 s early (the client marks the start of a
# silence a little after the server does) to TOLERANCE_S late.
TOLERANCE_S = 1.0
FILLER = b"".join(b"X-Slow-%d: %d\r\n" % (n, n) for n in range(20_000))  # ~16 h at a byte a second


async def _read_answer(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 answer with a Content-Length."""
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return int(status_line.split()[1]), headers, body


async def _until_eof(reader: asyncio.StreamReader) -> tuple[bytes, float | None, str]:
    """Everything the server sends until it closes: (bytes, when the first came, "eof"/"reset")."""
    chunks: list[bytes] = []
    first = None
    try:
        while chunk := await reader.read(65536):
            first = first or time.monotonic()
            chunks.append(chunk)
    except ConnectionResetError:
        return b"".join(chunks), first, "reset"
    return b"".join(chunks), first, "eof"


class Hostile:
    """Idle keep-alive and slowloris connections, all on one asyncio loop in one thread."""

    def __init__(self, target: harness.Target, wallet: str, idle: int, slow: int, cpus: set[int] | None):
        self.host, self.port = "127.0.0.1", target.port
        self.n_idle, self.n_slow, self.cpus = idle, slow, cpus
        self.get = (
            f"GET {target.prefix}/wallets/{wallet} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"x-api-key: {KEY}\r\n\r\n"
        ).encode()
        self.slow_head = (
            f"GET {target.prefix}/wallets/{wallet} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"x-api-key: {KEY}\r\nUser-Agent: slowloris\r\n"
        ).encode() + FILLER
        self.silent_since: dict[int, float] = {}  # idle connection -> when its answer was read
        self.idle_closes: list[tuple[float, float]] = []  # (silent since, closed by the server)
        self.ready = threading.Event()  # every idle connection open and silent
        self._opened = 0
        self.slow_408: list[dict] = []  # one per 408: first byte, answer, bytes sent, JSON body
        self.other: Counter[str] = Counter()  # every other ending, by kind
        self.sample_408: str | None = None
        self.t0 = 0.0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="hostile-clients", daemon=True)
        self._started = threading.Event()
        self._done: asyncio.Future | None = None

    def start(self) -> None:
        self.t0 = time.monotonic()
        self._thread.start()
        self._started.wait()

    def stop(self) -> None:
        """Close every hostile connection and end the thread."""
        assert self._done is not None
        self._loop.call_soon_threadsafe(self._done.set_result, None)
        self._thread.join(30)

    def overdue(self, idle_timeout: float) -> int:
        """Idle connections still open though silent for longer than the idle timeout allows."""
        now = time.monotonic()
        return sum(now - t > idle_timeout + TOLERANCE_S for t in list(self.silent_since.values()))

    def _run(self) -> None:
        if self.cpus:
            os.sched_setaffinity(0, self.cpus)  # this thread only
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._main())
        self._loop.close()

    async def _main(self) -> None:
        self._done = self._loop.create_future()
        tasks = [asyncio.ensure_future(self._idle(n)) for n in range(self.n_idle)]
        tasks += [asyncio.ensure_future(self._slowloris(n)) for n in range(self.n_slow)]
        self._started.set()
        await self._done
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _connect(self, who: str):
        while True:
            try:
                return await asyncio.open_connection(self.host, self.port)
            except OSError as exc:
                self.other[f"{who}: connect failed ({type(exc).__name__})"] += 1
                await asyncio.sleep(1)

    async def _idle(self, n: int) -> None:
        await asyncio.sleep(RAMP_S * n / self.n_idle)
        first = True
        while True:
            reader, writer = await self._connect("idle")
            try:
                writer.write(self.get)
                status, _, _ = await _read_answer(reader)
                if status != 200:
                    self.other[f"idle: GET answered {status}"] += 1
                silent = self.silent_since[n] = time.monotonic()
                if first:
                    first = False
                    self._opened += 1
                    if self._opened == self.n_idle:
                        self.ready.set()
                more, _, end = await _until_eof(reader)
                if more or end != "eof":
                    self.other[f"idle: ended by {end} after {len(more)} bytes"] += 1
                else:
                    self.idle_closes.append((silent, time.monotonic()))
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                self.other[f"idle: {type(exc).__name__}"] += 1
            finally:
                self.silent_since.pop(n, None)
                writer.close()

    async def _slowloris(self, n: int) -> None:
        await asyncio.sleep(RAMP_S * n / self.n_slow)
        while True:
            reader, writer = await self._connect("slowloris")
            answer = asyncio.ensure_future(_until_eof(reader))
            sent = 0
            first_byte = time.monotonic()
            try:
                while not answer.done():
                    writer.write(self.slow_head[sent : sent + 1])
                    sent += 1
                    await asyncio.wait([answer], timeout=max(0.0, first_byte + sent - time.monotonic()))
                data, answered, end = answer.result()
            except OSError as exc:
                self.other[f"slowloris: {type(exc).__name__} while sending"] += 1
                continue
            finally:
                answer.cancel()
                writer.close()
            self._classify(data, answered, end, first_byte, sent)

    def _classify(self, data: bytes, answered: float | None, end: str, first_byte: float, sent: int) -> None:
        if not data:
            self.other[f"slowloris: closed unanswered ({end})"] += 1
            return
        head, _, body = data.partition(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        status = status_line.split()[1] if len(status_line.split()) > 1 else status_line
        if status != "408":
            self.other[f"slowloris: answered {status}"] += 1
            return
        content_type = ""
        for line in lines:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-type":
                content_type = value.strip()
        try:
            is_json = content_type.startswith("application/json") and isinstance(json.loads(body), dict)
        except ValueError:
            is_json = False
        self.sample_408 = self.sample_408 or body.decode("utf-8", "replace")
        self.slow_408.append(
            {"first_byte": first_byte, "answered": answered, "sent": sent, "json": is_json, "end": end}
        )


def _server_fds(target: harness.Target) -> int:
    return len(os.listdir(f"/proc/{target.proc.pid}/fd"))


def _spread(xs: list[float]) -> dict:
    if not xs:
        return {"n": 0, "first": None, "median": None, "last": None}
    return {"n": len(xs), "first": min(xs), "median": statistics.median(xs), "last": max(xs)}


def _within(xs: list[float], timeout: float) -> bool:
    return bool(xs) and timeout - 0.25 <= min(xs) and max(xs) <= timeout + TOLERANCE_S


def raise_nofile(need: int) -> tuple[int, int]:
    """Soft RLIMIT_NOFILE up to the hard one, for this process's hostile clients (the server
    raises its own)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY or soft < hard):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    if soft != resource.RLIM_INFINITY and soft < need:
        raise SystemExit(f"open files limit {soft} < {need} needed; raise it (ulimit -Hn) first")
    return soft, hard


def measure(
    target: harness.Target,
    rounds: int,
    duration: int,
    idle_timeout: int,
    request_timeout: int,
    idle: int = 1000,
    slow: int = 200,
    cpus: set[int] | None = None,
) -> dict:
    wallet = target.create_wallet(KEY)
    runs: dict[str, list[dict]] = {"alone": [], "at_408": [], "at_close": []}
    per_round: list[dict] = []
    idle_after: list[float] = []
    slow_after: list[float] = []
    slow_json = 0
    other: Counter[str] = Counter()
    sample = None

    def run() -> dict:
        start = time.monotonic()
        r = wrk(target, "get", CONNECTIONS, duration, wallet=wallet, key=KEY, cpus=cpus)
        r["window"] = (start, time.monotonic())  # monotonic seconds, dropped before the JSON
        return r

    wrk(target, "get", CONNECTIONS, 2, wallet=wallet, key=KEY, cpus=cpus)  # warm-up
    for n in range(rounds):
        runs["alone"].append(run())
        fds_before = _server_fds(target)
        fleet = Hostile(target, wallet, idle, slow, cpus)
        fleet.start()
        with_runs: dict[str, dict] = {}
        try:
            if not fleet.ready.wait(RAMP_S + 60):
                raise RuntimeError(f"only {fleet._opened} of {idle} idle connections opened")
            fds_with = _server_fds(target)
            silent = sorted(fleet.silent_since.values())  # the first idle connections, all silent now
            # the middle of each wave: the slowloris' first 408s, the first idle connections' closes
            waves = {
                "at_408": fleet.t0 + RAMP_S / 2 + request_timeout,
                "at_close": statistics.median(silent) + idle_timeout,
            }
            for name, middle in sorted(waves.items(), key=lambda w: w[1]):
                # never before every slowloris is sending
                time.sleep(
                    max(
                        0.0,
                        fleet.t0 + RAMP_S + 0.5 - time.monotonic(),
                        middle - duration / 2 - time.monotonic(),
                    )
                )
                with_runs[name] = run()
            end = max(silent[-1] + idle_timeout, fleet.t0 + RAMP_S + request_timeout) + MARGIN_S
            time.sleep(max(0.0, end - time.monotonic()))
            overdue = fleet.overdue(idle_timeout)
        finally:
            fleet.stop()
        closes = [c - s for s, c in fleet.idle_closes]
        answered = [a["answered"] - a["first_byte"] for a in fleet.slow_408]
        idle_after += closes
        slow_after += answered
        slow_json += sum(a["json"] for a in fleet.slow_408)
        other += fleet.other
        sample = sample or fleet.sample_408
        during = {}
        for name, r in with_runs.items():
            runs[name].append(r)
            w0, w1 = r.pop("window")
            during[name] = {
                "starts_s": w0 - fleet.t0,  # after the hostile clients started
                "idle_closed": sum(w0 <= c <= w1 for _, c in fleet.idle_closes),
                "slow_408": sum(w0 <= a["answered"] <= w1 for a in fleet.slow_408),
            }
        runs["alone"][-1].pop("window")
        per_round.append(
            {
                "round": n + 1,
                "hostile_s": time.monotonic() - fleet.t0,
                "server_fds": {"before": fds_before, "with": fds_with},
                "during_runs": during,
                "idle_closed": _spread(closes),
                "idle_overdue_at_end": overdue,
                "slow_408": _spread(answered),
                "slow_bytes_sent_before_408": _spread([a["sent"] for a in fleet.slow_408]),
                "slow_408_ended_by": dict(Counter(a["end"] for a in fleet.slow_408)),
                "other_endings": dict(fleet.other),
                "runs": {"alone": runs["alone"][-1], **with_runs},
            }
        )
        time.sleep(1)  # the server sees 1,200 closes: let it settle before the next run alone
    out: dict = {
        name: {k: statistics.median(r[k] for r in rs) for k in ("rps", "p99_ms", "cpu_us_per_req")}
        for name, rs in runs.items()
    }
    for name, rs in runs.items():
        out[name]["errors"] = sum(
            r[k] for r in rs for k in ("non_2xx", "connect_errors", "read_errors", "write_errors", "timeouts")
        )
    out.update(
        idle=idle,
        slow=slow,
        idle_timeout=idle_timeout,
        request_timeout=request_timeout,
        p99_ratio={k: out[k]["p99_ms"] / out["alone"]["p99_ms"] for k in ("at_408", "at_close")},
        idle_closed=_spread(idle_after),
        idle_overdue=sum(r["idle_overdue_at_end"] for r in per_round),
        slow_408=_spread(slow_after),
        slow_408_json=slow_json,
        other_endings=dict(other),
        sample_408_body=sample,
        rounds=per_round,
    )
    return out


def verdicts(res: dict) -> list[tuple[str, bool, str]]:
    ratio = res["p99_ratio"]
    worst = max(ratio.values())
    ic, sc = res["idle_closed"], res["slow_408"]
    idle_t, req_t = res["idle_timeout"], res["request_timeout"]
    idle_other = sum(v for k, v in res["other_endings"].items() if k.startswith("idle"))
    slow_other = sum(v for k, v in res["other_endings"].items() if k.startswith("slowloris"))
    idle_ok = _within([ic["first"], ic["last"]] if ic["n"] else [], idle_t) and not res["idle_overdue"]
    slow_ok = _within([sc["first"], sc["last"]] if sc["n"] else [], req_t)
    slow_ok = slow_ok and res["slow_408_json"] == sc["n"] and not slow_other

    def span(s: dict) -> str:
        return f"{s['first']:.2f}–{s['last']:.2f} s (median {s['median']:.2f})" if s["n"] else "none"

    return [
        (
            "normal requests keep their p99 within 2x",
            worst <= 2,
            f"p99 beside hostile clients / alone: as slowloris get 408 {ratio['at_408']:.2f}x, "
            f"as idle ones are closed {ratio['at_close']:.2f}x",
        ),
        (
            f"idle connections closed after the idle timeout ({idle_t} s)",
            idle_ok and not idle_other,
            f"{ic['n']} closed {span(ic)} after their last byte; {res['idle_overdue']} left open past it; "
            f"{idle_other} other endings",
        ),
        (
            f"slowloris connections get 408 after the request timeout ({req_t} s)",
            slow_ok,
            f"{sc['n']} got 408 {span(sc)} after their first byte, {res['slow_408_json']} with a JSON "
            f"body; {slow_other} other endings",
        ),
    ]


def table(res: dict) -> list[str]:
    hostile = f"{res['idle']:,} idle + {res['slow']} slowloris"
    lines = [
        "| GET /v1/wallets/{id}, c=8 | req/s | p99 ms | µs CPU/req | p99 / alone |",
        "|---|---|---|---|---|",
    ]
    for name, label in (
        ("alone", "alone"),
        ("at_408", f"beside {hostile}, as the slowloris get 408"),
        ("at_close", f"beside {hostile}, as the idle ones are closed"),
    ):
        r = res[name]
        ratio = f"{res['p99_ratio'][name]:.2f}x" if name in res["p99_ratio"] else "–"
        flag = " !" if r["errors"] else ""
        lines.append(
            f"| {label} | {r['rps']:.0f}{flag} | {r['p99_ms']:.2f} | {r['cpu_us_per_req']:.0f} | {ratio} |"
        )
    lines += [
        "",
        "| hostile connections | timeout | closed by the server | first s | median s | last s |",
        "|---|---|---|---|---|---|",
    ]
    for key, label, timeout, what in (
        ("idle_closed", "idle keep-alive (close, from its last byte)", res["idle_timeout"], "closed"),
        ("slow_408", "slowloris (408, from its first byte)", res["request_timeout"], "408"),
    ):
        s = res[key]
        figs = " | ".join(f"{s[k]:.2f}" if s["n"] else "–" for k in ("first", "median", "last"))
        lines.append(f"| {label} | {timeout} s | {s['n']} {what} | {figs} |")
    lines += [
        "",
        "| round | server fds before / with them | run at 408s: starts at, 408s, idle closes "
        "| run at closes: starts at, 408s, idle closes |",
        "|---|---|---|---|",
    ]
    for r in res["rounds"]:
        fds, d = r["server_fds"], r["during_runs"]
        cells = [
            f"{d[k]['starts_s']:.1f} s, {d[k]['slow_408']}, {d[k]['idle_closed']}"
            for k in ("at_408", "at_close")
        ]
        lines.append(f"| {r['round']} | {fds['before']} / {fds['with']} | {cells[0]} | {cells[1]} |")
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--version", default=harness.VERSIONS[-1])
    p.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--idle", type=int, default=1000, help="idle keep-alive connections")
    p.add_argument("--slow", type=int, default=200, help="slowloris connections")
    p.add_argument("--idle-timeout", type=int, default=60, help="the server's --idle-timeout, s")
    p.add_argument("--request-timeout", type=int, default=15, help="the server's --request-timeout, s")
    p.add_argument("--pin", action="store_true", help="server on the last CPU, wrk and clients on the others")
    a = p.parse_args()
    nofile = raise_nofile(a.idle + a.slow + 100)
    server_cpus, wrk_cpus = harness.cpu_split(a.pin)
    target = harness.ours(
        ["--idle-timeout", str(a.idle_timeout), "--request-timeout", str(a.request_timeout)],
        version=a.version,
    )
    load_before = harness.loadavg()
    target.start(server_cpus)
    try:
        res = measure(
            target, a.rounds, a.duration, a.idle_timeout, a.request_timeout, a.idle, a.slow, wrk_cpus
        )
    finally:
        target.stop()
    v = verdicts(res)
    lines = table(res) + [""]
    lines += [f"- {what}: {'met' if ok else '**not met**'} — {fig}" for what, ok, fig in v]
    if res["other_endings"]:
        lines += ["", "Other endings: " + ", ".join(f"{k}: {n}" for k, n in res["other_endings"].items())]
    lines += ["", f"408 body: {res['sample_408_body']}"]
    print("\n".join(lines))

    harness.RESULTS.mkdir(exist_ok=True)
    path = harness.RESULTS / time.strftime("slow-clients-%Y%m%d-%H%M%S.json")
    path.write_text(
        json.dumps(
            {
                "args": vars(a),
                "nofile": nofile,
                "pinning": {"server": sorted(server_cpus or []), "wrk": sorted(wrk_cpus or [])},
                "loadavg_before": load_before,
                "loadavg_after": harness.loadavg(),
                "results": res,
                "targets": [{"target": w, "met": ok, "figure": f} for w, ok, f in v],
            },
            indent=1,
        )
    )
    print(f"\nJSON: {path.relative_to(harness.ROOT)}")


if __name__ == "__main__":
    main()
