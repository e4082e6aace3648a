"""Stored collections (``X-Mock-Fidelity: stored``), through the API on both stores, every answer
checked against the document: each collection of the version's table is created, read back,
found by a filter that leaves another object out, updated, archived (read back archived, left
out of searches); a reference to a missing object is upstream's 404 and keeps nothing; the
records travel with the state document; a full world refuses a create.

A collection is covered by adding its row to ``ROWS``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from mockserver import api as versions
from mockserver.api.v2026_08_22.collections import COLLECTIONS

from ..support import Api
from .conftest import freeze, make_customer, make_wallet, refusal
from .test_world_limits import _stop_the_sandboxes, world  # noqa: F401 (its sandboxes stopped here too)

# Bound once the version names its table (``ApiVersion.collections``, read by ``conventions.bind``).
pytestmark = pytest.mark.skipif(
    not hasattr(versions.load("2026-08-22"), "collections"), reason="stored operations are not bound yet"
)


Context = dict[str, str]


@dataclass(frozen=True)
class Row:
    collection: str
    base: str
    # the body of a create; "a" and "b" make two objects a filter tells apart
    make: Callable[[Api, str, Context], dict[str, Any]]
    # how to find "a" alone: ("search", body) or ("list", query string); None: no search
    find: Callable[[dict[str, Any], Context], tuple[str, Any]] | None
    change: tuple[dict[str, Any], Callable[[dict[str, Any]], Any], Any] | None  # body, what, to
    envelope: str | None = None  # the field an answer wraps the object in
    get: bool = True


def _tax_association(api: Api, s: str, ctx: Context) -> dict[str, Any]:
    rate = {"name": f"Rate {s}", "code": f"TA-{s}", "percentage_value": "5"}
    assert api.post("/v1/taxes/rates", rate).status == 201
    return {"tax_rate_code": f"TA-{s}", "entity_type": "customer", "entity_id": ctx[f"customer_{s}"]}


def _named(body: dict[str, Any]) -> Any:
    return body["name"]


RENAME = ({"name": "Renamed"}, _named, "Renamed")

ROWS = [
    Row(
        "coupons",
        "/coupons",
        lambda api, s, ctx: {
            "name": f"Coupon {s}",
            "type": "fixed",
            "cadence": "once",
            "amount_off": "10",
            "coupon_code": f"C-{s}",
        },
        lambda a, ctx: ("search", {"coupon_codes": ["C-a"]}),
        RENAME,
    ),
    Row(
        "tax_rates",
        "/taxes/rates",
        lambda api, s, ctx: {"name": f"VAT {s}", "code": f"VAT-{s}", "percentage_value": "20"},
        lambda a, ctx: ("list", "taxrate_codes=VAT-a"),
        RENAME,
    ),
    Row(
        "tax_associations",
        "/taxes/associations",
        _tax_association,
        lambda a, ctx: ("list", f"entity_id={ctx['customer_a']}"),
        ({"priority": 3}, lambda body: body["priority"], 3),
    ),
    Row(
        "addons",
        "/addons",
        lambda api, s, ctx: {"name": f"Addon {s}", "lookup_key": f"addon-{s}"},
        lambda a, ctx: ("search", {"lookup_keys": ["addon-a"]}),
        RENAME,
    ),
    Row(
        "credit_grants",
        "/creditgrants",
        lambda api, s, ctx: {
            "name": f"Grant {s}",
            "scope": "PLAN",
            "plan_id": ctx["plan"],
            "cadence": "ONETIME",
            "credits": "5",
        },
        None,
        RENAME,
    ),
    Row(
        "groups",
        "/groups",
        lambda api, s, ctx: {"name": f"Group {s}", "entity_type": "price", "lookup_key": f"group-{s}"},
        lambda a, ctx: ("search", {"lookup_key": "group-a"}),
        None,
    ),
    Row(
        "alert_settings",
        "/alerts/setting",
        lambda api, s, ctx: {
            "entity_type": "wallet",
            "entity_id": ctx[f"wallet_{s}"],
            "config": {"critical": {"threshold": "10", "condition": "below"}, "alert_enabled": True},
        },
        lambda a, ctx: ("search", {"entity_ids": [ctx["wallet_a"]]}),
        (
            {"config": {"critical": {"threshold": "5", "condition": "below"}}},
            lambda body: body["config"]["critical"]["threshold"],
            "5",
        ),
    ),
    Row(
        "price_units",
        "/prices/units",
        lambda api, s, ctx: {
            "name": f"Unit {s}",
            "code": f"u{s}",
            "symbol": "U",
            "base_currency": "usd",
            "conversion_rate": "1",
        },
        lambda a, ctx: (
            "search",
            {"filters": [{"field": "code", "operator": "eq", "value": {"string": "ua"}}]},
        ),
        RENAME,
    ),
    Row(
        "costsheets",
        "/costs",
        lambda api, s, ctx: {"name": f"Sheet {s}", "lookup_key": f"sheet-{s}"},
        lambda a, ctx: (
            "search",
            {"filters": [{"field": "name", "operator": "contains", "value": {"string": "sheet a"}}]},
        ),
        RENAME,
        envelope="costsheet",
    ),
    Row(
        "scheduled_tasks",
        "/tasks/scheduled",
        lambda api, s, ctx: {
            "connection_id": f"conn_{s}",
            "entity_type": "events",
            "interval": "daily",
            "job_config": {"bucket": "exports", "region": "us-east-1"},
        },
        lambda a, ctx: ("list", "connection_id=conn_a"),
        ({"enabled": False}, lambda body: body["enabled"], False),
    ),
    Row(
        "users",
        "/users",
        lambda api, s, ctx: {"type": "service_account", "name": f"bot {s}", "roles": ["admin"]},
        lambda a, ctx: ("search", {"user_ids": [a["id"]]}),
        ({"name": "Renamed"}, _named, "Renamed"),
        get=False,
    ),
    Row(
        "checkout_sessions",
        "/checkout/sessions",
        lambda api, s, ctx: {
            "action": "wallet_topup",
            "customer_external_id": f"ext-{s}",
            "payment_provider": "razorpay",
        },
        None,
        None,
    ),
]
READ_ONLY = {"credit_notes", "coupon_associations"}


def test_every_collection_of_the_table_has_a_row():
    assert {row.collection for row in ROWS} | READ_ONLY == {c.name for c in COLLECTIONS}


def context(api: Api) -> Context:
    freeze(api)
    ctx: Context = {}
    for s in ("a", "b"):
        customer = make_customer(api, f"ext-{s}")
        ctx[f"customer_{s}"] = customer["id"]
        ctx[f"wallet_{s}"] = make_wallet(api, customer["id"])["id"]
    plan = api.post("/v1/plans", {"name": "Pro"})
    assert plan.status == 201, plan.json
    ctx["plan"] = plan.json["id"]
    return ctx


def stored(reply: Any, row: Row) -> dict[str, Any]:
    assert reply.headers.get("X-Mock-Fidelity", "stored") == "stored"
    body = reply.json
    return body[row.envelope] if row.envelope else body


def ids(reply: Any) -> list[str]:
    assert reply.status == 200, reply.json
    return [item["id"] for item in reply.json["items"]]


def search(api: Api, row: Row, how: tuple[str, Any]) -> Any:
    kind, asked = how
    if kind == "search":
        return api.post(f"/v1{row.base}/search", asked)
    return api.get(f"/v1{row.base}" + (f"?{asked}" if asked else ""))


def everything(row: Row, a: dict[str, Any], ctx: Context) -> tuple[str, Any]:
    assert row.find is not None
    kind, _ = row.find(a, ctx)
    return (kind, {}) if kind == "search" else (kind, "")


@pytest.mark.parametrize("row", ROWS, ids=[row.collection for row in ROWS])
def test_a_stored_object_is_created_read_found_updated_and_archived(api, row):
    ctx = context(api)
    made = api.post(f"/v1{row.base}", row.make(api, "a", ctx))
    assert made.status in (200, 201), made.json
    a = stored(made, row)
    prefix = next(c.prefix for c in COLLECTIONS if c.name == row.collection)
    assert a["id"].startswith(prefix)
    other = api.post(f"/v1{row.base}", row.make(api, "b", ctx))
    assert other.status == made.status, other.json
    b = stored(other, row)
    if row.get:
        read = api.get(f"/v1{row.base}/{a['id']}")
        assert read.status == 200 and stored(read, row) == a
    if row.find:
        assert ids(search(api, row, row.find(a, ctx))) == [a["id"]]  # b left out
        assert set(ids(search(api, row, everything(row, a, ctx)))) >= {a["id"], b["id"]}
    if row.change:
        body, what, to = row.change
        changed = api.put(f"/v1{row.base}/{a['id']}", body)
        assert changed.status == 200, changed.json
        assert what(stored(changed, row)) == to
        if row.get:
            assert what(stored(api.get(f"/v1{row.base}/{a['id']}"), row)) == to
    gone = api.delete(f"/v1{row.base}/{a['id']}")
    assert gone.status in (200, 204), gone.json
    if row.get:  # archived, as upstream's repositories do: still read, status archived
        read = api.get(f"/v1{row.base}/{a['id']}")
        assert read.status == 200 and stored(read, row)["status"] == "archived"
    if row.find:
        left = ids(search(api, row, everything(row, a, ctx)))
        assert a["id"] not in left and b["id"] in left
    records = api.get("/_mock/state").json["records"][row.collection]
    assert records[a["id"]]["status"] == "archived" and records[b["id"]]["status"] == "published"


def test_the_read_only_collections_answer_what_they_hold(api):
    status, code, message, _ = refusal(api.get("/v1/creditnotes/cn_missing"))
    assert (status, code, message) == (404, "not_found", "credit note cn_missing not found")
    listed = api.get("/v1/coupons/associations")
    assert listed.status == 200 and listed.json == {
        "items": [],
        "pagination": {"total": 0, "limit": 50, "offset": 0},
    }
    status, _, message, _ = refusal(api.get("/v1/coupons/associations/coupon_assoc_x"))
    assert (status, message) == (404, "Coupon association not found")


@pytest.mark.parametrize(
    "path, body, message",
    [
        (
            "/v1/creditgrants",
            {"name": "g", "scope": "PLAN", "plan_id": "plan_x", "cadence": "ONETIME", "credits": "5"},
            "Plan with ID plan_x was not found",
        ),
        (
            "/v1/alerts/setting",
            {"entity_type": "wallet", "entity_id": "wallet_x", "config": {"alert_enabled": True}},
            "Wallet not found",
        ),
        ("/v1/taxes/associations", {"tax_rate_code": "NONE"}, "Taxrate with code NONE was not found"),
        (
            "/v1/checkout/sessions",
            {"action": "wallet_topup", "customer_external_id": "nobody", "payment_provider": "razorpay"},
            "Customer with lookup key nobody was not found",
        ),
    ],
    ids=["plan", "wallet", "tax rate code", "customer external id"],
)
def test_a_reference_to_a_missing_object_is_a_404_and_keeps_nothing(api, path, body, message):
    freeze(api)
    before = api.get("/_mock/state").json
    status, code, said, _ = refusal(api.post(path, body))
    assert (status, code, said) == (404, "not_found", message)
    assert api.get("/_mock/state").json == before


def test_a_repeated_code_is_a_409(api):
    coupon = {"name": "A", "type": "fixed", "cadence": "once", "coupon_code": "SAME"}
    assert api.post("/v1/coupons", coupon).status == 201
    status, code, message, _ = refusal(api.post("/v1/coupons", coupon))
    assert (status, code) == (409, "already_exists") and "already exists" in message


def test_stored_objects_travel_with_the_state_document(api):
    freeze(api)
    made = api.post("/v1/addons", {"name": "Extra", "lookup_key": "extra"}).json
    document = api.get("/_mock/state").json
    target = api.as_key(api.api_key + "-copy")
    assert target.put("/_mock/state", document).status == 200
    assert target.get(f"/v1/addons/{made['id']}").json == made
    assert target.get("/v1/addons/lookup/extra").json == made
    assert target.get("/_mock/state").json["records"] == document["records"]


def test_a_full_world_refuses_a_stored_create():
    api = world(limit=1)
    assert api.post("/v1/groups", {"name": "G", "entity_type": "price", "lookup_key": "g"}).status == 201
    before = api.get("/_mock/state").json["records"]
    status, code, _, details = refusal(
        api.post("/v1/groups", {"name": "H", "entity_type": "price", "lookup_key": "h"})
    )
    assert (status, code, details["held"]) == (429, "too_many_requests", 1)
    assert api.get("/_mock/state").json["records"] == before
