"""Schema answers (``api/shapes.py``): deterministic bodies every one of which its own schema
accepts, for every operation of both API versions' documents (which hold all of upstream's)."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from jsonschema import Draft4Validator

import mockserver.api
from mockserver.api import shapes
from mockserver.domain.world import World
from mockserver.http.spec import Spec

DOCUMENTS = sorted(Path(mockserver.api.__file__).parent.glob("v*/openapi.yaml"))
NOW = datetime(2026, 3, 4, 5, 6, 7, tzinfo=timezone.utc)


def _world() -> World:
    world = World("tenant_t", "env_e", id_seed=7)
    world.clock.set(NOW, freeze=True)
    return world


def _op(path: str, responses: dict[str, Any], *, parameters: list[Any] | None = None) -> Any:
    return SimpleNamespace(
        operation_id="op", method="POST", path=path, responses=responses, parameters=parameters or []
    )


def _query(name: str) -> Any:
    return SimpleNamespace(name=name, location="query")


def _outside(value: Any, schema: Any, where: str = "") -> list[str]:
    """Properties of ``value`` that ``schema`` names nowhere (an open object excepted)."""
    if not isinstance(schema, dict) or not isinstance(value, dict):
        return []
    branches = [schema, *schema.get("allOf", []), *schema.get("anyOf", []), *schema.get("oneOf", [])]
    named: dict[str, Any] = {}
    for branch in branches:
        if isinstance(branch, dict):
            named.update(branch.get("properties") or {})
    if not named:
        return []
    found = [f"{where}.{key}" for key in value if key not in named]
    for key, item in value.items():
        if key in named:
            found += _outside(item, named[key], f"{where}.{key}")
    return found


def _check_every_answer(operations: list[Any]) -> int:
    world = _world()
    checked = 0
    for op in operations:
        status, schema = shapes.documented_answer(op)
        answered, body = shapes.bind(op)(world, {}, None)
        assert answered == status and str(status) in op.responses and 200 <= status < 300, op.operation_id
        if schema is None:
            assert body is None, op.operation_id
            continue
        problems = [
            f"{list(e.absolute_path)}: {e.message}" for e in Draft4Validator(schema).iter_errors(body)
        ]
        assert not problems, (op.operation_id, problems[:3])
        assert not _outside(body, schema), (op.operation_id, _outside(body, schema))
        checked += 1
    return checked


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.parent.name)
def test_every_answer_of_the_sandbox_documents_fits_its_schema(document: Path) -> None:
    assert _check_every_answer(Spec.load(document).operations) > 90


COUPON = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "max_redemptions": {"type": "integer"},
        "cadence": {"type": "string", "enum": ["once", "repeated", "forever"]},
        "redeem_after": {"type": "string", "format": "date-time"},
        "percentage_off": {"type": "string", "nullable": True},
        "active": {"type": "boolean"},
        "rules": {"type": "object", "additionalProperties": True},
        "tags": {"type": "array", "items": {"type": "string"}},
        "customer": {"type": "object", "properties": {"id": {"type": "string"}, "name": {"type": "string"}}},
    },
}


def test_an_answer_is_plain_values_with_the_id_prefix_and_the_clock() -> None:
    world = _world()
    status, body = shapes.bind(_op("/coupons", {"201": COUPON, "400": {"type": "object"}}))(world, {}, None)
    assert status == 201
    assert body.pop("id").startswith("coupon_01")
    assert body.pop("customer")["id"].startswith("cust_01")  # a nested object named after its collection
    assert body == {
        "name": "",
        "max_redemptions": 0,
        "cadence": "once",
        "redeem_after": "2026-03-04T05:06:07.000000Z",
        "percentage_off": "",  # nullable, but a string fits
        "active": False,
        "rules": {},
        "tags": [],
    }


def test_the_longest_path_base_gives_the_prefix() -> None:
    answer = shapes.bind(_op("/prices/units/{id}", {"200": COUPON}))
    assert answer(_world(), {}, None)[1]["id"].startswith("price_unit_")


def test_request_fields_that_fit_are_echoed() -> None:
    answer = shapes.bind(_op("/coupons", {"201": COUPON}))
    body = answer(_world(), {}, {"name": "Spring", "max_redemptions": "many", "cadence": "forever", "x": 1})[
        1
    ]
    assert (body["name"], body["max_redemptions"], body["cadence"]) == ("Spring", 0, "forever")
    assert "x" not in body
    # a path parameter named like a property answers with that value: the object asked for
    answer = shapes.bind(
        _op("/coupons/{id}", {"200": COUPON}, parameters=[SimpleNamespace(name="id", location="path")])
    )
    assert answer(_world(), {"id": "coupon_given"}, None)[1]["id"] == "coupon_given"


def test_the_same_request_gets_the_same_answer_and_the_world_does_not_change() -> None:
    world = _world()
    answer = shapes.bind(_op("/coupons", {"201": COUPON}))
    before = (world.ids.last, world.object_count())
    first = answer(world, {}, {"name": "a"})
    assert answer(world, {}, {"name": "a"}) == first
    assert answer(world, {}, {"name": "b"})[1]["id"] != first[1]["id"]
    assert (world.ids.last, world.object_count()) == before  # no id drawn, nothing kept


def test_a_list_answers_no_items_and_the_page_asked_for() -> None:
    page = {
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": COUPON},
            "pagination": {
                "type": "object",
                "properties": {k: {"type": "integer"} for k in ("total", "limit", "offset")},
            },
        },
    }
    answer = shapes.bind(_op("/coupons/search", {"200": page}))
    assert answer(_world(), {}, {"limit": 10, "offset": 20})[1] == {
        "items": [],
        "pagination": {"total": 0, "limit": 10, "offset": 20},
    }
    listing = shapes.bind(_op("/coupons", {"200": page}, parameters=[_query("limit"), _query("offset")]))
    assert listing(_world(), {}, None)[1]["pagination"] == {"total": 0, "limit": 50, "offset": 0}
    assert listing(_world(), {"limit": 5}, None)[1]["pagination"] == {"total": 0, "limit": 5, "offset": 0}


def test_a_documented_answer_without_a_body_is_none() -> None:
    assert shapes.bind(_op("/coupons/{id}", {"204": None, "404": COUPON}))(_world(), {}, None) == (204, None)


def test_hard_schemas_get_a_value_they_accept() -> None:
    decimal = {"oneOf": [{"type": "string", "pattern": r"^\d+$"}, {"type": "number"}]}
    schema = {
        "type": "object",
        "required": ["amount", "level"],
        "properties": {
            "amount": decimal,  # "" is no decimal: "0" is, and only for the string branch
            "either": {"oneOf": [{"type": "integer"}, {"type": "number"}]},  # 0 is both: 0.5 is not
            "maybe": {"anyOf": [{"type": "null"}, {"type": "object", "properties": {}}]},
            "level": {"type": "integer", "minimum": 3},
            "both": {
                "allOf": [
                    {"properties": {"a": {"type": "string"}}},
                    {"properties": {"b": {"type": "integer"}}},
                ]
            },
            "impossible": {"type": "object", "enum": ["3600000000000"]},  # upstream's types.Duration
            "left_out": {  # an object whose required property cannot be: left out whole
                "type": "object",
                "required": ["duration"],
                "properties": {
                    "at": {"type": "string", "format": "date-time"},
                    "duration": {"type": "object", "enum": ["3600000000000"]},
                },
            },
        },
    }
    body = shapes.bind(_op("/costs", {"200": schema}))(_world(), {}, None)[1]
    assert Draft4Validator(schema).is_valid(body)
    assert body["amount"] == "0" and body["level"] == 3 and body["maybe"] == {}
    assert body["both"] == {"a": "", "b": 0}
    assert "impossible" not in body and "left_out" not in body


def test_deep_objects_keep_only_their_required_properties() -> None:
    node: dict[str, Any] = {"type": "object", "properties": {"name": {"type": "string"}}}
    for _ in range(shapes.MAX_DEPTH + 2):
        node = {
            "type": "object",
            "required": ["child"],
            "properties": {"name": {"type": "string"}, "child": node},
        }
    body = shapes.bind(_op("/groups", {"200": node}))(_world(), {}, None)[1]
    depth = 0
    while "child" in body:
        assert ("name" in body) == (depth < shapes.MAX_DEPTH)
        body, depth = body["child"], depth + 1
