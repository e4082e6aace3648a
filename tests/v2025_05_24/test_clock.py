"""Each world's clock: read, set, freeze, advance; moving it expires credits like the cloud."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from .conftest import make_customer, make_wallet, new_key

JAN_1 = "2027-01-01T00:00:00Z"


def freeze(api, now: str = JAN_1) -> None:
    reply = api.put("/_mock/clock", {"now": now, "frozen": True})
    assert reply.status == 200, reply.json


def test_a_new_world_runs_on_real_time(api):
    reply = api.get("/_mock/clock")
    assert reply.status == 200 and reply.json["frozen"] is False
    shown = datetime.fromisoformat(reply.json["now"].replace("Z", "+00:00"))
    assert abs(shown - datetime.now(timezone.utc)) < timedelta(minutes=1)


def test_a_frozen_clock_stamps_everything_the_world_creates(api):
    freeze(api)
    assert api.get("/_mock/clock").json == {"now": "2027-01-01T00:00:00.000000Z", "frozen": True}
    customer = make_customer(api)
    wallet = make_wallet(api, customer["id"], initial_credits_to_load=10)
    assert customer["created_at"] == wallet["created_at"] == "2027-01-01T00:00:00.000000Z"
    txn = api.get(f"/v1/wallets/{wallet['id']}/transactions").json["items"][0]
    assert txn["created_at"] == "2027-01-01T00:00:00.000000Z"


@pytest.mark.parametrize(
    "by, expected",
    [
        ("P30D", "2027-01-31T00:00:00.000000Z"),
        ("PT1H30M", "2027-01-01T01:30:00.000000Z"),
        (3600, "2027-01-01T01:00:00.000000Z"),
        (Decimal("0.25"), "2027-01-01T00:00:00.250000Z"),
        ("P1M", "2027-02-01T00:00:00.000000Z"),
        ("P1Y2M", "2028-03-01T00:00:00.000000Z"),
    ],
)
def test_advance_takes_seconds_or_iso_8601_durations(api, by, expected):
    freeze(api)
    reply = api.post("/_mock/clock/advance", {"by": by})
    assert reply.status == 200
    assert reply.json == {"now": expected, "frozen": True, "expired": []}
    assert api.get("/_mock/clock").json["now"] == expected


def test_calendar_months_end_on_the_last_day(api):
    freeze(api, "2027-01-31T12:00:00Z")
    assert api.post("/_mock/clock/advance", {"by": "P1M"}).json["now"] == "2027-02-28T12:00:00.000000Z"


def test_a_running_clock_keeps_running_after_a_move(api):
    api.put("/_mock/clock", {"now": "2030-06-01T00:00:00Z"})
    reply = api.get("/_mock/clock").json
    assert reply["frozen"] is False and reply["now"].startswith("2030-06-01T00:0")
    moved = api.post("/_mock/clock/advance", {"by": "P1D"}).json
    assert moved["frozen"] is False and moved["now"].startswith("2030-06-02T00:0")


def test_freeze_and_unfreeze_keep_the_time(api):
    freeze(api)
    assert api.put("/_mock/clock", {"frozen": False}).json["now"].startswith("2027-01-01T00:00")
    assert api.put("/_mock/clock", {"frozen": True}).json["frozen"] is True


def test_deleting_the_clock_returns_to_real_time(api):
    freeze(api)
    reply = api.delete("/_mock/clock")
    assert reply.status == 200 and reply.json["frozen"] is False
    assert reply.json["now"][:4] == str(datetime.now(timezone.utc).year)


def test_each_world_has_its_own_clock(api):
    other = api.as_key(new_key())
    freeze(api)
    freeze(other, "2031-05-05T00:00:00Z")
    api.post("/_mock/clock/advance", {"by": "P10D"})
    assert api.get("/_mock/clock").json["now"] == "2027-01-11T00:00:00.000000Z"
    assert other.get("/_mock/clock").json["now"] == "2031-05-05T00:00:00.000000Z"


def test_moving_past_expiry_writes_credit_expired_debits_and_lowers_balances(api):
    freeze(api)
    customer = make_customer(api)
    wallet = make_wallet(
        api, customer["id"], initial_credits_to_load=100, initial_credits_to_load_expiry_date=20270115
    )
    wallet_id = wallet["id"]
    for credits, expiry, key in ((50, None, "forever"), (30, "2027-01-10T00:00:00Z", "short")):
        body = {
            "credits_to_add": credits,
            "transaction_reason": "PURCHASED_CREDIT_DIRECT",
            "idempotency_key": key,
        }
        if expiry:
            body["expiry_date_utc"] = expiry
        assert api.post(f"/v1/wallets/{wallet_id}/top-up", body).status == 200

    first = api.post("/_mock/clock/advance", {"by": "P10D"}).json  # 2027-01-11
    assert [
        (
            t["transaction_reason"],
            t["type"],
            t["credit_amount"],
            t["credit_balance_before"],
            t["credit_balance_after"],
        )
        for t in first["expired"]
    ] == [("CREDIT_EXPIRED", "debit", 30, 180, 150)]
    assert first["expired"][0]["created_at"] == "2027-01-11T00:00:00.000000Z"
    assert api.get(f"/v1/wallets/{wallet_id}").json["balance"] == 150

    second = api.put("/_mock/clock", {"now": "2027-02-01T00:00:00Z"}).json
    assert [t["credit_amount"] for t in second["expired"]] == [100]
    assert api.get(f"/v1/wallets/{wallet_id}").json["credit_balance"] == 50

    history = api.get(f"/v1/wallets/{wallet_id}/transactions?order=asc").json["items"]
    assert [(t["type"], t.get("transaction_reason"), t["credit_amount"]) for t in history] == [
        ("credit", "FREE_CREDIT_GRANT", 100),
        ("credit", "PURCHASED_CREDIT_DIRECT", 50),
        ("credit", "PURCHASED_CREDIT_DIRECT", 30),
        ("debit", "CREDIT_EXPIRED", 30),
        ("debit", "CREDIT_EXPIRED", 100),
    ]
    assert [t["credits_available"] for t in history[:3]] == [0, 50, 0]
    # Nothing more is due: another move expires nothing.
    assert api.post("/_mock/clock/advance", {"by": "P365D"}).json["expired"] == []


def test_the_sweep_covers_every_wallet_without_touching_them(api):
    freeze(api)
    ids = []
    for n in range(3):
        customer = make_customer(api, f"c-{n}")
        ids.append(
            make_wallet(
                api,
                customer["id"],
                initial_credits_to_load=n + 1,
                initial_credits_to_load_expiry_date=20270102,
            )["id"]
        )
    moved = api.post("/_mock/clock/advance", {"by": "P2D"}).json
    assert sorted(t["wallet_id"] for t in moved["expired"]) == sorted(ids)
    state = api.get("/_mock/state").json
    assert [Decimal(w["credit_balance"]) for w in state["wallets"]] == [0, 0, 0]


@pytest.mark.parametrize(
    "path, method, body, message",
    [
        (
            "/_mock/clock/advance",
            "POST",
            {"by": "30 days"},
            "by must be seconds (a number) or an ISO 8601 duration such as P30D",
        ),
        (
            "/_mock/clock/advance",
            "POST",
            {"by": True},
            "by must be seconds (a number) or an ISO 8601 duration such as P30D",
        ),
        (
            "/_mock/clock/advance",
            "POST",
            {"by": "-P1D"},
            "by must not be negative (set the clock with PUT /_mock/clock instead)",
        ),
        (
            "/_mock/clock/advance",
            "POST",
            {"by": -5},
            "by must not be negative (set the clock with PUT /_mock/clock instead)",
        ),
        ("/_mock/clock/advance", "POST", {}, "by is required: seconds or an ISO 8601 duration such as P30D"),
        ("/_mock/clock/advance", "POST", {"by": "P1D", "at": 1}, "at is not a field here (expected: by)"),
        (
            "/_mock/clock",
            "PUT",
            {"now": "next tuesday"},
            "now must be an RFC 3339 timestamp such as 2027-01-01T00:00:00Z",
        ),
        ("/_mock/clock", "PUT", {"now": JAN_1, "frozen": "yes"}, "frozen must be true or false"),
        ("/_mock/clock", "PUT", {}, "Give now (an RFC 3339 timestamp), frozen (true or false), or both"),
        ("/_mock/clock", "PUT", [JAN_1], "The request body must be a JSON object"),
    ],
)
def test_a_bad_clock_request_is_refused_and_moves_nothing(api, path, method, body, message):
    freeze(api)
    reply = api.request(method, path, json_body=body)
    assert reply.status == 400
    assert reply.error["message"] == message
    assert api.get("/_mock/clock").json == {"now": "2027-01-01T00:00:00.000000Z", "frozen": True}
