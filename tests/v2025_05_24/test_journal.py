"""The request journal: what a key sent and got, newest first, filterable, clearable, bounded."""

from __future__ import annotations

from .conftest import create_app, make_customer, make_wallet, new_key
from .test_admin import local_api


def journal(api, query: str = "") -> list[dict]:
    reply = api.get("/_mock/journal" + query)
    assert reply.status == 200, reply.json
    assert reply.json["count"] == len(reply.json["items"])
    return reply.json["items"]


def test_every_request_is_recorded_newest_first_with_what_was_sent(api):
    customer = make_customer(api)
    sent = api.get(
        f"/v1/customers/{customer['id']}?unused=1&tag=a&tag=b", headers={"X-Request-ID": "req-123"}
    )
    entries = journal(api)
    assert [(e["method"], e["path"], e["status"]) for e in entries] == [
        ("GET", f"/v1/customers/{customer['id']}", 200),
        ("POST", "/v1/customers", 201),
    ]
    newest, oldest = entries
    assert newest["query"] == {"unused": "1", "tag": ["a", "b"]}
    assert newest["body"] is None and newest["request_id"] == "req-123" == sent.headers["X-Request-ID"]
    assert oldest["body"] == {"external_id": "acme-1", "name": "Acme Inc."}
    assert oldest["request_id"] and oldest["request_id"] != newest["request_id"]
    assert oldest["fault"] is None and oldest["duration_ms"] >= 0
    assert oldest["time"].endswith("Z") and oldest["time"] <= newest["time"]


def test_the_api_key_never_appears_in_full(api):
    make_customer(api)
    raw = api.get("/_mock/journal").raw.decode()
    assert api.api_key not in raw
    assert f"{api.api_key[:4]}…{api.api_key[-4:]}" in raw


def test_errors_and_unreadable_bodies_are_recorded_too(api):
    api.request("POST", "/v1/wallets", data="{broken")
    api.get("/v1/wallets/wallet_missing")
    api.get("/v1/nowhere")
    entries = journal(api)
    assert [(e["path"], e["status"]) for e in entries] == [
        ("/v1/nowhere", 404),
        ("/v1/wallets/wallet_missing", 404),
        ("/v1/wallets", 400),
    ]
    assert entries[2]["body"] == "{broken"


def test_each_key_sees_only_its_own_requests_and_controls_are_not_recorded(api):
    other = api.as_key(new_key())
    make_customer(api)
    make_customer(other, "other")
    other.get("/v1/customers")
    api.get("/_mock/clock")
    api.put("/_mock/clock", {"frozen": True})
    assert [e["path"] for e in journal(api)] == ["/v1/customers"]
    assert len(journal(other)) == 2


def test_filters_by_method_path_glob_status_and_limit(api):
    customer = make_customer(api)
    wallet = make_wallet(api, customer["id"])
    api.get(f"/v1/wallets/{wallet['id']}")
    api.get("/v1/wallets/wallet_missing")
    api.get(f"/v1/wallets/{wallet['id']}/transactions")
    assert [e["path"] for e in journal(api, "?method=get&path=/v1/wallets/*")] == [
        "/v1/wallets/wallet_missing",
        f"/v1/wallets/{wallet['id']}",
    ]
    assert [e["path"] for e in journal(api, "?path=/v1/wallets**")] == [
        f"/v1/wallets/{wallet['id']}/transactions",
        "/v1/wallets/wallet_missing",
        f"/v1/wallets/{wallet['id']}",
        "/v1/wallets",
    ]
    assert [e["status"] for e in journal(api, "?status=404")] == [404]
    assert [e["status"] for e in journal(api, "?status=2xx")] == [200, 200, 200, 201]
    assert [e["method"] for e in journal(api, "?method=POST")] == ["POST", "POST"]
    assert len(journal(api, "?limit=2")) == 2
    assert journal(api, "?status=2xx&method=post&limit=1")[0]["path"] == "/v1/wallets"


def test_bad_filters_are_refused_naming_the_parameter(api):
    for query, message in (
        ("?status=abc", "query parameter status must be a status code (404) or a class (4xx)"),
        ("?limit=0", "query parameter limit must be a positive integer"),
        ("?limit=ten", "query parameter limit must be a positive integer"),
        ("?verb=GET", "query parameter verb is not a journal filter (expected: method, path, status, limit)"),
    ):
        reply = api.get("/_mock/journal" + query)
        assert reply.status == 400 and reply.error["message"] == message


def test_clearing_empties_only_this_keys_journal(api):
    other = api.as_key(new_key())
    make_customer(api)
    api.get("/v1/customers")
    other.get("/v1/customers")
    reply = api.delete("/_mock/journal")
    assert reply.status == 200 and reply.json == {"cleared": 2}
    assert journal(api) == []
    assert len(journal(other)) == 1
    api.get("/v1/customers")
    assert len(journal(api)) == 1


def test_the_journal_keeps_the_newest_entries_up_to_its_size():
    api = local_api(journal_size=3)
    for n in range(5):
        api.get(f"/v1/customers/cust_{n}")
    reply = api.get("/_mock/journal").json
    assert reply["capacity"] == 3
    assert [e["path"] for e in reply["items"]] == [
        "/v1/customers/cust_4",
        "/v1/customers/cust_3",
        "/v1/customers/cust_2",
    ]


def test_a_journal_size_of_zero_records_nothing():
    api = local_api(journal_size=0)
    make_customer(api)
    assert api.get("/_mock/journal").json == {"items": [], "count": 0, "capacity": 0}


def test_the_fault_applied_to_a_request_is_recorded():
    api = local_api()
    rule = api.post("/_mock/faults", {"operation": "listCustomers", "status": 503, "times": 1}).json
    assert api.get("/v1/customers").status == 503
    assert api.get("/v1/customers").status == 200
    newest, oldest = journal(api)[:2]
    assert oldest["fault"] == {"kind": "status", "rule": rule["id"], "status": 503}
    assert newest["fault"] is None


def test_the_reset_of_a_world_clears_its_journal(api):
    make_customer(api)
    api.post("/_mock/reset")
    assert journal(api) == []


def test_a_fault_rule_that_fired_shows_in_the_journal(api):
    rule = api.post("/_mock/faults", {"method": "GET", "path": "/v1/customers", "status": 500})
    assert rule.status == 201
    assert api.get("/v1/customers").status == 500
    api.post("/v1/customers", {"external_id": "x", "name": "X"})
    entries = journal(api)
    assert entries[0]["fault"] is None
    assert entries[1]["status"] == 500
    assert entries[1]["fault"] == {"kind": "status", "rule": rule.json["id"], "status": 500}


def test_paths_outside_the_api_are_not_journalled_and_create_no_world():
    app = create_app(log_requests=False)
    client = app.test_client()
    reply = client.get("/favicon.ico", headers={"x-api-key": new_key()})
    assert reply.status_code == 404 and reply.get_json()["error"]["message"] == "Route not found"
    assert client.get("/_mock/health").get_json()["worlds"] == 0
    api_miss = client.get("/v1/nowhere", headers={"x-api-key": "sk_journal_probe"})
    assert api_miss.status_code == 404
    entries = client.get("/_mock/journal", headers={"x-api-key": "sk_journal_probe"}).get_json()
    assert [(e["path"], e["status"]) for e in entries["items"]] == [("/v1/nowhere", 404)]
