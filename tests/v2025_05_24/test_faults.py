"""Fault injection end to end: what a client sees over a real socket, and the state afterwards."""

import json
from http.client import RemoteDisconnected

import pytest
import requests
from jsonschema import Draft4Validator

from mockserver import cli
from mockserver.http.faults import ConnectionDropped

from .conftest import create_app, make_wallet
from .contract import assert_conforms, operation_for

DIRECT = "PURCHASED_CREDIT_DIRECT"


# ---- helpers ---------------------------------------------------------------------------------


def add_rule(api, **rule) -> dict:
    reply = api.post("/_mock/faults", rule)
    assert reply.status == 201, reply.json
    return reply.json


def check_reply(method: str, path: str, reply: requests.Response) -> None:
    """Declared statuses are checked against their response; injected ones (429, 502, 503, 504:
    the spec does not list them) against the spec's error envelope."""
    op = operation_for(method, path)
    if str(reply.status_code) in op.responses:
        assert_conforms(method, path, reply.status_code, reply.headers.get("Content-Type"), reply.content)
        return
    assert reply.headers["Content-Type"].startswith("application/json")
    envelope = op.responses["500"]
    assert not list(Draft4Validator(envelope).iter_errors(reply.json()))


class Client:
    """A user's raw ``requests`` calls as one API key, every answer checked against the spec."""

    def __init__(self, base: str, api_key: str):
        self.base, self.api_key = base, api_key
        self.session = requests.Session()

    def call(self, method: str, path: str, body=None, headers=None, timeout=5.0):
        sent = {"x-api-key": self.api_key, **(headers or {})}
        reply = self.session.request(method, self.base + path, json=body, headers=sent, timeout=timeout)
        check_reply(method, path, reply)
        return reply

    def top_up(self, wallet_id: str, key: str, credits: int = 10, **kw):
        return self.call(
            "POST",
            f"/v1/wallets/{wallet_id}/top-up",
            {"credits_to_add": credits, "transaction_reason": DIRECT, "idempotency_key": key},
            **kw,
        )

    def balance(self, wallet_id: str):
        return self.call("GET", f"/v1/wallets/{wallet_id}").json()["credit_balance"]

    def transactions(self, wallet_id: str) -> list:
        return self.call("GET", f"/v1/wallets/{wallet_id}/transactions").json()["items"]


@pytest.fixture
def client(http, live_url):
    c = Client(live_url, http.api_key)
    yield c
    c.session.close()


@pytest.fixture
def wallet(http) -> dict:
    return make_wallet(http)


def top_up_path(wallet) -> str:
    return f"/v1/wallets/{wallet['id']}/top-up"


# ---- error statuses --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "status, message",
    [
        (500, "An unexpected error occurred"),
        (502, "Bad gateway"),
        (503, "Service temporarily unavailable"),
        (504, "Gateway timeout"),
    ],
)
def test_error_status_in_the_api_envelope_changes_nothing(http, client, wallet, status, message):
    rule = add_rule(http, path="/v1/wallets/*/top-up", status=status)
    reply = client.top_up(wallet["id"], "k1")
    assert reply.status_code == status
    assert reply.json()["success"] is False
    assert reply.json()["error"]["message"] == message
    assert reply.headers["X-Mock-Fault"] == f"status {status} rule={rule['id']}"
    assert client.balance(wallet["id"]) == 0 and client.transactions(wallet["id"]) == []


def test_429_carries_retry_after_from_the_rule(http, client, wallet):
    add_rule(http, operation="topUpWallet", status=429, retry_after=7)
    reply = client.top_up(wallet["id"], "k1")
    assert reply.status_code == 429
    assert reply.headers["Retry-After"] == "7"
    assert reply.json()["error"]["message"] == "Too many requests"


def test_a_rule_can_say_its_own_message_and_401_looks_like_the_cloud(http, client, wallet):
    add_rule(http, method="GET", path="/v1/wallets/*", status=409, message="Wallet is locked")
    assert client.call("GET", f"/v1/wallets/{wallet['id']}").json()["error"]["message"] == "Wallet is locked"
    reply = client.call(
        "GET", f"/v1/wallets/{wallet['id']}/transactions", headers={"X-Mock-Fault": "status=401"}
    )
    assert reply.status_code == 401 and reply.json() == {"error": "Unauthorized"}


# ---- "fail twice, then succeed", nth, every, times -------------------------------------------


def test_fail_twice_then_succeed_as_a_retrying_client_sees_it(http, client, wallet):
    rule = add_rule(http, operation="topUpWallet", status=503, first=2)
    statuses = [client.top_up(wallet["id"], "k1").status_code for _ in range(3)]
    assert statuses == [503, 503, 200]
    assert client.balance(wallet["id"]) == 10
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
    assert client.balance(wallet["id"]) == 0
    assert client.top_up(wallet["id"], "k2").status_code == 200
    assert client.balance(wallet["id"]) == 10


# ---- dropped connections ---------------------------------------------------------------------


@pytest.mark.parametrize("fault, cause", [("reset", ConnectionResetError), ("empty", RemoteDisconnected)])
def test_reset_and_empty_reply_are_connection_errors(http, client, wallet, fault, cause):
    add_rule(http, operation="topUpWallet", **{fault: True})
    with pytest.raises(requests.exceptions.ConnectionError) as caught:
        client.top_up(wallet["id"], "k1")
    reason = caught.value.args[0].args[1]
    # A reset is the peer's RST; an empty reply is a clean close before any status line (which
    # http.client also files under ConnectionResetError, hence the exact type for a reset).
    assert type(reason) is cause if fault == "reset" else isinstance(reason, cause)
    if fault == "empty":
        assert "without response" in str(reason)
    assert client.balance(wallet["id"]) == 0 and client.transactions(wallet["id"]) == []


def test_lost_response_then_retry_with_the_same_key_credits_once(http, client, wallet):
    add_rule(http, operation="topUpWallet", lost_response=True, times=1)

    def top_up_with_retries(attempts=3):
        # What a careful client does: same idempotency key on every attempt.
        for attempt in range(attempts):
            try:
                return client.top_up(wallet["id"], "order-42", credits=25)
            except requests.exceptions.ConnectionError:
                if attempt == attempts - 1:
                    raise

    reply = top_up_with_retries()
    assert reply.status_code == 200 and reply.json()["credit_balance"] == 25
    assert client.balance(wallet["id"]) == 25
    assert len(client.transactions(wallet["id"])) == 1


def test_without_retry_a_lost_response_still_credited(http, client, wallet):
    with pytest.raises(requests.exceptions.ConnectionError):
        client.top_up(wallet["id"], "k1", headers={"X-Mock-Fault": "lost-response"})
    assert client.balance(wallet["id"]) == 10


# ---- malformed bodies ------------------------------------------------------------------------


def test_truncated_body_is_a_200_that_does_not_parse_and_the_top_up_happened(http, client, wallet):
    add_rule(http, operation="topUpWallet", malformed="truncated")
    reply = client.session.post(
        client.base + top_up_path(wallet),
        headers={"x-api-key": http.api_key},
        json={"credits_to_add": 5, "transaction_reason": DIRECT, "idempotency_key": "k1"},
    )
    assert reply.status_code == 200
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.content.startswith(b'{"id":"' + wallet["id"].encode())
    with pytest.raises(ValueError):
        json.loads(reply.content)
    assert client.balance(wallet["id"]) == 5


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
    other_wallet = make_wallet(other)
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
    assert client.call("GET", path, headers={"X-Mock-Fault": "status=503"}).status_code == 503
    assert client.call("GET", path).status_code == 200
    reply = client.call("GET", path, headers={"X-Mock-Fault": "status=429; retry-after=2"})
    assert (reply.status_code, reply.headers["Retry-After"]) == (429, "2")


def test_prism_prefer_code(client, wallet):
    path = f"/v1/wallets/{wallet['id']}"
    reply = client.call("GET", path, headers={"Prefer": "code=404"})
    assert reply.status_code == 404 and reply.json()["error"]["message"] == "Resource not found"
    assert client.call("GET", path, headers={"Prefer": "code=200"}).json()["id"] == wallet["id"]
    assert client.call("GET", path, headers={"Prefer": "code=429"}).headers["Retry-After"] == "1"
    reply = client.call("GET", path, headers={"Prefer": "code=201"})
    assert reply.status_code == 400
    assert reply.json()["error"]["message"] == "Prefer: code=201 is not a response of getWallet"


@pytest.mark.parametrize(
    "header, field", [("status=700", "status"), ("latency=soon", "latency"), ("every=2;reset", "every")]
)
def test_a_bad_fault_header_is_a_400_naming_the_field(client, wallet, header, field):
    reply = client.top_up(wallet["id"], "k1", headers={"X-Mock-Fault": header})
    assert reply.status_code == 400
    error = reply.json()["error"]
    assert error["details"]["header"] == "X-Mock-Fault" and error["details"]["field"] == field
    assert error["message"].startswith(f"Invalid X-Mock-Fault header: {field}: ")
    assert client.balance(wallet["id"]) == 0


# ---- the admin API ---------------------------------------------------------------------------


def test_admin_add_get_list_delete(http):
    added = http.post("/_mock/faults", [{"status": 503, "first": 1}, {"id": "slow", "latency": "5ms"}])
    assert added.status == 201 and [r["id"] for r in added.json][1] == "slow"
    first_id = added.json[0]["id"]
    assert http.get(f"/_mock/faults/{first_id}").json["status"] == 503
    assert http.get("/_mock/faults").json["total"] == 2
    assert http.delete(f"/_mock/faults/{first_id}").json["id"] == first_id
    missing = http.get(f"/_mock/faults/{first_id}")
    assert missing.status == 404 and missing.error["message"] == f"Fault rule {first_id} not found"
    assert http.delete(f"/_mock/faults/{first_id}").status == 404
    assert http.get("/_mock/faults").json["total"] == 1


@pytest.mark.parametrize(
    "body, field",
    [
        ({"status": 99}, "status"),
        ({"statis": 503}, "statis"),
        ([{"reset": True}, {"latency": "x"}], "rules[1].latency"),
    ],
)
def test_admin_rejects_bad_rules_and_adds_nothing(http, body, field):
    reply = http.post("/_mock/faults", body)
    assert reply.status == 400
    assert reply.error["details"]["field"] == field
    assert reply.error["message"].startswith(f"Invalid fault rule: {field}: ")
    assert http.get("/_mock/faults").json["total"] == 0


@pytest.mark.parametrize("raw", [b"{status: 503", b"[]", b"", b"42"])
def test_admin_rejects_bodies_that_are_not_rules(http, raw):
    reply = http.request("POST", "/_mock/faults", data=raw)
    assert reply.status == 400 and reply.json["success"] is False
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
    assert client.get("/_mock/health").status_code == 200
    listed = client.get("/_mock/faults").get_json()["items"]
    assert [(r["description"], r["hits"]) for r in listed] == [("everything is down", 2)]


def test_in_process_a_dropped_connection_raises_connection_dropped(api):
    wallet = make_wallet(api)
    with pytest.raises(ConnectionDropped):
        api.post(
            f"/v1/wallets/{wallet['id']}/top-up",
            {"credits_to_add": 3, "transaction_reason": DIRECT, "idempotency_key": "k"},
            headers={"X-Mock-Fault": "lost-response"},
        )
    assert api.get(f"/v1/wallets/{wallet['id']}").json["credit_balance"] == 3


def test_the_journal_records_each_fault(api):
    wallet = make_wallet(api)
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
    assert cli.main(["--faults", str(broken), "--port", "0"]) == 2
    error = capsys.readouterr().err
    assert str(broken) in error and "every: must be at least 1, got 0" in error
