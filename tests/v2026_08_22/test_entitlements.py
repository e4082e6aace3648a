"""Entitlements (API 2026-08-22): a metered entitlement on a plan, the customer's entitlements
added up over its subscriptions (by id and by external id, filtered), archived ones left out,
refusals naming the field, and ``GET /customers/usage`` against the entitlement's limit. On both
stores, every answer checked against the document; the official SDK for the common path."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flexprice import Flexprice

from ..support import Api
from .conftest import freeze, make_customer, refusal
from .test_usage import created, send, setup


def entitle(api: Api, feature_id: str, plan_id: str, **more: Any) -> dict[str, Any]:
    body = {"feature_id": feature_id, "feature_type": "metered", "plan_id": plan_id, **more}
    return created(api, "/v1/entitlements", body)


def second_plan(api: Api, ids: dict[str, Any], limit: int) -> dict[str, Any]:
    """Another plan with the same usage price and a limit of its own; the customer subscribed."""
    plan = created(api, "/v1/plans", {"name": "Extra"})
    price = {
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
        "meter_id": ids["feature"]["meter_id"],
    }
    created(api, "/v1/prices", price)
    entitle(api, ids["feature"]["id"], plan["id"], usage_limit=limit, usage_reset_period="MONTHLY")
    body = {
        "customer_id": ids["customer"]["id"],
        "plan_id": plan["id"],
        "currency": "usd",
        "billing_period": "MONTHLY",
    }
    return {"plan": plan, "subscription": created(api, "/v1/subscriptions", body)}


def test_the_customers_entitlements_add_up_over_its_subscriptions(api: Api) -> None:
    ids = setup(api)  # its plan's feature already has an unlimited entitlement; limit it
    (first,) = api.get(f"/v1/plans/{ids['plan']['id']}/entitlements").json["items"]
    reply = api.put(f"/v1/entitlements/{first['id']}", {"usage_limit": 100, "usage_reset_period": "MONTHLY"})
    assert reply.status == 200 and reply.json["usage_limit"] == 100, reply.json
    extra = second_plan(api, ids, 50)
    customer = ids["customer"]

    by_id = api.get(f"/v1/customers/{customer['id']}/entitlements")
    by_external_id = api.get(f"/v1/customers/external/{customer['external_id']}/entitlements")
    assert by_id.status == by_external_id.status == 200, by_id.json
    assert by_id.json == by_external_id.json
    (feature,) = by_id.json["features"]
    assert feature["feature"]["id"] == ids["feature"]["id"]
    assert feature["entitlement"] == {
        "is_enabled": True,
        "is_soft_limit": False,
        "usage_limit": 150,
        "usage_reset_period": "MONTHLY",
        "aggregation_mode": "additive",
    }
    assert sorted(
        (s["subscription_id"], s["entity_name"], s["usage_limit"]) for s in feature["sources"]
    ) == sorted([(ids["subscription"]["id"], "Pro", 100), (extra["subscription"]["id"], "Extra", 50)])
    assert {s["id"] for s in by_id.json["subscriptions"]} == {
        ids["subscription"]["id"],
        extra["subscription"]["id"],
    }

    # one subscription's: what the subscription's own read gives too
    reply = api.get(f"/v1/subscriptions/{extra['subscription']['id']}/entitlements")
    assert reply.status == 200, reply.json
    assert [f["entitlement"]["usage_limit"] for f in reply.json["features"]] == [50]
    assert (
        api.get(f"/v1/subscriptions/{extra['subscription']['id']}/entitlements?feature_ids=feat_none").json[
            "features"
        ]
        == []
    )

    # the usage summary: the feature with its limit and what was used against it
    send(api, {}, {}, {})
    summary = api.get(f"/v1/customers/usage?customer_id={customer['id']}")
    assert summary.status == 200, summary.json
    (line,) = summary.json["features"]
    assert (line["total_limit"], line["current_usage"], line["usage_percent"], line["is_unlimited"]) == (
        150,
        "6",  # three events, counted by both subscriptions' prices
        "0.04",
        False,
    )
    assert line["next_usage_reset_at"] == "2026-10-01T00:00:00.000000Z"
    only = api.get(
        f"/v1/customers/usage?customer_id={customer['id']}&subscription_ids={extra['subscription']['id']}"
    )
    assert [(f["total_limit"], f["current_usage"]) for f in only.json["features"]] == [(50, "3")]

    # an archived entitlement is read back, and counts for nothing any more
    assert api.delete(f"/v1/entitlements/{first['id']}").json == {
        "message": "entitlement deleted successfully"
    }
    assert api.get(f"/v1/entitlements/{first['id']}").json["status"] == "archived"
    (feature,) = api.get(f"/v1/customers/{customer['id']}/entitlements").json["features"]
    assert feature["entitlement"]["usage_limit"] == 50
    search = api.post("/v1/entitlements/search", {"feature_ids": [ids["feature"]["id"]]})
    assert [e["entity_id"] for e in search.json["items"]] == [extra["plan"]["id"]]


def test_features_without_an_entitlement_are_not_in_the_usage_summary(api: Api) -> None:
    freeze(api)
    customer = make_customer(api, "nobody")
    reply = api.get(f"/v1/customers/usage?customer_id={customer['id']}")
    assert reply.status == 200 and reply.json == {"customer_id": customer["id"], "features": []}
    reply = api.get(f"/v1/customers/{customer['id']}/entitlements")
    assert reply.json == {"customer_id": customer["id"], "subscriptions": [], "features": []}


def test_an_invalid_entitlement_is_refused_naming_the_field_and_nothing_is_kept(api: Api) -> None:
    ids = setup(api)
    plan_id, feature = ids["plan"]["id"], ids["feature"]
    cases = [
        ({"feature_id": feature["id"], "feature_type": "boolean", "plan_id": plan_id}, 400, "feature_type"),
        ({"feature_id": feature["id"], "feature_type": "static", "plan_id": plan_id}, 400, "static_value"),
        ({"feature_id": feature["id"], "feature_type": "metered", "plan_id": "plan_none"}, 404, "plan_id"),
        ({"feature_id": "feat_none", "feature_type": "metered", "plan_id": plan_id}, 404, "feature_id"),
        (
            {"feature_id": feature["id"], "feature_type": "metered", "grant_quota": "5", "plan_id": plan_id},
            400,
            "grant_quota",
        ),
    ]
    for body, status, field in cases:
        reply = api.post("/v1/entitlements", body)
        assert (reply.status, reply.json["details"]["field"]) == (status, field), (body, reply.json)
    reply = api.post(
        "/v1/entitlements", {"feature_id": feature["id"], "feature_type": "metered", "plan_id": plan_id}
    )
    assert refusal(reply)[:3] == (
        409,
        "already_exists",
        "An entitlement with this plan and feature already exists",
    )
    reply = api.post(
        "/v1/entitlements/bulk",
        {"items": [{"feature_id": feature["id"], "feature_type": "metered", "entity_type": "PLAN"}]},
    )
    assert refusal(reply)[:3] == (400, "validation_error", "Entitlement at index 0 is invalid")
    assert len(api.post("/v1/entitlements/search", {}).json["items"]) == 1


@pytest.fixture
def fp(live_url: str, http: Api) -> Iterator[Flexprice]:
    with Flexprice(server_url=f"{live_url}/v1", api_key_auth=http.api_key, timeout_ms=10_000) as sdk:
        yield sdk


def metered_plan(fp: Flexprice, amount: str) -> tuple[Any, Any, Any]:
    """Through the SDK: a metered feature counting ``call`` events, a plan charging ``amount``
    a call monthly in arrears, and an entitlement of 1,000 calls a month on it."""
    meter = {
        "name": "Calls",
        "event_name": "call",
        "aggregation": {"type": "COUNT"},
        "reset_usage": "BILLING_PERIOD",
    }
    feature = fp.features.create_feature(name="Calls", type_="metered", meter=meter)
    plan = fp.plans.create_plan(name="Pro")
    fp.prices.create_price(
        entity_type="PLAN",
        entity_id=plan.id,
        currency="usd",
        type_="USAGE",
        billing_model="FLAT_FEE",
        amount=amount,
        billing_period="MONTHLY",
        billing_period_count=1,
        invoice_cadence="ARREAR",
        price_unit_type="FIAT",
        meter_id=feature.meter_id,
    )
    entitlement = fp.entitlements.create_entitlement(
        feature_id=feature.id,
        feature_type="metered",
        entity_type="PLAN",
        entity_id=plan.id,
        usage_limit=1000,
        usage_reset_period="MONTHLY",
    )
    return feature, plan, entitlement


def test_the_sdk_creates_a_metered_entitlement_and_reads_the_customers_entitlements(
    fp: Flexprice, http: Api
) -> None:
    freeze(http)
    feature, plan, made = metered_plan(fp, amount="1")
    assert (made.plan_id, made.usage_limit, made.is_enabled) == (plan.id, 1000, True)
    customer = fp.customers.create_customer(external_id="acme", name="Acme")
    fp.subscriptions.create_subscription(
        customer_id=customer.id, plan_id=plan.id, currency="usd", billing_period="MONTHLY"
    )
    granted = fp.customers.get_customer_entitlements(id=customer.id)
    (one,) = granted.features or []
    assert (one.feature.id, one.entitlement.usage_limit, one.entitlement.is_enabled) == (
        feature.id,
        1000,
        True,
    )
    by_external_id = fp.customers.get_customer_entitlements_by_external_id(external_id="acme")
    assert [f.entitlement.usage_limit for f in by_external_id.features or []] == [1000]
