"""Fault injection on API version 2026-08-22, end to end: what a client sees over a real socket
(the flat error body, the X-Mock-Fault label, dropped connections), and the state afterwards.

Every answer to an API operation is checked against the 2026-08-22 document: injected statuses
it does not list explicitly against its ``default`` response, the same flat error body.
"""

from __future__ import annotations

import json
import select
import socket
from decimal import Decimal

import pytest
import requests

from mockserver import cli
from mockserver.http.faults import ConnectionDropped

from .conftest import CONTRACT, SUITE, create_app, make_customer, make_wallet

DIRECT = "PURCHASED_CREDIT_DIRECT"
ERROR_FIELDS = {"code", "message", "http_status_code"}


# ---- helpers ---------------------------------------------------------------------------------


def add_rule(api, **rule) -> dict:
    reply = api.post("/_mock/faults", rule)
    assert reply.status == 201, reply.json
    return reply.json


def error_of(body: dict, status: int, code: str, message: str, details: bool = False) -> None:
    """The 2026-08-22 error body: flat, the status repeated, details only when there are some."""
    assert set(body) == ERROR_FIELDS | ({"details"} if details else set()), body
    assert (body["code"], body["message"], body["http_status_code"]) == (code, message, status)


class Client:
    """A user's raw ``requests`` calls as one API key, every answer checked against the document."""

    def __init__(self, base: str, api_key: str):
        self.base, self.api_key = base, api_key
        self.session = requests.Session()

    def call(self, method: str, path: str, body=None, headers=None, timeout=5.0):
        sent = {"x-api-key": self.api_key, **(headers or {})}
        reply = self.session.request(method, self.base + path, json=body, headers=sent, timeout=timeout)
        CONTRACT.assert_conforms(
            method, path, reply.status_code, reply.headers.get("Content-Type"), reply.content
        )
        return reply

    def top_up(self, wallet_id: str, key: str, credits: str = "10", **kw):
        return self.call(
            "POST",
            f"/v1/wallets/{wallet_id}/top-up",
            {"credits_to_add": credits, "transaction_reason": DIRECT, "idempotency_key": key},
            **kw,
        )

    def wallet(self, wallet_id: str) -> dict:
        return self.call("GET", f"/v1/wallets/{wallet_id}").json()

    def balance(self, wallet_id: str) -> str:
        return self.wallet(wallet_id)["credit_balance"]

    def transactions(self, wallet_id: str) -> list:
        return self.call("GET", f"/v1/wallets/{wallet_id}/transactions").json()["items"]


@pytest.fixture
def client(http, live_url):
    c = Client(live_url, http.api_key)
    yield c
    c.session.close()


@pytest.fixture
def wallet(http) -> dict:
    return make_wallet(http, make_customer(http)["id"])


def top_up_path(wallet) -> str:
    return f"/v1/wallets/{wallet['id']}/top-up"


# ---- error statuses --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "status, code, message",
    [
        (500, "internal_error", "An unexpected error occurred"),
        (502, "internal_error", "Bad gateway"),
        (503, "service_unavailable", "Service temporarily unavailable"),
        (504, "internal_error", "Gateway timeout"),
    ],
)
def test_error_status_in_the_flat_error_body_changes_nothing(http, client, wallet, status, code, message):
    rule = add_rule(http, path="/v1/wallets/*/top-up", status=status)
    reply = client.top_up(wallet["id"], "k1")
    assert reply.status_code == status
    error_of(reply.json(), status, code, message)
    assert reply.headers["X-Mock-Fault"] == f"status {status} rule={rule['id']}"
    assert client.balance(wallet["id"]) == "0" and client.transactions(wallet["id"]) == []


@pytest.mark.parametrize(
    "status, code, message",
    [
        (400, "validation_error", "Invalid request format"),
        (403, "permission_denied", "Permission denied"),
        (404, "not_found", "Resource not found"),
        (405, "validation_error", "Method Not Allowed"),
        (408, "validation_error", "Request timeout"),
        (409, "already_exists", "Resource already exists"),
        (413, "validation_error", "Request Entity Too Large"),
        (415, "validation_error", "Unsupported Media Type"),
        (418, "validation_error", "I'm a Teapot"),
        (422, "validation_error", "Unprocessable entity"),
        (501, "not_implemented", "Not Implemented"),
        (599, "internal_error", "Request failed"),
    ],
)
def test_every_injected_status_carries_a_code_of_the_document(client, wallet, status, code, message):
    """Statuses getWallet does not list are answered with its default error: a code of the
    document's ErrorCode enum, never one of the sandbox's own."""
    reply = client.call("GET", f"/v1/wallets/{wallet['id']}", headers={"X-Mock-Fault": f"status={status}"})
    assert reply.status_code == status and reply.headers["X-Mock-Fault"] == f"status {status}"
    error_of(reply.json(), status, code, message)


def test_429_carries_retry_after_from_the_rule(http, client, wallet):
    add_rule(http, operation="topUpWallet", status=429, retry_after=7)
    reply = client.top_up(wallet["id"], "k1")
    assert reply.status_code == 429
    assert reply.headers["Retry-After"] == "7"
    error_of(reply.json(), 429, "too_many_requests", "Too many requests")


def test_a_rule_can_say_its_own_message_and_401_looks_like_the_cloud(http, client, wallet):
    add_rule(http, method="GET", path="/v1/wallets/*", status=409, message="Wallet is locked")
    reply = client.call("GET", f"/v1/wallets/{wallet['id']}")
    error_of(reply.json(), 409, "already_exists", "Wallet is locked")
    reply = client.call(
        "GET", f"/v1/wallets/{wallet['id']}/transactions", headers={"X-Mock-Fault": "status=401"}
    )
    assert reply.status_code == 401 and reply.json() == {"error": "Unauthorized"}
    assert reply.headers["X-Mock-Fault"] == "status 401"


# ---- operations of this version --------------------------------------------------------------


def test_a_rule_on_a_debit_refuses_it_and_the_ledger_is_untouched(http, client, wallet):
    client.top_up(wallet["id"], "k1", credits="30")
    rule = add_rule(http, operation="debitWallet", status=503, first=1)
    path = f"/v1/wallets/{wallet['id']}/debit"
    body = {"credits": "5", "transaction_reason": "MANUAL_BALANCE_DEBIT", "idempotency_key": "d1"}
    refused = client.call("POST", path, body)
    assert refused.status_code == 503 and refused.headers["X-Mock-Fault"] == f"status 503 rule={rule['id']}"
    assert client.balance(wallet["id"]) == "30" and len(client.transactions(wallet["id"])) == 1
    # The refused debit wrote nothing, so its key is still free.
    debited = client.call("POST", path, body)
    assert debited.status_code == 200 and debited.json()["credit_balance"] == "25"
    assert [t["transaction_reason"] for t in client.transactions(wallet["id"])] == [
        "MANUAL_BALANCE_DEBIT",
        DIRECT,
    ]


@pytest.mark.parametrize(
    "operation, method, path, body",
    [
        ("modifyWallet", "POST", "/v1/wallets/{id}/modify", {"modification_type": "prepaid_to_postpaid"}),
        ("getWalletBalanceCached", "GET", "/v1/wallets/{id}/balance/real-time-cached", None),
        ("queryWalletTransaction", "POST", "/v1/wallets/transactions/search", {"id": "{id}"}),
        ("queryWallet", "POST", "/v1/wallets/search", {"status": "active"}),
        ("getCustomerByExternalId", "GET", "/v1/customers/external/acme-1", None),
    ],
)
def test_rules_by_operation_id_reach_the_operations_of_this_version(
    http, client, wallet, operation, method, path, body
):
    rule = add_rule(http, operation=operation, status=502, times=1)
    path = path.replace("{id}", wallet["id"])
    body = json.loads(json.dumps(body).replace("{id}", wallet["id"])) if body else None
    reply = client.call(method, path, body)
    assert reply.status_code == 502 and reply.headers["X-Mock-Fault"] == f"status 502 rule={rule['id']}"
    error_of(reply.json(), 502, "internal_error", "Bad gateway")
    # The rule is spent: the same call now reaches the operation, which had not run.
    reply = client.call(method, path, body)
    assert reply.status_code == 200 and "X-Mock-Fault" not in reply.headers
    if operation == "modifyWallet":
        assert reply.json()["original_wallet"]["wallet_status"] == "closed"
        assert reply.json()["new_wallet"]["wallet_type"] == "POST_PAID"
    listed = http.get(f"/_mock/faults/{rule['id']}").json
    assert (listed["matches"], listed["hits"]) == (1, 1)


# ---- "fail twice, then succeed", nth, every, times -------------------------------------------


def test_fail_twice_then_succeed_as_a_retrying_client_sees_it(http, client, wallet):
    rule = add_rule(http, operation="topUpWallet", status=503, first=2)
    replies = [client.top_up(wallet["id"], "k1") for _ in range(3)]
    assert [r.status_code for r in replies] == [503, 503, 200]
    assert replies[2].json()["wallet"]["credit_balance"] == "10"
    assert replies[2].json()["wallet_transaction"]["idempotency_key"] == "k1"
    assert client.balance(wallet["id"]) == "10"
    listed = http.get(f"/_mock/faults/{rule['id']}").json
    assert (listed["matches"], listed["hits"]) == (3, 2)


def test_nth_every_and_times(http, client, wallet):
    add_rule(http, method="GET", path="/v1/wallets/*", status=500, every=2, times=2)
    statuses = [client.call("GET", f"/v1/wallets/{wallet['id']}").status_code for _ in range(6)]
    assert statuses == [200, 500, 200, 500, 200, 200]
    add_rule(http, operation="getWalletBalance", status=502, nth=2)
    path = f"/v1/wallets/{wallet['id']}/balance/real-time"
    assert [client.call("GET", path).status_code for _ in range(3)] == [200, 502, 200]


def test_a_seeded_probability_gives_the_same_sequence_every_run(http, client, wallet):
    runs = []
    for _ in range(2):
        rule = add_rule(http, method="GET", status=503, probability=0.4, seed=1234)
        runs.append([client.call("GET", f"/v1/wallets/{wallet['id']}").status_code for _ in range(20)])
        assert http.delete(f"/_mock/faults/{rule['id']}").status == 200
    assert runs[0] == runs[1]
    assert {200, 503} == set(runs[0])


# ---- latency and timeout ---------------------------------------------------------------------


def test_latency_delays_then_answers_normally(http, client, wallet):
    add_rule(http, method="GET", path="/v1/wallets/*", latency="150ms")
    reply = client.call("GET", f"/v1/wallets/{wallet['id']}")
    assert reply.status_code == 200 and reply.json()["id"] == wallet["id"]
    assert reply.elapsed.total_seconds() >= 0.15
    assert reply.headers["X-Mock-Fault"].startswith("latency delay=150ms")


def test_random_latency_replays_with_its_seed(http, client, wallet):
    delays = []
    for _ in range(2):
        rule = add_rule(http, method="GET", latency="10ms..60ms", seed=3)
        labels = [client.call("GET", f"/v1/wallets/{wallet['id']}").headers["X-Mock-Fault"] for _ in range(4)]
        delays.append([label.split()[1] for label in labels])  # "latency delay=22ms rule=..."
        http.delete(f"/_mock/faults/{rule['id']}")
    assert delays[0] == delays[1] and len(set(delays[0])) > 1
    assert all(10 <= int(d.removeprefix("delay=").removesuffix("ms")) <= 60 for d in delays[0])


def test_timeout_holds_the_request_past_the_client_and_others_are_served(http, client, wallet):
    add_rule(http, operation="topUpWallet", timeout="1s", first=1)
    with pytest.raises(requests.exceptions.ReadTimeout):
        client.top_up(wallet["id"], "k1", timeout=0.2)
    # The held request still occupies one worker; the others answer meanwhile.
    assert client.balance(wallet["id"]) == "0"
    assert client.top_up(wallet["id"], "k2").status_code == 200
    assert client.balance(wallet["id"]) == "10"


def test_fifty_held_requests_stop_no_one_and_each_ends_as_its_fault_says(http, client, wallet, live_url):
    """Held answers wait on the server's loop, not in a worker: 25 slowed by latency and 25 held by
    a timeout at once, and other requests are answered while every one of them is still held."""
    host, port = live_url.removeprefix("http://").split(":")
    request = (
        f"GET /v1/wallets/{wallet['id']} HTTP/1.1\r\nHost: {host}\r\nx-api-key: {http.api_key}\r\n"
        "X-Mock-Fault: {fault}\r\nConnection: close\r\n\r\n"
    )
    held = []
    for n in range(50):
        sock = socket.create_connection((host, int(port)), timeout=10)
        sock.sendall(request.format(fault="latency=2s" if n % 2 else "timeout=2s").encode())
        held.append(sock)
    try:
        for _ in range(5):
            assert client.call("GET", f"/v1/wallets/{wallet['id']}").status_code == 200
        assert client.top_up(wallet["id"], "while-held").status_code == 200
        waiting, _, _ = select.select(held, [], [], 0)
        assert waiting == [], "an answer left before its hold was over"
        answers = [_read_all(sock) for sock in held]
    finally:
        for sock in held:
            sock.close()
    slowed, timed_out = answers[1::2], answers[::2]
    assert all(a.startswith(b"HTTP/1.1 200 ") and b"latency delay=2000ms" in a for a in slowed)
    assert all(a == b"" for a in timed_out), "a timeout closes the connection unanswered"


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


# ---- dropped connections ---------------------------------------------------------------------


@pytest.mark.parametrize("fault, cause", [("reset", ConnectionResetError), ("empty", Exception)])
def test_reset_and_empty_reply_are_connection_errors(http, client, wallet, fault, cause):
    add_rule(http, operation="topUpWallet", **{fault: True})
    with pytest.raises(requests.exceptions.ConnectionError) as caught:
        client.top_up(wallet["id"], "k1")
    reason = caught.value.args[0].args[1]
    assert isinstance(reason, cause)
    if fault == "empty":
        assert "without response" in str(reason)
    assert client.balance(wallet["id"]) == "0" and client.transactions(wallet["id"]) == []


def test_lost_response_then_a_retry_with_the_same_key_is_a_409_and_credits_once(http, client, wallet):
    """In this version a used idempotency key is refused, not answered again: the careful client's
    retry learns that the top-up went through from the 409."""
    rule = add_rule(http, operation="topUpWallet", lost_response=True, times=1)
    with pytest.raises(requests.exceptions.ConnectionError):
        client.top_up(wallet["id"], "order-42", credits="25")
    retry = client.top_up(wallet["id"], "order-42", credits="25")
    assert retry.status_code == 409 and "X-Mock-Fault" not in retry.headers
    error_of(
        retry.json(),
        409,
        "already_exists",
        "A wallet transaction with this idempotency key already exists",
        details=True,
    )
    assert retry.json()["details"]["idempotency_key"] == "order-42"
    assert client.balance(wallet["id"]) == "25"
    [credit] = client.transactions(wallet["id"])
    assert (credit["credit_amount"], credit["idempotency_key"], credit["transaction_status"]) == (
        "25",
        "order-42",
        "completed",
    )
    listed = http.get(f"/_mock/faults/{rule['id']}").json
    assert (listed["matches"], listed["hits"], listed["expired"]) == (1, 1, True)
    # The lost answer is in the journal with the status the handler gave it.
    sent = http.get("/_mock/journal?path=/v1/wallets/*/top-up").json["items"]
    assert [(e["status"], (e["fault"] or {}).get("kind")) for e in sent] == [
        (409, None),
        (200, "lost_response"),
    ]


def test_without_retry_a_lost_response_still_credited(http, client, wallet):
    with pytest.raises(requests.exceptions.ConnectionError):
        client.top_up(wallet["id"], "k1", headers={"X-Mock-Fault": "lost-response"})
    assert client.balance(wallet["id"]) == "10"


# ---- malformed bodies ------------------------------------------------------------------------


def test_truncated_body_is_a_200_that_does_not_parse_and_the_top_up_happened(http, client, wallet):
    add_rule(http, operation="topUpWallet", malformed="truncated")
    reply = client.session.post(
        client.base + top_up_path(wallet),
        headers={"x-api-key": http.api_key},
        json={"credits_to_add": "5", "transaction_reason": DIRECT, "idempotency_key": "k1"},
    )
    assert reply.status_code == 200
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.headers["X-Mock-Fault"].startswith("malformed truncated rule=")
    assert reply.content.startswith(b'{"wallet_transaction":{"id":"wtxn_')
    with pytest.raises(ValueError):
        json.loads(reply.content)
    assert client.balance(wallet["id"]) == "5"


def test_not_json_body_is_a_200_html_page(http, client, wallet):
    reply = client.session.get(
        client.base + f"/v1/wallets/{wallet['id']}",
        headers={"x-api-key": http.api_key, "X-Mock-Fault": "malformed=not-json"},
    )
    assert reply.status_code == 200 and reply.headers["Content-Type"].startswith("text/html")
    with pytest.raises(ValueError):
        reply.json()


# ---- scoping by key --------------------------------------------------------------------------


def test_a_rule_applies_to_its_key_alone(http, live_url, wallet):
    other = http.as_key(http.api_key + "-other")
    other_wallet = make_wallet(other, make_customer(other)["id"])
    rule = add_rule(http, status=503)
    assert rule["api_key"] == f"{http.api_key[:4]}…{http.api_key[-4:]}"
    mine, theirs = Client(live_url, http.api_key), Client(live_url, other.api_key)
    assert mine.call("GET", f"/v1/wallets/{wallet['id']}").status_code == 503
    assert theirs.call("GET", f"/v1/wallets/{other_wallet['id']}").status_code == 200
    assert other.get("/_mock/faults").json == {"items": [], "total": 0}
    assert [r["id"] for r in http.get("/_mock/faults").json["items"]] == [rule["id"]]
    assert other.delete("/_mock/faults").json == {"deleted": 0}
    assert http.delete("/_mock/faults").json == {"deleted": 1}
    assert mine.call("GET", f"/v1/wallets/{wallet['id']}").status_code == 200


# ---- one-off header and Prefer ---------------------------------------------------------------


def test_the_header_fails_one_request_only(client, wallet):
    path = f"/v1/wallets/{wallet['id']}"
    reply = client.call("GET", path, headers={"X-Mock-Fault": "status=503"})
    assert reply.status_code == 503 and reply.headers["X-Mock-Fault"] == "status 503"
    error_of(reply.json(), 503, "service_unavailable", "Service temporarily unavailable")
    assert client.call("GET", path).status_code == 200
    reply = client.call("GET", path, headers={"X-Mock-Fault": "status=429; retry-after=2"})
    assert (reply.status_code, reply.headers["Retry-After"]) == (429, "2")


def test_prism_prefer_code(client, wallet):
    path = f"/v1/wallets/{wallet['id']}"
    reply = client.call("GET", path, headers={"Prefer": "code=404"})
    assert reply.status_code == 404
    error_of(reply.json(), 404, "not_found", "Resource not found")
    assert client.call("GET", path, headers={"Prefer": "code=200"}).json()["id"] == wallet["id"]
    assert client.call("GET", path, headers={"Prefer": "code=429"}).headers["Retry-After"] == "1"
    reply = client.call("GET", path, headers={"Prefer": "code=201"})
    assert reply.status_code == 400
    error_of(
        reply.json(), 400, "validation_error", "Prefer: code=201 is not a response of getWallet", details=True
    )
    assert reply.json()["details"]["header"] == "Prefer"
    assert reply.json()["details"]["declared"] == ["200", "400", "401", "404", "429", "500", "503", "default"]


def test_prefer_a_declared_success_runs_the_operation(client, wallet):
    reply = client.call(
        "POST",
        top_up_path(wallet),
        {"credits_to_add": "3", "transaction_reason": DIRECT, "idempotency_key": "p1"},
        headers={"Prefer": "code=200"},
    )
    assert reply.status_code == 200 and reply.json()["wallet"]["credit_balance"] == "3"


@pytest.mark.parametrize(
    "header, field", [("status=700", "status"), ("latency=soon", "latency"), ("every=2;reset", "every")]
)
def test_a_bad_fault_header_is_a_400_naming_the_field(client, wallet, header, field):
    reply = client.top_up(wallet["id"], "k1", headers={"X-Mock-Fault": header})
    assert reply.status_code == 400
    body = reply.json()
    assert set(body) == ERROR_FIELDS | {"details"}
    assert (body["code"], body["http_status_code"]) == ("validation_error", 400)
    assert body["details"]["header"] == "X-Mock-Fault" and body["details"]["field"] == field
    assert body["message"].startswith(f"Invalid X-Mock-Fault header: {field}: ")
    assert client.balance(wallet["id"]) == "0"


# ---- the faults API --------------------------------------------------------------------------


def test_admin_add_get_list_delete(http):
    added = http.post("/_mock/faults", [{"status": 503, "first": 1}, {"id": "slow", "latency": "5ms"}])
    assert added.status == 201 and [r["id"] for r in added.json][1] == "slow"
    first_id = added.json[0]["id"]
    assert http.get(f"/_mock/faults/{first_id}").json["status"] == 503
    assert http.get("/_mock/faults").json["total"] == 2
    assert http.delete(f"/_mock/faults/{first_id}").json["id"] == first_id
    missing = http.get(f"/_mock/faults/{first_id}")
    assert missing.status == 404
    assert missing.json == {
        "code": "not_found",
        "message": f"Fault rule {first_id} not found",
        "http_status_code": 404,
        "details": {"id": first_id},
    }
    assert http.delete(f"/_mock/faults/{first_id}").status == 404
    assert http.get("/_mock/faults").json["total"] == 1


def test_a_key_holds_at_most_1000_rules_and_is_told_so(http, app):
    """Every request is checked against every rule: their number is bounded per key."""
    assert (
        http.post("/_mock/faults", [{"latency": "1ms", "path": f"/v1/x{n}"} for n in range(999)]).status
        == 201
    )
    refused = http.post("/_mock/faults", [{"status": 503}, {"status": 502}])
    assert refused.status == 429
    assert refused.json["message"] == (
        "Sandbox limit reached: at most 1000 rules for this API key, and 999 are there; "
        "delete some first (DELETE /_mock/faults)"
    )
    assert http.get("/_mock/faults").json["total"] == 999  # all or nothing
    other = SUITE.client_of(app)  # another key's room is its own
    assert other.post("/_mock/faults", {"status": 503}).status == 201
    assert http.delete("/_mock/faults").status == 200
    assert other.delete("/_mock/faults").status == 200


@pytest.mark.parametrize(
    "body, field, problem",
    [
        ({"status": 99}, "status", "must be from 400 to 599, got 99"),
        ({"statis": 503}, "statis", None),
        ([{"reset": True}, {"latency": "x"}], "rules[1].latency", None),
        ({"operation": "getWalletBalanceCachd", "status": 503}, "operation", None),
    ],
)
def test_admin_rejects_bad_rules_in_the_flat_error_body_and_adds_nothing(http, body, field, problem):
    reply = http.post("/_mock/faults", body)
    assert reply.status == 400
    error = reply.json
    assert set(error) == ERROR_FIELDS | {"details"}
    assert (error["code"], error["http_status_code"]) == ("validation_error", 400)
    assert error["details"]["field"] == field
    assert error["message"] == f"Invalid fault rule: {field}: {error['details']['problem']}"
    if problem:
        assert error["details"]["problem"] == problem
    assert http.get("/_mock/faults").json["total"] == 0


def test_a_rule_may_name_any_operation_of_this_version(http):
    for operation in (
        "debitWallet",
        "modifyWallet",
        "getWalletBalanceCached",
        "queryWalletTransaction",
        "getCustomerByExternalId",
        "updateCustomerById",
    ):
        assert add_rule(http, operation=operation, status=503)["operation"] == operation


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"{status: 503", "Invalid request format"),
        (b"[]", 'Send one fault rule (a JSON object) or a list of them, e.g. {"status": 503}'),
        (b"", 'Send one fault rule (a JSON object) or a list of them, e.g. {"status": 503}'),
        (b"42", 'Send one fault rule (a JSON object) or a list of them, e.g. {"status": 503}'),
    ],
)
def test_admin_rejects_bodies_that_are_not_rules(http, raw, message):
    reply = http.request("POST", "/_mock/faults", data=raw)
    assert reply.status == 400
    assert (reply.json["code"], reply.json["message"], reply.json["http_status_code"]) == (
        "validation_error",
        message,
        400,
    )
    assert "success" not in reply.json and "error" not in reply.json
    assert http.get("/_mock/faults").json["total"] == 0


# ---- a sandbox of its own: global rules, a fault file, the test client -----------------------


@pytest.fixture
def own_app(tmp_path):
    rules = tmp_path / "faults.yaml"
    rules.write_text("faults:\n  - {path: /**, status: 503, description: everything is down}\n")
    return create_app(faults=str(rules), log_requests=False, validate_responses=True)


def test_a_fault_file_applies_to_every_key_but_never_to_mock_routes(own_app):
    client = own_app.test_client()
    for key in ("key-a", "key-b"):
        reply = client.get("/v1/wallets/wallet_1", headers={"x-api-key": key})
        assert reply.status_code == 503
        assert reply.get_json() == {
            "code": "service_unavailable",
            "message": "Service temporarily unavailable",
            "http_status_code": 503,
        }
    health = client.get("/_mock/health")
    assert health.status_code == 200 and health.get_json()["api_version"] == SUITE.version
    listed = client.get("/_mock/faults").get_json()["items"]
    assert [(r["description"], r["hits"]) for r in listed] == [("everything is down", 2)]


def test_in_process_a_dropped_connection_raises_connection_dropped(api):
    wallet = make_wallet(api, make_customer(api)["id"])
    with pytest.raises(ConnectionDropped):
        api.post(
            f"/v1/wallets/{wallet['id']}/top-up",
            {"credits_to_add": "3", "transaction_reason": DIRECT, "idempotency_key": "k"},
            headers={"X-Mock-Fault": "lost-response"},
        )
    assert api.get(f"/v1/wallets/{wallet['id']}").json["credit_balance"] == "3"
    again = api.post(
        f"/v1/wallets/{wallet['id']}/top-up",
        {"credits_to_add": "3", "transaction_reason": DIRECT, "idempotency_key": "k"},
    )
    assert again.status == 409 and again.json["code"] == "already_exists"
    assert api.get(f"/v1/wallets/{wallet['id']}").json["credit_balance"] == "3"


def test_the_journal_records_each_fault(api):
    wallet = make_wallet(api, make_customer(api)["id"])
    api.get(f"/v1/wallets/{wallet['id']}", headers={"Prefer": "code=404"})
    with pytest.raises(ConnectionDropped):
        api.get(f"/v1/wallets/{wallet['id']}", headers={"X-Mock-Fault": "reset"})
    entries = api.get("/_mock/journal").json["items"]
    assert [(e["status"], e["fault"]) for e in entries[:2]] == [
        (499, {"kind": "reset", "rule": None}),
        (404, {"kind": "status", "rule": None, "status": 404}),
    ]


def test_faults_hold_no_longer_than_the_sandbox_allows():
    client = create_app(fault_max_hold=1, log_requests=False).test_client()
    reply = client.post("/_mock/faults", json={"timeout": "3600s", "latency": "5s..7200s"})
    assert reply.status_code == 201
    assert (reply.get_json()["timeout"], reply.get_json()["latency"]) == ("1000ms", "1000ms")


def test_a_broken_fault_file_stops_the_start(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    broken = tmp_path / "faults.yaml"
    broken.write_text("- {status: 503, every: 0}\n")
    assert cli.main(["--api-version", SUITE.version, "--faults", str(broken), "--port", "0"]) == 2
    error = capsys.readouterr().err
    assert str(broken) in error and "every: must be at least 1, got 0" in error


def test_decimals_survive_a_fault_free_round_trip(client, wallet):
    """The control case: with no rule, the top-up answers the 2026 shape with string decimals."""
    reply = client.top_up(wallet["id"], "plain", credits="0.125")
    assert reply.status_code == 200 and "X-Mock-Fault" not in reply.headers
    body = reply.json()
    assert set(body) == {"wallet_transaction", "wallet"}
    assert body["wallet_transaction"]["credit_amount"] == "0.125"
    assert Decimal(body["wallet"]["credit_balance"]) == Decimal("0.125")
