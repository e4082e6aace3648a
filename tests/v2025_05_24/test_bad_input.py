"""The bad-input catalogue: what a client can get wrong, the exact answer it gets, and proof that a
refused request changed nothing.

Each refused request is followed by a look at the world (customers, the wallet, its ledger): it
must be exactly what it was before.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from mockserver.http.validation import MAX_DEPTH

from .conftest import Api, Reply, create_app, make_customer, make_wallet, new_key

TOP_UP = {"credits_to_add": 10, "transaction_reason": "PURCHASED_CREDIT_DIRECT"}


@pytest.fixture
def seeded(api):
    """A world with one customer and one wallet holding 5 credits."""
    customer = make_customer(api, "acme-1")
    wallet = make_wallet(api, customer["id"], initial_credits_to_load=5)
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


def assert_refused(reply: Reply, status: int, message: str, problem: str | None = None) -> None:
    assert reply.status == status, reply.json
    assert reply.json["success"] is False
    assert reply.error["message"] == message
    if problem is not None:
        assert reply.error["details"]["errors"][0]["problem"] == problem


# ---- the body as a whole --------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, problem",
    [
        (b"", "is empty"),
        (b"   \n", "is empty"),
        (
            b'{"credits_to_add": 10,',
            "is not valid JSON (Expecting property name enclosed in double quotes: "
            "line 1 column 23 (char 22))",
        ),
        (
            b"{'credits_to_add': 10}",
            "is not valid JSON (Expecting property name enclosed in double quotes: line 1 column 2 (char 1))",
        ),
        (b"\xff\xfe{}", None),
        ('{"credits_to_add": NaN}', "is not valid JSON (NaN is not a valid JSON number)"),
        ('{"credits_to_add": Infinity}', "is not valid JSON (Infinity is not a valid JSON number)"),
        ('{"credits_to_add": -Infinity}', "is not valid JSON (-Infinity is not a valid JSON number)"),
        ('{"credits_to_add": 1' + "0" * 5000 + "}", None),
    ],
)
def test_a_body_that_is_not_json_is_refused_and_changes_nothing(seeded, raw, problem):
    api, _, wallet = seeded
    before = snapshot(api, wallet["id"])
    reply = send_raw(api, "POST", f"/v1/wallets/{wallet['id']}/top-up", raw)
    assert_refused(reply, 400, "Invalid request format", problem)
    assert reply.error["details"]["errors"][0]["in"] == "body"
    assert snapshot(api, wallet["id"]) == before


@pytest.mark.parametrize(
    "raw, found",
    [
        ("[]", "an array"),
        ('"top-up"', "a string"),
        ("42", "an integer"),
        ("4.2", "a number"),
        ("true", "a boolean"),
        ("null", "null"),
    ],
)
def test_json_that_is_not_an_object_is_refused(seeded, raw, found):
    api, _, wallet = seeded
    before = snapshot(api, wallet["id"])
    reply = send_raw(api, "POST", f"/v1/wallets/{wallet['id']}/top-up", raw)
    assert_refused(reply, 400, f"request body must be an object, not {found}")
    assert snapshot(api, wallet["id"]) == before


@pytest.mark.parametrize("depth", [MAX_DEPTH, 200, 100_000])
def test_deeply_nested_json_is_refused(seeded, depth):
    api, _, wallet = seeded
    before = snapshot(api, wallet["id"])
    nested = "[" * depth + "]" * depth
    raw = (
        '{"credits_to_add": 1, "transaction_reason": "FREE_CREDIT_GRANT", "idempotency_key": "n",'
        f' "extra": {nested}}}'
    )
    reply = send_raw(api, "POST", f"/v1/wallets/{wallet['id']}/top-up", raw)
    assert_refused(reply, 400, "Invalid request format")
    assert reply.error["internal_error"].startswith("nested too deeply")
    assert snapshot(api, wallet["id"]) == before


def test_nesting_within_the_limit_is_accepted(seeded):
    api, _, wallet = seeded
    nested = "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)
    raw = (
        '{"credits_to_add": 1, "transaction_reason": "FREE_CREDIT_GRANT", "idempotency_key": "n",'
        f' "extra": {nested}}}'
    )
    reply = send_raw(api, "POST", f"/v1/wallets/{wallet['id']}/top-up", raw)
    assert reply.status == 200, reply.json
    assert reply.json["credit_balance"] == 6


# ---- fields -----------------------------------------------------------------------------------


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
            {"customer_id": "cust_1", "currency": "usd", "conversion_rate": "2"},
            "conversion_rate must be a number, not a string",
            "conversion_rate",
        ),
        (
            {"customer_id": "cust_1", "currency": "usd", "metadata": {"tier": 3}},
            "metadata.tier must be a string, not an integer",
            "metadata.tier",
        ),
        ({"customer_id": None, "currency": "usd"}, "customer_id must be a string, not null", "customer_id"),
        ({"customer_id": "cust_1", "currency": None}, "currency must be a string, not null", "currency"),
        ({"currency": "usd"}, "customer_id is required", "customer_id"),
        (
            {"customer_id": "cust_1", "currency": "usd", "wallet_type": "CREDIT"},
            "wallet_type must be one of: PROMOTIONAL, PRE_PAID",
            "wallet_type",
        ),
        (
            {"customer_id": "cust_1", "currency": "usd", "initial_credits_to_load_expiry_date": 2026.5},
            "initial_credits_to_load_expiry_date must be an integer, not a number",
            "initial_credits_to_load_expiry_date",
        ),
    ],
)
def test_wrong_types_and_nulls_name_the_field(seeded, body, message, field):
    api, customer, wallet = seeded
    before = snapshot(api, wallet["id"])
    reply = api.post("/v1/wallets", body)
    assert_refused(reply, 400, message)
    assert reply.error["details"]["errors"][0]["field"] == field
    assert snapshot(api, wallet["id"]) == before
    assert api.get(f"/v1/customers/{customer['id']}/wallets").json == [wallet]


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
    "credits, message",
    [
        ("0", "Credits to add must be a positive value"),
        ("-5", "Credits to add must be a positive value"),
        ("-0.000000001", "Credits to add must be a positive value"),
        ("1e-400", "Credits to add must be a positive value"),
        ("0.0000000004", "Credits to add must be a positive value"),  # rounds to 0 at 9 places
        ("1e400", "credits_to_add must be at most 99999999999.999999999 in absolute value"),
        ("100000000000", "credits_to_add must be at most 99999999999.999999999 in absolute value"),
        ("-1e400", "credits_to_add must be at most 99999999999.999999999 in absolute value"),
    ],
)
def test_zero_negative_tiny_and_huge_amounts_are_refused(seeded, credits, message):
    api, _, wallet = seeded
    before = snapshot(api, wallet["id"])
    raw = (
        f'{{"credits_to_add": {credits}, "transaction_reason": "FREE_CREDIT_GRANT", "idempotency_key": "x"}}'
    )
    reply = send_raw(api, "POST", f"/v1/wallets/{wallet['id']}/top-up", raw)
    assert_refused(reply, 400, message)
    assert snapshot(api, wallet["id"]) == before


@pytest.mark.parametrize(
    "credits, kept",
    [
        ("0.0000000015", Decimal("0.000000002")),  # half away from zero, like numeric(20,9)
        ("0.0000000025", Decimal("0.000000003")),
        ("1.0000000004999", Decimal("1")),
        ("2.123456789", Decimal("2.123456789")),
        ("99999999999.999999999", Decimal("99999999999.999999999")),
    ],
)
def test_precision_beyond_nine_places_is_rounded_like_the_ledger_column(api, credits, kept):
    wallet = make_wallet(api, "cust_1")
    raw = (
        f'{{"credits_to_add": {credits}, "transaction_reason": "FREE_CREDIT_GRANT", "idempotency_key": "p"}}'
    )
    reply = send_raw(api, "POST", f"/v1/wallets/{wallet['id']}/top-up", raw)
    assert reply.status == 200, reply.json
    assert reply.json["credit_balance"] == kept
    ledger = api.get(f"/v1/wallets/{wallet['id']}/transactions").json["items"]
    assert [t["credit_amount"] for t in ledger] == [kept]
    assert api.get(f"/v1/wallets/{wallet['id']}").json["credit_balance"] == kept


# ---- strings --------------------------------------------------------------------------------------


def test_over_long_bounded_strings_are_refused(api):
    reply = api.post("/v1/customers", {"external_id": "acme-1", "name": "Acme", "address_line1": "x" * 256})
    assert_refused(reply, 400, "address_line1 must be at most 255 characters long")
    assert api.get("/v1/customers").json["pagination"]["total"] == 0


def test_long_free_text_within_the_body_limit_round_trips(api):
    name = "N" * 200_000
    created = make_customer(api, "acme-long", name=name)
    assert created["name"] == name
    assert api.get(f"/v1/customers/{created['id']}").json["name"] == name


def test_unicode_and_control_characters_round_trip_exactly(api):
    name = "Ünïcødé 🚀 名前 \u0000\u0007\t\n\u202e\ufeff end"
    created = make_customer(api, "ключ-🔑", name=name, metadata={"ключ": "значение\u0001"})
    assert created["name"] == name and created["external_id"] == "ключ-🔑"
    assert api.get("/v1/customers/lookup/ключ-🔑").json == created
    found = api.get(f"/v1/customers/{created['id']}").json
    assert found["metadata"] == {"ключ": "значение\u0001"}


@pytest.mark.parametrize(
    "raw",
    [
        '{"external_id": "acme-1", "name": "\\ud800"}',
        '{"external_id": "acme-1", "name": "Acme", "metadata": {"\\udfff": "x"}}',
    ],
)
def test_a_lone_surrogate_escape_is_refused(api, raw):
    reply = send_raw(api, "POST", "/v1/customers", raw)
    assert_refused(reply, 400, "Invalid request format")
    assert "lone UTF-16 surrogate" in reply.error["internal_error"]
    assert api.get("/v1/customers").json["pagination"]["total"] == 0


# ---- size and content type --------------------------------------------------------------------------


def test_a_body_over_the_size_limit_gets_413_and_changes_nothing(seeded):
    api, _, wallet = seeded
    before = snapshot(api, wallet["id"])
    raw = json.dumps({**TOP_UP, "idempotency_key": "big", "description": "x" * (1024 * 1024)})
    reply = send_raw(api, "POST", f"/v1/wallets/{wallet['id']}/top-up", raw)
    assert_refused(reply, 413, "Request body too large")
    assert reply.error["details"] == {"max_body_bytes": 1024 * 1024}
    assert snapshot(api, wallet["id"]) == before


def test_the_size_limit_is_configurable():
    client = create_app(validate_responses=True, log_requests=False, max_body_bytes=200).test_client()
    api = Api(lambda m, p, d, h: _reply(client.open(p, method=m, data=d, headers=h)), new_key())
    small = {"external_id": "a", "name": "Acme"}
    assert api.post("/v1/customers", small).status == 201
    reply = api.post("/v1/customers", {"external_id": "b", "name": "x" * 300})
    assert_refused(reply, 413, "Request body too large")
    assert reply.error["details"] == {"max_body_bytes": 200}
    assert api.get("/v1/customers").json["pagination"]["total"] == 1


def _reply(response) -> Reply:
    return Reply(response.status_code, response.headers, response.get_data())


def test_a_stray_body_on_a_get_is_neither_read_nor_refused(seeded):
    api, _, wallet = seeded
    reply = api.request(
        "GET",
        f"/v1/wallets/{wallet['id']}",
        data=b"x" * (2 * 1024 * 1024),
        headers={"Content-Type": "text/plain"},
    )
    assert reply.status == 200 and reply.json == wallet


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml"],
)
def test_a_declared_non_json_content_type_gets_415(seeded, content_type):
    api, _, wallet = seeded
    before = snapshot(api, wallet["id"])
    raw = json.dumps({**TOP_UP, "idempotency_key": "ct"})
    reply = send_raw(api, "POST", f"/v1/wallets/{wallet['id']}/top-up", raw, content_type)
    media_type = content_type.split(";")[0]
    assert_refused(
        reply,
        415,
        f"Content-Type must be application/json, not {media_type}",
        f"must be application/json, not {media_type}",
    )
    assert reply.error["details"]["errors"][0]["field"] == "Content-Type"
    assert snapshot(api, wallet["id"]) == before


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "APPLICATION/JSON", "application/merge-patch+json"]
)
def test_json_content_types_are_accepted(api, content_type):
    reply = send_raw(api, "POST", "/v1/customers", '{"external_id": "a", "name": "Acme"}', content_type)
    assert reply.status == 201, reply.json


def test_a_missing_content_type_is_read_as_json(http):
    # requests drops a header whose value is None: the body goes out with no Content-Type at all.
    reply = http.request(
        "POST",
        "/v1/customers",
        data=b'{"external_id": "curl", "name": "Acme"}',
        headers={"Content-Type": None},
    )
    assert reply.status == 201, reply.json
    assert http.get("/v1/customers/lookup/curl").json["id"] == reply.json["id"]


# ---- routes and ids --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method, path, status, message",
    [
        ("GET", "/v1/nope", 404, "Route not found"),
        ("GET", "/v2/wallets", 404, "Route not found"),
        ("GET", "/v1/wallets/a%2Fb", 404, "Route not found"),
        ("GET", "/v1/customers/lookup/a%2F%2Fb", 404, "Route not found"),  # never a 308 elsewhere
        ("GET", "/v1//customers", 404, "Route not found"),
        ("PATCH", "/v1/wallets/wallet_1", 405, "Method not allowed"),
        ("DELETE", "/v1/wallets", 405, "Method not allowed"),
    ],
)
def test_unknown_paths_and_methods_answer_in_the_envelope(api, method, path, status, message):
    reply = api.request(method, path)
    assert_refused(reply, status, message)
    if status == 405:
        assert reply.headers["Allow"]


@pytest.mark.parametrize(
    "wallet_id", ["🚀", "wallet_" + "x" * 5000, "%00", "..", "wallet 1", "ü%20ß", "' OR 1=1 --"]
)
def test_odd_ids_are_just_not_found(seeded, wallet_id):
    api, _, wallet = seeded
    before = snapshot(api, wallet["id"])
    from urllib.parse import quote

    path_id = quote(wallet_id, safe="")
    for method, suffix in [
        ("GET", ""),
        ("GET", "/balance/real-time"),
        ("POST", "/terminate"),
        ("GET", "/transactions"),
    ]:
        reply = api.request(method, f"/v1/wallets/{path_id}{suffix}")
        assert_refused(reply, 404, "Wallet not found")
    reply = api.get(f"/v1/customers/{path_id}")
    assert reply.status == 404 and reply.error["details"] == {"customer_id": wallet_id}
    assert api.get(f"/v1/customers/lookup/{path_id}").status == 404
    assert snapshot(api, wallet["id"]) == before


# ---- dates out of range ---------------------------------------------------------------------


@pytest.mark.parametrize("expiry", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:00:00-05:00"])
def test_a_top_up_expiry_outside_the_years_1_to_9999_is_refused(seeded, expiry):
    api, _, wallet = seeded
    before = snapshot(api, wallet["id"])
    body = {**TOP_UP, "idempotency_key": "far", "expiry_date_utc": expiry}
    reply = api.post(f"/v1/wallets/{wallet['id']}/top-up", body)
    assert_refused(reply, 400, "expiry_date_utc must be an RFC 3339 timestamp")
    assert snapshot(api, wallet["id"]) == before


@pytest.mark.parametrize(
    "path",
    [
        "/v1/wallets/{wallet}/transactions?start_time=0001-01-01T00:00:00%2B01:00",
        "/v1/wallets/{wallet}/transactions?end_time=9999-12-31T23:00:00-05:00",
        "/v1/customers?start_time=0001-01-01T00:00:00%2B01:00",
    ],
)
def test_a_filter_date_outside_the_years_1_to_9999_is_refused(seeded, path):
    api, _, wallet = seeded
    assert_refused(api.get(path.format(wallet=wallet["id"])), 400, "Invalid filter parameters")


def test_a_search_filter_date_outside_the_years_1_to_9999_is_refused(seeded):
    api, _, wallet = seeded
    before = snapshot(api, wallet["id"])
    condition = {"field": "created_at", "operator": "gt", "value": {"date": "9999-12-31T23:00:00-05:00"}}
    for body in ({"end_time": "9999-12-31T23:00:00-05:00"}, {"filters": [condition]}):
        assert_refused(api.post("/v1/customers/search", body), 400, "Invalid filter parameters")
    assert snapshot(api, wallet["id"]) == before


@pytest.mark.parametrize("priority", [2**63, -(2**63) - 1])
def test_a_priority_beyond_int64_is_refused(seeded, priority):
    api, _, wallet = seeded
    before = snapshot(api, wallet["id"])
    body = {**TOP_UP, "idempotency_key": "p", "priority": priority}
    assert_refused(api.post(f"/v1/wallets/{wallet['id']}/top-up", body), 400, "Invalid request format")
    assert snapshot(api, wallet["id"]) == before
