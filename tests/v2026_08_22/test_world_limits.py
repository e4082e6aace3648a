"""Bounded memory per world (API 2026-08-22), on the memory store and on Redis: every kind of
object a world holds counts towards ``--max-objects-per-world``; past it a growing request gets
a 429 naming what is counted and saying to reset, and leaves the world as it was (a bulk ingest
whole); future-dated events keep only what their meters read; a dead receiver under a frozen
clock does not pile up pending webhook deliveries.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from decimal import Decimal
from itertools import count
from typing import Any

import pytest

from mockserver.webhooks import outbox

from ..support import Api
from .conftest import (
    NOW,
    SUITE,
    advance,
    client_of,
    create_app,
    freeze,
    make_customer,
    make_wallet,
    new_key,
    refusal,
)
from .test_usage import setup, usage_of
from .test_webhooks import client_over, drain

LIMIT = 13  # a usage set-up (customer, feature and meter, plan, price, entitlement, subscription
# and its line item, wallet and its credit) holds 10 objects: room for 3 more
NEXT_YEAR = "2027-09-01T12:00:00Z"


def world(limit: int = LIMIT) -> Api:
    """A new sandbox whose worlds hold at most ``limit`` objects, and a client of one world (its
    clock frozen, so that its state stands still between requests)."""
    made = (SUITE.store, limit)
    if made not in APPS:  # one sandbox per limit and store: each client is a world of its own
        APPS[made] = create_app(validate_responses=True, log_requests=False, max_objects_per_world=limit)
    api = client_of(APPS[made])
    freeze(api)
    return api


APPS: dict[tuple[str, int], Any] = {}


@pytest.fixture(scope="module", autouse=True)
def _stop_the_sandboxes() -> Iterator[None]:
    yield
    for app in APPS.values():
        app.extensions["mockserver"].due.stop()  # (its ticker would outlive the Redis server)
    APPS.clear()


def state(api: Api) -> Any:
    reply = api.get("/_mock/state")
    assert reply.status == 200, reply.json
    return reply.json


def filled(api: Api, make: Callable[[int], Any], limit: int = LIMIT) -> dict[str, Any]:
    """Call ``make(n)`` (each call adds objects) until the world is full; then once more: that
    call is refused with the 429 and changes nothing. Returns the refusal's details."""
    for n in count():
        assert n <= limit, "the world never filled: what the call adds is not counted"
        before = state(api)
        reply = make(n)
        if reply.status == 429:
            break
        assert reply.status in (200, 201, 202), reply.json
    _, _, message, details = refusal(reply)
    assert message.startswith(f"Sandbox limit reached: a world holds at most {limit} objects (customers, ")
    assert "reset it to start again" in message
    assert details["limit"] == "max_objects_per_world" and details["max"] == limit
    assert details["held"] >= limit
    assert state(api) == before  # nothing of the refused request was kept
    return {"message": message, "accepted": n, **details}


def event(api: Api, **fields: Any):
    return api.post("/v1/events", {"event_name": "api_call", "external_customer_id": "acme", **fields})


def metered(api: Api, name: str):
    meter = {
        "name": name,
        "event_name": name,
        "aggregation": {"type": "COUNT"},
        "reset_usage": "BILLING_PERIOD",
    }
    return api.post("/v1/features", {"name": name, "type": "metered", "meter": meter})


# ---- each kind reaches the limit --------------------------------------------------------------


def test_features_and_their_meters_count():
    api = world(5)
    found = filled(api, lambda n: metered(api, f"feature-{n}"), 5)
    assert "features, meters" in found["message"]
    assert api.get("/v1/customers").status == 200  # reads still answer


def test_plans_count():
    api = world(4)
    found = filled(api, lambda n: api.post("/v1/plans", {"name": f"plan-{n}"}), 4)
    assert found["held"] == 4 and "plans" in found["message"]


def test_prices_count():
    api = world()
    ids = setup(api)
    price = {
        "entity_type": "PLAN",
        "entity_id": ids["plan"]["id"],
        "currency": "usd",
        "type": "USAGE",
        "billing_model": "FLAT_FEE",
        "amount": "1",
        "billing_period": "ANNUAL",  # not the subscription's period: it adds no line item
        "billing_period_count": 1,
        "invoice_cadence": "ARREAR",
        "price_unit_type": "FIAT",
        "meter_id": ids["feature"]["meter_id"],
    }
    found = filled(api, lambda n: api.post("/v1/prices", price))
    assert found["held"] == LIMIT and "prices" in found["message"]
    assert api.get(f"/v1/plans/{ids['plan']['id']}").status == 200


def test_subscriptions_and_their_line_items_count():
    api = world()
    ids = setup(api)
    body = {"customer_id": ids["customer"]["id"], "plan_id": ids["plan"]["id"], "currency": "usd"}
    found = filled(api, lambda n: api.post("/v1/subscriptions", {**body, "billing_period": "MONTHLY"}))
    assert "subscriptions, line items" in found["message"]
    assert api.get(f"/v1/subscriptions/{ids['subscription']['id']}").status == 200


def test_event_ids_count_even_for_an_unknown_customer():
    api = world(3)
    found = filled(api, lambda n: event(api, event_id=f"evt-{n}", external_customer_id="nobody"), 3)
    assert (found["accepted"], found["held"]) == (3, 3) and "event ids" in found["message"]


def test_a_repeated_event_id_in_a_full_world_is_still_refused_and_counted_once():
    api = world(2)
    assert event(api, event_id="same").status == 202
    assert event(api, event_id="same").status == 202  # a repeat: nothing more kept
    assert event(api, event_id="other").status == 202
    assert event(api, event_id="third").status == 429


def test_future_dated_events_count():
    api = world()
    setup(api)
    found = filled(api, lambda n: event(api, timestamp=NEXT_YEAR))
    assert found["held"] == LIMIT and "future-dated events" in found["message"]


def test_distinct_values_count():
    api = world()
    ids = setup(api, aggregation={"type": "COUNT_UNIQUE", "field": "user"})
    found = filled(api, lambda n: event(api, properties={"user": f"u{n}"}))
    assert found["held"] == LIMIT and "distinct values" in found["message"]
    assert usage_of(api, ids["customer"]["id"]) == 3
    assert event(api, properties={"user": "u0"}).status == 429  # a full world takes no events
    assert usage_of(api, ids["customer"]["id"]) == 3


def test_a_closed_period_lets_its_distinct_values_go():
    api = world()
    ids = setup(api, aggregation={"type": "COUNT_UNIQUE", "field": "user"})
    for n in range(3):
        assert event(api, properties={"user": f"u{n}"}).status == 202
    assert event(api, properties={"user": "u3"}).status == 429
    # The period closes: its invoice and the wallet's payment of it are kept, its values go.
    advance(api, "P1M")
    assert event(api, properties={"user": "v0"}).status == 202
    assert event(api, properties={"user": "v1"}).status == 429
    assert usage_of(api, ids["customer"]["id"]) == 1


def test_subscription_invoices_count():
    api = world(LIMIT - 2)  # room for one more object after the set-up
    setup(api)
    advance(api, "P1M")  # the period's invoice (skipped: nothing to charge, but kept and listed)
    reply = api.post("/v1/plans", {"name": "more"})
    assert reply.status == 429, reply.json
    assert "invoices" in reply.json["message"]


def test_idempotency_keys_and_transactions_count():
    api = world(4)
    customer = make_customer(api)
    wallet = make_wallet(api, customer["id"])

    def top_up(n: int):
        body = {"credits_to_add": "1", "transaction_reason": "FREE_CREDIT_GRANT", "idempotency_key": f"k{n}"}
        return api.post(f"/v1/wallets/{wallet['id']}/top-up", body)

    found = filled(api, top_up, 4)  # customer, wallet, then a transaction and its key
    assert (found["accepted"], found["held"]) == (1, 4) and "idempotency keys" in found["message"]


# ---- bulk ingestion: whole or nothing ---------------------------------------------------------


def test_a_bulk_ingest_past_the_limit_is_refused_whole():
    api = world(5)
    batch = [
        {"event_name": "api_call", "external_customer_id": "nobody", "event_id": f"evt-{n}"} for n in range(6)
    ]
    before = state(api)
    reply = api.post("/v1/events/bulk", {"events": batch})
    status, _, message, details = refusal(reply)
    assert status == 429
    assert "it holds 0, the request adds 6" in message and "event ids" in message
    assert details == {"limit": "max_objects_per_world", "max": 5, "held": 0}
    assert state(api) == before  # not one id kept: the same batch, cut to fit, is all new
    assert api.post("/v1/events/bulk", {"events": batch[:5]}).status == 202
    assert state(api)["usage_schedule"]["event_ids"] != before["usage_schedule"]["event_ids"]
    assert api.post("/v1/events/bulk", {"events": batch[:5]}).status == 429  # full: nothing more


def test_a_bulk_ingest_counts_what_it_adds_once():
    api = world()
    ids = setup(api, aggregation={"type": "COUNT_UNIQUE", "field": "user"})
    same = {"event_name": "api_call", "external_customer_id": "acme", "properties": {"user": "u"}}
    batch = [same] * 50 + [{**same, "timestamp": NEXT_YEAR}] * 2  # one new value, two held ahead
    assert api.post("/v1/events/bulk", {"events": batch}).status == 202
    assert usage_of(api, ids["customer"]["id"]) == 1
    assert event(api, properties={"user": "v"}).status == 429  # 9 + 1 + 2: full


# ---- the count after a state document, and bytes of future-dated events -----------------------


def test_the_count_holds_after_the_world_is_saved_and_restored():
    api = world()
    setup(api, aggregation={"type": "COUNT_UNIQUE", "field": "user"})
    for n in range(3):
        assert event(api, properties={"user": f"u{n}"}).status == 202
    document = state(api)
    other = api.as_key(new_key())
    assert other.put("/_mock/state", document).status == 200
    reply = event(other, properties={"user": "u9"})
    assert reply.status == 429, reply.json
    assert reply.json["details"]["held"] == LIMIT


def test_future_dated_events_keep_only_what_their_meters_read():
    api = world(1000)
    ids = setup(
        api,
        aggregation={
            "type": "SUM",
            "field": "tokens",
            "filters": [{"key": "region", "values": ["eu"]}],
        },
    )
    big = "x" * 1_000_000  # each event is about 1 MB, under the body limit
    for _ in range(20):
        reply = event(
            api, timestamp="2026-10-02T00:00:00Z", properties={"tokens": "5", "region": "eu", "blob": big}
        )
        assert reply.status == 202, reply.json
    assert (
        event(api, timestamp="2026-10-02T00:00:00Z", properties={"region": "us", "blob": big}).status == 202
    )
    kept = state(api)["usage_schedule"]["deferred_events"]
    assert len(kept) == 20  # the one no meter of the subscription counts is not kept at all
    assert all(e["properties"] == {"tokens": "5", "region": "eu"} for e in kept)
    assert len(json.dumps(state(api))) < 100_000  # not 20 MB
    advance(api, "P1M")  # their period begins: they count
    assert usage_of(api, ids["customer"]["id"]) == Decimal(100)


# ---- pending webhook deliveries ---------------------------------------------------------------


def test_a_dead_receiver_under_a_frozen_clock_keeps_a_bounded_queue(flexprice, monkeypatch):
    monkeypatch.setattr(outbox, "MAX_PENDING", 3)
    client = client_over(flexprice)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    flexprice.add_webhook(f"http://127.0.0.1:{port}/hooks", events=["customer.created"])
    freeze(client, NOW)
    for n in range(7):
        make_customer(client, f"c-{n}")
    drain(flexprice)  # every first attempt made and refused; retries wait on a clock that stands
    pending = flexprice.webhook_deliveries(status="pending")
    failed = flexprice.webhook_deliveries(status="failed")
    assert len(pending) == 3 and len(failed) == 4
    # The oldest not in flight goes first: which one was in flight at each arrival depends on the
    # delivery thread, so what is sure is that the newest is kept and the order with it.
    kept = [d["payload"]["customer"]["external_id"] for d in reversed(pending)]
    assert kept[-1] == "c-6" and kept == sorted(kept), kept
    for delivery in failed:
        assert (
            "not sent: the endpoint had more than 3 deliveries pending" in delivery["attempts"][-1]["error"]
        )


def test_reading_or_verifying_a_journal_makes_no_world(store):
    """A world is made by a request of its key, not by a control that reads its empty journal
    (which would count it against --max-worlds)."""
    app = create_app(validate_responses=True, log_requests=False, max_worlds=1)
    try:
        reader = client_of(app)
        assert reader.post("/_mock/verify", {"method": "POST", "path": "/v1/customers"}).json["count"] == 0
        assert reader.get("/_mock/journal").json["items"] == []
        assert reader.get("/_mock/verify/unexpected").status == 200
        assert reader.delete("/_mock/journal").json == {"cleared": 0}
        assert make_customer(client_of(app), "the-one")["external_id"] == "the-one"  # room for it
        status, code, message, _ = refusal(reader.post("/v1/customers", {"external_id": "b", "name": "B"}))
        assert (status, code) == (429, "too_many_requests"), message  # the one world is taken
    finally:
        app.extensions["mockserver"].due.stop()
