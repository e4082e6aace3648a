"""The response self-check: with ``validate_responses`` on (as in every test here), a reply the spec
does not allow is not sent; the request fails loudly with a 500 and a log line naming the problem.
"""

from __future__ import annotations

import logging

import pytest

from mockserver.api.v2025_05_24.handlers import HANDLERS

from .conftest import client_of, create_app, new_key


def test_the_suite_runs_with_the_self_check_on(app):
    assert app.extensions["mockserver"].settings.validate_responses is True


@pytest.mark.parametrize(
    "operation_id, method, path, handler, problem",
    [
        (
            "getWallet",
            "GET",
            "/v1/wallets/wallet_1",
            lambda world, params, body: (200, {"id": params["id"]}),
            "getWallet 200 breaks the spec: <body>: 'customer_id' is a required property",
        ),
        (
            "getWallet",
            "GET",
            "/v1/wallets/wallet_1",
            lambda world, params, body: (418, {"success": False, "error": {"message": "teapot"}}),
            "getWallet answered 418, which the spec does not declare",
        ),
        (
            "getCustomer",
            "GET",
            "/v1/customers/cust_1",
            lambda world, params, body: (404, {"success": False, "error": {"message": 404}}),
            "getCustomer 404 breaks the spec: error.message: 404 is not of type 'string'",
        ),
        (
            "deleteCustomer",
            "DELETE",
            "/v1/customers/cust_1",
            lambda world, params, body: (204, {"deleted": True}),
            "deleteCustomer 204 must have no body",
        ),
    ],
)
def test_a_reply_off_spec_becomes_a_loud_500(
    monkeypatch, caplog, operation_id, method, path, handler, problem
):
    monkeypatch.setitem(HANDLERS, operation_id, handler)
    api = client_of(create_app(validate_responses=True, log_requests=False))
    with caplog.at_level(logging.ERROR, logger="mockserver"):
        reply = api.request(method, path)
    assert reply.status == 500
    assert reply.error["message"] == "An unexpected error occurred"
    assert reply.error["internal_error"].startswith("ResponseMismatch: " + problem)
    logged = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(logged) == 1 and logged[0].exc_info[0].__name__ == "ResponseMismatch"
    assert problem in str(logged[0].exc_info[1])


def test_without_the_self_check_the_same_bug_goes_out_unnoticed(monkeypatch):
    monkeypatch.setitem(HANDLERS, "getWallet", lambda world, params, body: (200, {"id": "w"}))
    client = create_app(validate_responses=False, log_requests=False).test_client()
    reply = client.get("/v1/wallets/wallet_1", headers={"x-api-key": new_key()})
    assert reply.status_code == 200 and reply.get_json() == {"id": "w"}


def test_replies_within_the_spec_pass_the_self_check(api):
    reply = api.post("/v1/wallets", {"customer_id": "cust_1", "currency": "usd"})
    assert reply.status == 200
    assert api.get(f"/v1/wallets/{reply.json['id']}").status == 200
