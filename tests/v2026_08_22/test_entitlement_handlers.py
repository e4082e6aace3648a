"""Entitlements and the catalog's rules (API 2026-08-22), on a world and the version's handlers
called directly: what a customer is entitled to over two subscriptions, upstream's refusals,
archiving, clones and a plan's price sync. The HTTP answers, checked against the document, are in
``test_entitlements.py`` and ``test_catalog.py``."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest

from mockserver.api.v2026_08_22.handlers import HANDLERS
from mockserver.domain import errors
from mockserver.domain.world import World

NOW = datetime(2026, 9, 1, 12, tzinfo=timezone.utc)
METER = {
    "name": "Calls",
    "event_name": "call",
    "aggregation": {"type": "COUNT"},
    "reset_usage": "BILLING_PERIOD",
}


def call(world: World, operation: str, params: dict[str, Any] | None = None, body: Any = None) -> Any:
    status, payload = HANDLERS[operation](world, params or {}, body)
    assert status in (200, 201, 202, 204), (status, payload)
    return payload


def refused(world: World, operation: str, params: dict[str, Any] | None = None, body: Any = None):
    with pytest.raises(errors.ApiError) as caught:
        HANDLERS[operation](world, params or {}, body)
    return caught.value


def price(plan_id: str, meter_id: str, **more: Any) -> dict[str, Any]:
    return {
        "entity_type": "PLAN",
        "entity_id": plan_id,
        "currency": "usd",
        "type": "USAGE",
        "billing_model": "FLAT_FEE",
        "amount": "1",
        "billing_period": "MONTHLY",
        "billing_period_count": 1,
        "invoice_cadence": "ARREAR",
        "meter_id": meter_id,
        **more,
    }


@pytest.fixture
def world() -> World:
    made = World("tenant_t", "")
    made.clock.set(NOW, freeze=True)
    return made


@pytest.fixture
def catalog(world: World) -> dict[str, Any]:
    return build(world)


def build(world: World) -> dict[str, Any]:
    """A metered feature on two plans (100 and 50 calls), a boolean feature on the first, a
    customer subscribed to both."""
    calls = call(world, "createFeature", body={"name": "Calls", "type": "metered", "meter": METER})
    sso = call(world, "createFeature", body={"name": "SSO", "type": "boolean"})
    pro = call(world, "createPlan", body={"name": "Pro"})
    extra = call(world, "createPlan", body={"name": "Extra"})
    for plan in (pro, extra):
        call(world, "createPrice", body=price(plan["id"], calls["meter_id"]))
    for plan, limit in ((pro, 100), (extra, 50)):
        body = {
            "feature_id": calls["id"],
            "feature_type": "metered",
            "plan_id": plan["id"],
            "usage_limit": limit,
        }
        call(world, "createEntitlement", body={**body, "usage_reset_period": "MONTHLY"})
    call(
        world,
        "createEntitlement",
        body={"feature_id": sso["id"], "feature_type": "boolean", "plan_id": pro["id"], "is_enabled": True},
    )
    customer = call(world, "createCustomer", body={"external_id": "acme", "name": "Acme"})
    subs = [
        call(
            world,
            "createSubscription",
            body={
                "customer_id": customer["id"],
                "plan_id": plan["id"],
                "currency": "usd",
                "billing_period": "MONTHLY",
            },
        )
        for plan in (pro, extra)
    ]
    return {"calls": calls, "sso": sso, "pro": pro, "extra": extra, "customer": customer, "subs": subs}


def test_a_customers_entitlements_add_up_over_its_subscriptions(
    world: World, catalog: dict[str, Any]
) -> None:
    answer = call(world, "getCustomerEntitlements", {"id": catalog["customer"]["id"]})
    by_feature = {f["feature"]["id"]: f for f in answer["features"]}
    metered = by_feature[catalog["calls"]["id"]]
    assert metered["entitlement"] == {
        "is_enabled": True,
        "is_soft_limit": False,
        "usage_limit": 150,
        "usage_reset_period": "MONTHLY",
        "aggregation_mode": "additive",
    }
    assert sorted((s["entity_name"], s["usage_limit"]) for s in metered["sources"]) == [
        ("Extra", 50),
        ("Pro", 100),
    ]
    assert by_feature[catalog["sso"]["id"]]["entitlement"] == {"is_enabled": True, "is_soft_limit": False}
    assert len(answer["subscriptions"]) == 2
    # filters: one subscription, one feature
    only = call(
        world,
        "getCustomerEntitlements",
        {"id": catalog["customer"]["id"], "subscription_ids": [catalog["subs"][1]["id"]]},
    )
    assert [f["entitlement"].get("usage_limit") for f in only["features"]] == [50]
    assert (
        call(
            world,
            "getCustomerEntitlementsByExternalID",
            {"external_id": "acme", "feature_ids": [catalog["sso"]["id"]]},
        )["features"][0]["feature"]["id"]
        == catalog["sso"]["id"]
    )


def test_an_unlimited_entitlement_makes_the_feature_unlimited_and_archived_ones_count_for_nothing(
    world: World, catalog: dict[str, Any]
) -> None:
    listed = call(world, "getPlanEntitlements", {"id": catalog["extra"]["id"]})["items"]
    call(world, "deleteEntitlement", {"id": listed[0]["id"]})
    assert call(world, "getEntitlement", {"id": listed[0]["id"]})["status"] == "archived"
    summary = call(world, "getCustomerUsageSummary", {"customer_id": catalog["customer"]["id"]})
    assert [(f["feature"]["name"], f.get("total_limit")) for f in summary["features"]] == [
        ("Calls", 100),
        ("SSO", None),
    ]
    body = {
        "feature_id": catalog["calls"]["id"],
        "feature_type": "metered",
        "plan_id": catalog["extra"]["id"],
    }
    call(world, "createEntitlement", body=body)  # no limit: unlimited
    summary = call(world, "getCustomerUsageSummary", {"customer_id": catalog["customer"]["id"]})
    assert summary["features"][0]["is_unlimited"] is True and "total_limit" not in summary["features"][0]


def test_refusals_name_the_field(world: World, catalog: dict[str, Any]) -> None:
    calls, pro = catalog["calls"], catalog["pro"]
    error = refused(
        world,
        "createEntitlement",
        body={"feature_id": calls["id"], "feature_type": "boolean", "plan_id": pro["id"]},
    )
    assert (error.status, error.message, error.details["field"]) == (
        400,
        "Expected metered, got boolean",
        "feature_type",
    )
    error = refused(
        world,
        "createEntitlement",
        body={"feature_id": calls["id"], "feature_type": "metered", "plan_id": pro["id"]},
    )
    assert (error.status, error.message) == (409, "An entitlement with this plan and feature already exists")
    error = refused(
        world,
        "createEntitlement",
        body={"feature_id": calls["id"], "feature_type": "metered", "plan_id": "plan_x"},
    )
    assert (error.status, error.message, error.details["field"]) == (404, "Plan not found", "plan_id")
    error = refused(
        world,
        "createEntitlement",
        body={"feature_id": "feat_x", "feature_type": "metered", "plan_id": pro["id"]},
    )
    assert (error.status, error.message) == (404, "Feature with ID feat_x was not found")
    error = refused(
        world,
        "createEntitlement",
        body={"feature_id": calls["id"], "feature_type": "static", "plan_id": pro["id"]},
    )
    assert (error.status, error.details["field"]) == (400, "static_value")
    error = refused(world, "createEntitlement", body={"feature_id": calls["id"], "feature_type": "metered"})
    assert (error.status, error.message) == (400, "Please provide plan_id or entity_type and entity_id")
    items = [{"feature_id": calls["id"], "feature_type": "metered", "plan_id": catalog["extra"]["id"]}] * 2
    error = refused(world, "createEntitlementsBulk", body={"items": items})
    assert error.status == 409
    assert len(world.records["entitlements"]) == 3  # nothing of a refused request kept


def test_searches_apply_filters_and_sort(world: World, catalog: dict[str, Any]) -> None:
    body = {"filters": [{"field": "feature_type", "operator": "eq", "value": {"string": "boolean"}}]}
    found = call(world, "queryEntitlement", body=body)
    assert [e["feature_id"] for e in found["items"]] == [catalog["sso"]["id"]]
    assert found["pagination"] == {"total": 1, "limit": 50, "offset": 0}
    found = call(world, "queryPlan", body={"sort": [{"field": "name", "direction": "asc"}]})
    assert [p["name"] for p in found["items"]] == ["Extra", "Pro"]
    error = refused(world, "queryFeature", body={"filters": [{"field": "meter", "value": {"string": "x"}}]})
    assert (error.status, error.details["field"]) == (400, "meter")


def test_catalog_deletes_archive_and_refuse_what_is_in_use(world: World, catalog: dict[str, Any]) -> None:
    error = refused(world, "deleteFeature", {"id": catalog["sso"]["id"]})
    assert (error.status, error.code) == (400, "invalid_operation")
    error = refused(world, "deletePlan", {"id": catalog["pro"]["id"]})
    assert error.message == "Please remove the active subscriptions before deleting this plan."
    free = call(world, "createFeature", body={"name": "Free", "type": "boolean"})
    call(world, "deleteFeature", {"id": free["id"]})
    found = call(world, "queryFeature", body={"feature_ids": [free["id"]]})["items"]
    assert [f["status"] for f in found] == ["archived"]  # upstream lists archived features too


def test_clone_copies_prices_and_entitlements_and_sync_adds_line_items(
    world: World, catalog: dict[str, Any]
) -> None:
    pro = catalog["pro"]
    made = call(world, "clonePlan", {"id": pro["id"]}, {"name": "Pro 2", "lookup_key": "pro-2"})
    assert made["metadata"]["source_plan_id"] == pro["id"] and made["lookup_key"] == "pro-2"
    assert len(made["prices"]) == 1 and len(made["entitlements"]) == 2
    assert (
        refused(world, "clonePlan", {"id": pro["id"]}, {"name": "Pro 3", "lookup_key": "pro-2"}).status == 409
    )
    fixed = {**price(pro["id"], ""), "type": "FIXED", "amount": "10"}
    del fixed["meter_id"]
    call(world, "createPrice", body=fixed)
    answer = call(world, "syncPlanPrices", {"id": pro["id"]})
    assert answer["message"] == "price sync workflow started successfully"
    sub = call(world, "getSubscription", {"id": catalog["subs"][0]["id"]})
    assert sorted(i["price_type"] for i in sub["line_items"]) == ["FIXED", "USAGE"]
