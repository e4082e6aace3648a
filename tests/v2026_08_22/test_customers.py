"""Customers in version 2026-08-22: create, read, look up, list and search, update, delete, and
a customer's wallets, with the values, statuses, codes, messages and details of the cloud's
server (``/work/notes/upstream-extra.md`` §2 and §9), and the state after each call: a refused
call changes nothing.

Every world's clock is frozen at ``NOW`` (``PUT /_mock/clock``); tests that need time to pass
move it with ``POST /_mock/clock/advance``.
"""

from __future__ import annotations

import re

import pytest

from mockserver.domain.models import SYSTEM_USER

from .conftest import Api, advance, freeze, make_customer, make_wallet, refusal

STAMP = "2026-09-01T12:00:00.000000Z"
CUSTOMER_ID = re.compile(r"^cust_[0-9A-HJKMNP-TV-Z]{26}$")


@pytest.fixture
def api(api: Api) -> Api:
    """The suite's in-process client, its world's clock frozen at NOW."""
    freeze(api)
    return api


@pytest.fixture
def http(http: Api) -> Api:
    freeze(http)
    return http


# ---- helpers ----------------------------------------------------------------------------------


def tag(struct: str, field: str, rule: str) -> str:
    """The cloud's validator text for one field."""
    return f"Key: '{struct}.{field}' Error:Field validation for '{field}' failed on the '{rule}' tag"


def invalid(struct: str, **fields: str) -> tuple:
    """The answer to a request the cloud's validator refuses: details keyed by Go field name."""
    return (
        400,
        "validation_error",
        "Request validation failed",
        {name: tag(struct, name, rule) for name, rule in fields.items()},
    )


def everyone(api: Api) -> list[dict]:
    """Every customer, whatever its status."""
    found = []
    for status in ("published", "archived"):
        reply = api.get(f"/v1/customers?status={status}&limit=1000")
        assert reply.status == 200
        found += reply.json["items"]
    return sorted(found, key=lambda c: c["id"])


def external_ids(reply) -> list[str]:
    assert reply.status == 200, reply.json
    return [c["external_id"] for c in reply.json["items"]]


# ---- create -----------------------------------------------------------------------------------


def test_create_answers_201_with_the_whole_customer(api):
    reply = api.post("/v1/customers", {"external_id": "acme-1", "name": "Acme Inc."})
    assert reply.status == 201
    body = reply.json
    assert CUSTOMER_ID.match(body["id"])
    assert body == {
        "id": body["id"],
        "external_id": "acme-1",
        "name": "Acme Inc.",
        "email": "",
        "address_line1": "",
        "address_line2": "",
        "address_city": "",
        "address_state": "",
        "address_postal_code": "",
        "address_country": "",
        "timezone": "UTC",
        "metadata": {},
        "environment_id": body["environment_id"],
        "tenant_id": body["tenant_id"],
        "created_by": SYSTEM_USER,
        "updated_by": SYSTEM_USER,
        "status": "published",
        "created_at": STAMP,
        "updated_at": STAMP,
    }
    assert "contact" not in body
    assert api.get(f"/v1/customers/{body['id']}").json == body


def test_create_keeps_every_field_given(api):
    given = {
        "external_id": "acme-2",
        "name": "Acme",
        "email": "billing@acme.example",
        "contact": "+1 555 0100",
        "address_line1": "1 Main St",
        "address_line2": "Floor 2",
        "address_city": "Springfield",
        "address_state": "IL",
        "address_postal_code": "62701",
        "address_country": "US",
        "timezone": "Asia/Kolkata",
        "metadata": {"plan": "starter"},
    }
    body = make_customer(api, **given)
    assert {k: body[k] for k in given} == given


@pytest.mark.parametrize(
    "given, fields",
    [
        ({}, {"ExternalID": "required", "Name": "required"}),
        ({"external_id": "x"}, {"Name": "required"}),
        ({"name": "X"}, {"ExternalID": "required"}),
        ({"external_id": "", "name": ""}, {"ExternalID": "required", "Name": "required"}),
        ({"external_id": "x", "name": "X", "timezone": "Mars/Olympus_Mons"}, {"Timezone": "timezone"}),
        ({"external_id": "x", "name": "X", "timezone": "Local"}, {"Timezone": "timezone"}),
        ({"external_id": "x", "name": "X", "email": "not-an-address"}, {"Email": "email"}),
        ({"external_id": "x", "name": "X", "address_country": "USA"}, {"AddressCountry": "len"}),
        ({"external_id": "x", "name": "X", "address_country": "us"}, {"AddressCountry": "iso3166_1_alpha2"}),
        ({"external_id": "x", "name": "X", "address_country": "ZZ"}, {"AddressCountry": "iso3166_1_alpha2"}),
        # every failure at once, as the validator reports them
        (
            {"email": "a@", "address_country": "XX", "timezone": "Nowhere"},
            {
                "ExternalID": "required",
                "Name": "required",
                "Email": "email",
                "AddressCountry": "iso3166_1_alpha2",
                "Timezone": "timezone",
            },
        ),
    ],
)
def test_create_is_checked_by_the_clouds_validator(api, given, fields):
    reply = api.post("/v1/customers", given)
    assert refusal(reply) == invalid("CreateCustomerRequest", **fields)
    assert everyone(api) == []


def test_create_refuses_what_the_document_forbids_naming_the_field(api):
    reply = api.post("/v1/customers", {"external_id": "x", "name": "X", "contact": "0" * 21})
    status, code, message, details = refusal(reply)
    assert (status, code, message) == (400, "validation_error", "contact must be at most 20 characters long")
    assert details["errors"] == [
        {"field": "contact", "in": "body", "problem": "must be at most 20 characters long"}
    ]
    reply = api.post("/v1/customers", {"external_id": 7, "name": "X"})
    assert refusal(reply)[:2] == (400, "validation_error")
    assert reply.json["details"]["errors"][0]["field"] == "external_id"
    assert everyone(api) == []


@pytest.mark.parametrize("timezone", ["UTC", "Europe/Paris", "America/New_York"])
def test_create_takes_an_iana_timezone(api, timezone):
    assert make_customer(api, "tz", timezone=timezone)["timezone"] == timezone


def test_a_duplicate_external_id_is_refused_among_published_customers(api):
    first = make_customer(api, "acme")
    reply = api.post("/v1/customers", {"external_id": "acme", "name": "Other"})
    assert refusal(reply) == (
        409,
        "already_exists",
        "A customer with this identifier already exists",
        {"external_id": "acme"},
    )
    assert everyone(api) == [first]
    # archived, its external id is free again
    assert api.delete(f"/v1/customers/{first['id']}").status == 204
    second = make_customer(api, "acme", name="Other")
    assert second["id"] != first["id"]
    assert api.get("/v1/customers/external/acme").json == second


# ---- read and look up ---------------------------------------------------------------------------


def test_get_by_id_finds_archived_customers_too(api):
    customer = make_customer(api, "acme")
    assert api.get(f"/v1/customers/{customer['id']}?expand=integrations").json == customer
    advance(api, 60)
    api.delete(f"/v1/customers/{customer['id']}")
    archived = api.get(f"/v1/customers/{customer['id']}").json
    assert archived == {**customer, "status": "archived", "updated_at": "2026-09-01T12:01:00.000000Z"}
    assert refusal(api.get("/v1/customers/cust_nope")) == (
        404,
        "not_found",
        "Customer with ID cust_nope was not found",
        {"customer_id": "cust_nope"},
    )
    assert refusal(api.get(f"/v1/customers/{customer['id']}?expand=wallets")) == (
        400,
        "validation_error",
        "Field is not allowed to be expanded",
        {"field": "wallets"},
    )


@pytest.mark.parametrize("route", ["external", "lookup"])
def test_external_and_lookup_routes_find_published_customers_only(api, route):
    customer = make_customer(api, "acme")
    gone = make_customer(api, "gone")
    api.delete(f"/v1/customers/{gone['id']}")
    assert api.get(f"/v1/customers/{route}/acme").json == customer
    assert api.get(f"/v1/customers/{route}/acme?expand=integrations").json == customer
    for key in ("gone", "nobody"):
        assert refusal(api.get(f"/v1/customers/{route}/{key}")) == (
            404,
            "not_found",
            f"Customer with lookup key {key} was not found",
            {"lookup_key": key},
        )


# ---- list and search ----------------------------------------------------------------------------


@pytest.fixture
def three(api):
    """Customers a, b and c, a minute apart; c archived."""
    made = []
    for external_id, email in (("a", "a@x.io"), ("b", "b@x.io"), ("c", "c@x.io")):
        made.append(
            make_customer(
                api,
                external_id,
                name=external_id.upper(),
                email=email,
                metadata={"tier": "gold" if external_id != "b" else "silver", "region": "eu"},
            )
        )
        advance(api, 60)
    assert api.delete(f"/v1/customers/{made[2]['id']}").status == 204
    return made


def test_list_shows_published_customers_newest_first(api, three):
    reply = api.get("/v1/customers")
    assert external_ids(reply) == ["b", "a"]
    assert reply.json["pagination"] == {"total": 2, "limit": 50, "offset": 50}
    assert external_ids(api.get("/v1/customers?order=asc")) == ["a", "b"]
    assert external_ids(api.get("/v1/customers?status=archived")) == ["c"]
    page = api.get("/v1/customers?limit=1&offset=1")
    assert external_ids(page) == ["a"]
    assert page.json["pagination"] == {"total": 2, "limit": 1, "offset": 2}
    assert api.get("/v1/customers?limit=0").json["pagination"] == {"total": 2, "limit": 50, "offset": 50}


@pytest.mark.parametrize(
    "query, found",
    [
        ("external_ids=a&external_ids=c", ["a"]),  # c is archived
        ("external_id=b", ["b"]),
        ("external_ids=a&external_id=b", ["b", "a"]),
        ("email=a@x.io", ["a"]),
        ("start_time=2026-09-01T12:00:30Z", ["b"]),
        ("end_time=2026-09-01T12:00:30Z", ["a"]),
        ("status=archived&external_id=c", ["c"]),
    ],
)
def test_list_filters(api, three, query, found):
    assert external_ids(api.get(f"/v1/customers?{query}")) == found


def test_list_by_customer_ids(api, three):
    a, b, c = three
    # repeated keys, as the document says; archived c is left out
    assert external_ids(api.get(f"/v1/customers?customer_ids={a['id']}&customer_ids={c['id']}")) == ["a"]
    assert external_ids(api.get(f"/v1/customers?customer_ids={a['id']}&customer_ids={b['id']}")) == ["b", "a"]


def test_list_refuses_an_invalid_email_or_time(api, three):
    assert refusal(api.get("/v1/customers?email=nope")) == (
        400,
        "validation_error",
        "Please provide a valid email",
        {"email": "nope"},
    )
    for query, name in (("start_time=yesterday", "start_time"), ("end_time=", "end_time")):
        assert refusal(api.get(f"/v1/customers?{query}")) == (
            400,
            "validation_error",
            "Invalid filter parameters",
            {name: query.split("=")[1]},
        )


def test_search_takes_the_filter_as_a_body(api, three):
    _, b, c = three
    reply = api.post("/v1/customers/search", {})
    assert external_ids(reply) == ["b", "a"]
    assert reply.json["pagination"] == {"total": 2, "limit": 50, "offset": 50}
    assert external_ids(api.post("/v1/customers/search", {"customer_ids": [b["id"], c["id"]]})) == ["b"]
    assert external_ids(api.post("/v1/customers/search", {"metadata": {"tier": "gold"}})) == ["a"]
    assert external_ids(
        api.post("/v1/customers/search", {"metadata": {"tier": "gold"}, "status": "archived"})
    ) == ["c"]
    assert external_ids(api.post("/v1/customers/search", {"metadata": {"region": "eu"}})) == ["b", "a"]
    assert external_ids(
        api.post(
            "/v1/customers/search",
            {"filters": [{"field": "name", "operator": "contains", "value": {"string": "b"}}]},
        )
    ) == ["b"]
    assert external_ids(
        api.post("/v1/customers/search", {"sort": [{"field": "name", "direction": "asc"}]})
    ) == ["a", "b"]
    page = api.post("/v1/customers/search", {"limit": 1, "offset": 1, "order": "asc"})
    assert external_ids(page) == ["b"]
    assert page.json["pagination"] == {"total": 2, "limit": 1, "offset": 2}
    assert refusal(api.post("/v1/customers/search", {"email": "nope"})) == (
        400,
        "validation_error",
        "Please provide a valid email",
        {"email": "nope"},
    )


# ---- update -------------------------------------------------------------------------------------


def test_update_needs_an_identifier_that_agrees(api):
    a = make_customer(api, "a")
    b = make_customer(api, "b")
    before = everyone(api)
    assert refusal(api.put("/v1/customers", {"name": "Z"})) == (
        400,
        "validation_error",
        "Provide id as query parameter (?id=...) or provide external_customer_id as query "
        "parameter (?external_customer_id=...)",
        None,
    )
    both = (
        "Providing either id or external_customer_id is sufficient. But when providing both, "
        "ensure both identifiers refer to the same customer."
    )
    assert refusal(api.put(f"/v1/customers?id={a['id']}&external_customer_id=b", {"name": "Z"})) == (
        400,
        "validation_error",
        both,
        None,
    )
    assert refusal(api.put(f"/v1/customers/{a['id']}?external_customer_id=b", {"name": "Z"})) == (
        400,
        "validation_error",
        both,
        None,
    )
    assert refusal(api.put("/v1/customers?external_customer_id=zz", {"name": "Z"})) == (
        404,
        "not_found",
        "Customer with lookup key zz was not found",
        {"lookup_key": "zz"},
    )
    assert refusal(api.put("/v1/customers?id=cust_nope", {"name": "Z"})) == (
        404,
        "not_found",
        "Customer with ID cust_nope was not found",
        {"customer_id": "cust_nope"},
    )
    assert refusal(api.put("/v1/customers/cust_nope", {"name": "Z"})) == (
        404,
        "not_found",
        "Customer with ID cust_nope was not found",
        {"customer_id": "cust_nope"},
    )
    assert everyone(api) == before
    reply = api.put(f"/v1/customers?id={b['id']}&external_customer_id=b", {"name": "Bee"})
    assert (reply.status, reply.json["name"]) == (200, "Bee")


@pytest.mark.parametrize("route", ["query id", "query external id", "path"])
def test_update_merges_the_fields_given(api, route):
    customer = make_customer(api, "acme", email="old@acme.example", metadata={"a": "1"}, address_city="Paris")
    path = {
        "query id": f"/v1/customers?id={customer['id']}",
        "query external id": "/v1/customers?external_customer_id=acme",
        "path": f"/v1/customers/{customer['id']}",
    }[route]
    advance(api, 60)
    reply = api.put(
        path, {"name": "Acme SA", "metadata": {"b": "2"}, "timezone": "Europe/Paris", "contact": "+33 1"}
    )
    assert reply.status == 200
    assert reply.json == {
        **customer,
        "name": "Acme SA",
        "metadata": {"b": "2"},
        "timezone": "Europe/Paris",
        "contact": "+33 1",
        "updated_at": "2026-09-01T12:01:00.000000Z",
    }
    assert api.get(f"/v1/customers/{customer['id']}").json == reply.json


def test_changing_the_external_id_moves_the_lookup_key(api):
    customer = make_customer(api, "old")
    other = make_customer(api, "taken")
    reply = api.put(f"/v1/customers/{customer['id']}", {"external_id": "taken"})
    assert refusal(reply) == (
        409,
        "already_exists",
        "A customer with this identifier already exists",
        {"external_id": "taken"},
    )
    reply = api.put(f"/v1/customers/{customer['id']}", {"external_id": "new"})
    assert (reply.status, reply.json["external_id"], reply.json["metadata"]) == (200, "new", {})
    assert api.get("/v1/customers/lookup/new").json["id"] == customer["id"]
    assert api.get("/v1/customers/lookup/old").status == 404
    assert api.get("/v1/customers/lookup/taken").json == other


def test_update_refusals_change_nothing(api):
    customer = make_customer(api, "acme")
    for body, fields in (
        ({"email": "nope"}, {"Email": "email"}),
        ({"address_country": "FRA"}, {"AddressCountry": "len"}),
        ({"timezone": "Moon/Base"}, {"Timezone": "timezone"}),
        ({"name": ""}, {"Name": "required"}),
    ):
        reply = api.put(f"/v1/customers/{customer['id']}", body)
        assert refusal(reply) == invalid("UpdateCustomerRequest", **fields)
    assert everyone(api) == [customer]


def test_an_archived_customer_can_still_be_updated(api):
    customer = make_customer(api, "acme")
    api.delete(f"/v1/customers/{customer['id']}")
    reply = api.put(f"/v1/customers/{customer['id']}", {"name": "Gone Inc."})
    assert (reply.status, reply.json["name"], reply.json["status"]) == (200, "Gone Inc.", "archived")
    # but not through its external id, which no longer resolves
    assert api.put("/v1/customers?external_customer_id=acme", {"name": "x"}).status == 404


# ---- delete -------------------------------------------------------------------------------------


def test_delete_archives_and_answers_204(api):
    customer = make_customer(api, "acme")
    advance(api, 60)
    reply = api.delete(f"/v1/customers/{customer['id']}")
    assert (reply.status, reply.raw) == (204, b"")
    assert everyone(api) == [{**customer, "status": "archived", "updated_at": "2026-09-01T12:01:00.000000Z"}]
    status, code, message, _ = refusal(api.delete(f"/v1/customers/{customer['id']}"))
    assert (status, code, message) == (404, "not_found", "Customer does not exist")
    assert refusal(api.delete("/v1/customers/cust_nope")) == (
        404,
        "not_found",
        "Customer with ID cust_nope was not found",
        {"customer_id": "cust_nope"},
    )


def test_delete_is_refused_while_a_wallet_is_active(api):
    customer = make_customer(api, "acme")
    wallet = make_wallet(api, customer["id"], initial_credits_to_load="5")
    status, code, message, _ = refusal(api.delete(f"/v1/customers/{customer['id']}"))
    assert (status, code, message) == (
        400,
        "invalid_operation",
        "Customer cannot be deleted due to associated wallets",
    )
    assert everyone(api) == [customer]
    assert api.post(f"/v1/wallets/{wallet['id']}/terminate").status == 200
    assert api.delete(f"/v1/customers/{customer['id']}").status == 204


def test_delete_over_a_real_socket(http):
    customer = make_customer(http, "acme")
    reply = http.delete(f"/v1/customers/{customer['id']}")
    assert (reply.status, reply.raw) == (204, b"")
    assert http.get(f"/v1/customers/{customer['id']}").json["status"] == "archived"


# ---- a customer's wallets -----------------------------------------------------------------------


def test_wallets_by_customer_id_lists_active_wallets(api):
    customer = make_customer(api, "acme")
    usd = make_wallet(api, customer["id"], initial_credits_to_load="5")
    eur = make_wallet(api, customer["id"], currency="eur")
    api.post(f"/v1/wallets/{eur['id']}/terminate")
    assert api.get(f"/v1/customers/{customer['id']}/wallets").json == [usd]
    reply = api.get(f"/v1/customers/{customer['id']}/wallets?expand=credits_available_breakdown")
    assert reply.json == [{**usd, "credits_available_breakdown": {"purchased": "0", "free": "5"}}]
    # no customer check: an unknown one has no wallets
    assert api.get("/v1/customers/cust_nope/wallets").json == []
    assert refusal(api.get("/v1/customers/cust_nope/wallets?expand=customer")) == (
        400,
        "validation_error",
        "Field is not allowed to be expanded",
        {"field": "customer"},
    )


def test_customer_wallets_needs_id_or_lookup_key_not_both(api):
    customer = make_customer(api, "acme")
    assert refusal(api.get("/v1/customers/wallets")) == (
        400,
        "validation_error",
        "Please provide either id or lookup_key",
        None,
    )
    assert refusal(api.get(f"/v1/customers/wallets?id={customer['id']}&lookup_key=acme")) == (
        400,
        "validation_error",
        "Please provide either 'id' or 'lookup_key', but not both.",
        None,
    )
    assert refusal(api.get("/v1/customers/wallets?id=cust_nope")) == (
        404,
        "not_found",
        "Customer with ID cust_nope was not found",
        {"customer_id": "cust_nope"},
    )
    assert refusal(api.get("/v1/customers/wallets?lookup_key=nobody")) == (
        404,
        "not_found",
        "Customer with lookup key nobody was not found",
        {"lookup_key": "nobody"},
    )
    assert api.get(f"/v1/customers/wallets?id={customer['id']}").json == []


def test_customer_wallets_with_and_without_the_real_time_balance(api):
    customer = make_customer(api, "acme")
    wallet = make_wallet(api, customer["id"], initial_credits_to_load="10", conversion_rate="2")
    closed = make_wallet(api, customer["id"], currency="eur")
    api.post(f"/v1/wallets/{closed['id']}/terminate")
    plain = {**wallet, "is_cached_fallback": False}
    assert api.get("/v1/customers/wallets?lookup_key=acme").json == [plain]
    # the breakdown needs the real-time balance
    assert api.get(f"/v1/customers/wallets?id={customer['id']}&expand=credits_available_breakdown").json == [
        plain
    ]
    reply = api.get(
        f"/v1/customers/wallets?id={customer['id']}&include_real_time_balance=true"
        "&expand=credits_available_breakdown"
    )
    assert reply.json == [
        {
            **wallet,
            "real_time_balance": "20",
            "real_time_credit_balance": "10",
            "current_period_usage": "0",
            "unpaid_invoices_amount": "0",
            "balance_updated_at": STAMP,
            "credits_available_breakdown": {"purchased": "0", "free": "10"},
            "is_cached_fallback": False,
        }
    ]
    # from the cache, within x-max-live
    api.post(
        f"/v1/wallets/{wallet['id']}/top-up",
        {"credits_to_add": "5", "transaction_reason": "FREE_CREDIT_GRANT"},
    )
    cached = api.get(
        "/v1/customers/wallets?lookup_key=acme&include_real_time_balance=true&from_cache=true",
        headers={"x-max-live": "60"},
    ).json
    assert [(w["credit_balance"], w["real_time_balance"], w["is_cached_fallback"]) for w in cached] == [
        ("15", "20", True)
    ]
    fresh = api.get("/v1/customers/wallets?lookup_key=acme&include_real_time_balance=true").json
    assert [(w["real_time_balance"], w["is_cached_fallback"]) for w in fresh] == [("30", False)]
