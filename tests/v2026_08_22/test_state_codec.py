"""``PUT /_mock/state`` checks every nested value as the API does (2026-08-22, the version with
usage): a meter's filters, a wallet's config, decimals and timestamps in range. A value of the
wrong type or out of range is a 400 naming the field, before anything changes; whatever a
document holds, the import answers 200 or 400, and a world imported with 200 goes on answering."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
import simplejson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ..support import Api, new_key
from .conftest import SUITE, advance, create_app, refusal
from .test_usage import send, setup


def _state_after_a_period(api: Api) -> dict[str, Any]:
    """A world with a filtered meter, a subscription, events, a closed period and an auto top-up."""
    ids = setup(
        api,
        aggregation={"type": "SUM", "field": "n", "filters": [{"key": "plan", "values": ["pro"]}]},
        auto_topup={"enabled": True, "threshold": "5", "amount": "10", "invoicing": False},
    )
    send(api, {"properties": {"n": 3, "plan": "pro"}}, {"properties": {"n": 2, "plan": "pro"}})
    advance(api, "P1M")
    send(api, {"properties": {"n": 1, "plan": "pro"}})
    document = api.get("/_mock/state").json
    assert document["meters"][0]["filters"] == {"plan": ["pro"]}, ids
    assert document["invoices"][0]["invoice_type"] == "SUBSCRIPTION" and document["wallets"][0]["auto_topup"]
    return document


# usage dated in a later period, with a quantity no meter can add up
LATER = {
    "event_name": "api_call",
    "properties": {"n": "1e999999", "plan": "pro"},
    "timestamp": "2026-11-15T00:00:00Z",
}


@pytest.mark.parametrize(
    "mutate, field, problem",
    [
        (
            lambda d: d["meters"][0].update(filters={"plan": 5}),
            "meters[0].filters.plan",
            "must be an array of strings",
        ),
        (
            lambda d: d["meters"][0].update(filters={"plan": [5]}),
            "meters[0].filters.plan[0]",
            "must be a string",
        ),
        (
            lambda d: d["wallets"][0].update(config={"allowed_price_types": 5}),
            "wallets[0].config.allowed_price_types",
            "must be an array of strings",
        ),
        (
            lambda d: d["wallets"][0].update(config={"allowed_price_types": ["SOME"]}),
            "wallets[0].config.allowed_price_types",
            "must hold only ALL, USAGE, FIXED",
        ),
        (lambda d: d["wallets"][0].update(balance="1e30"), "wallets[0].balance", "must be below"),
        (
            lambda d: d["customers"][0].update(created_at="0001-01-01T00:00:00+01:00"),
            "customers[0].created_at",
            "years 1 to 9999",
        ),
        (
            lambda d: d["invoices"][0]["lines"][0].update(amount="lots"),
            "invoices[0].lines[0].amount",
            "decimal",
        ),
        (lambda d: d["line_items"][0].update(count=-1), "line_items[0].count", "must be at least 0"),
        (
            lambda d: d["subscriptions"][0].update(billing_period_count=0),
            "subscriptions[0].billing_period_count",
            "must be at least 1",
        ),
        (lambda d: d["clock"].update(now="9999-12-31T00:00:00Z"), "clock.now", "must be within"),
        (
            lambda d: d["usage_schedule"].update(
                deferred_events=[{**LATER, "subscription_id": d["subscriptions"][0]["id"]}]
            ),
            "usage_schedule.deferred_events[0].properties.n",
            "must be a finite number",
        ),
    ],
)
def test_a_wrong_nested_value_is_a_400_naming_it_and_changes_nothing(api, mutate, field, problem):
    document = _state_after_a_period(api)
    bad = copy.deepcopy(document)
    mutate(bad)
    reply = api.put("/_mock/state", bad)
    assert reply.status == 400, reply.json
    details = refusal(reply)[3]
    assert details["field"] == field and problem in details["problem"], details
    assert reply.json["message"] == f"Invalid state document: {field} {details['problem']}"
    assert api.get("/_mock/state").json == document  # the clock is frozen: nothing moved
    send(api, {"properties": {"n": 1, "plan": "pro"}})  # the world still counts usage


# ---- any value at any leaf: 200 or 400, and a world that answers ------------------------------


class Raw:
    """An in-process client that checks nothing but the status (a value the import accepted may
    be one no document describes; what matters here is that nothing answers 500)."""

    def __init__(self, app, key: str):
        self.client, self.key = app.test_client(), key

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else simplejson.dumps(body, use_decimal=True)
        headers = {"x-api-key": self.key, "Content-Type": "application/json"}
        reply = self.client.open(path, method=method, data=data, headers=headers)
        return reply.status_code, reply.get_json(silent=True)


@pytest.fixture(scope="module")
def exported() -> Iterator[tuple[Any, dict[str, Any]]]:
    app = create_app(log_requests=False)
    api = SUITE.client_of(app)
    yield app, _state_after_a_period(api)


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict) and value:
        for name, inner in value.items():
            yield from _leaves(inner, (*path, name))
    elif isinstance(value, list) and value:
        for index, inner in enumerate(value):
            yield from _leaves(inner, (*path, index))
    else:
        yield path
    if path and isinstance(value, (dict, list)):
        yield path  # the container itself, replaced whole


EVENT = {"event_name": "api_call", "external_customer_id": "acme"}
EDGES = [
    "1e30",
    "-1e30",
    "99999999999999999999",
    "NaN",
    "Infinity",
    "-5",
    "1e-40",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59Z",
    "1970-01-01T00:00:00Z",
    "2026-09-01T12:00:00Z",
    "",
    "ALL",
    "x" * 300,
]
VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 1, 10**12, 2**63, -(2**63) - 1]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=5),
    st.sampled_from(EDGES),
    st.lists(st.one_of(st.integers(), st.text(max_size=3)), max_size=2),
    st.dictionaries(st.text(max_size=3), st.one_of(st.integers(), st.text(max_size=3)), max_size=2),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), value=VALUES)
def test_any_value_at_any_leaf_is_200_or_400_and_the_world_answers(exported, data, value):
    app, document = exported
    paths = sorted(set(_leaves(document)), key=repr)
    path = data.draw(st.sampled_from(paths))
    changed = copy.deepcopy(document)
    if path:
        *parents, last = path
        holder = changed
        for part in parents:
            holder = holder[part]
        holder[last] = value
    client = Raw(app, new_key())
    status, body = client.call("PUT", "/_mock/state", changed)
    assert status in (200, 400), (path, value, status, body)
    if status != 200:
        return
    calls = [
        (
            "POST",
            "/v1/events",
            {"event_name": "api_call", "external_customer_id": "acme", "properties": {"n": 1}},
        ),
        ("GET", "/v1/wallets", None),
        ("GET", "/_mock/invoices", None),
        ("POST", "/_mock/clock/advance", {"by": "P1D"}),
    ]
    for wallet in changed.get("wallets") or []:
        if isinstance(wallet, dict) and isinstance(wallet.get("id"), str):
            calls.append(("GET", f"/v1/wallets/{wallet['id']}/balance/real-time", None))
    for method, url, sent in calls:
        answered, reply = client.call(method, url, sent)
        assert answered < 500, (path, value, method, url, answered, reply)
