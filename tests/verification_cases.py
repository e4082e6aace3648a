"""Verification (``/_mock/verify``, ``/verify/sequence``, ``/verify/unexpected``) and the plugin's
``assert_called``/``assert_sequence``/``assert_no_unexpected``, the same on both API versions
(each version's package imports these tests; its conftest runs them on memory and on Redis).

The app's requests go over a real socket with the plugin's ``flexprice_sandbox`` handle, whose
replies are checked against the version's document (the version's ``checked_against_the_spec``).
"""

from __future__ import annotations

import pytest

from mockserver.client import FlexpriceControlError

TOP_UP = {"credits_to_add": 50, "transaction_reason": "PURCHASED_CREDIT_DIRECT"}


def _post(sandbox, path: str, body: dict, expect: int = 200) -> dict:
    reply = sandbox.session.post(sandbox.base_url + path.removeprefix("/v1"), json=body)
    assert reply.status_code == expect, reply.text
    return reply.json()


def _wallet(sandbox, external_id: str = "acme-1") -> str:
    customer = _post(sandbox, "/v1/customers", {"external_id": external_id, "name": "Acme"}, 201)
    return _post(sandbox, "/v1/wallets", {"customer_id": customer["id"], "currency": "usd"})["id"]


def _top_up(sandbox, wallet: str, key: str) -> dict:
    return _post(sandbox, f"/v1/wallets/{wallet}/top-up", {**TOP_UP, "idempotency_key": key})


def test_a_request_made_is_counted_by_method_path_glob_and_body_subset(flexprice_sandbox):
    wallet = _wallet(flexprice_sandbox)
    _top_up(flexprice_sandbox, wallet, "order-1")

    answer = flexprice_sandbox.assert_called(
        "POST", "/v1/wallets/*/top-up", body={"idempotency_key": "order-1"}, times=1
    )
    assert answer["ok"] is True and answer["count"] == 1 and answer["expected"] == {"exactly": 1}
    assert answer["journal"] == {"requests": 3, "capacity": 1000, "complete": True}
    # Numbers compare by value (50 is 50.0), and a string stays a string ("50" is not 50).
    assert flexprice_sandbox.verify("POST", "/v1/wallets/**", body={"credits_to_add": 50.0})["count"] == 1
    assert flexprice_sandbox.verify("POST", "/v1/wallets/**", body={"credits_to_add": "50"})["count"] == 0
    # The glob: * is one segment, ** any depth; any method when none is named.
    assert flexprice_sandbox.verify(None, "/v1/*")["count"] == 2
    assert flexprice_sandbox.verify(None, "/v1/**")["count"] == 3
    assert flexprice_sandbox.verify("post", "/v1/wallets/*/top-up", status="2xx")["count"] == 1
    assert flexprice_sandbox.verify("POST", "/v1/wallets/*/top-up", status=201)["count"] == 0


def test_a_missing_request_fails_with_its_near_misses_field_by_field(flexprice_sandbox):
    wallet = _wallet(flexprice_sandbox)
    _top_up(flexprice_sandbox, wallet, "order-2")

    with pytest.raises(AssertionError) as failed:
        flexprice_sandbox.assert_called(
            "POST", "/v1/wallets/*/top-up", body={"idempotency_key": "order-1"}, times=1
        )
    message = str(failed.value)
    assert message.startswith(
        'POST /v1/wallets/*/top-up with body {"idempotency_key": "order-1"}: expected exactly 1, found 0.\n'
        "Nearest requests:\n"
        f"  POST /v1/wallets/{wallet}/top-up -> 200 at "
    )
    assert '      body.idempotency_key: expected "order-1", got "order-2"\n' in message

    answer = flexprice_sandbox.verify("POST", "/v1/wallets/*/top-up", body={"idempotency_key": "order-1"})
    assert answer["ok"] is False and answer["count"] == 0 and answer["expected"] == {"at_least": 1}
    nearest = answer["near_misses"]
    assert nearest[0]["request"]["path"] == f"/v1/wallets/{wallet}/top-up"
    assert nearest[0]["differences"] == [
        {"field": "body.idempotency_key", "expected": "order-1", "actual": "order-2"}
    ]
    assert nearest[0]["request"]["body"]["idempotency_key"] == "order-2"
    assert nearest[0]["request"]["status"] == 200
    # The wallet's creation is a POST too: nearer than nothing, farther than the top-up.
    assert len(nearest) == 3
    assert {"field": "path", "expected": "/v1/wallets/*/top-up", "actual": "/v1/wallets"} in nearest[1][
        "differences"
    ]
    missing = {"field": "body.idempotency_key", "expected": "order-1", "actual": None, "problem": "missing"}
    assert missing in nearest[1]["differences"]


def test_a_request_made_too_often_fails_with_the_matching_requests(flexprice_sandbox):
    wallet = _wallet(flexprice_sandbox)
    _top_up(flexprice_sandbox, wallet, "order-1")
    _top_up(flexprice_sandbox, wallet, "order-2")

    answer = flexprice_sandbox.verify("POST", "/v1/wallets/*/top-up", times=1)
    assert answer["ok"] is False and answer["count"] == 2
    assert [m["body"]["idempotency_key"] for m in answer["matches"]] == ["order-2", "order-1"]
    with pytest.raises(AssertionError, match=r"expected exactly 1, found 2\.\nThe matching requests"):
        flexprice_sandbox.assert_called("POST", "/v1/wallets/*/top-up", times=1)
    assert flexprice_sandbox.assert_called("POST", "/v1/wallets/*/top-up", at_least=2, at_most=3)["ok"]
    assert flexprice_sandbox.verify("POST", "/v1/wallets/*/top-up", at_most=1)["ok"] is False
    assert flexprice_sandbox.assert_called("DELETE", "/v1/**", times=0)["count"] == 0  # never


def test_query_parameters_are_matched_by_name_and_value(flexprice_sandbox):
    _wallet(flexprice_sandbox, "acme-7")
    reply = flexprice_sandbox.session.get(flexprice_sandbox.base_url + "/customers?external_id=acme-7")
    assert reply.status_code == 200

    assert flexprice_sandbox.verify("GET", "/v1/customers", query={"external_id": "acme-7"})["count"] == 1
    answer = flexprice_sandbox.verify("GET", "/v1/customers", query={"external_id": "acme-8", "status": "x"})
    assert answer["count"] == 0
    assert answer["near_misses"][0]["differences"] == [
        {"field": "query.external_id", "expected": "acme-8", "actual": "acme-7"},
        {"field": "query.status", "expected": "x", "actual": None, "problem": "missing"},
    ]


def test_a_sequence_in_order_with_others_between(flexprice_sandbox):
    wallet = _wallet(flexprice_sandbox)
    flexprice_sandbox.session.get(flexprice_sandbox.base_url + f"/wallets/{wallet}")
    _top_up(flexprice_sandbox, wallet, "order-1")

    answer = flexprice_sandbox.assert_sequence(
        [
            ("POST", "/v1/customers"),
            {"method": "POST", "path": "/v1/wallets", "body": {"currency": "usd"}},
            ("POST", "/v1/wallets/*/top-up", {"body": {"idempotency_key": "order-1"}, "status": 200}),
        ]
    )
    assert answer["ok"] is True and answer["expected"] == 3
    assert [m["path"] for m in answer["matched"]] == [
        "/v1/customers",
        "/v1/wallets",
        f"/v1/wallets/{wallet}/top-up",
    ]

    # Out of order: the top-up came after the wallet, not before it.
    answer = flexprice_sandbox.verify_sequence([("POST", "/v1/wallets/*/top-up"), ("POST", "/v1/wallets")])
    assert answer["ok"] is False and answer["failed_at"] == 1 and len(answer["matched"]) == 1
    assert answer["near_misses"] == []  # nothing after the top-up comes near a POST /v1/wallets
    with pytest.raises(AssertionError) as failed:
        flexprice_sandbox.assert_sequence([("POST", "/v1/wallets/*/top-up"), ("POST", "/v1/wallets")])
    assert str(failed.value).splitlines() == [
        "Expected 2 requests in order; step 2 is not found after those before.",
        f"  1. found: POST /v1/wallets/{wallet}/top-up -> 200 at {answer['matched'][0]['time']}",
        "  2. missing: POST /v1/wallets",
        "No request in the journal comes near it.",
    ]


def test_unexpected_requests_are_those_without_a_route_or_refused_as_invalid(flexprice_sandbox):
    base = flexprice_sandbox.base_url
    session = flexprice_sandbox.session
    wallet = _wallet(flexprice_sandbox)
    flexprice_sandbox.assert_no_unexpected()  # nothing yet

    assert session.get(base + "/wallets/wallet_nobody").status_code == 404  # an answer the API means
    assert session.post(base + "/wallet", json={}).status_code == 404  # no such route
    assert session.post(base + "/wallets", json={"customer_id": "c", "currency": 5}).status_code == 400
    assert session.delete(base + f"/wallets/{wallet}/top-up").status_code == 405

    found = flexprice_sandbox.unexpected()
    assert [(e["method"], e["path"], e["status"]) for e in found] == [
        ("DELETE", f"/v1/wallets/{wallet}/top-up", 405),
        ("POST", "/v1/wallets", 400),
        ("POST", "/v1/wallet", 404),
    ]
    assert found[0]["unexpected"] == "method not allowed"
    assert found[1]["unexpected"].startswith("invalid: ") and "currency" in found[1]["unexpected"]
    assert found[2]["unexpected"] == "no route"
    with pytest.raises(AssertionError) as failed:
        flexprice_sandbox.assert_no_unexpected()
    lines = str(failed.value).splitlines()
    assert lines[0] == "3 request(s) the API could not take (newest first):"
    assert lines[3].startswith("  POST /v1/wallet -> 404 at ") and lines[3].endswith(": no route")
    # The journal shows the same mark.
    assert flexprice_sandbox.journal(path="/v1/wallet")[0]["unexpected"] == "no route"


def test_each_world_verifies_its_own_requests(flexprice_sandbox, flexprice_server):
    from mockserver.client import FlexpriceClient, new_api_key

    wallet = _wallet(flexprice_sandbox)
    _top_up(flexprice_sandbox, wallet, "order-1")
    other = FlexpriceClient(flexprice_server.url, new_api_key(), flexprice_server.admin_token)
    try:
        assert other.verify("POST", "/v1/**")["count"] == 0
        assert other.verify("POST", "/v1/**")["near_misses"] == []
    finally:
        other.reset()
        other.close()
    assert flexprice_sandbox.verify("POST", "/v1/**")["count"] == 3


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"method": "POST"}, "path", "path is required: a path glob such as /v1/wallets/*/top-up"),
        ({"path": "v1/wallets"}, "path", "path is required: a path glob such as /v1/wallets/*/top-up"),
        ({"path": "/v1/x", "verb": "GET"}, "verb", "verb is not a field here"),
        ({"path": "/v1/x", "method": "GET /"}, "method", "method must be an HTTP method such as POST"),
        ({"path": "/v1/x", "status": "20x0"}, "status", "status must be a status such as 201"),
        ({"path": "/v1/x", "query": ["a"]}, "query", "query must be an object of parameter names and values"),
        ({"path": "/v1/x", "query": {"a": {}}}, "query.a", "query.a must be a string, a number or a list"),
        ({"path": "/v1/x", "count": {"exactly": 1, "at_least": 1}}, "count", "exactly cannot be combined"),
        ({"path": "/v1/x", "count": {"at_least": -1}}, "count.at_least", "count.at_least must be a whole"),
        ({"path": "/v1/x", "count": {"at_least": 3, "at_most": 2}}, "count", "at_most must not be less"),
        ({"path": "/v1/x", "count": {"twice": True}}, "count.twice", "count.twice is not a field here"),
        ({"path": "/v1/x", "count": {}}, "count", "count must say exactly, at_least or at_most"),
    ],
)
def test_a_bad_verification_is_refused_naming_the_field(flexprice_sandbox, body, field, message):
    with pytest.raises(FlexpriceControlError) as refused:
        flexprice_sandbox.control("POST", "/_mock/verify", body)
    assert refused.value.status == 400
    assert message in str(refused.value)
    error = refused.value.body.get("error", refused.value.body)  # either version's error body
    details = error.get("details") or {}
    assert details.get("field") == field


def test_a_bad_sequence_is_refused(flexprice_sandbox):
    for body, message in (
        ({"requests": []}, "requests must be a list of 1 to 100 requests"),
        ({"requests": [{"path": "/v1/x", "count": {"exactly": 1}}]}, "requests[0].count is not a field here"),
        ({"requests": [{"path": "/v1/x"}, {"method": "GET"}]}, "requests[1].path is required"),
        ({"requests": ["GET /v1/x"]}, "requests[0] must be a JSON object"),
    ):
        with pytest.raises(FlexpriceControlError, match=message.replace("[", r"\[").replace("]", r"\]")):
            flexprice_sandbox.control("POST", "/_mock/verify/sequence", body)


def test_a_full_journal_says_older_requests_were_not_looked_at(suite):
    from mockserver.client import FlexpriceClient, new_api_key

    for server in suite.sandboxes():
        small = server(journal_size=2)
        sandbox = FlexpriceClient(small.url, new_api_key())
        try:
            wallet = _wallet(sandbox)
            _top_up(sandbox, wallet, "order-1")
            answer = sandbox.verify("POST", "/v1/customers")  # fell off: the journal keeps 2
            assert answer["count"] == 0
            assert answer["journal"] == {"requests": 2, "capacity": 2, "complete": False}
            with pytest.raises(AssertionError, match=r"keeps the newest 2 requests and is full"):
                sandbox.assert_called("POST", "/v1/customers")
        finally:
            sandbox.close()
        off = server(journal_size=0)
        sandbox = FlexpriceClient(off.url, new_api_key())
        try:
            with pytest.raises(FlexpriceControlError, match="The request journal is off"):
                sandbox.verify("POST", "/v1/customers")
        finally:
            sandbox.close()


def test_the_in_process_handle_verifies_alike(flexprice_app):
    reply = flexprice_app.client.post("/v1/customers", json={"external_id": "acme-1", "name": "Acme"})
    assert reply.status_code == 201
    assert flexprice_app.client.get("/v1/nowhere").status_code == 404
    flexprice_app.assert_called("POST", "/v1/customers", body={"external_id": "acme-1"}, status=201, times=1)
    with pytest.raises(AssertionError, match=r"GET /v1/nowhere -> 404 at .*: no route"):
        flexprice_app.assert_no_unexpected()
