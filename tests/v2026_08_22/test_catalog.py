"""The catalog past creation (API 2026-08-22): features, plans and prices searched, updated,
deleted (archived; a price ended), cloned, looked up, created in bulk, and a plan's prices synced
onto its subscriptions, with upstream's refusals. On both stores, every answer checked against
the document."""

from __future__ import annotations

from typing import Any

from ..support import Api
from .conftest import refusal
from .test_usage import created, setup

METER = {
    "name": "Seats",
    "event_name": "seat",
    "aggregation": {"type": "COUNT"},
    "reset_usage": "BILLING_PERIOD",
}


def usage_price(plan_id: str, meter_id: str, **more: Any) -> dict[str, Any]:
    return {
        "entity_type": "PLAN",
        "entity_id": plan_id,
        "currency": "usd",
        "type": "USAGE",
        "billing_model": "FLAT_FEE",
        "amount": "2",
        "billing_period": "MONTHLY",
        "billing_period_count": 1,
        "invoice_cadence": "ARREAR",
        "price_unit_type": "FIAT",
        "meter_id": meter_id,
        **more,
    }


def test_features_are_searched_updated_cloned_and_deleted(api: Api) -> None:
    ids = setup(api)
    seats = created(api, "/v1/features", {"name": "Seats", "type": "metered", "meter": METER})
    found = api.post("/v1/features/search", {"name_contains": "seat", "expand": "meters"})
    assert [(f["id"], f["meter"]["event_name"]) for f in found.json["items"]] == [(seats["id"], "seat")]

    reply = api.put(f"/v1/features/{seats['id']}", {"name": "Team seats", "unit_singular": "seat"})
    assert refusal(reply)[:3] == (
        400,
        "validation_error",
        "Unit singular and unit plural must be set together",
    )
    reply = api.put(f"/v1/features/{seats['id']}", {"name": "Team seats", "metadata": {"tier": "b"}})
    assert (reply.status, reply.json["name"], reply.json["metadata"]) == (200, "Team seats", {"tier": "b"})

    clone = api.post(f"/v1/features/{seats['id']}/clone", {"name": "Seats 2", "lookup_key": "seats-2"})
    assert clone.status == 201, clone.json
    assert clone.json["metadata"] == {"tier": "b", "source_feature_id": seats["id"]}
    assert clone.json["meter_id"] != seats["meter_id"]  # a meter of its own
    again = api.post(f"/v1/features/{seats['id']}/clone", {"name": "Seats 3", "lookup_key": "seats-2"})
    assert refusal(again)[:2] == (409, "already_exists")

    # in use by an entitlement: kept; unused: archived, and still listed as such
    reply = api.delete(f"/v1/features/{ids['feature']['id']}")
    assert refusal(reply)[:3] == (
        400,
        "invalid_operation",
        "Feature is linked to some plans, please remove the feature from the plans first",
    )
    assert api.delete(f"/v1/features/{seats['id']}").json == {"message": "feature deleted successfully"}
    found = api.post("/v1/features/search", {"feature_ids": [seats["id"]]})
    assert [f["status"] for f in found.json["items"]] == ["archived"]
    assert api.post("/v1/features/search", {"status": "published"}).json["pagination"]["total"] == 2


def test_plans_are_searched_updated_cloned_synced_and_deleted(api: Api) -> None:
    ids = setup(api)
    plan = ids["plan"]
    reply = api.put(f"/v1/plans/{plan['id']}", {"lookup_key": "pro", "description": "For teams"})
    assert (reply.status, reply.json["lookup_key"], reply.json["description"]) == (200, "pro", "For teams")
    found = api.post("/v1/plans/search", {"lookup_key": "pro", "expand": "prices,entitlements"})
    (item,) = found.json["items"]
    assert (len(item["prices"]), len(item["entitlements"])) == (1, 1)

    clone = api.post(f"/v1/plans/{plan['id']}/clone", {"name": "Pro 2", "lookup_key": "pro-2"})
    assert clone.status == 201, clone.json
    assert (clone.json["lookup_key"], clone.json["metadata"]["source_plan_id"]) == ("pro-2", plan["id"])
    assert [p["entity_id"] for p in clone.json["prices"]] == [clone.json["id"]]
    copied = api.get(f"/v1/plans/{clone.json['id']}/entitlements").json["items"]
    assert [e["feature_id"] for e in copied] == [ids["feature"]["id"]]
    taken = api.post(f"/v1/plans/{plan['id']}/clone", {"name": "Pro 3", "lookup_key": "pro"})
    assert refusal(taken)[:2] == (409, "already_exists")

    # a new price reaches the subscription at the next sync
    fixed = usage_price(plan["id"], "", type="FIXED", amount="10")
    del fixed["meter_id"]
    fixed = created(api, "/v1/prices", fixed)
    reply = api.post(f"/v1/plans/{plan['id']}/sync/subscriptions")
    assert reply.status == 200 and reply.json["message"] == "price sync workflow started successfully", (
        reply.json
    )
    sub = api.get(f"/v1/subscriptions/{ids['subscription']['id']}").json
    assert fixed["id"] in {i["price_id"] for i in sub["line_items"]}

    reply = api.delete(f"/v1/plans/{plan['id']}")
    assert refusal(reply)[:3] == (
        400,
        "invalid_operation",
        "Please remove the active subscriptions before deleting this plan.",
    )
    assert api.delete(f"/v1/plans/{clone.json['id']}").status == 200
    assert api.get(f"/v1/plans/{clone.json['id']}").json["status"] == "archived"
    assert [p["id"] for p in api.post("/v1/plans/search", {}).json["items"]] == [plan["id"]]


def test_prices_are_bulk_created_looked_up_replaced_and_ended(api: Api) -> None:
    ids = setup(api)
    plan, meter_id = ids["plan"], ids["feature"]["meter_id"]
    bulk = api.post(
        "/v1/prices/bulk",
        {
            "items": [
                usage_price(plan["id"], meter_id, lookup_key="calls"),
                usage_price("plan_none", meter_id),
            ]
        },
    )
    assert refusal(bulk)[:3] == (404, "not_found", "The specified plan does not exist")
    assert api.post("/v1/prices/search", {"plan_ids": [plan["id"]]}).json["pagination"]["total"] == 1
    bulk = api.post("/v1/prices/bulk", {"items": [usage_price(plan["id"], meter_id, lookup_key="calls")]})
    assert bulk.status == 201, bulk.json
    (made,) = bulk.json["items"]
    assert api.get("/v1/prices/lookup/calls").json["id"] == made["id"]

    # a change of what is charged makes a new price; the old one ends
    reply = api.put(f"/v1/prices/{made['id']}", {"amount": "3"})
    assert reply.status == 200 and reply.json["id"] != made["id"] and reply.json["amount"] == "3", reply.json
    old = api.get(f"/v1/prices/{made['id']}").json
    assert old["end_date"] == reply.json["start_date"]
    assert api.get("/v1/prices/lookup/calls").json["id"] == reply.json["id"]
    renamed = api.put(f"/v1/prices/{reply.json['id']}", {"display_name": "Calls"})
    assert (renamed.json["id"], renamed.json["display_name"]) == (reply.json["id"], "Calls")

    path = f"/v1/prices/{reply.json['id']}"
    assert refusal(api.delete(path))[:3] == (
        400,
        "validation_error",
        "Invalid request format",
    )  # a body is required
    assert api.delete(path, json_body={}).json == {"message": "price deleted successfully"}
    again = api.delete(path, json_body={"end_date": "2026-09-02T00:00:00Z"})
    assert refusal(again)[:3] == (
        400,
        "validation_error",
        "Cannot terminate a price that has already been terminated",
    )
    assert api.get("/v1/prices/lookup/calls").status == 404
    ended = api.post("/v1/prices/search", {"plan_ids": [plan["id"]], "allow_expired_prices": True})
    assert ended.json["pagination"]["total"] == 3
