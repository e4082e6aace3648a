"""The shared store: several sandbox processes on one real Redis serve one set of worlds.

Real processes, real sockets, a real ``redis-server``: concurrent writes from different processes
lose nothing, an ``nth`` fault counts requests whichever process gets them, a webhook is delivered
once, everything survives killing every process, and Redis going away answers 503 until it is back.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from decimal import Decimal

import pytest
import redis
import requests
from svix.webhooks import Webhook

from mockserver import create_app
from mockserver.domain.world import world_id
from mockserver.http.store_errors import api_error
from mockserver.state.errors import LockExpired, StoreUnavailable, TooManyWorlds, WorldBusy
from mockserver.state.shared.records import Record, Redis

from .redis_server import RedisServer
from .support import Api, Suite, ledger, make_customer, new_key
from .v2025_05_24.test_cli import free_port
from .v2026_08_22.test_webhooks import Catcher

SUITE = Suite("2026-08-22")


class Process:
    """A ``flexprice-mock`` process (or a parent with workers) on the shared store."""

    def __init__(self, store: str, prefix: str, *flags: str, healthy: bool = True):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        environ = {k: v for k, v in os.environ.items() if not k.startswith("FLEXPRICE_MOCK_")}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mockserver", "--port", str(self.port), "--store", store]
            + ["--redis-prefix", prefix, "--no-fixtures", "--quiet", *flags],
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            env=environ,
            text=True,
        )
        try:
            self._wait_healthy(200 if healthy else 503)
        except BaseException:
            self.stop(signal.SIGKILL)
            raise

    def _wait_healthy(self, status: int, timeout: float = 30.0) -> None:
        # With workers the port is open before they have built their apps: a request waits.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.process.stderr.read() if self.process.stderr else ""
            try:
                if requests.get(self.url + "/_mock/health", timeout=5).status_code == status:
                    return
            except requests.RequestException:
                time.sleep(0.05)
        raise AssertionError("the sandbox did not become healthy")

    def client(self, session: requests.Session, key: str) -> Api:
        return SUITE.http_client(self.url, session).as_key(key)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout=20)


@pytest.fixture
def prefix() -> str:
    return f"test-{uuid.uuid4().hex[:12]}:"


@pytest.fixture
def processes(redis_server, prefix):
    """Three ways in to one set of worlds: two processes, and one with two workers."""
    started: list[Process] = []
    try:
        for flags in ((), (), ("--workers", "2")):
            started.append(Process(redis_server.url, prefix, *flags))
        yield started
    finally:  # those started go, even when a later one would not start
        for process in started:
            process.stop()


def test_racing_writes_through_several_processes_lose_nothing_and_never_double_credit(processes):
    key = new_key()
    with requests.Session() as session:
        first = processes[0].client(session, key)
        customer = first.post("/v1/customers", {"external_id": "race", "name": "Race"}).json
        wallets = [
            first.post("/v1/wallets", {"customer_id": customer["id"], "currency": c}).json["id"]
            for c in ("usd", "eur", "gbp")
        ]
    doomed = wallets[2]
    done: list[tuple[str, str, Decimal, int, str]] = []  # (wallet, kind, credits, status, txn id)
    failures: list[str] = []
    lock = threading.Lock()

    def client(n: int) -> None:
        rng = random.Random(n)
        with requests.Session() as session:
            ways = [p.client(session, key) for p in processes]
            for i in range(30):
                api = ways[(n + i) % len(ways)]
                wallet = rng.choice(wallets)
                if n == 0 and i == 10:
                    reply = api.post(f"/v1/wallets/{doomed}/terminate")
                    kind, credits = "terminate", Decimal(0)
                elif rng.random() < 0.6:
                    credits = Decimal(rng.randint(1, 50))
                    reply = api.post(
                        f"/v1/wallets/{wallet}/top-up",
                        {
                            "credits_to_add": str(credits),
                            "transaction_reason": "FREE_CREDIT_GRANT",
                            "idempotency_key": f"top-up-{n}-{i}",
                        },
                    )
                    kind = "credit"
                else:
                    credits = Decimal(rng.randint(1, 5))
                    reply = api.post(
                        f"/v1/wallets/{wallet}/debit",
                        {
                            "credits": str(credits),
                            "transaction_reason": "MANUAL_BALANCE_DEBIT",
                            "idempotency_key": f"debit-{n}-{i}",
                        },
                    )
                    kind = "debit"
                with lock:
                    if reply.status == 200:
                        # A top-up answers its transaction; a debit its wallet (its key names it).
                        mark = (
                            reply.json["wallet_transaction"]["id"] if kind == "credit" else f"debit-{n}-{i}"
                        )
                        done.append((wallet if kind != "terminate" else doomed, kind, credits, 200, mark))
                    elif wallet == doomed and reply.status == 400:
                        pass  # the wallet was terminated under it: refused, as the cloud refuses
                    else:
                        failures.append(f"{kind} {wallet}: {reply.status} {reply.json}")

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert failures == []
    assert any(kind == "terminate" for _, kind, *_ in done)

    with requests.Session() as session:
        for wallet in wallets:
            for process in processes:  # every process sees the same wallet and ledger
                api = process.client(session, key)
                shown = api.get(f"/v1/wallets/{wallet}").json
                items = ledger(api, wallet)
                credited = sum(Decimal(t["credit_amount"]) for t in items if t["type"] == "credit")
                debited = sum(Decimal(t["credit_amount"]) for t in items if t["type"] == "debit")
                assert Decimal(shown["credit_balance"]) == credited - debited, wallet
                # Every answered write is in the ledger once, and nothing else is.
                answered = [d for d in done if d[0] == wallet and d[1] != "terminate"]
                ids = [t["id"] for t in items]
                assert len(ids) == len(set(ids))
                assert sorted(d[4] for d in answered if d[1] == "credit") == sorted(
                    t["id"] for t in items if t["type"] == "credit"
                )
                assert sorted(d[4] for d in answered if d[1] == "debit") == sorted(
                    t["idempotency_key"] for t in items if t["transaction_reason"] == "MANUAL_BALANCE_DEBIT"
                )
                assert credited == sum(d[2] for d in answered if d[1] == "credit")
                if wallet == doomed:  # closed once (top-ups after it are taken, as the cloud takes them)
                    assert shown["wallet_status"] == "closed"
                    assert len([t for t in items if t["transaction_reason"] == "WALLET_TERMINATION"]) <= 1


def test_an_nth_fault_fires_on_the_nth_request_whichever_process_gets_it(processes):
    key = new_key()
    with requests.Session() as session:
        ways = [p.client(session, key) for p in processes]
        added = ways[0].post(
            "/_mock/faults", {"method": "GET", "path": "/v1/customers", "nth": 3, "status": 503}
        )
        assert added.status == 201, added.json
        statuses = [ways[i % 3].get("/v1/customers").status for i in range(5)]
        assert statuses == [200, 200, 503, 200, 200]
        rules = ways[1].get("/_mock/faults").json["items"]
        assert [(r["matches"], r["hits"]) for r in rules] == [(5, 1)]


def test_a_webhook_is_delivered_once_whichever_process_queued_it(processes):
    catcher = Catcher()
    key = new_key()
    try:
        with requests.Session() as session:
            ways = [p.client(session, key) for p in processes]
            endpoint = ways[0].post("/_mock/webhooks", {"url": catcher.url, "events": ["customer.created"]})
            assert endpoint.status == 201, endpoint.json
            for n in range(12):
                created = ways[n % 3].post("/v1/customers", {"external_id": f"c{n}", "name": "C"})
                assert created.status == 201
            drained = ways[1].post("/_mock/webhooks/wait", {"timeout": 10})
            assert drained.status == 200 and drained.json["drained"], drained.json
            received = catcher.wait(12)
            ids = [headers["svix-id"] for headers, _ in received]
            assert len(ids) == len(set(ids)) == 12
            verifier = Webhook(endpoint.json["secret"])
            for headers, body in received:
                verifier.verify(body, headers)  # raises unless signed with the endpoint's secret
            customers = {json.loads(body)["customer"]["external_id"] for _, body in received}
            assert customers == {f"c{n}" for n in range(12)}
            deliveries = ways[2].get("/_mock/webhooks/deliveries").json["items"]
            assert sorted(d["id"] for d in deliveries) == sorted(ids)
            assert all(d["status"] == "delivered" and len(d["attempts"]) == 1 for d in deliveries)
    finally:
        catcher.close()


def test_killing_every_process_keeps_every_world(redis_server, prefix):
    key = new_key()
    first = Process(redis_server.url, prefix)
    try:
        second = Process(redis_server.url, prefix, "--workers", "2")
    except BaseException:
        first.stop()
        raise
    try:
        with requests.Session() as session:
            api = first.client(session, key)
            customer = api.post("/v1/customers", {"external_id": "kept", "name": "Kept"}).json
            body = {"customer_id": customer["id"], "currency": "usd", "initial_credits_to_load": "7"}
            wallet = api.post("/v1/wallets", body).json
            frozen = second.client(session, key).put(
                "/_mock/clock", {"now": "2026-09-01T00:00:00Z", "frozen": True}
            )
            assert frozen.status == 200, frozen.json
            before = api.get("/_mock/state").json
            journal = api.get("/_mock/journal").json
        workers = _children_of(second)
        assert len(workers) == 2
        for pid in workers:
            os.kill(pid, signal.SIGKILL)
    finally:  # every process of both goes at once, as a crash would take them
        first.stop(signal.SIGKILL)
        second.stop(signal.SIGKILL)
    again = Process(redis_server.url, prefix)
    try:
        with requests.Session() as session:
            api = again.client(session, key)
            assert api.get("/_mock/state").json == before
            shown = api.get(f"/v1/wallets/{wallet['id']}").json
            assert (shown["credit_balance"], shown["wallet_status"]) == ("7", "active")
            assert api.get("/_mock/journal").json["items"][1:] == journal["items"]
    finally:
        again.stop()


def _children_of(process: Process) -> list[int]:
    found = []
    tasks = f"/proc/{process.process.pid}/task"
    for task in os.listdir(tasks):
        with open(f"{tasks}/{task}/children") as children:
            found += [int(pid) for pid in children.read().split()]
    return found


def test_workers_need_the_shared_store_and_the_state_file_needs_memory(redis_server):
    def refused(*flags: str) -> str:
        run = subprocess.run(
            [sys.executable, "-m", "mockserver", "--port", str(free_port()), *flags],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert run.returncode == 2, run.stderr
        return run.stderr.strip()

    assert refused("--workers", "2") == (
        "flexprice-mock: --workers (FLEXPRICE_MOCK_WORKERS) 2 needs a shared store (--store redis://...): "
        "with the memory store each process would hold worlds of its own"
    )
    assert refused("--store", redis_server.url, "--state-file", "x.json") == (
        "flexprice-mock: --state-file (FLEXPRICE_MOCK_STATE_FILE) keeps the memory store across restarts; "
        "with --store redis the worlds already live in Redis"
    )
    assert refused("--store", "mysql://db") == (
        "flexprice-mock: --store (FLEXPRICE_MOCK_STORE) must be memory or a Redis URL such as "
        "redis://localhost:6379/0, not 'mysql://db'"
    )


# ---- Redis going away, and coming back --------------------------------------------------------


@pytest.fixture
def own_redis(tmp_path):
    """A Redis of this test's own that keeps its data on disk, so that it can be stopped and
    started again with the worlds it held."""
    server = RedisServer(tmp_path, persist=True)
    yield server
    server.stop()


def test_redis_unreachable_answers_503_and_service_resumes_when_it_is_back(own_redis):
    for version in ("2025-05-24", "2026-08-22"):
        suite = Suite(version)
        app = create_app(
            api_version=version, store=own_redis.url, validate_responses=True, log_requests=False
        )
        api = suite.client_of(app)
        customer = api.post("/v1/customers", {"external_id": "kept", "name": "Kept"}).json
        body = {"customer_id": customer["id"], "currency": "usd", "initial_credits_to_load": 5}
        wallet = api.post("/v1/wallets", body).json
        top_up = {"credits_to_add": "10", "transaction_reason": "FREE_CREDIT_GRANT"}
        if version == "2025-05-24":
            top_up = {"amount": 10, "transaction_reason": "PURCHASED_CREDIT_DIRECT", "idempotency_key": "k"}
        own_redis.stop()
        try:
            reply = api.post(f"/v1/wallets/{wallet['id']}/top-up", top_up)
            assert reply.status == 503
            error = reply.json if version == "2026-08-22" else reply.json["error"]
            assert error["message"] == "The sandbox's shared store (Redis) is unavailable; try again shortly"
            assert error["details"] == {"store": "redis", "reason": "store unavailable"}
            if version == "2026-08-22":
                assert (error["code"], error["http_status_code"]) == ("service_unavailable", 503)
            else:
                assert error["internal_error"].startswith("redis: ConnectionError: ")
            # The same answer from every door: the API (its faults, then its world), the controls.
            for path in (f"/v1/wallets/{wallet['id']}", "/_mock/faults", "/_mock/state"):
                again = api.get(path)
                assert again.status == 503, path
                shown = again.json if version == "2026-08-22" else again.json["error"]
                assert {**shown, "internal_error": ""} == {**error, "internal_error": ""}, path
            health = api.get("/_mock/health", key=None)
            assert health.status == 503
            assert health.json == {
                "status": "unavailable",
                "api_version": version,
                "problem": "The sandbox's shared store (Redis) is unavailable; try again shortly",
            }
        finally:
            own_redis.start()
        assert api.get("/_mock/health", key=None).json["status"] == "ok"
        shown = api.get(f"/v1/wallets/{wallet['id']}").json
        assert Decimal(str(shown["balance"])) == 5  # the refused top-up left nothing behind
        assert api.post(f"/v1/wallets/{wallet['id']}/top-up", top_up).status == 200
        assert Decimal(str(api.get(f"/v1/wallets/{wallet['id']}").json["balance"])) == 15


def test_a_sandbox_started_before_its_redis_serves_503s_until_redis_is_up(tmp_path, prefix):
    port = free_port()
    sandbox = Process(f"redis://127.0.0.1:{port}/0", prefix, healthy=False)
    server = None
    try:
        with requests.Session() as session:
            api = sandbox.client(session, new_key())
            reply = api.post("/v1/customers", {"external_id": "early", "name": "Early"})
            assert reply.status == 503 and reply.json["details"]["reason"] == "store unavailable"
            health = api.get("/_mock/health", key=None)
            assert (health.status, health.json["status"]) == (503, "unavailable")
            server = RedisServer(tmp_path, port=port)
            assert api.get("/_mock/health", key=None).json["status"] == "ok"
            assert api.post("/v1/customers", {"external_id": "early", "name": "Early"}).status == 201
    finally:
        sandbox.stop()
        if server is not None:
            server.stop()
    assert "is not reachable yet" in sandbox.process.stderr.read()


# ---- the record underneath --------------------------------------------------------------------


def test_a_record_held_elsewhere_too_long_is_a_503_and_a_failed_block_writes_nothing(redis_server, prefix):
    store = Redis(redis_server.url, prefix, lock_wait=0.2)
    record = Record(
        store,
        prefix + "counter",
        lambda doc: json.loads(doc) if doc else {"n": 0},
        lambda v: json.dumps(v).encode(),
    )
    with record.hold() as value:
        value["n"] += 1
    client = redis.Redis.from_url(redis_server.url)
    client.set(prefix + "counter:lock", "someone else", px=5000)
    with pytest.raises(WorldBusy) as busy, record.hold():
        pass
    answer = api_error(busy.value)  # the store says what happened; the app gives it a status
    assert answer.status == 503 and answer.details == {"store": "redis", "reason": "world busy"}
    assert answer.message == (
        "The sandbox is busy: this world stayed locked by another request for 0.2 s; try again"
    )
    client.delete(prefix + "counter:lock")
    with pytest.raises(RuntimeError), record.hold() as value:
        value["n"] += 100
        raise RuntimeError("halfway")
    assert json.loads(client.get(prefix + "counter")) == {"n": 1}
    with record.hold() as value:  # this process's copy was dropped: it reads Redis again
        assert value == {"n": 1}
    assert client.get(prefix + "counter:lock") is None


def test_threads_of_one_process_wait_for_a_held_record_no_longer_than_for_its_lock(redis_server, prefix):
    """A hot world must not take every thread of the pool: a thread queued behind another of its
    own process gives up after the store's wait, as it would waiting for the lock in Redis."""
    store = Redis(redis_server.url, prefix, lock_wait=0.3)
    record = Record(store, prefix + "hot", lambda doc: doc or b"", lambda v: v)
    inside, release = threading.Event(), threading.Event()

    def hold_long() -> None:
        with record.hold():
            inside.set()
            release.wait(10)

    holder = threading.Thread(target=hold_long)
    holder.start()
    try:
        assert inside.wait(5)
        started = time.monotonic()
        with pytest.raises(WorldBusy), record.hold():
            pass
        assert 0.25 <= time.monotonic() - started < 2
    finally:
        release.set()
        holder.join(10)
    with record.hold():  # free again
        pass


def test_an_unreachable_redis_is_the_stores_own_error(prefix):
    store = Redis(f"redis://127.0.0.1:{free_port()}/0", prefix)
    record = Record(store, prefix + "nowhere", lambda doc: doc, lambda v: v or b"")
    with pytest.raises(StoreUnavailable) as raised, record.hold():
        pass
    assert raised.value.cause.startswith("ConnectionError: ")
    with pytest.raises(StoreUnavailable):
        store.ping()


@pytest.mark.parametrize(
    "error, status, message, internal, details",
    [
        (
            TooManyWorlds(3),
            429,
            "Sandbox limit reached: at most 3 worlds (API key and environment pairs) at once; "
            "reset the sandbox or reuse a key",
            "too many worlds",
            {"limit": "max_worlds", "max": 3},
        ),
        (
            StoreUnavailable(redis.ConnectionError("refused")),
            503,
            "The sandbox's shared store (Redis) is unavailable; try again shortly",
            "redis: ConnectionError: refused",
            {"store": "redis", "reason": "store unavailable"},
        ),
        (
            WorldBusy(5.0),
            503,
            "The sandbox is busy: this world stayed locked by another request for 5 s; try again",
            "lock wait timed out",
            {"store": "redis", "reason": "world busy"},
        ),
        (
            LockExpired(),
            503,
            "The sandbox could not keep this change: its hold on the world ran out; try again",
            "lock expired before commit",
            {"store": "redis", "reason": "lock expired"},
        ),
    ],
)
def test_the_app_answers_each_store_error_as_the_api_always_did(error, status, message, internal, details):
    """The stores raise errors of their own (no HTTP in state/); the app gives each the status,
    message, internal error and details the API answered with when the stores raised them."""
    answer = api_error(error)
    assert (answer.status, answer.message, answer.internal_error, answer.details) == (
        status,
        message,
        internal,
        details,
    )


def test_a_world_locked_elsewhere_holds_up_no_other_world(redis_server, prefix):
    """A request that waits for a world another process holds waits on a thread, not on the event
    loop: requests for other worlds are answered meanwhile, and its own once the lock is free."""
    process = Process(redis_server.url, prefix)
    try:
        with requests.Session() as one, requests.Session() as other:
            held, free = process.client(one, new_key()), process.client(other, new_key())
            held_customer = make_customer(held, "held-1")
            free_customer = make_customer(free, "free-1")
            lock = f"{prefix}{SUITE.version}:world:{world_id((held.api_key, ''))}:lock"
            client = redis.Redis.from_url(redis_server.url)
            assert client.set(lock, "another-process", nx=True, px=2500)  # as another process would
            answered: list[tuple[str, int]] = []
            waiting = threading.Thread(
                target=lambda: answered.append(
                    ("held", held.get(f"/v1/customers/{held_customer['id']}").status)
                )
            )
            waiting.start()
            time.sleep(0.3)  # the held world's request is in, waiting for the lock
            for _ in range(20):
                reply = free.get(f"/v1/customers/{free_customer['id']}")
                answered.append(("free", reply.status))
            assert client.pttl(lock) > 0, "the lock ran out before the other world was served"
            waiting.join(10)
            assert answered == [("free", 200)] * 20 + [("held", 200)]
    finally:
        process.stop()


def test_journal_entries_written_before_the_unexpected_mark_still_read(redis_server, prefix):
    """A process of an older release, sharing the Redis, wrote entries of 11 fields: they read,
    count for verification, and are not unexpected."""
    app = create_app(
        api_version="2026-08-22", store=redis_server.url, redis_prefix=prefix, log_requests=False
    )
    api = SUITE.client_of(app)
    assert api.post("/v1/wallet", {}).status == 404  # written now, with the mark
    name = app.extensions["mockserver"].store.redis.key("journal", world_id((api.api_key, "")))
    older = [
        "2026-12-01T00:00:00Z",
        "POST",
        "/v1/customers",
        "",
        '{"name":"Old"}',
        14,
        201,
        1.5,
        "r1",
        "sk_t…",
        None,
    ]
    redis.Redis.from_url(redis_server.url).rpush(name, json.dumps(older))  # the oldest
    journal = api.get("/_mock/journal").json["items"]
    assert [(e["path"], e.get("unexpected")) for e in journal] == [
        ("/v1/wallet", "no route"),
        ("/v1/customers", None),
    ]
    answer = api.post(
        "/_mock/verify", {"method": "POST", "path": "/v1/customers", "body": {"name": "Old"}}
    ).json
    assert (answer["ok"], answer["count"]) == (True, 1)
    assert [e["path"] for e in api.get("/_mock/verify/unexpected").json["items"]] == ["/v1/wallet"]
