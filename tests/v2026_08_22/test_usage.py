"""Usage drives the wallet (API 2026-08-22): events counted by meters, priced by a subscription's
usage prices, lowering the prepaid wallet's real-time balance; alerts and auto top-up after the
evaluation delay on the world's clock; the period's close (invoice, CREDIT_ADJUSTMENT debit,
usage back at zero). On the memory store and on Redis, with the official SDK where it can.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from flexprice import Flexprice

from mockserver.pytest_plugin import FlexpriceClient, WebhookReceiver

from ..support import Api, docs_example, ledger
from .conftest import advance, freeze, make_customer, refusal
from .test_webhooks import conforms

UTC = timezone.utc
OCT_1 = datetime(2026, 10, 1, 12, tzinfo=UTC)
CALL = {"event_name": "api_call", "external_customer_id": "acme"}
PACKAGE = {"billing_model": "PACKAGE", "amount": "2"}


# ---- building a usage set-up over plain HTTP ---------------------------------------------


def setup(api: Api, aggregation: dict[str, Any] | None = None, price: dict[str, Any] | None = None, **wallet):
    """A customer (acme), a meter on api_call, a plan with one usage price and the feature's
    entitlement, a monthly subscription started at NOW, and a prepaid wallet; returns their ids."""
    freeze(api)
    customer = make_customer(api, "acme")
    meter = {
        "name": "API calls",
        "event_name": "api_call",
        "aggregation": aggregation or {"type": "COUNT"},
        "reset_usage": "BILLING_PERIOD",
    }
    if aggregation and "filters" in aggregation:
        meter["filters"] = aggregation.pop("filters")
    feature = created(api, "/v1/features", {"name": "API calls", "type": "metered", "meter": meter})
    plan = created(api, "/v1/plans", {"name": "Pro"})
    created(
        api,
        "/v1/prices",
        {
            "entity_type": "PLAN",
            "entity_id": plan["id"],
            "currency": "usd",
            "type": "USAGE",
            "billing_model": "FLAT_FEE",
            "amount": "0.5",
            "billing_period": "MONTHLY",
            "billing_period_count": 1,
            "invoice_cadence": "ARREAR",
            "price_unit_type": "FIAT",
            "meter_id": feature["meter_id"],
            **(price or {}),
        },
    )
    # the feature's entitlement (no limit, reset with the billing period): what puts it, with its
    # period's usage, in the customer's usage summary
    entitlement = {"feature_id": feature["id"], "feature_type": "metered", "plan_id": plan["id"]}
    created(api, "/v1/entitlements", {**entitlement, "usage_reset_period": "MONTHLY"})
    sub = created(
        api,
        "/v1/subscriptions",
        {
            "customer_id": customer["id"],
            "plan_id": plan["id"],
            "currency": "usd",
            "billing_period": "MONTHLY",
        },
    )
    body = {"customer_id": customer["id"], "currency": "usd", "initial_credits_to_load": "100", **wallet}
    reply = api.post("/v1/wallets", body)
    assert reply.status == 200, reply.json
    return {"customer": customer, "feature": feature, "plan": plan, "subscription": sub, "wallet": reply.json}


def bills(api: Api) -> list[dict[str, Any]]:
    """The world's subscription invoices (``/_mock/invoices`` lists top-up invoices too)."""
    return [i for i in api.get("/_mock/invoices").json["items"] if i.get("invoice_type") == "SUBSCRIPTION"]


def created(api: Api, path: str, body: dict[str, Any]) -> dict[str, Any]:
    reply = api.post(path, body)
    assert reply.status == 201, reply.json
    return reply.json


def send(api: Api, *events: dict[str, Any]) -> None:
    for event in events:
        reply = api.post("/v1/events", {"event_name": "api_call", "external_customer_id": "acme", **event})
        assert reply.status == 202, reply.json
        assert reply.json["message"] == "Event accepted for processing"


def real_time(api: Api, wallet_id: str) -> dict[str, Any]:
    reply = api.get(f"/v1/wallets/{wallet_id}/balance/real-time")
    assert reply.status == 200, reply.json
    return reply.json


def usage_of(api: Api, customer_id: str) -> Decimal:
    reply = api.get(f"/v1/customers/usage?customer_id={customer_id}")
    assert reply.status == 200, reply.json
    (feature,) = reply.json["features"]
    return Decimal(feature["current_usage"])


# ---- the loop, end to end, with the SDK and a signed webhook receiver ---------------------


@pytest.fixture
def fp(live_url: str, http: Api) -> Iterator[Flexprice]:
    with Flexprice(server_url=f"{live_url}/v1", api_key_auth=http.api_key, timeout_ms=10_000) as sdk:
        yield sdk


@pytest.fixture
def receiver(live_url: str, http: Api) -> Iterator[WebhookReceiver]:
    handle = FlexpriceClient(live_url, http.api_key)
    made = WebhookReceiver(handle)
    yield made
    made.close()
    handle.close()


def test_usage_lowers_the_balance_fires_the_alert_tops_up_and_the_period_close_debits(
    fp: Flexprice, http: Api, receiver: WebhookReceiver
):
    freeze(http)
    customer = fp.customers.create_customer(external_id="acme", name="Acme Inc.")
    feature = fp.features.create_feature(
        name="Tokens",
        type_="metered",
        meter={
            "name": "Tokens",
            "event_name": "llm_call",
            "aggregation": {"type": "SUM", "field": "tokens"},
            "reset_usage": "BILLING_PERIOD",
        },
    )
    # As upstream's, the create answer names the meter it made without embedding it.
    assert feature.meter is None and str(feature.meter_id).startswith("meter_")
    plan = fp.plans.create_plan(name="Pay as you go")
    price = fp.prices.create_price(
        entity_type="PLAN",
        entity_id=plan.id,
        currency="usd",
        type_="USAGE",
        billing_model="FLAT_FEE",
        amount="0.01",
        billing_period="MONTHLY",
        billing_period_count=1,
        invoice_cadence="ARREAR",
        price_unit_type="FIAT",
        meter_id=feature.meter_id,
    )
    assert (price.amount, price.meter_id) == ("0.01", feature.meter_id)
    fp.entitlements.create_entitlement(
        feature_id=feature.id, feature_type="metered", plan_id=plan.id, usage_reset_period="MONTHLY"
    )
    sub = fp.subscriptions.create_subscription(
        customer_id=customer.id, plan_id=plan.id, currency="usd", billing_period="MONTHLY"
    )
    assert sub.subscription_status == "active"
    assert (sub.current_period_start, sub.current_period_end) == (datetime(2026, 9, 1, 12, tzinfo=UTC), OCT_1)
    wallet = fp.wallets.create_wallet(
        customer_id=customer.id,
        currency="usd",
        initial_credits_to_load="10",
        alert_settings={"alert_enabled": True, "critical": {"threshold": "2", "condition": "below"}},
        auto_topup={"enabled": True, "threshold": "1", "amount": "10", "invoicing": False},
    )
    assert http.post("/_mock/webhooks/wait", {"timeout": 5}).json["drained"]
    receiver.events.clear()

    # 950 tokens at $0.01: $9.50 of usage. The stored balance does not move; the real-time one does.
    fp.events.ingest_event(event_name="llm_call", external_customer_id="acme", properties={"tokens": "500"})
    fp.events.ingest_events_bulk(
        events=[
            {"event_name": "llm_call", "external_customer_id": "acme", "properties": {"tokens": "300"}},
            {"event_name": "llm_call", "external_customer_id": "acme", "properties": {"tokens": "150"}},
            {"event_name": "other", "external_customer_id": "acme", "properties": {"tokens": "999"}},
        ]
    )
    balance = fp.wallets.get_wallet_balance(id=wallet.id)
    assert (balance.balance, balance.real_time_balance, balance.current_period_usage) == ("10", "0.5", "9.5")
    assert http.post("/_mock/webhooks/wait", {"timeout": 5}).json["drained"]
    assert not receiver.of_type("wallet.ongoing_balance.dropped")  # evaluated after the delay only

    # The delay passes on the world's clock: the alert, the auto top-up, the recovery.
    advance(http, 3)
    dropped = receiver.wait_for("wallet.ongoing_balance.dropped")
    assert dropped["alert"]["state"] == "in_alarm"
    assert Decimal(dropped["alert"]["current_balance"]) == Decimal("0.5")
    top_up = receiver.wait_for("wallet.transaction.created")["transaction"]
    assert (top_up["transaction_reason"], Decimal(top_up["amount"])) == ("PURCHASED_CREDIT_DIRECT", 10)
    recovered = receiver.wait_for("wallet.ongoing_balance.recovered")
    assert Decimal(recovered["alert"]["current_balance"]) == Decimal("10.5")
    order = [e["event_type"] for e in receiver.events if e["event_type"] != "wallet.ongoing_balance.updated"]
    assert order == [
        "wallet.ongoing_balance.dropped",
        "wallet.transaction.created",
        "wallet.ongoing_balance.recovered",
    ]
    assert all(d["verified"] for d in receiver.deliveries)  # every one signed, checked with svix
    balance = fp.wallets.get_wallet_balance(id=wallet.id)
    assert (balance.balance, balance.real_time_balance) == ("20", "10.5")
    reply = http.get(f"/v1/customers/wallets?id={customer.id}&include_real_time_balance=true")
    assert [(w["real_time_balance"], w["current_period_usage"]) for w in reply.json] == [("10.5", "9.5")]
    summary = fp.customers.get_customer_usage_summary(customer_id=customer.id)
    assert [f.current_usage for f in summary.features or []] == ["950"]

    # The period closes: the invoice, paid by the wallet's credits; usage starts again at zero.
    advance(http, "P1M")
    (invoice,) = [
        i for i in http.get("/_mock/invoices").json["items"] if i.get("invoice_type") == "SUBSCRIPTION"
    ]
    assert (invoice["subtotal"], invoice["total_prepaid_credits_applied"], invoice["amount_due"]) == (
        "9.5",
        "9.5",
        "0",
    )
    assert invoice["payment_status"] == "SUCCEEDED"
    assert (invoice["period_start"], invoice["period_end"]) == (
        "2026-09-01T12:00:00.000000Z",
        "2026-10-01T12:00:00.000000Z",
    )
    debit = ledger(http, wallet.id)[-1]
    assert (debit["type"], debit["transaction_reason"], debit["amount"]) == (
        "debit",
        "CREDIT_ADJUSTMENT",
        "9.5",
    )
    assert (debit["reference_type"], debit["reference_id"]) == ("INVOICE", invoice["id"])
    adjusted = receiver.wait_for("wallet.transaction.created", count=2)["transaction"]
    assert adjusted["transaction_reason"] == "CREDIT_ADJUSTMENT"
    finalized = conforms(receiver.wait_for("invoice.update.finalized"))["invoice"]
    draft = conforms(receiver.wait_for("invoice.update"))["invoice"]
    assert (draft["invoice_status"], draft["amount_due"], draft["total_prepaid_credits_applied"]) == (
        "DRAFT",
        "9.5",
        "0",
    )
    assert (finalized["id"], finalized["invoice_status"], finalized["payment_status"]) == (
        invoice["id"],
        "FINALIZED",
        "SUCCEEDED",
    )
    assert (finalized["subtotal"], finalized["amount_due"], finalized["total_prepaid_credits_applied"]) == (
        "9.5",
        "0",
        "9.5",
    )
    [line] = finalized["line_items"]
    assert (line["price_id"], line["quantity"], line["amount"]) == (price.id, "950", "9.5")
    closing = [
        e["event_type"] for e in receiver.events if e["event_type"].startswith(("invoice.", "wallet.tr"))
    ]
    assert closing[-3:] == ["invoice.update", "wallet.transaction.created", "invoice.update.finalized"]
    balance = fp.wallets.get_wallet_balance(id=wallet.id)
    assert (balance.balance, balance.real_time_balance, balance.current_period_usage) == ("10.5", "10.5", "0")
    sub = fp.subscriptions.get_subscription(id=sub.id)
    assert (sub.current_period_start, sub.current_period_end) == (
        OCT_1,
        datetime(2026, 11, 1, 12, tzinfo=UTC),
    )


# ---- meters: each aggregation against hand-computed values --------------------------------

EVENTS = (
    {"properties": {"tokens": "10", "model": "a", "region": "eu"}, "timestamp": "2026-09-01T12:00:03Z"},
    {"properties": {"tokens": "30", "model": "b", "region": "eu"}, "timestamp": "2026-09-01T12:00:01Z"},
    {"properties": {"tokens": 5, "model": "a", "region": "eu"}, "timestamp": "2026-09-01T12:00:02Z"},
    {"properties": {"tokens": "-7", "model": "c", "region": "eu"}, "timestamp": "2026-09-01T12:00:00Z"},
    {"properties": {"tokens": "1000", "model": "z", "region": "us"}, "timestamp": "2026-09-01T12:00:04Z"},
    {"properties": {"model": "a", "region": "eu"}, "timestamp": "2026-09-01T12:00:00.500Z"},  # no tokens: 0
)
EU = [{"key": "region", "values": ["eu"]}]


@pytest.mark.parametrize(
    ("aggregation", "quantity"),
    [
        ({"type": "COUNT"}, "6"),  # every event, whatever its properties
        ({"type": "COUNT", "filters": EU}, "5"),
        ({"type": "SUM", "field": "tokens", "filters": EU}, "45"),  # 10 + 30 + 5 + 0 (negative: 0)
        ({"type": "MAX", "field": "tokens", "filters": EU}, "30"),
        ({"type": "COUNT_UNIQUE", "field": "model", "filters": EU}, "3"),  # a, b, c
        ({"type": "LATEST", "field": "tokens", "filters": EU}, "10"),  # the latest by timestamp
        ({"type": "AVG", "field": "tokens", "filters": EU}, "9"),  # 45 / 5: an event without tokens is a 0
        ({"type": "SUM_WITH_MULTIPLIER", "field": "tokens", "multiplier": "2", "filters": EU}, "90"),
    ],
)
def test_each_aggregation_counts_as_computed_by_hand(api: Api, aggregation, quantity):
    ids = setup(api, aggregation=dict(aggregation))
    send(api, *EVENTS)
    assert usage_of(api, ids["customer"]["id"]) == Decimal(quantity)
    balance = real_time(api, ids["wallet"]["id"])
    owed = (Decimal(quantity) * Decimal("0.5")).quantize(Decimal("0.01"), ROUND_HALF_UP)
    assert Decimal(balance["current_period_usage"]) == owed
    assert Decimal(balance["real_time_balance"]) == 100 - owed
    assert balance["balance"] == "100"


@pytest.mark.parametrize(
    ("price", "units", "charge"),
    [
        ({"billing_model": "FLAT_FEE", "amount": "0.5"}, 7, "3.5"),
        ({"billing_model": "PACKAGE", "amount": "2", "transform_quantity": {"divide_by": 5}}, 7, "4"),
        (
            {
                "billing_model": "PACKAGE",
                "amount": "2",
                "transform_quantity": {"divide_by": 5, "round": "down"},
            },
            7,
            "2",
        ),
        (  # volume: all 7 units at the second tier's rate, plus its flat fee
            {
                "billing_model": "TIERED",
                "tier_mode": "VOLUME",
                "tiers": [
                    {"up_to": 5, "unit_amount": "1"},
                    {"up_to": None, "unit_amount": "0.5", "flat_amount": "3"},
                ],
            },
            7,
            "6.5",
        ),
        (  # slab: 5 units at 1, 2 at 0.5, and the second tier's flat fee
            {
                "billing_model": "TIERED",
                "tier_mode": "SLAB",
                "tiers": [
                    {"up_to": 5, "unit_amount": "1"},
                    {"up_to": None, "unit_amount": "0.5", "flat_amount": "3"},
                ],
            },
            7,
            "9",
        ),
    ],
)
def test_each_price_model_charges_as_computed_by_hand(api: Api, price, units, charge):
    ids = setup(api, price=price)
    send(api, *({} for _ in range(units)))
    assert real_time(api, ids["wallet"]["id"])["current_period_usage"] == charge


# ---- events: dedup, dates, bad input -------------------------------------------------------


def test_an_event_id_counts_once(api: Api):
    ids = setup(api)
    send(api, {"event_id": "evt-1"}, {"event_id": "evt-1"}, {"event_id": "evt-2"})
    reply = api.post(
        "/v1/events", {"event_name": "api_call", "external_customer_id": "acme", "event_id": "evt-2"}
    )
    assert (reply.status, reply.json["event_id"]) == (202, "evt-2")
    assert usage_of(api, ids["customer"]["id"]) == 2
    bulk = api.post(
        "/v1/events/bulk",
        {"events": [{"event_name": "api_call", "external_customer_id": "acme", "event_id": "evt-1"}] * 3},
    )
    assert (bulk.status, bulk.json) == (202, {"message": "Events accepted for processing"})
    assert usage_of(api, ids["customer"]["id"]) == 2


def test_usage_dated_outside_the_period_counts_where_it_belongs(api: Api):
    ids = setup(api)
    send(
        api,
        {"timestamp": "2026-08-31T12:00:00Z"},  # before the subscription: never counted
        {"timestamp": "2026-09-15T00:00:00Z"},  # in the future of the clock, in this period
        {"timestamp": "2026-10-05T00:00:00Z"},  # the next period's
    )
    assert usage_of(api, ids["customer"]["id"]) == 1
    advance(api, "P1M")
    assert usage_of(api, ids["customer"]["id"]) == 1  # the next period began with its own event
    (bill,) = bills(api)
    assert bill["subtotal"] == "0.5"


def test_usage_of_an_unknown_customer_is_accepted_and_counts_for_nobody(api: Api):
    ids = setup(api)
    reply = api.post("/v1/events", {"event_name": "api_call", "external_customer_id": "nobody"})
    assert reply.status == 202 and reply.json["event_id"].startswith("event_")
    assert usage_of(api, ids["customer"]["id"]) == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"event_name": "", "external_customer_id": "acme"}, "event_name"),
        ({"event_name": "api_call", "external_customer_id": " "}, "external_customer_id"),
        ({"event_name": "api_call", "external_customer_id": "acme", "timestamp": "yesterday"}, "timestamp"),
    ],
)
def test_a_bad_event_is_refused_in_upstreams_words_naming_its_field(api: Api, body, field):
    setup(api)
    status, code, said, details = refusal(api.post("/v1/events", body))
    assert (status, code, said, details["field"]) == (
        400,
        "validation_error",
        "Invalid request payload",
        field,
    )


def test_a_bad_event_in_a_bulk_request_fails_its_validation(api: Api):
    ids = setup(api)
    reply = api.post("/v1/events/bulk", {"events": [CALL, {**CALL, "event_name": " "}]})
    status, _, said, details = refusal(reply)
    assert (status, said, details["field"]) == (400, "Request validation failed", "events[1].event_name")
    missing = api.post("/v1/events/bulk", {"events": [CALL, {"event_name": "api_call"}]})
    assert refusal(missing)[:3] == (400, "validation_error", "events[1].external_customer_id is required")
    assert usage_of(api, ids["customer"]["id"]) == 0  # nothing of either batch was kept


def test_an_event_of_the_wrong_type_is_refused_by_the_document(api: Api):
    reply = api.post("/v1/events", {"event_name": 42, "external_customer_id": "acme"})
    assert reply.status == 400 and "event_name" in reply.json["message"]
    reply = api.post("/v1/events/bulk", {"events": []})
    assert reply.status == 400 and "events" in reply.json["message"]


# ---- catalog and subscription rules ------------------------------------------------------


def test_prices_and_subscriptions_refuse_what_the_cloud_refuses(api: Api):
    ids = setup(api)
    base = {
        "entity_type": "PLAN",
        "entity_id": ids["plan"]["id"],
        "currency": "usd",
        "type": "USAGE",
        "billing_model": "FLAT_FEE",
        "amount": "1",
        "billing_period": "MONTHLY",
        "invoice_cadence": "ARREAR",
        "price_unit_type": "FIAT",
        "meter_id": ids["feature"]["meter_id"],
    }
    assert refusal(api.post("/v1/prices", base))[2] == "Billing period count must be greater than 0"
    no_meter = {**base, "billing_period_count": 1, "meter_id": ""}
    assert (
        refusal(api.post("/v1/prices", no_meter))[2]
        == "Please select a metered feature to set up usage pricing"
    )
    unknown = {**base, "billing_period_count": 1, "meter_id": "meter_nope"}
    assert refusal(api.post("/v1/prices", unknown))[:3] == (404, "not_found", "Meter not found")
    no_plan = {**base, "billing_period_count": 1, "entity_id": "plan_nope"}
    assert refusal(api.post("/v1/prices", no_plan))[:3] == (
        404,
        "not_found",
        "The specified plan does not exist",
    )
    package = {**base, "billing_period_count": 1, "billing_model": "PACKAGE"}
    message = "Please provide the number of units to set up package pricing"
    assert refusal(api.post("/v1/prices", package))[2] == message
    missing_customer = {"plan_id": ids["plan"]["id"], "currency": "usd", "billing_period": "MONTHLY"}
    status, _, message, _ = refusal(api.post("/v1/subscriptions", missing_customer))
    assert (status, message) == (400, "Please provide either customer_id or external_customer_id")
    wrong_currency = {**missing_customer, "external_customer_id": "acme", "currency": "eur"}
    assert refusal(api.post("/v1/subscriptions", wrong_currency))[:3] == (
        400,
        "validation_error",
        "No prices match the subscription criteria",
    )
    yearly = {**missing_customer, "external_customer_id": "acme", "billing_period": "ANNUAL"}
    message = "The entity must have at least one price to create a subscription"
    assert refusal(api.post("/v1/subscriptions", yearly))[2] == message
    nobody = {**missing_customer, "external_customer_id": "nobody"}
    assert refusal(api.post("/v1/subscriptions", nobody))[:3] == (
        404,
        "not_found",
        "Customer with lookup key nobody was not found",
    )
    sub = api.get(f"/v1/subscriptions/{ids['subscription']['id']}").json
    assert [i["price_type"] for i in sub["line_items"]] == ["USAGE"]
    listed = api.get("/v1/customers/external/acme/subscriptions").json["items"]
    assert [s["id"] for s in listed] == [sub["id"]]
    found = api.post("/v1/subscriptions/search", {"external_customer_id": "acme"}).json
    assert found["pagination"]["total"] == 1
    assert (
        api.get("/v1/plans/" + ids["plan"]["id"]).json["prices"][0]["meter_id"] == ids["feature"]["meter_id"]
    )


def test_cancelling_at_period_end_closes_the_last_period_then_stops(api: Api):
    ids = setup(api)
    sub_id = ids["subscription"]["id"]
    reply = api.post(f"/v1/subscriptions/{sub_id}/cancel", {"cancellation_type": "end_of_period"})
    assert reply.status == 200, reply.json
    assert reply.json["effective_date"] == "2026-10-01T12:00:00.000000Z"
    send(api, {}, {})
    advance(api, "P2M")
    sub = api.get(f"/v1/subscriptions/{sub_id}").json
    assert sub["subscription_status"] == "cancelled"
    assert [b["subtotal"] for b in bills(api)] == ["1"]
    send(api, {})
    assert real_time(api, ids["wallet"]["id"])["current_period_usage"] == "0"


# ---- the evaluation delay, on a frozen and on a running clock ----------------------------


def test_with_no_delay_the_evaluation_runs_with_the_usage(api: Api):
    ids = setup(
        api,
        initial_credits_to_load="1",
        auto_topup={"enabled": True, "threshold": "0.5", "amount": "5", "invoicing": False},
    )
    assert api.put("/_mock/usage", {"alert_delay": "PT0S"}).json["alert_delay"] == 0
    send(api, {})  # $0.50 of usage: 0.5 left, at the threshold
    txns = ledger(api, ids["wallet"]["id"])
    assert [t["transaction_reason"] for t in txns] == ["FREE_CREDIT_GRANT", "PURCHASED_CREDIT_DIRECT"]
    assert real_time(api, ids["wallet"]["id"])["real_time_balance"] == "5.5"


def test_the_alert_delay_is_checked(api: Api):
    assert api.get("/_mock/usage").json["alert_delay"] == 2
    status, _, message, _ = refusal(api.put("/_mock/usage", {"alert_delay": "soon"}))
    assert (status, message) == (
        400,
        "alert_delay must be seconds (a number) or an ISO 8601 duration such as P30D",
    )
    assert refusal(api.put("/_mock/usage", {"alert_delay": -1}))[0] == 400


def test_a_running_clock_evaluates_by_itself(http: Api, receiver: WebhookReceiver):
    ids = setup(
        http,
        initial_credits_to_load="1",
        alert_settings={"alert_enabled": True, "critical": {"threshold": "0.5", "condition": "below"}},
    )
    assert http.put("/_mock/clock", {"frozen": False}).status == 200
    assert http.put("/_mock/usage", {"alert_delay": 0.3}).status == 200
    send(http, {})
    dropped = receiver.wait_for("wallet.ongoing_balance.dropped", timeout=5)  # no request made it
    assert dropped["wallet"]["id"] == ids["wallet"]["id"]


# ---- state: the usage set-up and the period's usage are kept -----------------------------


def test_the_state_document_keeps_the_usage_and_its_schedule(api: Api):
    ids = setup(api, aggregation={"type": "COUNT_UNIQUE", "field": "model"})
    send(api, {"properties": {"model": "a"}, "event_id": "e1"}, {"properties": {"model": "b"}})
    document = api.get("/_mock/state").json
    assert document["usage_schedule"]["evaluations"] == [
        {"customer_id": ids["customer"]["id"], "at": "2026-09-01T12:00:02.000000Z"}
    ]
    other = api.as_key("sk_test_copy_of_usage")
    assert other.put("/_mock/state", document).status == 200
    assert other.get("/_mock/state").json == {**document, "environment_id": document["environment_id"]}
    send(other, {"properties": {"model": "a"}, "event_id": "e1"}, {"properties": {"model": "c"}})
    assert usage_of(other, ids["customer"]["id"]) == 3  # e1 again is a duplicate; c is new


def test_the_older_version_does_not_model_usage(suite):
    """2025-05-24's document has events, but its sandbox keeps no usage: the answer says so."""
    from ..support import Suite

    older = Suite("2025-05-24")
    client = older.client_of(older.create_app(validate_responses=True, log_requests=False))
    reply = client.post("/v1/events", {"event_name": "api_call", "external_customer_id": "acme"})
    assert (reply.status, reply.headers["X-Mock-Fidelity"], reply.headers["X-Mock-Operation"]) == (
        202,
        "schema",
        "ingestEvent",
    )


# ---- fixtures declare the usage set-up ------------------------------------------------------

USAGE_FIXTURE = """
features:
  - {name: API calls, type: metered, lookup_key: api_calls,
     meter: {name: Calls, event_name: api_call, aggregation: {type: COUNT}, reset_usage: BILLING_PERIOD}}
plans:
  - name: Pro
    lookup_key: pro
    prices:
      - {type: USAGE, feature: api_calls, billing_model: FLAT_FEE, amount: "0.25", currency: usd,
         billing_period: MONTHLY, billing_period_count: 1, invoice_cadence: ARREAR}
customers:
  - external_id: acme
    name: Acme Inc.
    subscriptions: [{plan: pro, currency: usd, billing_period: MONTHLY}]
    wallets: [{currency: usd, initial_credits_to_load: 10}]
"""


def test_a_fixture_declares_features_plans_prices_and_subscriptions(api: Api):
    assert docs_example("docs/controls.md", "usage-fixture") == USAGE_FIXTURE.strip("\n")  # as shown there
    freeze(api)
    reply = api.post("/_mock/fixtures", data=USAGE_FIXTURE, headers={"Content-Type": "application/yaml"})
    assert reply.status == 201, reply.json
    (wallet,) = reply.json["wallets"]
    send(api, {}, {}, {})
    assert real_time(api, wallet["id"])["real_time_balance"] == "9.25"
    (sub,) = api.get("/v1/customers/external/acme/subscriptions?expand=subscription_line_items").json["items"]
    assert [(i["price_type"], i["display_name"]) for i in sub["line_items"]] == [("USAGE", "Calls")]


def test_a_fixture_naming_an_unknown_plan_is_refused(api: Api):
    broken = USAGE_FIXTURE.replace("{plan: pro,", "{plan: gold,")
    reply = api.post("/_mock/fixtures", data=broken, headers={"Content-Type": "application/yaml"})
    assert reply.status == 400
    assert (
        "customers[0].subscriptions[0].plan: names nothing the fixture made: 'gold'" in reply.json["message"]
    )


@pytest.mark.parametrize(
    ("policy", "billed"),
    [
        ({}, []),  # skip, upstream's default: the period's usage is not invoiced
        ({"cancel_immediately_invoice_policy": "generate_invoice"}, ["1"]),  # the SDK's spelling
        ({"cancel_immediately_inovice_policy": "generate_invoice"}, ["1"]),  # the document's
    ],
)
def test_an_immediate_cancellation_invoices_the_period_by_its_policy(api: Api, policy, billed):
    ids = setup(api)
    send(api, {}, {})
    sub_id = ids["subscription"]["id"]
    reply = api.post(f"/v1/subscriptions/{sub_id}/cancel", {"cancellation_type": "immediate", **policy})
    assert reply.status == 200, reply.json
    assert reply.json["status"] == "cancelled"
    assert reply.json["message"] == "Subscription cancelled immediately"
    assert [b["subtotal"] for b in bills(api)] == billed
    sub = api.get(f"/v1/subscriptions/{sub_id}").json
    assert (sub["subscription_status"], sub["end_date"]) == ("cancelled", reply.json["effective_date"])
    assert real_time(api, ids["wallet"]["id"])["current_period_usage"] == "0"
    again = api.post(f"/v1/subscriptions/{sub_id}/cancel", {"cancellation_type": "immediate"})
    assert refusal(again)[:3] == (400, "validation_error", "The subscription is already cancelled")
    assert api.get("/v1/customers/external/acme/subscriptions").json["items"] == []  # active ones only


def test_a_one_time_fixed_price_is_charged_on_the_first_invoice_only(api: Api):
    ids = setup(api)
    fee = {
        "entity_type": "PLAN",
        "entity_id": ids["plan"]["id"],
        "currency": "usd",
        "type": "FIXED",
        "billing_model": "FLAT_FEE",
        "amount": "10",
        "billing_period": "ONETIME",
        "billing_period_count": 1,
        "invoice_cadence": "ADVANCE",
        "price_unit_type": "FIAT",
    }
    created(api, "/v1/prices", fee)
    sub = created(
        api,
        "/v1/subscriptions",
        {
            "external_customer_id": "acme",
            "plan_id": ids["plan"]["id"],
            "currency": "usd",
            "billing_period": "MONTHLY",
        },
    )
    assert sorted(i["price_type"] for i in sub["line_items"]) == ["FIXED", "USAGE"]
    send(api, {})  # both subscriptions count it: $0.50 each
    advance(api, "P1M")
    advance(api, "P1M")
    mine = [b for b in bills(api) if b["subscription_id"] == sub["id"]]
    # the second period charges nothing: skipped, as upstream skips an empty invoice
    assert [(b["subtotal"], b["invoice_status"]) for b in mine] == [("10.5", "FINALIZED"), ("0", "SKIPPED")]
    assert mine[0]["amount_due"] == "10"  # wallets pay usage only: the fee stays due


def test_a_refused_feature_leaves_no_meter_behind(api: Api):
    reply = api.post("/v1/features", {"name": "Calls", "type": "metered"})
    message = "Please provide meter details to setup a metered feature"
    assert refusal(reply)[:3] == (400, "validation_error", message)
    meter = {
        "name": "Calls",
        "event_name": "api_call",
        "aggregation": {"type": "COUNT"},
        "reset_usage": "NEVER",
    }
    created(api, "/v1/features", {"name": "A", "type": "metered", "lookup_key": "calls", "meter": meter})
    again = api.post("/v1/features", {"name": "B", "type": "metered", "lookup_key": "calls", "meter": meter})
    assert refusal(again)[:2] == (409, "already_exists")
    assert len(api.get("/_mock/state").json["meters"]) == 1  # the refused feature's meter was not kept
