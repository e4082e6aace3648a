"""Stored credit grants (API 2025-05-24), on both stores, every answer checked against the
document: created, read back, listed by a filter that leaves another out, updated, archived
(read back archived, left out of lists); a plan-scoped grant without its plan is refused."""

from __future__ import annotations

import pytest

from mockserver import api as versions

from .conftest import Api

# Bound once the version names its table (``ApiVersion.collections``, read by ``conventions.bind``).
pytestmark = pytest.mark.skipif(
    not hasattr(versions.load("2025-05-24"), "collections"), reason="stored operations are not bound yet"
)


def grant(api: Api, plan_id: str) -> dict:
    body = {
        "name": f"Grant {plan_id}",
        "scope": "PLAN",
        "plan_id": plan_id,
        "cadence": "ONETIME",
        "amount": 5.5,
        "currency": "usd",
    }
    reply = api.post("/v1/creditgrants", body)
    assert reply.status == 201, reply.json
    return reply.json


def test_a_credit_grant_is_created_read_listed_updated_and_archived(api):
    a, b = grant(api, "plan_a"), grant(api, "plan_b")
    assert a["id"].startswith("cg_") and (a["status"], a["amount"], a["plan_id"]) == (
        "published",
        5.5,
        "plan_a",
    )
    assert api.get(f"/v1/creditgrants/{a['id']}").json == a
    listed = api.get("/v1/creditgrants?plan_ids=plan_a").json
    assert [g["id"] for g in listed["items"]] == [a["id"]] and listed["pagination"]["total"] == 1
    changed = api.put(f"/v1/creditgrants/{a['id']}", {"name": "Renamed"})
    assert changed.status == 200 and changed.json["name"] == "Renamed"
    assert api.delete(f"/v1/creditgrants/{a['id']}").status == 200
    assert api.get(f"/v1/creditgrants/{a['id']}").json["status"] == "archived"
    assert [g["id"] for g in api.get("/v1/creditgrants").json["items"]] == [b["id"]]


def test_a_plan_scoped_grant_without_its_plan_is_refused(api):
    body = {"name": "G", "scope": "PLAN", "cadence": "ONETIME", "amount": 1, "currency": "usd"}
    reply = api.post("/v1/creditgrants", body)
    assert reply.status == 400
    assert api.get("/_mock/state").json["records"] == {}
