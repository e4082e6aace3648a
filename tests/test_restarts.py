"""Restarts lose nothing with ``--state-file``: a clean stop (SIGTERM, Ctrl-C) saves every world,
a start loads them; ``kill -9`` loses at most the last save interval; the file on disk is always
whole. Real processes, real sockets."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import requests

from mockserver import api as versions

from .v2025_05_24.test_cli import free_port, wait_healthy

KEYS = [("sk_restart_a", ""), ("sk_restart_a", "env_staging"), ("sk_restart_b", "")]


class Sandbox:
    """A ``flexprice-mock`` process on a state file."""

    def __init__(self, path: Path, version: str, *flags: str):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        environ = {k: v for k, v in os.environ.items() if not k.startswith("FLEXPRICE_MOCK_")}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mockserver", "--port", str(self.port), "--api-version", version]
            + ["--state-file", str(path), "--no-fixtures", "--quiet", *flags],
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            env=environ,
            text=True,
        )
        wait_healthy(self.port, self.process)

    def call(self, method: str, path: str, key: str, env: str = "", **kw) -> requests.Response:
        headers = {"x-api-key": key, **({"X-Environment-ID": env} if env else {})}
        return requests.request(method, self.url + path, headers=headers, timeout=10, **kw)

    def state(self, key: str, env: str = "") -> dict:
        reply = self.call("GET", "/_mock/state", key, env)
        assert reply.status_code == 200
        return reply.json()

    def stop(self, sig: int = signal.SIGTERM) -> int:
        self.process.send_signal(sig)
        return self.process.wait(timeout=15)


def without_clocks(states: dict) -> dict:
    return {world: {k: v for k, v in state.items() if k != "clock"} for world, state in states.items()}


def moment(state: dict) -> datetime:
    assert state["clock"]["frozen"] is False
    return datetime.fromisoformat(state["clock"]["now"].replace("Z", "+00:00"))


def fill(sandbox: Sandbox, key: str, env: str, tag: str) -> None:
    """Customers, a wallet with credits and a top-up in one world, through the API."""
    customer = sandbox.call("POST", "/v1/customers", key, env, json={"external_id": tag, "name": tag})
    assert customer.status_code in (200, 201), customer.text
    wallet = sandbox.call(
        "POST",
        "/v1/wallets",
        key,
        env,
        json={"customer_id": customer.json()["id"], "currency": "usd", "initial_credits_to_load": 5},
    )
    assert wallet.status_code in (200, 201), wallet.text
    top_up = sandbox.call(
        "POST",
        f"/v1/wallets/{wallet.json()['id']}/top-up",
        key,
        env,
        json={"credits_to_add": 7, "transaction_reason": "PURCHASED_CREDIT_DIRECT", "idempotency_key": tag},
    )
    assert top_up.status_code == 200, top_up.text


@pytest.mark.parametrize("version", versions.VERSIONS)
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "ctrl-c"])
def test_a_clean_stop_saves_every_world_and_the_next_start_has_them(tmp_path, version, sig):
    path = tmp_path / "worlds.json"
    first = Sandbox(path, version, "--state-save-interval", "0")  # saved at stop only
    for n, (key, env) in enumerate(KEYS):
        fill(first, key, env, f"cust-{n}")
    before = {(key, env): first.state(key, env) for key, env in KEYS}
    assert first.stop(sig) == 0
    saved = json.loads(path.read_text())
    assert (saved["api_version"], len(saved["worlds"])) == (version, len(KEYS))

    second = Sandbox(path, version)
    try:
        after = {(key, env): second.state(key, env) for key, env in KEYS}
        assert without_clocks(after) == without_clocks(before)
        for world in after:  # a running clock went on running while the sandbox was down
            gap = moment(after[world]) - moment(before[world])
            assert timedelta(0) < gap < timedelta(seconds=30)
        wallet = before[KEYS[0]]["wallets"][0]
        shown = second.call("GET", f"/v1/wallets/{wallet['id']}", *KEYS[0]).json()
        assert float(shown["balance"]) == 12  # 5 initial + 7 topped up, read through the API
        # the ids and idempotency records came back too: the same key is still spent
        fill_again = second.call(
            "POST",
            f"/v1/wallets/{wallet['id']}/top-up",
            *KEYS[0],
            json={
                "credits_to_add": 7,
                "transaction_reason": "PURCHASED_CREDIT_DIRECT",
                "idempotency_key": "cust-0",
            },
        )
        assert fill_again.status_code in (200, 409)
        assert float(second.call("GET", f"/v1/wallets/{wallet['id']}", *KEYS[0]).json()["balance"]) == 12
    finally:
        assert second.stop() == 0


def test_kill_9_loses_at_most_the_last_interval(tmp_path):
    path = tmp_path / "worlds.json"
    sandbox = Sandbox(path, versions.DEFAULT, "--state-save-interval", "1")
    key = KEYS[0][0]
    fill(sandbox, key, "", "kept")
    customer_id = sandbox.state(key)["customers"][0]["id"]
    deadline = time.monotonic() + 10
    while customer_id.encode() not in (path.read_bytes() if path.exists() else b""):
        assert time.monotonic() < deadline, "no save within the interval"
        time.sleep(0.1)
    sandbox.process.kill()
    sandbox.process.wait(10)

    again = Sandbox(path, versions.DEFAULT)
    try:
        assert [c["id"] for c in again.state(key)["customers"]] == [customer_id]
    finally:
        again.stop()


def test_the_file_on_disk_is_always_whole_while_saves_run_under_load(tmp_path):
    path = tmp_path / "worlds.json"
    sandbox = Sandbox(path, versions.DEFAULT, "--state-save-interval", "1")
    stop = threading.Event()

    def traffic() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            sandbox.call("POST", "/v1/customers", "sk_load", json={"external_id": f"c{n}", "name": "x"})

    writer = threading.Thread(target=traffic)
    writer.start()
    seen = set()
    try:
        deadline = time.monotonic() + 3.5
        while time.monotonic() < deadline:
            if path.exists():
                document = json.loads(path.read_bytes())  # never a half-written file
                seen.add(len(document["worlds"][0]["state"]["customers"]) if document["worlds"] else 0)
            time.sleep(0.02)
    finally:
        stop.set()
        writer.join()
        assert sandbox.stop() == 0
    assert len(seen) >= 2, "the file was saved again as customers were added"
    final = json.loads(path.read_text())
    assert len(final["worlds"][0]["state"]["customers"]) >= max(seen)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["worlds.json"]


def test_reads_are_no_news_for_the_state_file(tmp_path):
    """API GETs and control reads leave the store's change count alone: a read-only sandbox is
    never saved again; a write, a new world and a reset are saved."""
    from mockserver.state.persist import Keeper

    from .support import Suite

    app = Suite("2026-08-22").create_app(log_requests=False)
    store = app.extensions["mockserver"].store
    keeper = Keeper(store, "2026-08-22", tmp_path / "state.json", 0)
    client = app.test_client()
    headers = {"x-api-key": "sk_reads", "Content-Type": "application/json"}
    created = client.post("/v1/customers", json={"external_id": "a", "name": "A"}, headers=headers)
    assert created.status_code == 201
    keeper.save_if_changed()
    saved_at = store.changes
    for path in ("/v1/customers", f"/v1/customers/{created.json['id']}", "/_mock/state", "/_mock/clock"):
        assert client.get(path, headers=headers).status_code == 200, path
    assert store.changes == saved_at
    client.get("/v1/customers", headers={**headers, "x-api-key": "sk_reads_new"})  # a new world
    assert store.changes == saved_at + 1
    client.post("/_mock/clock/advance", json={"by": "PT1S"}, headers=headers)
    assert store.changes == saved_at + 2


def test_a_restart_raises_no_alert_a_second_time(tmp_path):
    """The world remembers which alerts it announced: after a restart from the state file, a wallet
    still below its threshold raises no second ``dropped``; its recovery is announced once."""
    from .v2026_08_22.test_webhooks import Catcher

    catcher = Catcher()
    path, key = tmp_path / "worlds.json", "sk_restart_alerts"
    flags = ("--webhook-url", catcher.url)

    def debit(sandbox: Sandbox, wallet: str, credits: str, tag: str) -> None:
        body = {"credits": credits, "transaction_reason": "MANUAL_BALANCE_DEBIT", "idempotency_key": tag}
        assert sandbox.call("POST", f"/v1/wallets/{wallet}/debit", key, json=body).status_code == 200

    def announced(sandbox: Sandbox) -> list[str]:
        assert sandbox.call("POST", "/_mock/webhooks/wait", key, json={"timeout": 5}).json()["drained"]
        types = [json.loads(body)["event_type"] for _, body in catcher.requests]
        return [t for t in types if t.startswith("wallet.credit_balance.")]

    try:
        first = Sandbox(path, "2026-08-22", *flags)
        customer = first.call("POST", "/v1/customers", key, json={"external_id": "a", "name": "A"}).json()
        wallet = first.call(
            "POST", "/v1/wallets", key, json={"customer_id": customer["id"], "currency": "usd"}
        ).json()["id"]
        debit(first, wallet, "5", "d1")  # below 0: the tenant default's critical level
        assert announced(first) == ["wallet.credit_balance.dropped"]
        assert first.stop() == 0

        second = Sandbox(path, "2026-08-22", *flags)
        try:
            debit(second, wallet, "1", "d2")  # still in alarm: nothing new to say
            assert announced(second) == ["wallet.credit_balance.dropped"]
            top_up = {"credits_to_add": "10", "transaction_reason": "PURCHASED_CREDIT_DIRECT"}
            assert second.call("POST", f"/v1/wallets/{wallet}/top-up", key, json=top_up).status_code == 200
            assert announced(second) == ["wallet.credit_balance.dropped", "wallet.credit_balance.recovered"]
        finally:
            second.stop()
    finally:
        catcher.close()


def test_a_restarted_sandbox_goes_on_with_its_seeded_ids(tmp_path):
    """The state file keeps each world's id generator where it was: with ``--id-seed``, a restarted
    sandbox makes the ids the first one would have made next, not its first ones again."""
    from mockserver.state import persist

    from .support import Suite

    suite, path = Suite("2026-08-22"), tmp_path / "state.json"
    headers = {"x-api-key": "sk_seeded_restart", "Content-Type": "application/json"}

    def customer(client, name: str) -> str:
        reply = client.post("/v1/customers", json={"external_id": name, "name": name}, headers=headers)
        assert reply.status_code == 201
        return reply.json["id"]

    first = suite.create_app(log_requests=False, id_seed=9)
    client = first.test_client()
    frozen = {"now": "2026-09-01T12:00:00Z", "frozen": True}
    assert client.put("/_mock/clock", json=frozen, headers=headers).status_code == 200
    made = customer(client, "a")
    persist.save(first.extensions["mockserver"].store, suite.version, path)
    client.post("/_mock/clock/advance", json={"by": "PT1S"}, headers=headers)  # a new millisecond: a draw
    following = customer(client, "b")

    second = suite.create_app(log_requests=False, id_seed=9)
    assert persist.load(second.extensions["mockserver"].store, suite.version, path) == 1
    client = second.test_client()
    client.post("/_mock/clock/advance", json={"by": "PT1S"}, headers=headers)
    assert customer(client, "b") == following != made
