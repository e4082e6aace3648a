"""Auth, isolation between keys and environments, request ids."""

from .conftest import make_customer, make_wallet


def test_missing_key_is_401_with_the_cloud_body(api):
    for method, path in (("GET", "/v1/wallets/w"), ("POST", "/v1/wallets"), ("GET", "/v1/customers")):
        reply = api.request(method, path, key=None)
        assert reply.status == 401
        assert reply.json == {"error": "Unauthorized"}


def test_two_keys_never_see_each_other(api):
    other = api.as_key("sk_test_other_" + api.api_key[-8:])
    customer = make_customer(api, "shared-ext")
    wallet = make_wallet(api, customer["id"])
    assert other.get(f"/v1/wallets/{wallet['id']}").status == 404
    assert other.get(f"/v1/wallets/{wallet['id']}/transactions").status == 404
    assert (
        other.post(
            f"/v1/wallets/{wallet['id']}/top-up",
            {"credits_to_add": 1, "transaction_reason": "FREE_CREDIT_GRANT", "idempotency_key": "x"},
        ).status
        == 404
    )
    assert other.post(f"/v1/wallets/{wallet['id']}/terminate").status == 404
    assert other.get(f"/v1/customers/{customer['id']}").status == 404
    assert other.get("/v1/customers/lookup/shared-ext").status == 404
    assert other.get("/v1/customers").json["items"] == []
    assert other.get(f"/v1/customers/{customer['id']}/wallets").json == []
    # The same external id and wallet rule are free under the other key.
    assert other.post("/v1/customers", {"external_id": "shared-ext", "name": "B"}).status == 201
    assert other.post("/v1/wallets", {"customer_id": customer["id"], "currency": "usd"}).status == 200
    assert api.get(f"/v1/wallets/{wallet['id']}").json["wallet_status"] == "active"


def test_environment_header_partitions_a_key(api):
    wallet = make_wallet(api)
    staging = {"X-Environment-ID": "env_staging"}
    assert api.get(f"/v1/wallets/{wallet['id']}", headers=staging).status == 404
    other = api.post("/v1/wallets", {"customer_id": "cust_test", "currency": "usd"}, headers=staging)
    assert other.status == 200
    assert api.get(f"/v1/wallets/{other.json['id']}", headers=staging).status == 200
    assert api.get(f"/v1/wallets/{other.json['id']}").status == 404


def test_request_id_is_echoed_or_generated(api):
    reply = api.get("/v1/customers", headers={"X-Request-ID": "trace-123"})
    assert reply.headers["X-Request-ID"] == "trace-123"
    generated = api.get("/v1/customers").headers["X-Request-ID"]
    assert len(generated) == 26 and generated.isalnum()
    assert api.get("/v1/customers").headers["X-Request-ID"] != generated


def test_unknown_routes_and_methods_use_the_envelope(api):
    reply = api.get("/v1/wallets")
    assert reply.status == 405
    reply = api.get("/v1/nothing-here")  # (/v1/invoices is documented: 501, not modelled)
    assert reply.status == 404 and reply.json["success"] is False
    assert reply.error["details"] == {"method": "GET", "path": "/v1/nothing-here"}
    reply = api.delete("/v1/wallets/w1")
    assert reply.status == 405 and "GET" in reply.headers["Allow"]
