"""The bad-input catalogue of version 2026-08-22: what a client can get wrong, the exact answer in
this version's error body, and proof that a refused request changed nothing.

Each refused request is followed by a look at the world (customers, the wallet, its ledger): it
must be exactly what it was before.
"""

from __future__ import annotations

import json
from decimal import Decimal
from urllib.parse import quote

import pytest

from mockserver.http.validation import MAX_DEPTH

from .conftest import Api, Reply, advance, create_app, make_customer, make_wallet, new_key
from .test_usage import setup

TOP_UP = {"credits_to_add": "10", "transaction_reason": "PURCHASED_CREDIT_DIRECT"}


@pytest.fixture
def seeded(api):
    """A world with one customer and one wallet holding 5 credits."""
    customer = make_customer(api, "acme-1")
    wallet = make_wallet(api, customer["id"], initial_credits_to_load="5")
    return api, customer, wallet


def snapshot(api: Api, wallet_id: str) -> tuple:
    """Everything a refused request could have touched, as the API shows it."""
    customers = api.get("/v1/customers?limit=1000")
    wallet = api.get(f"/v1/wallets/{wallet_id}")
    ledger = api.get(f"/v1/wallets/{wallet_id}/transactions?limit=1000")
    assert (customers.status, wallet.status, ledger.status) == (200, 200, 200)
    return customers.json, wallet.json, ledger.json


def send_raw(
    api: Api, method: str, path: str, raw: bytes | str, content_type: str = "application/json"
) -> Reply:
    return api.request(method, path, data=raw, headers={"Content-Type": content_type})


def assert_refused(
    reply: Reply, status: int, message: str, problem: str | None = None, code: str = "validation_error"
) -> None:
    body = reply.json
    assert reply.status == status, body
    assert (body["code"], body["message"], body["http_status_code"]) == (code, message, status)
    if problem is not None:
        assert body["details"]["errors"][0]["problem"] == problem


# ---- the body as a whole --------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, problem",
    [
        (b"", "is empty"),
        (b'{"credits_to_add": "10",', None),
        (b"{'credits_to_add': '10'}", None),
        (b"\xff\xfe{}", None),
        ('{"credits_to_add": NaN}', "is not valid JSON (NaN is not a valid JSON number)"),
        ('{"credits_to_add": Infinity}', "is not valid JSON (Infinity is not a valid JSON number)"),
        ('{"credits_to_add": 1' + "0" * 5000 + "}", None),
    ],
)
def test_a_body_that_is_not_json_is_refused_and_changes_nothing(seeded, raw, problem):
    api, _, wallet = seeded
    before = snapshot(api, wallet["id"])
    reply = send_raw(api, "POST", f"/v1/wallets/{wallet['id']}/top-up", raw)
    assert_refused(reply, 400, "Invalid request format", problem)
    assert reply.json["details"]["errors"][0]["in"] == "body"
    assert snapshot(api, wallet["id"]) == before


@pytest.mark.parametrize(
    "raw, found", [("[]", "an array"), ('"top-up"', "a string"), ("42", "an integer"), ("null", "null")]
)
def test_json_that_is_not_an_object_is_refused(seeded, raw, found):
    api, _, wallet = seeded
    before = snapshot(api, wallet["id"])
    reply = send_raw(api, "POST", f"/v1/wallets/{wallet['id']}/top-up", raw)
    assert_refused(reply, 400, f"request body must be an object, not {found}")
    assert snapshot(api, wallet["id"]) == before


@pytest.mark.parametrize("depth", [MAX_DEPTH, 100_000])
def test_deeply_nested_json_is_refused(seeded, depth):
    api, _, wallet = seeded
    before = snapshot(api, wallet["id"])
    nested = "[" * depth + "]" * depth
    raw = f'{{"credits_to_add": "1", "transaction_reason": "FREE_CREDIT_GRANT", "extra": {nested}}}'
    reply = send_raw(api, "POST", f"/v1/wallets/{wallet['id']}/top-up", raw)
    assert_refused(reply, 400, "Invalid request format")
    assert snapshot(api, wallet["id"]) == before


# ---- fields -----------------------------------------------------------------------------------

DECIMAL = 'must be a decimal: a string such as "10.5" or a number'


@pytest.mark.parametrize(
    "body, message, field",
    [
        ({"customer_id": "cust_1", "currency": 840}, "currency must be a string, not an integer", "currency"),
        (
            {"customer_id": ["cust_1"], "currency": "usd"},
            "customer_id must be a string, not an array",
            "customer_id",
        ),
        (
            {"customer_id": "cust_1", "currency": "usd", "conversion_rate": "two"},
            f"conversion_rate {DECIMAL}, not 'two'",
            "conversion_rate",
        ),
        (
            {"customer_id": "cust_1", "currency": "usd", "conversion_rate": ""},
            f"conversion_rate {DECIMAL}, not ''",
            "conversion_rate",
        ),
        (
            {"customer_id": "cust_1", "currency": "usd", "initial_credits_to_load": True},
            f"initial_credits_to_load {DECIMAL}, not a boolean",
            "initial_credits_to_load",
        ),
        (
            {"customer_id": "cust_1", "currency": "usd", "topup_conversion_rate": None},
            f"topup_conversion_rate {DECIMAL}, not null",
            "topup_conversion_rate",
        ),
        (
            {"customer_id": "cust_1", "currency": "usd", "metadata": {"tier": 3}},
            "metadata.tier must be a string, not an integer",
            "metadata.tier",
        ),
        ({"customer_id": "cust_1"}, "currency is required", "currency"),
        (
            {"customer_id": "cust_1", "currency": "usd", "wallet_type": "PROMOTIONAL"},
            "wallet_type must be one of: PRE_PAID, POST_PAID",
            "wallet_type",
        ),
        (
            {"customer_id": "cust_1", "currency": "usd", "auto_topup": {"threshold": "x"}},
            f"auto_topup.threshold {DECIMAL}, not 'x'",
            "auto_topup.threshold",
        ),
    ],
)
def test_wrong_types_and_nulls_name_the_field(seeded, body, message, field):
    api, customer, wallet = seeded
    before = snapshot(api, wallet["id"])
    reply = api.post("/v1/wallets", body)
    assert_refused(reply, 400, message)
    assert reply.json["details"]["errors"][0]["field"] == field
    assert snapshot(api, wallet["id"]) == before
    assert api.get(f"/v1/customers/{customer['id']}/wallets").json == [wallet]


def test_decimals_are_read_from_strings_and_numbers_alike(api):
    as_string = make_wallet(api, "cust_s", initial_credits_to_load="12.50", conversion_rate="0.5")
    as_number = make_wallet(api, "cust_n", initial_credits_to_load=12.5, conversion_rate=0.5)
    for wallet in (as_string, as_number):
        assert (wallet["credit_balance"], wallet["balance"], wallet["conversion_rate"]) == (
            "12.5",
            "6.25",
            "0.5",
        )


def test_unknown_fields_are_ignored_as_the_cloud_ignores_them(api):
    reply = api.post(
        "/v1/customers",
        {
            "external_id": "acme-9",
            "name": "Acme",
            "favourite_colour": "blue",
            "id": "cust_mine",
            "status": "deleted",
        },
    )
    assert reply.status == 201, reply.json
    assert "favourite_colour" not in reply.json
    assert reply.json["id"] != "cust_mine" and reply.json["id"].startswith("cust_")
    assert reply.json["status"] == "published"
    assert api.get(f"/v1/customers/{reply.json['id']}").json == reply.json


# ---- numbers --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "credits, message, details",
    [
        ('"0"', "Credits to add must be a positive value", {"credits_to_add": "0"}),
        ('"-5"', "Credits to add must be a positive value", {"credits_to_add": "-5"}),
        ("-0.000000001", "Credits to add must be a positive value", {"credits_to_add": "-0.000000001"}),
        ('"0.0000000004"', "Credits to add must be a positive value", {"credits_to_add": "0.0000000004"}),
        ('"1e400"', "credits_to_add must be at most 99999999999.999999999 in absolute value", None),
        ('"100000000000"', "credits_to_add must be at most 99999999999.999999999 in absolute value", None),
        (
            '"1E+1000000"',
            "credits_to_add must be at most 99999999999.999999999 in absolute value",
            {"credits_to_add": "1E+1000000"},
        ),  # never an overflow, never a million digits back
        (
            "-1e999999",
            "credits_to_add must be at most 99999999999.999999999 in absolute value",
            {"credits_to_add": "-1E+999999"},
        ),
    ],
)
def test_zero_negative_tiny_and_huge_amounts_are_refused(seeded, credits, message, details):
    api, _, wallet = seeded
    before = snapshot(api, wallet["id"])
    raw = f'{{"credits_to_add": {credits}, "transaction_reason": "FREE_CREDIT_GRANT"}}'
    reply = send_raw(api, "POST", f"/v1/wallets/{wallet['id']}/top-up", raw)
    assert_refused(reply, 400, message)
    if details is not None:
        assert reply.json["details"] == details
    assert snapshot(api, wallet["id"]) == before


@pytest.mark.parametrize(
    "credits, kept",
    [
        ('"0.0000000015"', "0.000000002"),  # half away from zero, like numeric(20,9)
        ("0.0000000025", "0.000000003"),
        ('"2.123456789"', "2.123456789"),
        ('"99999999999.999999999"', "99999999999.999999999"),
    ],
)
def test_precision_beyond_nine_places_is_rounded_like_the_ledger_column(api, credits, kept):
    wallet = make_wallet(api, "cust_1")
    raw = f'{{"credits_to_add": {credits}, "transaction_reason": "FREE_CREDIT_GRANT"}}'
    reply = send_raw(api, "POST", f"/v1/wallets/{wallet['id']}/top-up", raw)
    assert reply.status == 200, reply.json
    assert reply.json["wallet"]["credit_balance"] == kept
    assert Decimal(reply.json["wallet_transaction"]["credit_amount"]) == Decimal(kept)
    assert api.get(f"/v1/wallets/{wallet['id']}").json["credit_balance"] == kept


@pytest.mark.parametrize("limit", ["1%0A", "%205", "+5", "٣", "5.0", "1e2", ""])
def test_an_integer_parameter_takes_ascii_digits_only(api, limit):
    reply = api.get(f"/v1/customers?limit={limit}")
    assert_refused(reply, 400, "query parameter limit must be an integer")


# ---- strings --------------------------------------------------------------------------------------


def test_over_long_bounded_strings_are_refused(api):
    reply = api.post("/v1/customers", {"external_id": "acme-1", "name": "Acme", "address_line1": "x" * 256})
    assert_refused(reply, 400, "address_line1 must be at most 255 characters long")
    assert api.get("/v1/customers").json["pagination"]["total"] == 0


def test_unicode_and_control_characters_round_trip_exactly(api):
    name = "Ünïcødé 🚀 名前 \u0000\u0007\t\n\u202e\ufeff end"
    created = make_customer(api, "ключ-🔑", name=name, metadata={"ключ": "значение\u0001"})
    assert created["name"] == name and created["external_id"] == "ключ-🔑"
    assert api.get(f"/v1/customers/external/{quote('ключ-🔑')}").json == created
    assert api.get(f"/v1/customers/{created['id']}").json["metadata"] == {"ключ": "значение\u0001"}


def test_a_lone_surrogate_escape_is_refused(api):
    reply = send_raw(api, "POST", "/v1/customers", '{"external_id": "acme-1", "name": "\\ud800"}')
    assert_refused(reply, 400, "Invalid request format")
    assert "lone UTF-16 surrogate" in reply.json["details"]["errors"][0]["problem"]
    assert api.get("/v1/customers").json["pagination"]["total"] == 0


# ---- size and content type --------------------------------------------------------------------------


def test_a_body_over_the_size_limit_gets_413_and_changes_nothing(seeded):
    api, _, wallet = seeded
    before = snapshot(api, wallet["id"])
    raw = json.dumps({**TOP_UP, "description": "x" * (1024 * 1024)})
    reply = send_raw(api, "POST", f"/v1/wallets/{wallet['id']}/top-up", raw)
    assert_refused(reply, 413, "Request body too large", code="validation_error")
    assert reply.json["details"] == {"max_body_bytes": 1024 * 1024}
    assert snapshot(api, wallet["id"]) == before


def test_the_size_limit_is_configurable():
    client = create_app(validate_responses=True, log_requests=False, max_body_bytes=200).test_client()

    def send(method, path, data, headers):
        response = client.open(path, method=method, data=data, headers=headers)
        return Reply(response.status_code, response.headers, response.get_data())

    api = Api(send, new_key())
    assert api.post("/v1/customers", {"external_id": "a", "name": "Acme"}).status == 201
    reply = api.post("/v1/customers", {"external_id": "b", "name": "x" * 300})
    assert_refused(reply, 413, "Request body too large", code="validation_error")
    assert api.get("/v1/customers").json["pagination"]["total"] == 1


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_a_declared_non_json_content_type_gets_415(seeded, content_type):
    api, _, wallet = seeded
    before = snapshot(api, wallet["id"])
    reply = send_raw(api, "POST", f"/v1/wallets/{wallet['id']}/top-up", json.dumps(TOP_UP), content_type)
    assert_refused(
        reply,
        415,
        f"Content-Type must be application/json, not {content_type}",
        f"must be application/json, not {content_type}",
        code="validation_error",
    )
    assert snapshot(api, wallet["id"]) == before


def test_a_missing_content_type_is_read_as_json(http):
    reply = http.request(
        "POST",
        "/v1/customers",
        data=b'{"external_id": "curl", "name": "Acme"}',
        headers={"Content-Type": None},
    )
    assert reply.status == 201, reply.json
    assert http.get("/v1/customers/external/curl").json["id"] == reply.json["id"]


# ---- routes and ids --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method, path, status, message, code",
    [
        ("GET", "/v1/nope", 404, "Route not found", "not_found"),
        ("GET", "/v1/wallets/a%2Fb", 404, "Route not found", "not_found"),
        ("GET", "/v1//customers", 404, "Route not found", "not_found"),
        ("PATCH", "/v1/wallets/wallet_1", 405, "Method not allowed", "validation_error"),
    ],
)
def test_unknown_paths_and_methods_answer_in_the_error_body(api, method, path, status, message, code):
    reply = api.request(method, path)
    assert_refused(reply, status, message, code=code)
    if status == 405:
        assert reply.headers["Allow"]


@pytest.mark.parametrize("wallet_id", ["🚀", "wallet_" + "x" * 5000, "%00", "..", "wallet 1", "' OR 1=1 --"])
def test_odd_ids_are_just_not_found(seeded, wallet_id):
    api, _, wallet = seeded
    before = snapshot(api, wallet["id"])
    path_id = quote(wallet_id, safe="")
    for method, suffix in [("GET", ""), ("GET", "/balance/real-time"), ("POST", "/terminate")]:
        reply = api.request(method, f"/v1/wallets/{path_id}{suffix}")
        assert_refused(reply, 404, "Wallet not found", code="not_found")
        assert reply.json["details"] == {"wallet_id": wallet_id}
    # As in the cloud, an unknown wallet simply has no transactions.
    assert api.get(f"/v1/wallets/{path_id}/transactions").json["items"] == []
    reply = api.get(f"/v1/customers/{path_id}")
    assert reply.status == 404 and reply.json["details"] == {"customer_id": wallet_id}
    assert api.get(f"/v1/customers/external/{path_id}").status == 404
    assert snapshot(api, wallet["id"]) == before


# ---- usage values: in range or refused ------------------------------------------------------------

CALL = {"event_name": "api_call", "external_customer_id": "acme"}


@pytest.fixture
def metered(api):
    """A usage set-up (a SUM meter on ``tokens``, a usage price of 0.5, a subscription, a prepaid
    wallet) with one event of 4 tokens counted."""
    ids = setup(api, {"type": "SUM", "field": "tokens"})
    assert api.post("/v1/events", {**CALL, "properties": {"tokens": 4}}).status == 202
    return api, ids


def usage_snapshot(api: Api, ids: dict) -> tuple:
    """What a refused usage request could have touched: the usage summary, the real-time balance,
    the subscriptions, the features and the invoices."""
    replies = (
        api.get(f"/v1/customers/usage?customer_id={ids['customer']['id']}"),
        api.get(f"/v1/wallets/{ids['wallet']['id']}/balance/real-time"),
        api.post("/v1/subscriptions/search", {}),
        api.get("/_mock/invoices"),
    )
    assert [r.status for r in replies] == [200] * 4, [r.json for r in replies]
    return tuple(r.json for r in replies)


@pytest.mark.parametrize(
    "timestamp",
    [
        "",
        "2026-09-01",
        "2026-09-01T12:00:00",  # no offset
        "2026-09-01 12:00:00Z",
        "2026-09-01t12:00:00z",
        "2026-09-01T12:00Z",
        "2026-W36-2T12:00:00Z",
        "2026-09-01T12:00:00+0100",
        "2026-09-31T12:00:00Z",
        "2026-09-01T12:00:00+24:00",
        "0001-01-01T00:00:00+01:00",  # year 0 in UTC
        "9999-12-31T23:59:59-00:01",  # year 10000 in UTC
        "0000-01-01T00:00:00Z",
        "２０２６-09-01T12:00:00Z",
    ],
)
def test_an_event_timestamp_is_rfc_3339_within_the_years_1_to_9999_or_refused(metered, timestamp):
    api, ids = metered
    before = usage_snapshot(api, ids)
    for path, body, field in (
        ("/v1/events", {**CALL, "properties": {"tokens": 1}, "timestamp": timestamp}, "timestamp"),
        ("/v1/events/bulk", {"events": [CALL, {**CALL, "timestamp": timestamp}]}, "events[1].timestamp"),
    ):
        reply = api.post(path, body)
        assert_refused(reply, 400, "Invalid request payload")
        assert reply.json["details"]["field"] == field
    assert usage_snapshot(api, ids) == before


def test_an_event_timestamp_with_an_offset_fraction_or_null_is_read(metered):
    api, ids = metered
    for timestamp in ("2026-09-01T13:30:00.123456789+01:30", "2026-09-01T12:00:00.5Z"):
        assert (
            api.post("/v1/events", {**CALL, "properties": {"tokens": 1}, "timestamp": timestamp}).status
            == 202
        )
    assert Decimal(usage_snapshot(api, ids)[0]["features"][0]["current_usage"]) == 6


@pytest.mark.parametrize(
    "raw, message, problem",
    [
        ("1e30", "The quantity of meter 'API calls' must be at most 9999999999.99999999 per event", None),
        ('"1e30"', "The quantity of meter 'API calls' must be at most 9999999999.99999999 per event", None),
        (
            '"9e999999"',
            "The quantity of meter 'API calls' must be at most 9999999999.99999999 per event",
            None,
        ),
        (
            "10000000000",
            "The quantity of meter 'API calls' must be at most 9999999999.99999999 per event",
            None,
        ),
        ("1e400", "Invalid request payload", "is a number beyond float64's range"),
        ("-1e400", "Invalid request payload", "is a number beyond float64's range"),
        ("1" + "0" * 400, "Invalid request payload", "is a number beyond float64's range"),
    ],
)
def test_an_event_quantity_beyond_upstreams_column_or_float64_is_refused(metered, raw, message, problem):
    """Upstream keeps a meter's quantity per event in a Decimal(18, 8) column and reads JSON numbers
    as float64: a value either cannot hold is refused, and the world keeps answering."""
    api, ids = metered
    before = usage_snapshot(api, ids)
    single = send_raw(
        api,
        "POST",
        "/v1/events",
        '{"event_name": "api_call", "external_customer_id": "acme", "properties": {"tokens": ' + raw + "}}",
    )
    assert_refused(single, 400, message)
    assert single.json["details"]["field"] == "properties.tokens"
    if problem:
        assert single.json["details"]["problem"] == problem
    bulk = send_raw(
        api,
        "POST",
        "/v1/events/bulk",
        '{"events": [{"event_name": "api_call", '
        '"external_customer_id": "acme"}, {"event_name": "api_call", "external_customer_id": '
        '"acme", "properties": {"tokens": ' + raw + "}}]}",
    )
    assert_refused(bulk, 400, message)
    assert bulk.json["details"]["field"] == "events[1].properties.tokens"
    assert usage_snapshot(api, ids) == before
    advance(api, "P40D")  # the period closes as before
    after = usage_snapshot(api, ids)
    assert Decimal(after[0]["features"][0]["current_usage"]) == 0


def test_the_largest_quantity_and_the_tiniest_are_counted_and_the_world_still_closes_its_period(metered):
    api, ids = metered
    for tokens in ("9999999999.99999999", "1e-999999", "-5", "NaN", "Infinity", 9999999999):
        reply = api.post("/v1/events", {**CALL, "properties": {"tokens": tokens}})
        assert reply.status == 202, reply.json
    usage = usage_snapshot(api, ids)[0]["features"][0]["current_usage"]
    assert Decimal(usage) == Decimal("19999999998.99999999") + 4
    advance(api, "P40D")
    assert Decimal(usage_snapshot(api, ids)[0]["features"][0]["current_usage"]) == 0


def test_a_quantity_of_a_meter_made_after_its_event_is_held_to_the_columns_range(api):
    """An event dated ahead is counted when its period begins: by then a meter may count it that
    did not exist when it came in; its quantity is kept within the column's range."""
    ids = setup(api, {"type": "SUM", "field": "tokens"})
    reply = api.post(
        "/v1/events", {**CALL, "properties": {"big": "1e30"}, "timestamp": "2026-10-05T00:00:00Z"}
    )
    assert reply.status == 202
    meter = {
        "name": "Big",
        "event_name": "api_call",
        "aggregation": {"type": "SUM", "field": "big"},
        "reset_usage": "BILLING_PERIOD",
    }
    assert api.post("/v1/features", {"name": "Big", "type": "metered", "meter": meter}).status == 201
    advance(api, "P40D")
    assert usage_snapshot(api, ids)[0]["features"]


def subscribe_body(ids: dict, **changes) -> dict:
    return {
        "customer_id": ids["customer"]["id"],
        "plan_id": ids["plan"]["id"],
        "currency": "usd",
        "billing_period": "MONTHLY",
        **changes,
    }


@pytest.mark.parametrize(
    "changes, details",
    [
        (
            {"plan_id": ""},
            {
                "PlanID": "Key: 'CreateSubscriptionRequest.PlanID' Error:Field validation for "
                "'PlanID' failed on the 'required' tag"
            },
        ),
        (
            {"currency": ""},
            {
                "Currency": "Key: 'CreateSubscriptionRequest.Currency' Error:Field validation for "
                "'Currency' failed on the 'required' tag"
            },
        ),
        (
            {"currency": "us", "customer_id": "cust_missing"},
            {
                "Currency": "Key: 'CreateSubscriptionRequest.Currency' Error:Field validation for "
                "'Currency' failed on the 'len' tag"
            },
        ),
    ],
)
def test_a_subscription_is_validated_before_its_plan_or_customer_is_looked_up(metered, changes, details):
    api, ids = metered
    before = usage_snapshot(api, ids)
    reply = api.post("/v1/subscriptions", subscribe_body(ids, **changes))
    assert_refused(reply, 400, "Request validation failed")
    assert reply.json["details"] == details
    assert usage_snapshot(api, ids) == before


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"start_date": "0001-01-01T00:00:00+01:00"}, "start_date"),
        ({"end_date": "9999-12-31T23:59:59-01:00"}, "end_date"),
        ({"billing_anchor": "0001-01-01T00:30:00+01:00"}, "billing_anchor"),
        ({"start_date": "9999-12-15T00:00:00Z"}, "start_date"),
        ({"billing_period_count": 10**12}, "billing_period_count"),
        ({"billing_period_count": 2**63}, "billing_period_count"),
        ({"billing_period": "ANNUAL", "billing_period_count": 8000}, "billing_period_count"),
    ],
)
def test_subscription_dates_and_counts_out_of_range_are_refused(metered, changes, field):
    api, ids = metered
    before = usage_snapshot(api, ids)
    reply = api.post("/v1/subscriptions", subscribe_body(ids, **changes))
    assert reply.status == 400, reply.json
    assert reply.json["code"] == "validation_error"
    assert field in json.dumps(reply.json["details"])
    assert usage_snapshot(api, ids) == before


@pytest.mark.parametrize("cancel_at", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:00:00-05:00", "soon"])
def test_a_cancel_date_out_of_range_is_refused(metered, cancel_at):
    api, ids = metered
    before = usage_snapshot(api, ids)
    body = {"cancellation_type": "scheduled_date", "cancel_at": cancel_at}
    reply = api.post(f"/v1/subscriptions/{ids['subscription']['id']}/cancel", body)
    assert_refused(reply, 400, "cancel_at must be an RFC 3339 timestamp such as 2027-01-01T00:00:00Z")
    assert usage_snapshot(api, ids) == before


@pytest.mark.parametrize(
    "path, body, message",
    [
        (
            "/v1/subscriptions/search",
            {"active_at": "0001-01-01T00:00:00+01:00"},
            "active_at must be an RFC 3339 timestamp such as 2027-01-01T00:00:00Z",
        ),
        ("/v1/customers/search", {"start_time": "0001-01-01T00:00:00+01:00"}, "Invalid filter parameters"),
        (
            "/v1/customers/search",
            {
                "filters": [
                    {"field": "created_at", "operator": "gt", "value": {"date": "9999-12-31T23:00:00-05:00"}}
                ]
            },
            "Invalid filter parameters",
        ),
        (
            "/v1/wallets/transactions/search",
            {"start_time": "9999-12-31T23:00:00-05:00"},
            "start_time must be an RFC 3339 timestamp such as 2027-01-01T00:00:00Z",
        ),
    ],
)
def test_search_dates_out_of_range_are_refused(metered, path, body, message):
    api, _ = metered
    assert_refused(api.post(path, body), 400, message)


@pytest.mark.parametrize("name", ["expiry_date_utc", "bonus_credits_expiry_date_utc", "effective_date"])
def test_top_up_dates_out_of_range_are_refused(seeded, name):
    api, _, wallet = seeded
    before = snapshot(api, wallet["id"])
    reply = api.post(f"/v1/wallets/{wallet['id']}/top-up", {**TOP_UP, name: "9999-12-31T23:00:00-05:00"})
    assert_refused(reply, 400, f"{name} must be an RFC 3339 timestamp such as 2027-01-01T00:00:00Z")
    assert snapshot(api, wallet["id"]) == before


def price_body(ids: dict, **changes) -> dict:
    return {
        "entity_type": "PLAN",
        "entity_id": ids["plan"]["id"],
        "currency": "usd",
        "type": "USAGE",
        "billing_model": "TIERED",
        "billing_period": "MONTHLY",
        "billing_period_count": 1,
        "invoice_cadence": "ARREAR",
        "price_unit_type": "FIAT",
        "meter_id": ids["feature"]["meter_id"],
        "tiers": [{"up_to": 10, "unit_amount": "1"}, {"unit_amount": "0.5"}],
        **changes,
    }


@pytest.mark.parametrize(
    "changes, message, details",
    [
        (
            {"currency": "usdx"},
            "Request validation failed",
            {
                "Currency": "Key: 'CreatePriceRequest.Currency' Error:Field validation for 'Currency' "
                "failed on the 'len' tag"
            },
        ),
        (
            {"tiers": [{"up_to": 10, "unit_amount": "1"}, {"unit_amount": "-0.5"}]},
            "tiers at index 1 is invalid",
            None,
        ),
        (
            {"tiers": [{"up_to": 10, "unit_amount": "1", "flat_amount": "-1"}, {"unit_amount": "1"}]},
            "tiers at index 0 is invalid",
            None,
        ),
        (
            {"tiers": [{"up_to": 2**64, "unit_amount": "1"}, {"unit_amount": "1"}]},
            "Invalid request format",
            None,
        ),
    ],
)
def test_prices_follow_upstreams_checks(metered, changes, message, details):
    api, ids = metered
    before = api.get(f"/v1/plans/{ids['plan']['id']}").json
    reply = api.post("/v1/prices", price_body(ids, **changes))
    assert_refused(reply, 400, message)
    if details:
        assert reply.json["details"] == details
    assert api.get(f"/v1/plans/{ids['plan']['id']}").json == before


def test_the_largest_up_to_is_kept(metered):
    api, ids = metered
    reply = api.post(
        "/v1/prices", price_body(ids, tiers=[{"up_to": 2**64 - 1, "unit_amount": "1"}, {"unit_amount": "1"}])
    )
    assert reply.status == 201, reply.json
    assert reply.json["tiers"][0]["up_to"] == 2**64 - 1


def test_a_feature_needs_a_name_and_its_lookup_key_comes_from_the_name(api):
    assert_refused(api.post("/v1/features", {"name": "", "type": "boolean"}), 400, "Name is required")
    first = api.post("/v1/features", {"name": "API Calls (v2)!", "type": "boolean"})
    assert first.status == 201 and first.json["lookup_key"] == "api_calls_v2"
    again = api.post("/v1/features", {"name": "api calls v2", "type": "boolean"})
    assert refusal_of(again) == (409, "A feature with this lookup key already exists")
    assert (
        api.post("/v1/features", {"name": "api calls v2", "type": "boolean", "lookup_key": "k"}).status == 201
    )


def refusal_of(reply: Reply) -> tuple:
    return reply.status, reply.json["message"]


@pytest.mark.parametrize("expand", ["bogus", "subscription_line_items,plan", "subscription_line_items,"])
def test_an_expand_upstream_does_not_allow_is_refused(metered, expand):
    api, _ = metered
    reply = api.get(f"/v1/customers/external/acme/subscriptions?expand={quote(expand)}")
    assert_refused(reply, 400, "Field is not allowed to be expanded")
    ok = api.get(
        "/v1/customers/external/acme/subscriptions?expand=subscription_line_items.meters,entitlements"
    )
    assert ok.status == 200 and ok.json["items"][0]["line_items"]


def test_a_plan_needs_a_name_in_the_validators_words(api):
    reply = api.post("/v1/plans", {"name": ""})
    assert_refused(reply, 400, "Request validation failed")
    assert reply.json["details"] == {
        "Name": "Key: 'CreatePlanRequest.Name' Error:Field validation for 'Name' failed on the 'required' tag"
    }
    assert api.post("/v1/plans", {"name": " "}).status == 201  # upstream's "required" takes blank text


@pytest.mark.parametrize("priority", [2**63, -(2**63) - 1, 10**30])
def test_a_priority_beyond_int64_is_refused_before_any_other_check(seeded, priority):
    api, _, wallet = seeded
    before = snapshot(api, wallet["id"])
    body = {"credits_to_add": "-1", "transaction_reason": "PURCHASED_CREDIT_DIRECT", "priority": priority}
    reply = api.post(f"/v1/wallets/{wallet['id']}/top-up", body)
    assert_refused(reply, 400, "Invalid request format")
    assert reply.json["details"] == {"field": "priority", "problem": "must be within int64"}
    assert snapshot(api, wallet["id"]) == before
    assert api.post(f"/v1/wallets/{wallet['id']}/top-up", {**TOP_UP, "priority": 2**63 - 1}).status == 200


def test_a_price_billing_period_count_beyond_int64_is_refused(metered):
    api, ids = metered
    reply = api.post("/v1/prices", price_body(ids, billing_period_count=2**63, currency="x"))
    assert_refused(reply, 400, "Invalid request format")
    assert reply.json["details"]["field"] == "billing_period_count"


def test_a_cancel_request_is_validated_before_its_subscription_is_looked_up(metered):
    api, ids = metered
    before = usage_snapshot(api, ids)
    for sub_id in ("subs_unknown", ids["subscription"]["id"]):
        reply = api.post(f"/v1/subscriptions/{sub_id}/cancel", {"cancellation_type": "scheduled_date"})
        assert_refused(
            reply,
            400,
            "Provide a cancel_at date (past for backdated cancellation, future for scheduled cancellation)",
        )
    future = {"cancellation_type": "immediate", "cancel_at": "2027-01-01T00:00:00+01:00"}
    reply = api.post("/v1/subscriptions/subs_unknown/cancel", future)
    assert_refused(reply, 400, "Use cancellation_type 'scheduled_date' to schedule a future cancellation")
    assert reply.json["details"]["cancel_at"] == "2026-12-31T23:00:00Z"
    assert usage_snapshot(api, ids) == before
