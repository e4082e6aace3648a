"""The sandbox's controls (``/_mock/``) on API version 2026-08-22: health, reset, the request
journal, each world's clock (credits expiring as CREDIT_EXPIRED debits in this version's
transaction shape), fixtures written in this version's fields, state export and import, the
invoices of PURCHASED_CREDIT_INVOICED top-ups, and deterministic ids.

Controls answer in this version's shapes: refusals in the flat error body, transactions and
wallets as the document shows them (checked against its schemas here), decimals as strings.
"""

from __future__ import annotations

import copy
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest
from jsonschema import Draft4Validator

from mockserver.controls.fixtures import FixtureError
from mockserver.text import mask

from ..support import Suite
from .conftest import CONTRACT, SUITE, Api, Reply, client_of, create_app, make_customer, make_wallet, new_key

REPO = Path(__file__).resolve().parents[2]
FROZEN = {"now": "2027-01-01T00:00:00Z", "frozen": True}
JAN_1 = "2027-01-01T00:00:00.000000Z"
DIRECT, INVOICED = "PURCHASED_CREDIT_DIRECT", "PURCHASED_CREDIT_INVOICED"


def _schema(operation: str, status: str = "200") -> dict:
    return CONTRACT.spec.by_id[operation].responses[status]


TRANSACTION = Draft4Validator(_schema("getWalletTransactions")["properties"]["items"]["items"])
WALLET = Draft4Validator(_schema("getWallet"))
CUSTOMER = Draft4Validator(_schema("getCustomer"))


def conforms(validator: Draft4Validator, body: dict) -> None:
    """A control's answer holds objects as the API shows them: check them against the document."""
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(body)]
    assert not errors, errors


def local_api(app=None, **settings) -> Api:
    """A client of a sandbox of its own, for controls that act on every world."""
    app = app or create_app(validate_responses=True, log_requests=False, **settings)
    client = app.test_client()

    def send(method, path, data, headers):
        r = client.open(path, method=method, data=data, headers=headers)
        return Reply(r.status_code, r.headers, r.get_data())

    return Api(send, new_key())


def refused(reply: Reply, status: int, message: str, code: str = "validation_error") -> dict:
    """A control's refusal in the 2026-08-22 error body; returns its details."""
    body = reply.json
    assert reply.status == status, body
    assert set(body) <= {"code", "message", "http_status_code", "details"}, body
    assert (body["code"], body["message"], body["http_status_code"]) == (code, message, status)
    return body.get("details") or {}


def customer_count(api: Api) -> int:
    reply = api.get("/v1/customers")
    assert reply.status == 200
    return reply.json["pagination"]["total"]


def top_up(api: Api, wallet_id: str, credits: str, key: str, reason: str = DIRECT, **fields) -> dict:
    reply = api.post(
        f"/v1/wallets/{wallet_id}/top-up",
        {"credits_to_add": credits, "transaction_reason": reason, "idempotency_key": key, **fields},
    )
    assert reply.status == 200, reply.json
    return reply.json


def freeze(api: Api, now: str = FROZEN["now"]) -> None:
    reply = api.put("/_mock/clock", {"now": now, "frozen": True})
    assert reply.status == 200, reply.json


# ---- health ----------------------------------------------------------------------------------


def test_health_names_the_api_version_and_counts_worlds():
    api = local_api()
    reply = api.get("/_mock/health", key=None)
    store = "memory" if SUITE.store == "memory" else "redis"
    assert reply.status == 200
    assert reply.json == {"status": "ok", "api_version": "2026-08-22", "store": store, "worlds": 0}
    make_customer(api)
    make_customer(api.as_key(new_key()))
    assert api.get("/_mock/health", key=None).json["worlds"] == 2


def test_the_suites_sandbox_serves_this_version(api):
    assert api.get("/_mock/health").json["api_version"] == SUITE.version == "2026-08-22"


# ---- reset -----------------------------------------------------------------------------------


def test_resetting_one_key_leaves_the_other_keys_untouched(api):
    other = api.as_key(new_key())
    make_customer(api)
    make_customer(other, "other-1")
    reply = api.post("/_mock/reset")
    assert reply.status == 200 and reply.json == {
        "reset": 1,
        "scope": "key",
        "worlds": [{"api_key": mask(api.api_key), "environment_id": ""}],
    }
    assert customer_count(api) == 0
    assert customer_count(other) == 1


def test_reset_with_an_environment_forgets_only_that_environment(api):
    staged = api.post(
        "/v1/customers",
        {"external_id": "staged-1", "name": "Staged"},
        headers={"X-Environment-ID": "staging"},
    )
    assert staged.status == 201
    make_customer(api, "prod-1")
    assert api.post("/_mock/reset", headers={"X-Environment-ID": "staging"}).json == {
        "reset": 1,
        "scope": "environment",
        "worlds": [{"api_key": mask(api.api_key), "environment_id": "staging"}],
    }
    assert customer_count(api) == 1
    assert api.get("/v1/customers", headers={"X-Environment-ID": "staging"}).json["pagination"]["total"] == 0


def test_every_world_is_forgotten_only_when_asked_with_all():
    api = local_api()
    other = api.as_key(new_key())
    make_customer(api)
    make_customer(other)
    details = refused(
        api.post("/_mock/reset", key=None),
        400,
        "Say which worlds to forget: the x-api-key header for one key's worlds, or ?all=true for every world",
    )
    assert details == {"header": "x-api-key"}
    assert api.get("/_mock/health").json["worlds"] == 2
    reply = api.post("/_mock/reset?all=true", key=None)
    assert (reply.status, reply.json["reset"], reply.json["scope"]) == (200, 2, "all")
    assert sorted(w["api_key"] for w in reply.json["worlds"]) == sorted(
        map(mask, (api.api_key, other.api_key))
    )
    assert api.get("/_mock/health").json["worlds"] == 0
    make_customer(api)
    assert api.post("/_mock/reset?all=true").json["reset"] == 1  # a key, and all: every world
    assert customer_count(api) == 0


def test_reset_refuses_an_unreadable_all_flag_in_the_flat_error_body(api):
    make_customer(api)
    details = refused(api.post("/_mock/reset?all=maybe"), 400, "query parameter all must be true or false")
    assert details == {"all": "maybe"}
    assert customer_count(api) == 1


def test_a_world_control_without_a_key_names_the_header(api):
    details = refused(
        api.get("/_mock/state", key=None),
        400,
        "The x-api-key header is required: it names the world this control acts on",
    )
    assert details == {"header": "x-api-key"}


# ---- journal ---------------------------------------------------------------------------------


def journal(api: Api, query: str = "") -> list[dict]:
    reply = api.get("/_mock/journal" + query)
    assert reply.status == 200, reply.json
    assert reply.json["count"] == len(reply.json["items"])
    return reply.json["items"]


def test_the_journal_records_this_versions_requests_newest_first(api):
    customer = make_customer(api)
    wallet = make_wallet(api, customer["id"])
    top_up(api, wallet["id"], "12.5", "order-1")
    again = api.post(
        f"/v1/wallets/{wallet['id']}/top-up",
        {"credits_to_add": "12.5", "transaction_reason": DIRECT, "idempotency_key": "order-1"},
        headers={"X-Request-ID": "req-retry"},
    )
    assert again.status == 409
    entries = journal(api)
    assert [(e["method"], e["path"], e["status"]) for e in entries] == [
        ("POST", f"/v1/wallets/{wallet['id']}/top-up", 409),
        ("POST", f"/v1/wallets/{wallet['id']}/top-up", 200),
        ("POST", "/v1/wallets", 200),
        ("POST", "/v1/customers", 201),
    ]
    assert entries[0]["request_id"] == "req-retry" == again.headers["X-Request-ID"]
    # What was sent is kept as sent: decimals as the strings this version takes.
    assert entries[1]["body"] == {
        "credits_to_add": "12.5",
        "transaction_reason": DIRECT,
        "idempotency_key": "order-1",
    }
    assert entries[3]["body"] == {"external_id": "acme-1", "name": "Acme Inc."}
    assert all(e["fault"] is None for e in entries)
    assert api.api_key not in api.get("/_mock/journal").raw.decode()


def test_journal_filters_and_clearing(api):
    customer = make_customer(api)
    wallet = make_wallet(api, customer["id"])
    api.get(f"/v1/wallets/{wallet['id']}")
    api.get("/v1/wallets/wallet_missing")
    api.get(f"/v1/wallets/{wallet['id']}/balance/real-time-cached")
    assert [e["path"] for e in journal(api, "?method=get&path=/v1/wallets/*")] == [
        "/v1/wallets/wallet_missing",
        f"/v1/wallets/{wallet['id']}",
    ]
    assert [e["status"] for e in journal(api, "?status=404")] == [404]
    assert [e["status"] for e in journal(api, "?status=2xx")] == [200, 200, 200, 201]
    assert len(journal(api, "?limit=2")) == 2
    other = api.as_key(new_key())
    other.get("/v1/customers")
    assert api.delete("/_mock/journal").json == {"cleared": 5}
    assert journal(api) == [] and len(journal(other)) == 1


def test_a_fault_rule_that_fired_shows_in_the_journal(api):
    rule = api.post("/_mock/faults", {"method": "GET", "path": "/v1/customers", "status": 503})
    assert rule.status == 201
    reply = api.get("/v1/customers")
    assert reply.status == 503 and reply.json["code"] == "service_unavailable"
    entries = journal(api)
    assert entries[0]["fault"] == {"kind": "status", "rule": rule.json["id"], "status": 503}


@pytest.mark.parametrize(
    "query, message",
    [
        ("?status=abc", "query parameter status must be a status code (404) or a class (4xx)"),
        ("?limit=0", "query parameter limit must be a positive integer"),
        ("?verb=GET", "query parameter verb is not a journal filter (expected: method, path, status, limit)"),
    ],
)
def test_bad_journal_filters_are_refused_in_the_flat_error_body(api, query, message):
    refused(api.get("/_mock/journal" + query), 400, message)


# ---- clock -----------------------------------------------------------------------------------


def test_a_frozen_clock_stamps_what_the_world_creates(api):
    freeze(api)
    assert api.get("/_mock/clock").json == {"now": JAN_1, "frozen": True}
    customer = make_customer(api)
    wallet = make_wallet(api, customer["id"], initial_credits_to_load="10")
    assert customer["created_at"] == wallet["created_at"] == JAN_1
    [grant] = api.get(f"/v1/wallets/{wallet['id']}/transactions").json["items"]
    assert (grant["created_at"], grant["transaction_reason"], grant["credit_amount"]) == (
        JAN_1,
        "FREE_CREDIT_GRANT",
        "10",
    )


def test_advancing_past_expiry_writes_credit_expired_debits_in_this_versions_shape(api):
    freeze(api)
    customer = make_customer(api)
    wallet = make_wallet(
        api,
        customer["id"],
        initial_credits_to_load="100",
        initial_credits_expiry_date_utc="2027-01-15T00:00:00Z",
    )
    wallet_id = wallet["id"]
    top_up(api, wallet_id, "50", "forever")
    top_up(api, wallet_id, "30.5", "short", expiry_date_utc="2027-01-10T00:00:00Z")

    first = api.post("/_mock/clock/advance", {"by": "P10D"})
    assert first.status == 200
    assert (first.json["now"], first.json["frozen"]) == ("2027-01-11T00:00:00.000000Z", True)
    [expired] = first.json["expired"]
    conforms(TRANSACTION, expired)
    assert (expired["type"], expired["transaction_reason"], expired["transaction_status"]) == (
        "debit",
        "CREDIT_EXPIRED",
        "completed",
    )
    assert (
        expired["credit_amount"],
        expired["amount"],
        expired["credit_balance_before"],
        expired["credit_balance_after"],
        expired["credits_available"],
    ) == ("30.5", "30.5", "180.5", "150", "0")
    assert (expired["wallet_id"], expired["customer_id"], expired["currency"]) == (
        wallet_id,
        customer["id"],
        "usd",
    )
    assert expired["created_at"] == "2027-01-11T00:00:00.000000Z"
    assert api.get(f"/v1/wallets/{wallet_id}").json["credit_balance"] == "150"

    second = api.put("/_mock/clock", {"now": "2027-02-01T00:00:00Z"}).json
    assert [(t["transaction_reason"], t["credit_amount"]) for t in second["expired"]] == [
        ("CREDIT_EXPIRED", "100")
    ]
    wallet = api.get(f"/v1/wallets/{wallet_id}").json
    assert (wallet["balance"], wallet["credit_balance"]) == ("50", "50")

    history = api.get(f"/v1/wallets/{wallet_id}/transactions?order=asc").json["items"]
    assert [
        (t["type"], t["transaction_reason"], t["credit_amount"], t["credits_available"]) for t in history
    ] == [
        ("credit", "FREE_CREDIT_GRANT", "100", "0"),
        ("credit", DIRECT, "50", "50"),
        ("credit", DIRECT, "30.5", "0"),
        ("debit", "CREDIT_EXPIRED", "30.5", "0"),
        ("debit", "CREDIT_EXPIRED", "100", "0"),
    ]
    # The debits the clock wrote are the ones the API lists.
    assert history[3]["id"] == expired["id"] and history[4]["id"] == second["expired"][0]["id"]
    assert api.post("/_mock/clock/advance", {"by": "P365D"}).json["expired"] == []


@pytest.mark.parametrize(
    "by, expected",
    [
        ("P30D", "2027-01-31T00:00:00.000000Z"),
        ("PT1H30M", "2027-01-01T01:30:00.000000Z"),
        (3600, "2027-01-01T01:00:00.000000Z"),
        ("P1M", "2027-02-01T00:00:00.000000Z"),
    ],
)
def test_advance_takes_seconds_or_iso_8601_durations(api, by, expected):
    freeze(api)
    reply = api.post("/_mock/clock/advance", {"by": by})
    assert reply.status == 200 and reply.json == {"now": expected, "frozen": True, "expired": []}


@pytest.mark.parametrize(
    "path, method, body, message",
    [
        (
            "/_mock/clock/advance",
            "POST",
            {"by": "30 days"},
            "by must be seconds (a number) or an ISO 8601 duration such as P30D",
        ),
        (
            "/_mock/clock/advance",
            "POST",
            {"by": "-P1D"},
            "by must not be negative (set the clock with PUT /_mock/clock instead)",
        ),
        (
            "/_mock/clock",
            "PUT",
            {"now": "next tuesday"},
            "now must be an RFC 3339 timestamp such as 2027-01-01T00:00:00Z",
        ),
        ("/_mock/clock", "PUT", {}, "Give now (an RFC 3339 timestamp), frozen (true or false), or both"),
    ],
)
def test_a_bad_clock_request_is_refused_in_the_flat_error_body_and_moves_nothing(
    api, path, method, body, message
):
    freeze(api)
    refused(api.request(method, path, json_body=body), 400, message)
    assert api.get("/_mock/clock").json == {"now": JAN_1, "frozen": True}


def test_each_world_has_its_own_clock(api):
    other = api.as_key(new_key())
    freeze(api)
    freeze(other, "2031-05-05T00:00:00Z")
    api.post("/_mock/clock/advance", {"by": "P10D"})
    assert api.get("/_mock/clock").json["now"] == "2027-01-11T00:00:00.000000Z"
    assert other.get("/_mock/clock").json["now"] == "2031-05-05T00:00:00.000000Z"


# ---- fixtures --------------------------------------------------------------------------------

ACME = """\
customers:
  - external_id: acme
    name: Acme Inc.
    email: billing@acme.example
    metadata: {plan: growth}
    wallets:
      - currency: usd
        conversion_rate: "2"
        initial_credits_to_load: "100"
        initial_credits_expiry_date_utc: "2099-01-01T00:00:00Z"
        top_ups:
          - credits_to_add: "0.000000001"
            transaction_reason: FREE_CREDIT_GRANT
            idempotency_key: grant-1
          - amount: "50"
            transaction_reason: PURCHASED_CREDIT_DIRECT
            idempotency_key: bought-1
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_a_fixture_in_this_versions_fields_loads_through_its_rules(api):
    reply = api.request("POST", "/_mock/fixtures", data=ACME, headers={"Content-Type": "application/yaml"})
    assert reply.status == 201, reply.json
    [customer] = reply.json["customers"]
    [wallet] = reply.json["wallets"]
    conforms(CUSTOMER, customer)
    conforms(WALLET, wallet)
    assert (customer["external_id"], customer["metadata"], customer["timezone"]) == (
        "acme",
        {"plan": "growth"},
        "UTC",
    )
    assert wallet["customer_id"] == customer["id"] and wallet["name"] == "Prepaid Wallet - USD"
    # 100 initial + 0.000000001 granted + 50 money at the rate of 2 = 25 credits.
    assert (wallet["credit_balance"], wallet["balance"], wallet["conversion_rate"]) == (
        "125.000000001",
        "250.000000002",
        "2",
    )
    history = api.get(f"/v1/wallets/{wallet['id']}/transactions?order=asc").json["items"]
    assert [
        (t["transaction_reason"], t["credit_amount"], t["amount"], t["idempotency_key"]) for t in history
    ][1:] == [
        ("FREE_CREDIT_GRANT", "0.000000001", "0.000000002", "grant-1"),
        (DIRECT, "25", "50", "bought-1"),
    ]
    assert history[0]["expiry_date"] == "2099-01-01T00:00:00.000000Z"
    assert api.get("/v1/customers/external/acme").json["id"] == customer["id"]
    assert api.as_key(new_key()).get("/v1/customers/external/acme").status == 404


def test_json_fixtures_and_numbers_for_decimals_work_too(api):
    reply = api.post(
        "/_mock/fixtures",
        {
            "customers": [
                {
                    "external_id": "j",
                    "name": "J",
                    "wallets": [{"currency": "EUR", "initial_credits_to_load": 7.25}],
                }
            ]
        },
    )
    assert reply.status == 201
    assert (reply.json["wallets"][0]["currency"], reply.json["wallets"][0]["credit_balance"]) == (
        "eur",
        "7.25",
    )


def test_an_invoiced_top_up_in_a_fixture_stays_pending_with_its_invoice(api):
    text = ACME.split("        top_ups:")[0] + (
        '        top_ups:\n          - {credits_to_add: "40",'
        " transaction_reason: PURCHASED_CREDIT_INVOICED, idempotency_key: inv-1}\n"
    )
    reply = api.request("POST", "/_mock/fixtures", data=text)
    assert reply.status == 201 and reply.json["wallets"][0]["credit_balance"] == "100"
    [invoice] = api.get("/_mock/invoices").json["items"]
    assert (invoice["status"], invoice["amount"], invoice["wallet_id"]) == (
        "pending",
        "80",
        reply.json["wallets"][0]["id"],
    )


@pytest.mark.parametrize(
    "text, field, line, problem",
    [
        (
            "customers:\n  - external_id: acme\n    name: Acme\n    wallets:\n      - currency: usd\n"
            "        initial_credits_to_load: lots\n",
            "customers[0].wallets[0].initial_credits_to_load",
            6,
            "'lots' is not valid under any of the given schemas",
        ),
        # A field of 2025-05-24 that this version does not have.
        (
            "customers:\n  - external_id: acme\n    name: Acme\n    wallets:\n      - currency: usd\n"
            "        auto_topup_trigger: disabled\n",
            "customers[0].wallets[0].auto_topup_trigger",
            6,
            "unknown field 'auto_topup_trigger'",
        ),
        # Customers need a name in this version (its validator's words).
        (
            "customers:\n  - external_id: acme\n",
            "customers[0]",
            2,
            "Request validation failed ({'Name': \"Key: 'CreateCustomerRequest.Name' Error:Field validation "
            "for 'Name' failed on the 'required' tag\"})",
        ),
        (
            "customers:\n  - external_id: acme\n    name: Acme\n    wallets:\n      - currency: usd\n"
            '        top_ups:\n          - credits_to_add: "5"\n'
            "            transaction_reason: MANUAL_BALANCE_DEBIT\n",
            "customers[0].wallets[0].top_ups[0]",
            7,
            "Invalid transaction reason",
        ),
        (
            "customers:\n  - external_id: acme\n    name: Acme\n    wallets:\n      - currency: usd\n"
            '        top_ups:\n          - {credits_to_add: "5", transaction_reason: FREE_CREDIT_GRANT,'
            ' idempotency_key: k}\n          - {credits_to_add: "6", transaction_reason: FREE_CREDIT_GRANT,'
            " idempotency_key: k}\n",
            "customers[0].wallets[0].top_ups[1]",
            8,
            "A wallet transaction with this idempotency key already exists",
        ),
    ],
)
def test_a_bad_fixture_is_refused_naming_the_field_and_changes_nothing(api, text, field, line, problem):
    make_customer(api, "kept")
    reply = api.request("POST", "/_mock/fixtures", data=text)
    details = refused(reply, 400, reply.json["message"])
    assert (details["field"], details["line"]) == (field, line)
    assert details["problem"].startswith(problem)
    assert reply.json["message"].startswith(f"Invalid fixture: request body:{line}: {field}: {problem}")
    assert api.get("/v1/customers/external/acme").status == 404
    assert customer_count(api) == 1


def test_a_fixture_directory_fills_every_new_world_in_this_version(tmp_path):
    write(tmp_path, "acme.yaml", ACME)
    api = local_api(fixtures=str(tmp_path))
    for world in (api, api.as_key(new_key())):
        [wallet] = world.get("/v1/customers/wallets?lookup_key=acme").json
        assert wallet["credit_balance"] == "125.000000001"
    api.post("/v1/customers", {"external_id": "extra", "name": "Extra"})
    api.post("/_mock/reset")
    assert [c["external_id"] for c in api.get("/v1/customers").json["items"]] == ["acme"]


def test_the_shipped_fixture_loads_under_this_version():
    api = local_api(fixtures=str(REPO / "fixtures"))
    customer = api.get("/v1/customers/external/acme").json
    assert customer["name"] == "Acme Inc." and customer["metadata"] == {"plan": "growth"}
    [wallet] = api.get("/v1/customers/wallets?lookup_key=acme").json
    assert (wallet["currency"], wallet["balance"], wallet["credit_balance"]) == ("usd", "150", "150")
    history = api.get(f"/v1/wallets/{wallet['id']}/transactions?order=asc").json["items"]
    assert [(t["transaction_reason"], t["credit_amount"]) for t in history] == [
        ("FREE_CREDIT_GRANT", "100"),
        (DIRECT, "50"),
    ]


def test_a_broken_fixture_stops_the_start_naming_the_file_line_and_field(tmp_path):
    path = write(
        tmp_path,
        "broken.yaml",
        "customers:\n  - external_id: acme\n    name: Acme\n"
        "    wallets:\n      - currency: usd\n"
        "        conversion_rate: [1]\n",
    )
    with pytest.raises(FixtureError) as caught:
        create_app(fixtures=str(tmp_path))
    error = caught.value
    assert (error.source, error.line, error.where) == (
        str(path),
        6,
        "customers[0].wallets[0].conversion_rate",
    )
    assert str(error).startswith(f"{path}:6: customers[0].wallets[0].conversion_rate: ")


# ---- state -----------------------------------------------------------------------------------


def populate(api: Api) -> dict:
    """A world with a bit of everything: decimals, expiring credits, a priority, a paid and a
    pending invoice, a debit."""
    freeze(api)
    customer = make_customer(api, metadata={"tier": "gold"}, email="a@example.com")
    wallet = make_wallet(
        api,
        customer["id"],
        conversion_rate="1.5",
        initial_credits_to_load="10.123456789",
        initial_credits_expiry_date_utc="2027-03-01T00:00:00Z",
        metadata={"k": "v"},
    )
    top_up(api, wallet["id"], "2.5", "topup-1", priority=2, expiry_date_utc="2027-02-01T00:00:00Z")
    paid = top_up(api, wallet["id"], "4", "inv-paid", INVOICED)["invoice_id"]
    pending = top_up(api, wallet["id"], "6", "inv-pending", INVOICED)["invoice_id"]
    assert api.post(f"/_mock/invoices/{paid}/pay").status == 200
    debit = api.post(
        f"/v1/wallets/{wallet['id']}/debit",
        {"credits": "1", "transaction_reason": "MANUAL_BALANCE_DEBIT", "idempotency_key": "debit-1"},
    )
    assert debit.status == 200
    make_wallet(api, customer["id"], currency="eur")
    return {"customer": customer, "wallet": wallet, "paid": paid, "pending": pending}


def test_the_state_document_says_which_version_wrote_it(api):
    populate(api)
    document = api.get("/_mock/state").json
    assert document["api_version"] == "2026-08-22"
    assert document["format"] == "flexprice-mock-state/6"
    assert list(document) == [
        "format",
        "api_version",
        "environment_id",
        "clock",
        "ids",
        "customers",
        "wallets",
        "transactions",
        "invoices",
        "idempotency",
        "alerts",
        "ongoing_balances",
        "cached_balances",
        "meters",
        "features",
        "plans",
        "prices",
        "line_items",
        "subscriptions",
        "records",
        "policies",
        "usage_schedule",
    ]
    assert document["clock"] == {"now": JAN_1, "frozen": True}
    # The last id made: every id of the document sorts before it, and later ones after it.
    assert document["ids"]["last"] >= max(t["id"].split("_")[-1] for t in document["transactions"])
    assert [Decimal(w["credit_balance"]) for w in document["wallets"]] == [Decimal("15.623456789"), 0]
    assert sorted(i["payment_status"] for i in document["invoices"]) == ["PENDING", "SUCCEEDED"]


def test_state_round_trips_exactly_into_another_key_invoices_included(api):
    made = populate(api)
    document = api.get("/_mock/state").json
    copy_api = api.as_key(new_key())
    make_customer(copy_api, "to-be-replaced")
    imported = copy_api.put("/_mock/state", document)
    assert imported.status == 200
    assert imported.json == {
        "customers": 1,
        "wallets": 2,
        "transactions": 5,
        "idempotency": 3,
        "now": JAN_1,
        "frozen": True,
    }
    assert copy_api.get("/_mock/state").json == document
    assert copy_api.get("/_mock/invoices").json == api.get("/_mock/invoices").json

    wallet_id = made["wallet"]["id"]
    for path in (
        f"/v1/wallets/{wallet_id}",
        f"/v1/wallets/{wallet_id}/transactions",
        f"/v1/customers/{made['customer']['id']}",
        "/v1/customers/external/acme-1",
    ):
        # Everything but the tenant, which is the API key's own.
        assert untenanted(copy_api.get(path).json) == untenanted(api.get(path).json)
        assert tenants(copy_api.get(path).json) != tenants(api.get(path).json)
    assert copy_api.get("/v1/customers/external/to-be-replaced").status == 404


def untenanted(value):
    if isinstance(value, dict):
        return {k: untenanted(v) for k, v in value.items() if k != "tenant_id"}
    if isinstance(value, list):
        return [untenanted(v) for v in value]
    return value


def tenants(value) -> set[str]:
    if isinstance(value, dict):
        return (
            {value["tenant_id"]}
            if "tenant_id" in value
            else set().union(*(tenants(v) for v in value.values()))
        )
    if isinstance(value, list):
        return set().union(*(tenants(v) for v in value))
    return set()


def test_an_imported_world_keeps_its_rules(api):
    made = populate(api)
    copy_api = api.as_key(new_key())
    copy_api.put("/_mock/state", api.get("/_mock/state").json)
    wallet_id = made["wallet"]["id"]
    # A used key is still used: this version refuses it.
    again = copy_api.post(
        f"/v1/wallets/{wallet_id}/top-up",
        {"credits_to_add": "2.5", "transaction_reason": DIRECT, "idempotency_key": "topup-1"},
    )
    refused(
        again, 409, "A wallet transaction with this idempotency key already exists", code="already_exists"
    )
    # The pending invoice can be paid in the copy, the paid one not again.
    paid = copy_api.post(f"/_mock/invoices/{made['pending']}/pay")
    assert paid.status == 200 and paid.json["wallet"]["credit_balance"] == "21.623456789"
    refused(
        copy_api.post(f"/_mock/invoices/{made['paid']}/pay"),
        400,
        f"Invoice {made['paid']} is already paid",
        code="invalid_operation",
    )
    # Expiring credits still expire: what the debit left of the top-up (priority 2 goes first).
    moved = copy_api.post("/_mock/clock/advance", {"by": "P35D"}).json
    assert [t["credit_amount"] for t in moved["expired"]] == ["1.5"]
    assert copy_api.get(f"/v1/wallets/{wallet_id}").json["credit_balance"] == "20.123456789"
    # The original world did not move.
    assert api.get(f"/v1/wallets/{wallet_id}").json["credit_balance"] == "15.623456789"


def test_a_state_document_written_by_2025_05_24_is_refused_naming_api_version(api):
    old = Suite("2025-05-24").create_app(log_requests=False).test_client()
    key = {"x-api-key": "sk_test_old"}
    created = old.post("/v1/customers", json={"external_id": "old", "name": "Old"}, headers=key)
    assert created.status_code == 201
    document = old.get("/_mock/state", headers=key).get_json()
    assert document["api_version"] == "2025-05-24"
    make_customer(api, "kept")
    details = refused(
        api.put("/_mock/state", document),
        400,
        "Invalid state document: api_version is '2025-05-24', but this sandbox serves "
        "API version '2026-08-22': a state document is loaded by the version that wrote it",
    )
    assert details["field"] == "api_version"
    assert api.get("/v1/customers/external/kept").status == 200
    assert api.get("/v1/customers/external/old").status == 404


@pytest.mark.parametrize(
    "mutate, field, problem",
    [
        (lambda d: d.update(extra=1), "extra", "is not part of a state document"),
        (lambda d: d["wallets"][0].update(balance="ten"), "wallets[0].balance", "must be a decimal"),
        (
            lambda d: d["invoices"][0].update(wallet_id="wallet_nope"),
            "invoices[0].wallet_id",
            "names no wallet of the document",
        ),
        (lambda d: d["invoices"][1].update(id=d["invoices"][0]["id"]), "invoices[1].id", "appears twice"),
        (lambda d: d.update(format="flexprice-mock-state/1"), "format", "must be"),
    ],
)
def test_a_bad_state_document_is_refused_naming_the_field_and_changes_nothing(api, mutate, field, problem):
    populate(api)
    bad = copy.deepcopy(api.get("/_mock/state").json)
    mutate(bad)
    target = api.as_key(new_key())
    make_customer(target, "kept")
    reply = target.put("/_mock/state", bad)
    details = refused(reply, 400, reply.json["message"])
    assert details["field"] == field and problem in details["problem"]
    assert reply.json["message"].startswith(f"Invalid state document: {field} ")
    assert target.get("/v1/customers/external/kept").status == 200 and customer_count(target) == 1
    assert target.get("/_mock/invoices").json == {"items": [], "total": 0}


# ---- invoices --------------------------------------------------------------------------------


@pytest.fixture
def invoiced(api):
    """A wallet with 10 credits and two invoiced top-ups (pending): 20 and 5 credits."""
    freeze(api)
    wallet = make_wallet(api, make_customer(api)["id"], initial_credits_to_load="10")
    first = top_up(api, wallet["id"], "20", "inv-1", INVOICED)
    second = top_up(api, wallet["id"], "5", "inv-2", INVOICED, description="Second pack")
    return wallet, first, second


def test_an_invoiced_top_up_is_pending_and_listed_with_its_invoice(api, invoiced):
    wallet, first, second = invoiced
    txn = first["wallet_transaction"]
    assert (txn["transaction_status"], txn["credit_amount"], txn["description"]) == (
        "pending",
        "20",
        "Purchased credits - pending payment",
    )
    assert first["wallet"]["credit_balance"] == "10"
    listed = api.get("/_mock/invoices").json
    assert listed["total"] == 2
    assert {
        (i["id"], i["wallet_transaction_id"], i["amount"], i["status"], i["settled_at"])
        for i in listed["items"]
    } == {
        (first["invoice_id"], txn["id"], "20", "pending", None),
        (second["invoice_id"], second["wallet_transaction"]["id"], "5", "pending", None),
    }
    assert all(
        i["wallet_id"] == wallet["id"]
        and i["currency"] == "usd"
        and i["created_at"] == JAN_1
        and i["auto_topup"] is False
        for i in listed["items"]
    )
    assert api.as_key(new_key()).get("/_mock/invoices").json == {"items": [], "total": 0}


def test_paying_completes_the_credit_and_paying_twice_is_refused(api, invoiced):
    wallet, first, _ = invoiced
    api.post("/_mock/clock/advance", {"by": "P1D"})
    reply = api.post(f"/_mock/invoices/{first['invoice_id']}/pay")
    assert reply.status == 200
    assert set(reply.json) == {"invoice", "wallet_transaction", "wallet"}
    conforms(TRANSACTION, reply.json["wallet_transaction"])
    conforms(WALLET, reply.json["wallet"])
    assert (reply.json["invoice"]["status"], reply.json["invoice"]["settled_at"]) == (
        "paid",
        "2027-01-02T00:00:00.000000Z",
    )
    txn = reply.json["wallet_transaction"]
    assert (
        txn["id"],
        txn["transaction_status"],
        txn["credit_balance_before"],
        txn["credit_balance_after"],
    ) == (first["wallet_transaction"]["id"], "completed", "10", "30")
    assert reply.json["wallet"]["credit_balance"] == "30"
    assert api.get(f"/v1/wallets/{wallet['id']}").json["credit_balance"] == "30"

    details = refused(
        api.post(f"/_mock/invoices/{first['invoice_id']}/pay"),
        400,
        f"Invoice {first['invoice_id']} is already paid",
        code="invalid_operation",
    )
    assert details == {"invoice_id": first["invoice_id"], "status": "paid"}
    refused(
        api.post(f"/_mock/invoices/{first['invoice_id']}/void"),
        400,
        f"Invoice {first['invoice_id']} is already paid",
        code="invalid_operation",
    )
    assert api.get(f"/v1/wallets/{wallet['id']}").json["credit_balance"] == "30"


def test_voiding_fails_the_credit_and_the_balance_stays(api, invoiced):
    wallet, _, second = invoiced
    reply = api.post(f"/_mock/invoices/{second['invoice_id']}/void")
    assert reply.status == 200
    assert reply.json["invoice"]["status"] == "voided"
    assert reply.json["wallet_transaction"]["transaction_status"] == "failed"
    assert reply.json["wallet"]["credit_balance"] == "10"
    refused(
        api.post(f"/_mock/invoices/{second['invoice_id']}/pay"),
        400,
        f"Invoice {second['invoice_id']} is already voided",
        code="invalid_operation",
    )
    statuses = {
        t["id"]: t["transaction_status"]
        for t in api.get(f"/v1/wallets/{wallet['id']}/transactions").json["items"]
    }
    assert statuses[second["wallet_transaction"]["id"]] == "failed"
    assert sorted(statuses.values()) == ["completed", "failed", "pending"]


def test_unknown_invoices_and_outcomes_are_404(api, invoiced):
    _, first, _ = invoiced
    details = refused(
        api.post("/_mock/invoices/inv_nope/pay"), 404, "Invoice inv_nope was not found", code="not_found"
    )
    assert details == {"invoice_id": "inv_nope"}
    refused(
        api.post(f"/_mock/invoices/{first['invoice_id']}/refund"), 404, "Route not found", code="not_found"
    )
    # Another key's world does not hold the invoice.
    refused(
        api.as_key(new_key()).post(f"/_mock/invoices/{first['invoice_id']}/pay"),
        404,
        f"Invoice {first['invoice_id']} was not found",
        code="not_found",
    )
    assert {i["status"] for i in api.get("/_mock/invoices").json["items"]} == {"pending"}


# ---- deterministic ids -----------------------------------------------------------------------


def id_trail(api: Api) -> list[str]:
    customer = make_customer(api)
    wallet = make_wallet(api, customer["id"], initial_credits_to_load="5")
    result = top_up(api, wallet["id"], "1", "k-1", INVOICED)
    transactions = api.get(f"/v1/wallets/{wallet['id']}/transactions").json["items"]
    return [customer["id"], wallet["id"], result["invoice_id"]] + [t["id"] for t in transactions]


def test_a_seed_and_a_frozen_clock_give_the_same_ids_in_every_world(api):
    trails = []
    for _ in range(2):
        world = api.as_key(new_key())
        assert world.put("/_mock/ids", {"seed": 42}).json == {"seed": 42}
        freeze(world)
        trails.append(id_trail(world))
    assert trails[0] == trails[1]
    assert [i.split("_")[0] for i in trails[0]] == ["cust", "wallet", "inv", "wtxn", "wtxn"]
    other = api.as_key(new_key())
    freeze(other)
    assert id_trail(other)[0] != trails[0][0]


def test_a_bad_id_seed_is_refused_in_the_flat_error_body(api):
    refused(api.put("/_mock/ids", {"seed": "42"}), 400, "seed must be an integer or null")


def test_a_fixture_gives_every_new_world_its_webhook_endpoints(tmp_path):
    (tmp_path / "hooks.yaml").write_text(
        "webhooks:\n  - url: http://127.0.0.1:9/hooks\n    events: [wallet.created]\n"
        "customers:\n  - {external_id: acme, name: Acme}\n",
        encoding="utf-8",
    )
    client = client_of(create_app(fixtures=str(tmp_path), log_requests=False, validate_responses=True))
    [endpoint] = client.get("/_mock/webhooks").json["items"]
    assert (endpoint["url"], endpoint["events"]) == ("http://127.0.0.1:9/hooks", ["wallet.created"])
    assert endpoint["secret"].startswith("whsec_")
    # After a reset the world starts again from its fixtures, endpoints included.
    assert client.post("/_mock/reset").status == 200
    assert [e["url"] for e in client.get("/_mock/webhooks").json["items"]] == ["http://127.0.0.1:9/hooks"]


def test_a_fixture_with_a_bad_webhook_names_it():
    client = client_of(create_app(log_requests=False, validate_responses=True))
    reply = client.request(
        "POST",
        "/_mock/fixtures",
        data="webhooks:\n  - url: ftp://x\n",
        headers={"Content-Type": "application/yaml"},
    )
    assert reply.status == 400
    assert reply.json["details"] == {
        "field": "webhooks[0].url",
        "line": 2,
        "problem": "url must be an http or https URL with a host, not 'ftp://x'",
    }
    assert client.get("/_mock/webhooks").json["total"] == 0
