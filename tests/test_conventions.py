"""The convention layer over the 2026-08-22 document, handlers called on a world of their own:
the operations the version's table binds, and the rules of creating, reading, searching,
updating and archiving, each answer checked against the document's schema."""

from __future__ import annotations

import importlib
import json
from decimal import Decimal
from functools import cache
from typing import Any

import pytest

from mockserver import api as versions
from mockserver.api import conventions, prefixes
from mockserver.api.v2026_08_22.collections import COLLECTIONS, GROWS_WORLD
from mockserver.domain.errors import ApiError
from mockserver.domain.models import Customer
from mockserver.domain.world import World
from mockserver.http.spec import Spec

VERSION = versions.load("2026-08-22")


@cache
def spec() -> Spec:
    return Spec.load(VERSION.served_spec_path)


def operations() -> dict[str, Any]:
    return spec().by_id


def operation(operation_id: str) -> Any:
    return spec().by_id[operation_id]


def call(world: World, operation_id: str, params: dict | None = None, body: Any = None) -> Any:
    op = operation(operation_id)
    handler = conventions.bind(op, COLLECTIONS)
    assert handler is not None, operation_id
    status, payload = handler(world, params or {}, body)
    validator = op.response_validator(status)
    if validator is None:
        assert payload is None
    else:
        errors = [e.message for e in validator.iter_errors(payload)]
        assert not errors, (operation_id, errors, payload)
    return status, payload


def test_the_table_binds_every_stored_operation_and_nothing_else():
    bound = {
        op.operation_id: conventions.shape_of(op, COLLECTIONS)
        for op in operations().values()
        if conventions.shape_of(op, COLLECTIONS)
    }
    shapes = {name: (found[0], found[1].name) for name, found in bound.items()}
    assert shapes["getPriceUnit"] == ("get", "price_units")  # not the prices' /prices/{id}
    assert shapes["listPriceUnits"] == ("list", "price_units")
    assert shapes["getCouponByCode"] == ("lookup", "coupons")
    assert shapes["listCouponAssociations"] == ("list", "coupon_associations")
    assert shapes["getCoupon"] == ("get", "coupons")
    assert shapes["getAddonByLookupKey"] == ("lookup", "addons")
    for unbound in (
        "createCreditNote",
        "processCreditNote",
        "getUserInfo",
        "updateUser",
        "getDetailedCostAnalytics",
        "triggerScheduledTaskRun",
        "getAddonEntitlements",
        "createInvoice",
        "getPrice",
    ):
        assert unbound not in shapes
    assert shapes["getActiveCostsheet"] == ("latest", "costsheets")
    assert len(shapes) == 63, sorted(shapes)
    creates = {name for name, (shape, _) in shapes.items() if shape == "create"}
    assert creates == GROWS_WORLD  # every stored create counts against the world's objects


def test_a_coupon_goes_through_its_life():
    world = World("tenant_1", "env_1", id_seed=1)
    status, made = call(
        world,
        "createCoupon",
        body={
            "name": "Ten",
            "type": "fixed",
            "cadence": "once",
            "amount_off": "10",
            "coupon_code": "TEN",
            "max_redemptions": 5,
        },
    )
    assert status == 201 and made["id"].startswith("coupon_") and made["status"] == "published"
    assert (made["tenant_id"], made["environment_id"], made["metadata"]) == ("tenant_1", "env_1", {})
    assert made["max_redemptions"] == 5 and made["amount_off"] == "10"
    call(
        world,
        "createCoupon",
        body={"name": "Five", "type": "fixed", "cadence": "once", "coupon_code": "FIVE"},
    )
    assert call(world, "getCoupon", {"id": made["id"]})[1] == made
    assert call(world, "getCouponByCode", {"code": "TEN"})[1] == made
    _, found = call(world, "queryCoupon", body={"coupon_codes": ["TEN"]})
    assert [c["id"] for c in found["items"]] == [made["id"]] and found["pagination"]["total"] == 1
    _, found = call(
        world,
        "queryCoupon",
        body={"filters": [{"field": "name", "operator": "contains", "value": {"string": "fiv"}}]},
    )
    assert [c["name"] for c in found["items"]] == ["Five"]
    _, changed = call(world, "updateCoupon", {"id": made["id"]}, {"name": "Ten off"})
    assert changed["name"] == "Ten off" and changed["amount_off"] == "10"
    assert call(world, "deleteCoupon", {"id": made["id"]}) == (
        200,
        {"message": "Coupon deleted successfully"},
    )
    assert call(world, "getCoupon", {"id": made["id"]})[1]["status"] == "archived"
    assert call(world, "queryCoupon", body={})[1]["pagination"]["total"] == 1
    assert call(world, "queryCoupon", body={"status": "archived"})[1]["items"][0]["id"] == made["id"]
    with pytest.raises(ApiError) as caught:
        call(world, "getCouponByCode", {"code": "TEN"})  # archived: not found by its code
    assert (caught.value.status, caught.value.message) == (404, "Coupon with code 'TEN' was not found")
    assert world.object_count() == 2


def test_a_reference_to_a_missing_object_is_a_404_and_keeps_nothing():
    world = World("t", "e")
    with pytest.raises(ApiError) as caught:
        call(
            world,
            "createCreditGrant",
            body={
                "name": "g",
                "scope": "PLAN",
                "cadence": "ONETIME",
                "credits": "5",
                "plan_id": "plan_missing",
            },
        )
    assert (caught.value.status, caught.value.message) == (404, "Plan with ID plan_missing was not found")
    with pytest.raises(ApiError) as caught:
        call(
            world,
            "createTaxAssociation",
            body={"tax_rate_code": "VAT", "entity_type": "customer", "entity_id": "cust_1"},
        )
    assert caught.value.status == 404
    with pytest.raises(ApiError) as caught:
        call(
            world,
            "createCreditGrant",
            body={"name": "g", "scope": "SUBSCRIPTION", "cadence": "ONETIME", "credits": "5"},
        )
    assert (caught.value.status, caught.value.message) == (400, "Please provide a valid subscription ID")
    assert world.records == {}
    _, rate = call(world, "createTaxRate", body={"name": "VAT", "code": "VAT", "percentage_value": "20"})
    world.customers["cust_1"] = object.__new__(Customer)
    _, association = call(
        world,
        "createTaxAssociation",
        body={"tax_rate_code": "VAT", "entity_type": "customer", "entity_id": "cust_1", "priority": 1},
    )
    assert association["tax_rate_id"] == rate["id"] and association["id"].startswith("ta_")
    assert call(world, "listTaxAssociations", {"entity_id": "cust_1"})[1]["pagination"]["total"] == 1
    assert call(world, "listTaxAssociations", {"entity_id": "cust_2"})[1]["pagination"]["total"] == 0


def test_answers_wrapped_or_shaped_their_own_way():
    world = World("t", "e")
    status, made = call(world, "createCostsheet", body={"name": "Infra", "lookup_key": "infra"})
    assert status == 201 and made["costsheet"]["id"].startswith("cost_")
    cost_id = made["costsheet"]["id"]
    assert call(world, "getCostsheet", {"id": cost_id})[1]["costsheet"]["name"] == "Infra"
    assert call(world, "getActiveCostsheet")[1]["id"] == cost_id  # the newest published one
    assert call(world, "deleteCostsheet", {"id": cost_id})[1] == {
        "id": cost_id,
        "message": "costsheet deleted successfully",
    }
    with pytest.raises(ApiError) as caught:
        call(world, "getActiveCostsheet")
    assert (caught.value.status, caught.value.message) == (404, "No active costsheet found for this tenant")
    status, user = call(world, "createUser", body={"type": "service_account", "roles": ["admin"]})
    assert (
        status == 201 and user["id"].startswith("user_") and set(user) <= {"id", "type", "roles", "metadata"}
    )
    assert call(world, "updateServiceAccount", {"id": user["id"]}, {"name": "bot"})[1]["name"] == "bot"
    assert call(world, "deleteServiceAccount", {"id": user["id"]}) == (204, None)
    assert call(world, "queryUser", body={})[1]["items"] == []


@pytest.mark.parametrize(
    "rules, field",
    [
        ({"n": 2**64}, "rules.n"),
        ({"x": Decimal("1e500")}, "rules.x"),
        (json.loads("[" * 40 + "]" * 40), "rules"),
    ],
    ids=["integer past 64 bits", "number past a float", "too deep"],
)
def test_what_a_state_document_could_not_load_again_is_refused(rules, field):
    world = World("t", "e")
    body = {"name": "A", "type": "fixed", "cadence": "once", "rules": rules}
    with pytest.raises(ApiError) as caught:
        conventions.bind(operation("createCoupon"), COLLECTIONS)(world, {}, body)
    assert caught.value.status == 400 and caught.value.details["field"].startswith(field)
    assert world.records == {}


def test_a_filter_on_a_field_an_object_leaves_out_excludes_it():
    world = World("t", "e")
    call(world, "createCoupon", body={"name": "No code", "type": "fixed", "cadence": "once"})
    _, coded = call(
        world, "createCoupon", body={"name": "Coded", "type": "fixed", "cadence": "once", "coupon_code": "X"}
    )
    _, found = call(world, "queryCoupon", body={"coupon_codes": ["X"]})
    assert [c["id"] for c in found["items"]] == [coded["id"]]
    _, found = call(world, "queryCoupon", body={"coupon_ids": [coded["id"]], "limit": 1})
    assert found["pagination"] == {"total": 1, "limit": 1, "offset": 0}


@pytest.mark.parametrize("version", ["2026-08-22", "2025-05-24"])
def test_the_tables_prefixes_are_upstreams(version):
    table = importlib.import_module(f"mockserver.api.v{version.replace('-', '_')}.collections")
    for collection in table.COLLECTIONS:
        for base in collection.paths:
            assert prefixes.prefix_for(base) == collection.prefix, base
