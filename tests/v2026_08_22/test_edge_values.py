"""Values at the edges (API 2026-08-22): huge, tiny, negative, NaN and exponent strings, int64 and
uint64 limits, far past and far future timestamps, odd offsets, sent to the usage and wallet
operations and the clock controls. Whatever is sent, no answer is a 500, and the world keeps
answering afterwards: its real-time balance, its usage summary, its subscriptions, and a day more
on its clock. On the memory store and on Redis; hypothesis draws the sequences.

To run longer, with fresh draws: ``FLEXPRICE_EDGE_EXAMPLES=500 FLEXPRICE_EDGE_RANDOM=1 python -m pytest
tests/v2026_08_22/test_edge_values.py``.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import Api, Reply, new_key
from .test_usage import setup

EXAMPLES = int(os.environ.get("FLEXPRICE_EDGE_EXAMPLES", "60"))
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=os.environ.get("FLEXPRICE_EDGE_RANDOM", "") in ("", "0"),
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

INT_EDGES = [0, 1, -1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**64 - 1, 2**64, 10**30]
NUMBER_TEXT = [
    "0",
    "-0",
    "1",
    "-1",
    "0.000000001",
    "1e-10",
    "1e-999999",
    "0.1",
    "9999999999.99999999",
    "10000000000",
    "99999999999.999999999",
    "100000000000",
    "1e30",
    "9e999999",
    "-9e999999",
    "1.7976931348623157e308",
    "NaN",
    "-NaN",
    "sNaN",
    "Infinity",
    "-Infinity",
    " 5 ",
    "1_000",
    "",
    "abc",
    "0x10",
    "1." + "3" * 60,
]
TIMESTAMPS = [
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00+01:00",
    "0001-01-01T00:00:00-14:00",
    "1970-01-01T00:00:00Z",
    "2026-09-01T12:00:00+14:00",
    "2026-09-01T12:00:00-23:59",
    "2026-09-01T12:00:00.999999999Z",
    "2026-09-01T12:00:00",
    "2026-09-01",
    "",
    "soon",
    "9998-12-31T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "9999-12-31T23:59:59-01:00",
    "9999-12-31T23:59:59.999999+00:00",
]
DURATIONS = ["P1D", "PT1S", "P1M", "P1Y", "P40D", "PT0S", "P0D", 86400, 0.5]


def numbers() -> st.SearchStrategy[Any]:
    """A decimal as a client may send one: text, an integer, or a float (JSON numbers)."""
    return st.one_of(
        st.sampled_from(NUMBER_TEXT),
        st.sampled_from(INT_EDGES),
        st.floats(allow_nan=False, allow_infinity=False),
        st.decimals(allow_nan=False, allow_infinity=False).map(str),
    )


def timestamps() -> st.SearchStrategy[str]:
    moments = st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(timezone.utc)
    ).map(lambda d: d.astimezone(timezone(timedelta(hours=-12))).isoformat())
    return st.one_of(st.sampled_from(TIMESTAMPS), moments)


def clock_moments() -> st.SearchStrategy[str]:
    return st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 31), timezones=st.just(timezone.utc)
    ).map(lambda d: d.isoformat())


def actions(ids: dict[str, Any]) -> st.SearchStrategy[tuple[str, str, Any]]:
    """One request: (method, path, body)."""
    wallet = ids["wallet"]["id"]
    sub = ids["subscription"]["id"]
    event = st.fixed_dictionaries(
        {"event_name": st.just("api_call"), "external_customer_id": st.just("acme")},
        optional={"properties": st.fixed_dictionaries({"tokens": numbers()}), "timestamp": timestamps()},
    )
    return st.one_of(
        event.map(lambda e: ("POST", "/v1/events", e)),
        st.lists(event, min_size=1, max_size=3).map(lambda es: ("POST", "/v1/events/bulk", {"events": es})),
        st.fixed_dictionaries(
            {"credits_to_add": numbers(), "transaction_reason": st.just("PURCHASED_CREDIT_DIRECT")},
            optional={
                "expiry_date_utc": timestamps(),
                "priority": st.sampled_from(INT_EDGES),
                "effective_date": timestamps(),
                "bonus_credits_to_add": numbers(),
                "bonus_credits_expiry_date_utc": timestamps(),
            },
        ).map(lambda b: ("POST", f"/v1/wallets/{wallet}/top-up", b)),
        st.fixed_dictionaries(
            {"customer_id": st.just(ids["customer"]["id"]), "currency": st.sampled_from(["eur", "gbp"])},
            optional={
                "initial_credits_to_load": numbers(),
                "initial_credits_expiry_date_utc": timestamps(),
                "initial_credits_to_load_expiry_date": st.sampled_from(INT_EDGES + [99991231, 10101]),
                "conversion_rate": numbers(),
            },
        ).map(lambda b: ("POST", "/v1/wallets", b)),
        st.fixed_dictionaries(
            {
                "alert_enabled": st.just(True),
                "critical": st.fixed_dictionaries({"threshold": numbers(), "condition": st.just("below")}),
            }
        ).map(lambda a: ("PUT", f"/v1/wallets/{wallet}", {"alert_settings": a})),
        st.fixed_dictionaries(
            {
                "filters": st.lists(
                    st.fixed_dictionaries(
                        {
                            "field": st.just("created_at"),
                            "operator": st.sampled_from(["gt", "lt", "eq"]),
                            "value": st.fixed_dictionaries({"date": timestamps()}),
                        }
                    ),
                    max_size=1,
                )
            }
        ).map(lambda b: ("POST", "/v1/customers/search", b)),
        st.fixed_dictionaries(
            {"credits": numbers(), "transaction_reason": st.just("MANUAL_BALANCE_DEBIT")},
            optional={"idempotency_key": st.text(max_size=5)},
        ).map(lambda b: ("POST", f"/v1/wallets/{wallet}/debit", b)),
        st.fixed_dictionaries(
            {
                "threshold": numbers(),
                "amount": numbers(),
                "invoicing": st.booleans(),
                "enabled": st.booleans(),
            }
        ).map(lambda a: ("PUT", f"/v1/wallets/{wallet}", {"auto_topup": a})),
        st.fixed_dictionaries(
            {"cancellation_type": st.just("scheduled_date"), "cancel_at": timestamps()}
        ).map(lambda b: ("POST", f"/v1/subscriptions/{sub}/cancel", b)),
        st.fixed_dictionaries({"start_time": timestamps(), "limit": st.sampled_from(INT_EDGES)}).map(
            lambda b: ("POST", "/v1/wallets/transactions/search", b)
        ),
        st.sampled_from(DURATIONS).map(lambda by: ("POST", "/_mock/clock/advance", {"by": by})),
        st.one_of(st.sampled_from(TIMESTAMPS), clock_moments()).map(
            lambda now: ("PUT", "/_mock/clock", {"now": now, "frozen": True})
        ),
    )


def still_answers(api: Api, ids: dict[str, Any]) -> None:
    """The world reads and moves on: a balance, a usage summary, the subscriptions, a day later."""
    replies = [
        api.get(f"/v1/wallets/{ids['wallet']['id']}/balance/real-time"),
        api.get(f"/v1/customers/usage?customer_id={ids['customer']['id']}"),
        api.get("/v1/customers/external/acme/subscriptions"),
        api.post("/_mock/clock/advance", {"by": "P1D"}),
        api.get(f"/v1/wallets/{ids['wallet']['id']}/balance/real-time"),
    ]
    assert [r.status for r in replies] == [200] * len(replies), [r.json for r in replies]


def not_failed(reply: Reply, sent: tuple[str, str, Any]) -> None:
    assert reply.status < 500, (sent, reply.json)


@SETTINGS
@given(data=st.data())
def test_edge_values_never_fail_and_the_world_keeps_answering(api: Api, data):
    world = api.as_key(new_key())
    ids = setup(world, {"type": "SUM", "field": "tokens"})
    for sent in data.draw(st.lists(actions(ids), min_size=1, max_size=4), label="requests"):
        method, path, body = sent
        not_failed(world.request(method, path, json_body=body), sent)
    still_answers(world, ids)


@SETTINGS
@given(
    aggregation=st.sampled_from(["SUM", "MAX", "LATEST", "AVG", "SUM_WITH_MULTIPLIER"]),
    multiplier=st.sampled_from(["0.000000001", "1", "99999999999.999999999"]),
    price=st.sampled_from(
        [
            {"billing_model": "FLAT_FEE", "amount": "99999999999.999999999"},
            {"billing_model": "PACKAGE", "amount": "99999999999", "transform_quantity": {"divide_by": 1}},
            {
                "billing_model": "TIERED",
                "amount": "0",
                "tier_mode": "SLAB",
                "tiers": [
                    {"up_to": 1, "unit_amount": "99999999999", "flat_amount": "99999999999"},
                    {"up_to": 2**64 - 1, "unit_amount": "0.000000001"},
                    {"unit_amount": "99999999999.999999999"},
                ],
            },
        ]
    ),
    values=st.lists(numbers(), min_size=1, max_size=5),
)
def test_the_largest_quantities_at_the_largest_prices_stay_computable(
    api: Api, aggregation, multiplier, price, values
):
    """Every event the meter takes, at the most a price may charge: the balance, the summary and the
    period's close still compute."""
    world = api.as_key(new_key())
    meter: dict[str, Any] = {"type": aggregation, "field": "tokens"}
    if aggregation == "SUM_WITH_MULTIPLIER":
        meter["multiplier"] = multiplier
    ids = setup(world, meter, price=price)
    events = [
        {"event_name": "api_call", "external_customer_id": "acme", "properties": {"tokens": v}}
        for v in values
    ]
    not_failed(world.post("/v1/events/bulk", {"events": events}), ("POST", "/v1/events/bulk", events))
    for value in values:
        event = {"event_name": "api_call", "external_customer_id": "acme", "properties": {"tokens": value}}
        not_failed(world.post("/v1/events", event), ("POST", "/v1/events", event))
    still_answers(world, ids)
    assert world.post("/_mock/clock/advance", {"by": "P1M"}).status == 200
    still_answers(world, ids)
