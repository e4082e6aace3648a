"""Shared plumbing for the benchmark scripts: locating tools, starting servers, running wrk.

Nothing here installs anything: a missing tool is reported with the command that installs it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from http.client import HTTPConnection, RemoteDisconnected
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
VERSIONS = ("2025-05-24", "2026-08-22")  # the API versions the sandbox serves
RESULTS = BENCH / "results"
LUA = BENCH / "wrk.lua"
PRISM_VERSION = "5.14"
PRISM_LOCAL = BENCH / ".node" / "node_modules" / ".bin" / "prism"

INSTALL = {
    "wrk": "apt-get install -y wrk",
    "prism": f"npm install --prefix bench/.node @stoplight/prism-cli@{PRISM_VERSION}"
    "   (needs Node 20: apt-get install -y nodejs npm)",
    "flexprice-mock": "pip install -e .",
    "py-spy": "pip install py-spy",
    "redis-server": "apt-get install -y redis-server",
}

ENDPOINTS = {
    "create": "POST /v1/wallets",
    "get": "GET /v1/wallets/{id}",
    "topup": "POST /v1/wallets/{id}/top-up",
}
API_KEY = "bench"
CREATE_BODY = {"customer_id": "cust_bench_setup", "currency": "usd", "initial_credits_to_load": 1}


class MissingTool(SystemExit):
    """Exits with the message (status 1) unless caught."""


def need(tool: str) -> str:
    """Path of a required tool, or exit telling the user how to install it."""
    path = str(PRISM_LOCAL) if tool == "prism" and PRISM_LOCAL.exists() else shutil.which(tool)
    if not path:
        raise MissingTool(f"missing `{tool}`; install it with:\n    {INSTALL[tool]}")
    return path


def spec(version: str) -> Path:
    """The OpenAPI document of one API version (mockserver/api/v2026_08_22/openapi.yaml, ...)."""
    return ROOT / "mockserver" / "api" / ("v" + version.replace("-", "_")) / "openapi.yaml"


def cpu_split(pin: bool) -> tuple[set[int] | None, set[int] | None]:
    """With pin: servers on the last CPU, wrk on the others (the load generator never steals the
    server's core, every server gets the same one). Without: the scheduler decides, as when the
    sandbox shares the machine with a test runner."""
    cpus = sorted(os.sched_getaffinity(0))
    if not pin or len(cpus) < 2:
        return None, None
    return {cpus[-1]}, set(cpus[:-1])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(
    method: str, url: str, body: dict | None = None, key: str | None = API_KEY, timeout: float = 5.0
) -> tuple[int, dict | None]:
    """One request with the stdlib client (keeps the harness dependency-free)."""
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["x-api-key"] = key
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
            return resp.status, (json.loads(raw) if raw else None)
    except urllib.error.HTTPError as e:
        return e.code, None


@dataclass
class Target:
    """A server under test: how to start it, where its API lives, how to tell it is up."""

    name: str
    argv: list[str]  # "{port}" is replaced by the chosen port
    prefix: str  # path prefix of the wallet routes
    health: str  # path polled until it answers 200
    port: int = 0
    proc: subprocess.Popen | None = None
    startup_s: float = 0.0
    log: Path | None = None
    env: dict = field(default_factory=dict)
    cwd: Path = ROOT
    ready: Callable[[Target], bool] | None = None  # instead of the health path (e.g. redis-server)
    # servers it depends on (its Redis): their CPU per request is reported beside its own
    beside: list[Target] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, cpus: set[int] | None = None, timeout: float = 60.0) -> float:
        """Spawn and wait for the first 200 on the health path; returns spawn-to-healthy seconds."""
        self.port = free_port()
        RESULTS.mkdir(exist_ok=True)
        self.log = RESULTS / f"{self.name}.log"
        argv = [a.replace("{port}", str(self.port)) for a in self.argv]
        logf = open(self.log, "wb")
        t0 = time.perf_counter()
        # own session so that stop() can end the whole process group it made, and only that
        self.proc = subprocess.Popen(
            argv,
            stdout=logf,
            stderr=subprocess.STDOUT,
            cwd=self.cwd,
            env={**os.environ, **self.env},
            start_new_session=True,
            preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
        )
        logf.close()
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.proc.returncode}; log:\n{self.log.read_text()[-3000:]}"
                )
            try:
                if self.up():
                    break
            except OSError:
                pass
            if time.perf_counter() - t0 > timeout:
                self.stop()
                raise RuntimeError(f"{self.name} not healthy after {timeout}s; log: {self.log}")
            time.sleep(0.002)  # fine-grained polling: the start-to-healthy target is 1 s
        self.startup_s = time.perf_counter() - t0
        return self.startup_s

    def up(self) -> bool:
        """Whether it answers: ``ready`` when given, else a 200 on the health path."""
        if self.ready:
            return self.ready(self)
        return http("GET", self.base + self.health, timeout=1.0)[0] == 200

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None

    def rss_mb(self) -> float:
        return rss_mb(self.proc.pid)

    def cpu_s(self) -> float:
        """CPU time (user + system, all threads) used so far by the server's processes: every
        process of the session it was started in (granian serves from a child process)."""
        ticks = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rpartition(")")[2].split()
            except OSError:  # the process just ended
                continue
            if int(fields[3]) == self.proc.pid:  # session id
                ticks += int(fields[11]) + int(fields[12])
        return ticks / os.sysconf("SC_CLK_TCK")

    def create_wallet(self, key: str = API_KEY) -> str:
        status, body = http("POST", self.base + self.prefix + "/wallets", CREATE_BODY, key=key)
        if status != 200 or not body or "id" not in body:
            raise RuntimeError(f"{self.name}: POST {self.prefix}/wallets answered {status} {body}")
        return body["id"]

    def create_wallets(self, keys: list[str]) -> list[str]:
        """``create_wallet`` in the world of each key, in order, over one keep-alive connection
        (hundreds of worlds set up in about a second)."""
        conn = HTTPConnection("127.0.0.1", self.port, timeout=10.0)
        payload = json.dumps(CREATE_BODY).encode()
        wallets = []
        try:
            for key in keys:
                headers = {"Content-Type": "application/json", "x-api-key": key}
                for attempt in (1, 2):
                    try:
                        conn.request("POST", self.prefix + "/wallets", payload, headers)
                        resp = conn.getresponse()
                        status, raw = resp.status, resp.read()
                        break
                    except (RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                        conn.close()  # the server closed the idle connection: the next request reopens
                        if attempt == 2:
                            raise
                body = json.loads(raw) if raw else None
                if status != 200 or not body or "id" not in body:
                    raise RuntimeError(f"{self.name}: POST {self.prefix}/wallets answered {status} {body}")
                wallets.append(body["id"])
        finally:
            conn.close()
        return wallets


def cpu_model() -> str:
    with open("/proc/cpuinfo") as info:
        return next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), "")


def loadavg() -> float:
    """1-minute load average: anything else busy on the machine makes every figure noisier."""
    return float(Path("/proc/loadavg").read_text().split()[0])


def rss_mb(pid: int) -> float:
    """Resident memory of a process, from /proc (VmRSS is in kB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def ours(extra: list[str] | None = None, version: str | None = None) -> Target:
    # started as the README starts it: the console script on its defaults, only the port (and
    # the API version) chosen; run from bench/results, not the repo root, whose ./fixtures it
    # would load into every world
    RESULTS.mkdir(exist_ok=True)
    return Target(
        f"ours-{version}" if version else "ours",
        [need("flexprice-mock"), "--port", "{port}", *(["--api-version", version] if version else [])]
        + (extra or []),
        prefix="/v1",
        health="/_mock/health",
        cwd=RESULTS,
    )


def prism(version: str = VERSIONS[-1]) -> Target:
    # Prism mocks the version's own document. It ignores `servers` when routing (it only checks
    # them when a request carries ?__server=...), so /v1/wallets is a 404 there and the routes
    # live at /wallets.
    return Target(
        f"prism-{version}",
        [need("prism"), "mock", "-h", "127.0.0.1", "-p", "{port}", str(spec(version))],
        prefix="",
        health="/wallets/wallet_health",
    )


def ceiling() -> Target:
    return Target(
        "ceiling",
        [sys.executable, str(BENCH / "ceiling.py"), "--port", "{port}"],
        prefix="/v1",
        health="/_mock/health",
    )


def redis_ping(target: Target) -> bool:
    """Whether a Redis server answers PING (plain RESP over a socket: no client library)."""
    with socket.create_connection(("127.0.0.1", target.port), timeout=1.0) as s:
        s.sendall(b"PING\r\n")
        return s.recv(16).startswith(b"+PONG")


def redis_server() -> Target:
    # nothing kept on disk: no snapshots, no append-only file; run from bench/results all the same
    RESULTS.mkdir(exist_ok=True)
    return Target(
        "redis-server",
        [need("redis-server"), "--bind", "127.0.0.1", "--port", "{port}", "--save", "", "--appendonly", "no"],
        prefix="",
        health="",
        cwd=RESULTS,
        ready=redis_ping,
    )


def wrk(
    target: Target,
    op: str,
    connections: int,
    duration: int,
    *,
    wallet: str = "",
    key: str = API_KEY,
    worlds: Path | None = None,
    threads: int | None = None,
    cpus: set[int] | None = None,
    tag: str | None = None,
) -> dict:
    """Run wrk with bench/wrk.lua and return the figures its done() hook prints. With ``worlds``
    (a file of "key wallet_id" lines) requests go round-robin over those worlds instead of
    ``key`` and ``wallet``."""
    # one wrk thread outdrives any of the servers here and leaves the most CPU to them
    threads = threads or 1
    env = {
        **os.environ,
        "BENCH_OP": op,
        "BENCH_KEY": key,
        "BENCH_WALLET": wallet,
        # a fresh tag per run keeps customer ids and idempotency keys unique across runs
        "BENCH_TAG": tag or f"{op}{time.monotonic_ns():x}",
    }
    env.pop("BENCH_WORLDS", None)
    if worlds is not None:
        env["BENCH_WORLDS"] = str(worlds)
    argv = [
        need("wrk"),
        "-t",
        str(threads),
        "-c",
        str(connections),
        "-d",
        f"{max(1, int(duration))}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA),
        target.base + target.prefix + "/wallets",
    ]
    cpu0 = target.cpu_s()
    beside0 = [t.cpu_s() for t in target.beside]
    out = subprocess.run(
        argv,
        env=env,
        capture_output=True,
        text=True,
        preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
    )
    for line in out.stdout.splitlines():
        if line.startswith("BENCH "):
            r = json.loads(line[6:])
            r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
            r["p50_ms"], r["p99_ms"] = r["p50_us"] / 1000, r["p99_us"] / 1000
            # server CPU per request: unlike req/s, barely moved by other load on the machine
            r["cpu_us_per_req"] = (target.cpu_s() - cpu0) * 1e6 / max(r["requests"], 1)
            if target.beside:
                r["beside_cpu_us_per_req"] = {
                    t.name: (t.cpu_s() - c0) * 1e6 / max(r["requests"], 1)
                    for t, c0 in zip(target.beside, beside0, strict=True)
                }
            return r
    raise RuntimeError(f"wrk {' '.join(argv)} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")


def take_turns(
    targets: dict[str, Target],
    op: str,
    connections: int,
    key: str,
    *,
    rounds: int,
    duration: int,
    warmup: int,
    cpus: set[int] | None = None,
    worlds: int = 1,
) -> dict[str, list[dict]]:
    """One cell: a wallet per target in the world of ``key``, then ``rounds`` wrk runs each, the
    targets taking turns round by round (a warm-up run first), so that load from anything else on
    the machine hits them alike. Returns every target's runs. With ``worlds`` > 1, a wallet in
    each of that many worlds per target (keys ``<key>-0``, ``<key>-1``, ...), and wrk's requests
    go round-robin over them."""
    runs: dict[str, list[dict]] = {name: [] for name in targets}
    with tempfile.TemporaryDirectory(prefix="bench-worlds-") as tmp:
        kws: dict[str, dict] = {}
        for name, t in targets.items():
            if worlds == 1:
                kws[name] = dict(wallet=t.create_wallet(key), key=key, cpus=cpus)
                continue
            # a file of "key wallet" lines, read by wrk.lua
            keys = [f"{key}-{i}" for i in range(worlds)]
            path = Path(tmp) / f"{name}.txt"
            path.write_text("".join(f"{k} {w}\n" for k, w in zip(keys, t.create_wallets(keys), strict=True)))
            kws[name] = dict(worlds=path, cpus=cpus)
        for rnd in range(rounds):
            for name, t in targets.items():
                if warmup and rnd == 0:
                    wrk(t, op, connections, warmup, **kws[name])
                runs[name].append(wrk(t, op, connections, duration, **kws[name]))
    return runs
