"""The Customers API: create, read, lookup, list, search, update, delete."""

import re

from .conftest import make_customer, make_wallet


def test_create_returns_201_with_every_field(api):
    reply = api.post(
        "/v1/customers",
        {
            "external_id": "acme",
            "name": "Acme",
            "email": "a@acme.io",
            "address_country": "DE",
            "metadata": {"tier": "gold"},
        },
    )
    assert reply.status == 201
    body = reply.json
    assert re.match(r"^cust_[0-9A-HJKMNP-TV-Z]{26}$", body["id"])
    assert (body["external_id"], body["name"], body["email"]) == ("acme", "Acme", "a@acme.io")
    assert body["address_country"] == "DE" and body["address_line1"] == ""
    assert body["metadata"] == {"tier": "gold"} and body["status"] == "published"
    assert api.get(f"/v1/customers/{body['id']}").json == body


def test_external_id_is_required_and_unique(api):
    reply = api.post("/v1/customers", {"name": "No id"})
    assert reply.status == 400 and reply.error["message"] == "external_id is required"
    reply = api.post("/v1/customers", {"external_id": "", "name": "Empty"})
    assert reply.status == 400 and reply.error["message"] == "Request validation failed"
    assert "ExternalID" in reply.error["details"]
    make_customer(api, "dup")
    reply = api.post("/v1/customers", {"external_id": "dup", "name": "Again"})
    assert reply.status == 409
    assert reply.error["message"] == "A customer with this identifier already exists"
    assert reply.error["details"] == {"external_id": "dup"}
    assert api.get("/v1/customers").json["pagination"]["total"] == 1


def test_field_rules(api):
    assert api.post("/v1/customers", {"external_id": "x"}).error["message"] == "Customer name is required"
    for field, value in (("email", "not-an-email"), ("address_country", "USA"), ("address_country", "XX")):
        reply = api.post("/v1/customers", {"external_id": "x", "name": "X", field: value})
        assert reply.status == 400 and reply.error["message"] == "Request validation failed", field
    reply = api.post("/v1/customers", {"external_id": "x", "name": "X", "address_postal_code": "1" * 21})
    assert reply.status == 400
    assert reply.error["message"] == "address_postal_code must be at most 20 characters long"
    assert api.get("/v1/customers").json["items"] == []


def test_lookup_by_external_id(api):
    customer = make_customer(api, "ext-1")
    assert api.get("/v1/customers/lookup/ext-1").json["id"] == customer["id"]
    reply = api.get("/v1/customers/lookup/ext-2")
    assert reply.status == 404
    assert reply.error["message"] == "Customer with lookup key ext-2 was not found"


def test_get_unknown_customer(api):
    reply = api.get("/v1/customers/cust_nope")
    assert reply.status == 404 and reply.error["details"] == {"customer_id": "cust_nope"}


def test_list_filters_and_pagination(api):
    ids = [make_customer(api, f"e{n}", email=f"u{n}@x.io")["id"] for n in range(4)]
    page = api.get("/v1/customers?limit=2").json
    assert [c["id"] for c in page["items"]] == ids[::-1][:2]
    assert page["pagination"] == {"total": 4, "limit": 2, "offset": 0}
    assert [c["id"] for c in api.get("/v1/customers?order=asc&offset=1&limit=1").json["items"]] == [ids[1]]
    assert [c["id"] for c in api.get("/v1/customers?external_id=e2").json["items"]] == [ids[2]]
    assert [c["id"] for c in api.get("/v1/customers?email=u3@x.io").json["items"]] == [ids[3]]
    chosen = api.get(f"/v1/customers?customer_ids={ids[0]},{ids[1]}").json["items"]
    assert {c["id"] for c in chosen} == {ids[0], ids[1]}
    assert api.get("/v1/customers?limit=0").status == 400


def test_search_with_filters_and_sort(api):
    for n, name in enumerate(["Bravo", "alpha", "Charlie"]):
        make_customer(api, f"s{n}", name=name)
    reply = api.post("/v1/customers/search", {"sort": [{"field": "name", "direction": "asc"}]})
    assert [c["name"] for c in reply.json["items"]] == ["Bravo", "Charlie", "alpha"]
    reply = api.post(
        "/v1/customers/search",
        {
            "filters": [
                {"field": "name", "operator": "contains", "data_type": "string", "value": {"string": "ar"}}
            ]
        },
    )
    assert [c["name"] for c in reply.json["items"]] == ["Charlie"]
    reply = api.post("/v1/customers/search", {"external_id": "s1"})
    assert [c["name"] for c in reply.json["items"]] == ["alpha"]
    reply = api.post("/v1/customers/search", {"filters": [{"field": "password", "value": {"string": "x"}}]})
    assert reply.status == 400
    assert api.post("/v1/customers/search", {"limit": 5000}).status == 400


def test_update_is_partial_and_keeps_external_id_unique(api):
    a = make_customer(api, "a", email="a@x.io")
    make_customer(api, "b")
    reply = api.put(f"/v1/customers/{a['id']}", {"name": "Renamed", "metadata": {"k": "v"}})
    assert reply.status == 200
    assert (reply.json["name"], reply.json["email"], reply.json["metadata"]) == (
        "Renamed",
        "a@x.io",
        {"k": "v"},
    )
    assert api.put(f"/v1/customers/{a['id']}", {"external_id": "b"}).status == 409
    assert api.put(f"/v1/customers/{a['id']}", {"external_id": "a2"}).json["external_id"] == "a2"
    assert api.get("/v1/customers/lookup/a2").json["id"] == a["id"]
    assert api.get("/v1/customers/lookup/a").status == 404
    assert api.put("/v1/customers/cust_nope", {"name": "x"}).status == 404


def test_delete_refused_while_wallets_are_active(api):
    customer = make_customer(api, "del")
    wallet = make_wallet(api, customer["id"])
    reply = api.delete(f"/v1/customers/{customer['id']}")
    assert reply.status == 400
    assert reply.error["message"] == "Customer cannot be deleted due to associated wallets"
    api.post(f"/v1/wallets/{wallet['id']}/terminate")
    reply = api.delete(f"/v1/customers/{customer['id']}")
    assert reply.status == 204 and reply.raw == b""
    # Archived: still readable by id, gone from lookup, external id free again.
    assert api.get(f"/v1/customers/{customer['id']}").json["status"] == "archived"
    assert api.get("/v1/customers/lookup/del").status == 404
    assert api.delete(f"/v1/customers/{customer['id']}").error["message"] == "Customer does not exist"
    assert api.post("/v1/customers", {"external_id": "del", "name": "New"}).status == 201


def test_an_empty_list_parameter_is_refused(api):
    reply = api.get("/v1/customers?customer_ids=")
    assert reply.status == 400
    assert reply.error["message"] == (
        "query parameter customer_ids must be a comma-separated list of values, not empty"
    )
