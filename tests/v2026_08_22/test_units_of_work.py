"""Whole or nothing, the same on both stores (API 2026-08-22): what a world's clock has made due
runs as a unit of work of its own before the request's, so a request that is then refused neither
loses it (its webhooks go out) nor keeps half of it; a refused control changes nothing; a control
that runs several operations keeps all of them or none; and on Redis a settlement made during a
read reaches the other processes.

In-process sandboxes with the due-work ticker stopped, so nothing but the request under test can
run what is due.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest

from mockserver.domain.clock import format_timestamp, parse_timestamp

from ..support import Api
from .conftest import freeze, make_customer, make_wallet, refusal


class Sandbox:
    """An in-process sandbox, its ticker stopped, with every event its store lets out."""

    def __init__(self, suite, **settings: Any):
        self.app = suite.create_app(validate_responses=True, log_requests=False, **settings)
        self.sandbox = self.app.extensions["mockserver"]
        self.sandbox.due.stop()
        self.events: list[str] = []
        self.sandbox.store.listeners.append(
            lambda key, world, raised: self.events.extend(e.name for e in raised)
        )
        self.suite = suite

    def client(self, api_key: str | None = None) -> Api:
        api = self.suite.client_of(self.app)
        return api.as_key(api_key) if api_key else api


@pytest.fixture(scope="module")
def shared(suite, store) -> Sandbox:
    return Sandbox(suite)


@pytest.fixture
def sandbox(shared: Sandbox) -> Sandbox:
    shared.events.clear()
    return shared


def invoiced_top_up(api: Api, policy: dict[str, Any]) -> tuple[str, str]:
    """A customer's wallet and an invoiced top-up of 40 credits under ``policy``; their ids."""
    freeze(api)
    customer = make_customer(api, "acme")
    wallet = make_wallet(api, customer["id"], initial_credits_to_load="5")["id"]
    assert api.put("/_mock/policies", {"invoiced_top_ups": policy}).status == 200
    reply = api.post(
        f"/v1/wallets/{wallet}/top-up",
        {"credits_to_add": "40", "transaction_reason": "PURCHASED_CREDIT_INVOICED"},
    )
    assert reply.status == 200, reply.json
    (invoice,) = api.get("/_mock/invoices").json["items"]
    assert invoice["status"] == "pending"
    return wallet, invoice["id"]


def move_clock_by_state(api: Api, by: timedelta) -> None:
    """Move the clock through the state document, which runs nothing that falls due."""
    state = api.get("/_mock/state").json
    state["clock"]["now"] = format_timestamp(parse_timestamp(state["clock"]["now"]) + by)
    assert api.put("/_mock/state", state).status == 200


def status_of(api: Api, invoice_id: str) -> str:
    return next(i["status"] for i in api.get("/_mock/invoices").json["items"] if i["id"] == invoice_id)


def test_a_refused_request_keeps_the_work_that_fell_due_and_sends_its_webhooks(sandbox):
    api = sandbox.client()
    wallet, invoice = invoiced_top_up(api, {"after": "PT1H"})
    move_clock_by_state(api, timedelta(hours=2))
    sandbox.events.clear()

    reply = api.get("/v1/wallets/wallet_nobody_has")

    assert refusal(reply)[:2] == (404, "not_found")
    assert sandbox.events == ["wallet.transaction.updated"]  # the settlement's, sent once
    assert status_of(api, invoice) == "paid"
    assert api.get(f"/v1/wallets/{wallet}").json["balance"] == "45"
    assert sandbox.events == ["wallet.transaction.updated"]  # nothing due twice


def test_a_refused_control_keeps_the_work_that_fell_due(sandbox):
    api = sandbox.client()
    _, invoice = invoiced_top_up(api, {"after": "PT1H"})
    move_clock_by_state(api, timedelta(hours=2))
    sandbox.events.clear()

    assert api.put("/_mock/usage", {"alert_delay": "P400D"}).status == 400  # refused in its unit

    assert sandbox.events == ["wallet.transaction.updated"]
    assert status_of(api, invoice) == "paid"


def test_a_refused_usage_setting_changes_nothing(sandbox):
    api = sandbox.client()
    before = api.get("/_mock/usage").json

    for delay in ("P400D", -1, "P366D", "P1000000000D"):
        status, code, message, _ = refusal(api.put("/_mock/usage", {"alert_delay": delay}))
        assert (status, code) == (400, "validation_error"), message
        assert api.get("/_mock/usage").json == before


def test_a_trigger_refused_halfway_keeps_nothing_it_made(sandbox):
    api = sandbox.client()
    before = api.get("/_mock/state").json

    reply = api.post("/_mock/trigger", {"event": "invoice.update.finalized", "overrides": {"amount": "1e30"}})

    status, _, message, details = refusal(reply)
    assert status == 400 and details["step"] == "createPrice", message  # after its customer and plan
    after = api.get("/_mock/state").json
    assert {k: v for k, v in after.items() if k != "clock"} == {
        k: v for k, v in before.items() if k != "clock"
    }
    assert sandbox.events == []


@pytest.fixture(scope="module")
def workers(suite, store) -> tuple[Sandbox, Sandbox]:
    """Two sandboxes on one Redis (two processes of one deployment)."""
    if store == "memory":
        pytest.skip("two processes share a world only on Redis")
    prefix = f"units-{uuid.uuid4().hex[:10]}:"
    first, second = (Sandbox(suite, store=store, redis_prefix=prefix) for _ in range(2))
    return first, second


@pytest.fixture
def two_workers(workers) -> tuple[Api, Api]:
    """The two workers' clients, as one API key."""
    key = f"sk_{uuid.uuid4().hex}"
    return workers[0].client(key), workers[1].client(key)


def test_a_settlement_made_during_a_read_reaches_the_other_worker(two_workers):
    a, b = two_workers
    wallet, invoice = invoiced_top_up(a, {"after": "PT1H", "outcome": "fail"})
    move_clock_by_state(a, timedelta(hours=2))

    assert a.get(f"/v1/wallets/{wallet}").status == 200  # a read: the policy fails the invoice

    assert status_of(a, invoice) == "failed"
    assert status_of(b, invoice) == "failed"
