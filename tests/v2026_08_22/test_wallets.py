"""Wallets in version 2026-08-22: create, update, top up, debit, terminate, modify, balances,
transactions, lists and auto top-up, with the values, statuses, codes, messages and details the
cloud's server gives (``/work/notes/upstream-extra.md``), and the state after each call: a
refused call changes nothing.

Every world's clock is frozen at ``NOW`` (``PUT /_mock/clock``), so no test depends on the time
of day; tests that need time to pass move it with ``POST /_mock/clock/advance``.
"""

from __future__ import annotations

import hashlib
import re

import pytest

from mockserver.domain.models import SYSTEM_USER

from ..support import ledger, wallet_of
from .conftest import NOW, Api, advance, freeze, make_customer, make_wallet, refusal

STAMP = "2026-09-01T12:00:00.000000Z"  # NOW as the API writes stored times
WALLET_ID = re.compile(r"^wallet_[0-9A-HJKMNP-TV-Z]{26}$")
TXN_ID = re.compile(r"^wtxn_[0-9A-HJKMNP-TV-Z]{26}$")
INVOICE_ID = re.compile(r"^inv_[0-9A-HJKMNP-TV-Z]{26}$")
AUTO = "Auto top-up triggered for low ongoing balance"


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


def schema_refusal(reply, field: str, where: str = "body") -> None:
    """The sandbox's answer to a request its document forbids: 400 naming the field."""
    status, code, message, details = refusal(reply)
    assert (status, code) == (400, "validation_error")
    assert field in message
    assert [(e["field"], e["in"]) for e in details["errors"]][:1] == [(field, where)]


def key_of(scope: str, **parts) -> str:
    """An idempotency key as the cloud generates one (scope, sha256 of the sorted parts)."""
    text = scope + "".join(f":{k}={v}" for k, v in sorted(parts.items()))
    return f"{scope}-{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def top_up(api: Api, wallet_id: str, credits: str | None = "10", reason: str = "FREE_CREDIT_GRANT", **fields):
    body = {"transaction_reason": reason, **fields}
    if credits is not None:
        body["credits_to_add"] = credits
    return api.post(f"/v1/wallets/{wallet_id}/top-up", body)


def topped(
    api: Api, wallet_id: str, credits: str = "10", reason: str = "FREE_CREDIT_GRANT", **fields
) -> dict:
    reply = top_up(api, wallet_id, credits, reason, **fields)
    assert reply.status == 200, reply.json
    return reply.json


def debit(api: Api, wallet_id: str, credits: str, key: str = "", **fields):
    return api.post(
        f"/v1/wallets/{wallet_id}/debit",
        {"credits": credits, "transaction_reason": "MANUAL_BALANCE_DEBIT", "idempotency_key": key, **fields},
    )


def wallet_count(api: Api) -> int:
    return api.get("/v1/wallets").json["pagination"]["total"]


TOP_UP_VIEW = (
    "id",
    "wallet_id",
    "wallet_transaction_id",
    "amount",
    "currency",
    "status",
    "invoice_status",
    "payment_status",
    "auto_topup",
    "created_at",
    "settled_at",
)


def invoices(api: Api) -> list[dict]:
    reply = api.get("/_mock/invoices")
    assert reply.status == 200
    return reply.json["items"]


def rows(api: Api, wallet_id: str) -> list[tuple]:
    """(reason, credit_amount, status, balance after) of each transaction, oldest first."""
    return [
        (t["transaction_reason"], t["credit_amount"], t["transaction_status"], t["credit_balance_after"])
        for t in ledger(api, wallet_id)
    ]


# ---- create -----------------------------------------------------------------------------------


def test_create_fills_the_servers_defaults(api):
    reply = api.post("/v1/wallets", {"customer_id": "cust_any", "currency": "USD"})
    assert reply.status == 200
    body = reply.json
    assert WALLET_ID.match(body["id"])
    assert body == {
        "id": body["id"],
        "customer_id": "cust_any",
        "currency": "usd",
        "balance": "0",
        "credit_balance": "0",
        "wallet_status": "active",
        "name": "Prepaid Wallet - USD",
        "description": "",
        "metadata": {},
        "wallet_type": "PRE_PAID",
        "config": {"allowed_price_types": ["USAGE"]},
        "conversion_rate": "1",
        "topup_conversion_rate": "1",
        "alert_state": "ok",
        "environment_id": body["environment_id"],
        "tenant_id": body["tenant_id"],
        "status": "published",
        "created_by": SYSTEM_USER,
        "updated_by": SYSTEM_USER,
        "created_at": STAMP,
        "updated_at": STAMP,
    }
    assert wallet_of(api, body["id"]) == body
    assert ledger(api, body["id"]) == []


def test_create_ignores_name_and_config_and_names_a_postpaid_wallet(api):
    body = make_wallet(
        api,
        "cust_any",
        currency="eur",
        wallet_type="POST_PAID",
        name="Mine",
        config={"allowed_price_types": ["FIXED"]},
        description="d",
        metadata={"team": "billing"},
    )
    assert (body["name"], body["wallet_type"], body["config"]) == (
        "Postpaid Wallet - EUR",
        "POST_PAID",
        {"allowed_price_types": ["ALL"]},
    )
    assert (body["description"], body["metadata"]) == ("d", {"team": "billing"})


@pytest.mark.parametrize(
    "given, rate, topup_rate",
    [
        ({}, "1", "1"),
        ({"conversion_rate": "0"}, "1", "1"),  # 0 means 1
        ({"conversion_rate": "2.5"}, "2.5", "2.5"),  # the top-up rate follows it
        ({"conversion_rate": 2, "topup_conversion_rate": "0.5"}, "2", "0.5"),
    ],
)
def test_create_conversion_rates(api, given, rate, topup_rate):
    body = make_wallet(api, "cust_any", **given)
    assert (body["conversion_rate"], body["topup_conversion_rate"]) == (rate, topup_rate)


def test_customer_id_is_not_checked_and_wins_over_external_customer_id(api):
    make_customer(api, "acme")
    body = make_wallet(api, "cust_nobody", external_customer_id="unknown-anyone")
    assert body["customer_id"] == "cust_nobody"


def test_external_customer_id_resolves_a_published_customer(api):
    customer = make_customer(api, "acme")
    reply = api.post("/v1/wallets", {"external_customer_id": "acme", "currency": "usd"})
    assert reply.status == 200 and reply.json["customer_id"] == customer["id"]

    gone = make_customer(api, "gone")
    assert api.delete(f"/v1/customers/{gone['id']}").status == 204
    for lookup_key in ("gone", "nobody"):
        reply = api.post("/v1/wallets", {"external_customer_id": lookup_key, "currency": "usd"})
        assert refusal(reply) == (
            404,
            "not_found",
            f"Customer with lookup key {lookup_key} was not found",
            {"lookup_key": lookup_key},
        )
    assert wallet_count(api) == 1


def test_create_checks_in_the_servers_order(api):
    """A body wrong in every way: each fix reveals the next check, in the server's order, and
    nothing is created until the last one passes."""
    customer = make_customer(api, "acme")
    existing = make_wallet(api, customer["id"], currency="gbp")
    past = "2026-08-31T00:00:00Z"
    body = {
        "price_unit": "credits",
        "currency": "us",
        "auto_topup": {},
        "conversion_rate": "-1",
        "topup_conversion_rate": "0",
        "external_customer_id": "a%b",
        "customer_id": "_cust",
        "initial_credits_expiry_date_utc": past,
        "alert_settings": {"alert_enabled": True},
    }
    steps = [
        (
            404,
            "not_found",
            "Price unit with code credits was not found",
            {"price_unit": "credits"},
            lambda b: b.pop("price_unit"),
        ),
        (
            400,
            "validation_error",
            "Currency code must be 3 characters long",
            None,
            lambda b: b.update(currency="GBP"),
        ),
        (
            400,
            "validation_error",
            "Threshold is required",
            None,
            lambda b: b["auto_topup"].update(threshold="5"),
        ),
        (400, "validation_error", "Amount is required", None, lambda b: b["auto_topup"].update(amount="10")),
        (
            400,
            "validation_error",
            "Invoicing boolean is required",
            None,
            lambda b: b["auto_topup"].update(invoicing=False, cooldown={"value": 0, "unit": "hour"}),
        ),
        (
            400,
            "validation_error",
            "Duration value must be greater than zero",
            {"value": 0},
            lambda b: b["auto_topup"].update(cooldown={"value": 2}),
        ),
        (
            400,
            "validation_error",
            "Duration unit is required",
            None,
            lambda b: b["auto_topup"].update(cooldown={"value": 2, "unit": "hour"}),
        ),
        (
            400,
            "validation_error",
            "Conversion rate must be a positive value",
            {"conversion_rate": "-1"},
            lambda b: b.update(conversion_rate="2"),
        ),
        (
            400,
            "validation_error",
            "Topup conversion rate must be a positive value",
            {"topup_conversion_rate": "0"},
            lambda b: b.update(topup_conversion_rate="4"),
        ),
        (
            400,
            "validation_error",
            "Please provide a valid external customer id - cannot contain: %",
            None,
            lambda b: b.update(external_customer_id="a b"),
        ),
        (
            400,
            "validation_error",
            "Please provide a valid external customer id - cannot contain:  ",
            None,
            lambda b: b.update(external_customer_id="nobody"),
        ),
        (
            400,
            "validation_error",
            "Please provide a valid customer id",
            None,
            lambda b: b.update(customer_id="cust%"),
        ),
        (
            400,
            "validation_error",
            "Please provide a valid customer id - cannot contain: %",
            None,
            lambda b: b.update(customer_id="cu st"),
        ),
        (
            400,
            "validation_error",
            "Please provide a valid customer id - cannot contain:  ",
            None,
            lambda b: b.pop("customer_id"),
        ),
        (
            400,
            "validation_error",
            "Expiry date must be in the future",
            None,
            lambda b: b.update(initial_credits_expiry_date_utc="2026-09-01T12:00:01Z"),
        ),
        (
            400,
            "validation_error",
            "Please provide at least one threshold configuration",
            None,
            lambda b: b.update(
                alert_settings={"critical": {"threshold": "0", "condition": "below"}, "alert_enabled": True}
            ),
        ),
        (
            404,
            "not_found",
            "Customer with lookup key nobody was not found",
            {"lookup_key": "nobody"},
            lambda b: b.update(external_customer_id="acme"),
        ),
        (
            409,
            "already_exists",
            "A customer can only have one active wallet per currency and wallet type",
            {
                "customer_id": customer["id"],
                "wallet_id": existing["id"],
                "currency": "gbp",
                "wallet_type": "PRE_PAID",
            },
            lambda b: b.update(currency="chf"),
        ),
    ]
    for status, code, message, details, fix in steps:
        assert refusal(api.post("/v1/wallets", body)) == (status, code, message, details)
        assert wallet_count(api) == 1
        fix(body)
    reply = api.post("/v1/wallets", body)
    assert reply.status == 200, reply.json
    created = reply.json
    assert (
        created["customer_id"],
        created["currency"],
        created["conversion_rate"],
        created["topup_conversion_rate"],
    ) == (customer["id"], "chf", "2", "4")
    assert created["auto_topup"] == {
        "enabled": False,
        "threshold": "5",
        "amount": "10",
        "invoicing": False,
        "cooldown": {"value": 2, "unit": "hour"},
    }
    assert created["alert_settings"] == {
        "critical": {"threshold": "0", "condition": "below"},
        "warning": None,
        "info": None,
        "alert_enabled": True,
    }


def test_create_refuses_what_the_document_forbids_naming_the_field(api):
    schema_refusal(
        api.post("/v1/wallets", {"customer_id": "c", "currency": "usd", "wallet_type": "PROMOTIONAL"}),
        "wallet_type",
    )
    schema_refusal(api.post("/v1/wallets", {"customer_id": "c"}), "currency")
    schema_refusal(
        api.post(
            "/v1/wallets",
            {
                "customer_id": "c",
                "currency": "usd",
                "auto_topup": {
                    "threshold": "1",
                    "amount": "1",
                    "invoicing": False,
                    "cooldown": {"value": 1, "unit": "week"},
                },
            },
        ),
        "auto_topup.cooldown.unit",
    )
    assert refusal(api.post("/v1/wallets", {"customer_id": "c", "currency": ""})) == (
        400,
        "validation_error",
        "Invalid request format",
        None,
    )
    assert wallet_count(api) == 0


ALERT_RULES = [
    ({"alert_enabled": True}, "Please provide at least one threshold configuration"),
    ({"critical": {"threshold": "1"}}, "Please provide a valid critical threshold condition"),
    ({"warning": {"threshold": "5", "condition": "below"}}, "Please provide a critical threshold"),
    (
        {
            "critical": {"threshold": "10", "condition": "above"},
            "warning": {"threshold": "20", "condition": "above"},
        },
        "Please provide a valid warning threshold",
    ),
    (
        {
            "critical": {"threshold": "10", "condition": "below"},
            "warning": {"threshold": "5", "condition": "below"},
        },
        "Please provide a valid warning threshold",
    ),
    # the threshold is compared before the conditions
    (
        {
            "critical": {"threshold": "10", "condition": "below"},
            "warning": {"threshold": "5", "condition": "above"},
        },
        "Please provide a valid warning threshold",
    ),
    (
        {
            "critical": {"threshold": "10", "condition": "below"},
            "warning": {"threshold": "20", "condition": "above"},
        },
        "Please provide a valid warning condition",
    ),
    ({"info": {"threshold": "5"}}, "Please provide a valid info threshold condition"),
    (
        {
            "critical": {"threshold": "0", "condition": "below"},
            "warning": {"threshold": "10", "condition": "below"},
            "info": {"threshold": "20", "condition": "above"},
        },
        "Please provide a valid info condition",
    ),
    (
        {
            "critical": {"threshold": "0", "condition": "below"},
            "warning": {"threshold": "10", "condition": "below"},
            "info": {"threshold": "5", "condition": "below"},
        },
        "Please provide a valid info threshold",
    ),
    (
        {
            "critical": {"threshold": "10", "condition": "below"},
            "info": {"threshold": "20", "condition": "above"},
        },
        "Please provide a valid info condition",
    ),
    (
        {
            "critical": {"threshold": "10", "condition": "above"},
            "info": {"threshold": "20", "condition": "above"},
        },
        "Please provide a valid info threshold",
    ),
]


@pytest.mark.parametrize("settings, message", ALERT_RULES)
def test_create_checks_alert_settings(api, settings, message):
    reply = api.post("/v1/wallets", {"customer_id": "c", "currency": "usd", "alert_settings": settings})
    assert refusal(reply) == (400, "validation_error", message, None)
    assert wallet_count(api) == 0


@pytest.mark.parametrize(
    "settings, shown",
    [
        (
            {
                "critical": {"threshold": "0", "condition": "below"},
                "warning": {"threshold": "10", "condition": "below"},
                "info": {"threshold": "20.50", "condition": "below"},
                "alert_enabled": True,
            },
            {
                "critical": {"threshold": "0", "condition": "below"},
                "warning": {"threshold": "10", "condition": "below"},
                "info": {"threshold": "20.5", "condition": "below"},
                "alert_enabled": True,
            },
        ),
        # info may stand alone
        (
            {"info": {"threshold": "5", "condition": "above"}},
            {
                "critical": None,
                "warning": None,
                "info": {"threshold": "5", "condition": "above"},
                "alert_enabled": False,
            },
        ),
        # with no threshold set, the settings are left out of the answer
        ({"alert_enabled": False}, None),
    ],
)
def test_create_keeps_valid_alert_settings(api, settings, shown):
    body = make_wallet(api, "c", alert_settings=settings)
    assert body.get("alert_settings") == shown
    assert wallet_of(api, body["id"]).get("alert_settings") == shown


def test_duplicate_is_judged_on_lower_case_currency_and_defaulted_type(api):
    first = make_wallet(api, "cust_a", currency="USD")
    for body in ({"currency": "usd"}, {"currency": "Usd", "wallet_type": "PRE_PAID"}):
        reply = api.post("/v1/wallets", {"customer_id": "cust_a", **body})
        assert refusal(reply) == (
            409,
            "already_exists",
            "A customer can only have one active wallet per currency and wallet type",
            {"customer_id": "cust_a", "wallet_id": first["id"], "currency": "usd", "wallet_type": "PRE_PAID"},
        )
    assert make_wallet(api, "cust_a", wallet_type="POST_PAID")["wallet_type"] == "POST_PAID"
    assert api.post(f"/v1/wallets/{first['id']}/terminate").status == 200
    assert make_wallet(api, "cust_a")["id"] != first["id"]  # a closed wallet does not count
    assert wallet_count(api) == 3


def test_initial_credits_are_a_free_grant_with_the_clouds_key(api):
    body = make_wallet(api, "cust_a", initial_credits_to_load="100", conversion_rate="2")
    assert (body["credit_balance"], body["balance"]) == ("100", "200")
    [grant] = ledger(api, body["id"])
    key = key_of(
        "credit_grant",
        wallet_id=body["id"],
        credits_to_add="100",
        transaction_reason="FREE_CREDIT_GRANT",
        timestamp=NOW,
    )
    assert TXN_ID.match(grant["id"])
    assert grant == {
        "id": grant["id"],
        "wallet_id": body["id"],
        "customer_id": "cust_a",
        "type": "credit",
        "amount": "200",
        "credit_amount": "100",
        "credit_balance_before": "0",
        "credit_balance_after": "100",
        "transaction_status": "completed",
        "reference_type": "EXTERNAL",
        "reference_id": key,
        "description": "",
        "metadata": {},
        "expiry_date": None,
        "credits_available": "100",
        "transaction_reason": "FREE_CREDIT_GRANT",
        "priority": None,
        "currency": "usd",
        "topup_conversion_rate": "2",
        "idempotency_key": key,
        "environment_id": body["environment_id"],
        "tenant_id": body["tenant_id"],
        "status": "published",
        "created_by": SYSTEM_USER,
        "updated_by": SYSTEM_USER,
        "created_at": STAMP,
        "updated_at": STAMP,
    }


@pytest.mark.parametrize(
    "given, expiry",
    [
        ({"initial_credits_expiry_date_utc": "2027-03-04T05:06:07Z"}, "2027-03-04T05:06:07.000000Z"),
        ({"initial_credits_to_load_expiry_date": 20270101}, "2027-01-01T00:00:00.000000Z"),
        ({"initial_credits_to_load_expiry_date": 20261301}, "2027-01-01T00:00:00.000000Z"),  # rolls over
        # the RFC 3339 date wins; the YYYYMMDD one is then not even checked
        (
            {
                "initial_credits_expiry_date_utc": "2027-03-04T05:06:07Z",
                "initial_credits_to_load_expiry_date": 20200101,
            },
            "2027-03-04T05:06:07.000000Z",
        ),
    ],
)
def test_initial_credits_expiry_in_both_forms(api, given, expiry):
    body = make_wallet(api, "cust_a", initial_credits_to_load="5", **given)
    assert [t["expiry_date"] for t in ledger(api, body["id"])] == [expiry]


def test_a_past_yyyymmdd_expiry_refuses_the_whole_create(api):
    reply = api.post(
        "/v1/wallets",
        {
            "customer_id": "cust_a",
            "currency": "usd",
            "initial_credits_to_load": "5",
            "initial_credits_to_load_expiry_date": 20260831,
        },
    )
    assert refusal(reply) == (
        400,
        "validation_error",
        "Expiry date must be in the future",
        {"expiry_date": "2026-08-31T00:00:00Z"},
    )
    assert wallet_count(api) == 0
    # without credits to load, the date is not looked at
    assert make_wallet(api, "cust_a", initial_credits_to_load_expiry_date=20200101)["balance"] == "0"


def test_a_duplicate_is_reported_before_a_past_yyyymmdd_expiry(api):
    first = make_wallet(api, "cust_a")
    reply = api.post(
        "/v1/wallets",
        {
            "customer_id": "cust_a",
            "currency": "usd",
            "initial_credits_to_load": "5",
            "initial_credits_to_load_expiry_date": 20200101,
        },
    )
    assert refusal(reply)[:3] == (
        409,
        "already_exists",
        "A customer can only have one active wallet per currency and wallet type",
    )
    assert refusal(reply)[3]["wallet_id"] == first["id"]


# ---- update -----------------------------------------------------------------------------------

AUTO_TOPUP = {
    "enabled": False,
    "threshold": "10",
    "amount": "4",
    "invoicing": False,
    "cooldown": {"value": 2, "unit": "hour"},
}


def test_update_merges_auto_topup_field_by_field(api):
    wallet = make_wallet(api, "cust_a", auto_topup=AUTO_TOPUP)
    advance(api, 60)
    reply = api.put(f"/v1/wallets/{wallet['id']}", {"auto_topup": {"amount": "7.50"}})
    assert reply.status == 200
    assert reply.json["auto_topup"] == {**AUTO_TOPUP, "amount": "7.5"}
    assert reply.json["updated_at"] == "2026-09-01T12:01:00.000000Z"
    assert reply.json["created_at"] == STAMP

    cooldown = {"value": 3, "unit": "minute"}
    reply = api.put(f"/v1/wallets/{wallet['id']}", {"auto_topup": {"invoicing": True, "cooldown": cooldown}})
    assert reply.json["auto_topup"] == {
        "enabled": False,
        "threshold": "10",
        "amount": "7.5",
        "invoicing": True,
        "cooldown": {"value": 3, "unit": "minute"},
    }
    # a cooldown value of 0 clears the cooldown
    reply = api.put(f"/v1/wallets/{wallet['id']}", {"auto_topup": {"cooldown": {"value": 0}}})
    assert reply.json["auto_topup"] == {
        "enabled": False,
        "threshold": "10",
        "amount": "7.5",
        "invoicing": True,
    }
    assert wallet_of(api, wallet["id"]) == reply.json


def test_update_replaces_alert_settings_without_checking_them(api):
    wallet = make_wallet(api, "cust_a")
    # a warning with no critical level: refused on create, stored as given on update
    settings = {"warning": {"threshold": "5", "condition": "above"}, "alert_enabled": True}
    reply = api.put(f"/v1/wallets/{wallet['id']}", {"alert_settings": settings})
    assert reply.status == 200
    assert reply.json["alert_settings"] == {"critical": None, **settings, "info": None}
    assert reply.json["alert_state"] == "ok"
    # replaced whole: with no level left, they leave the answer
    reply = api.put(f"/v1/wallets/{wallet['id']}", {"alert_settings": {"alert_enabled": False}})
    assert "alert_settings" not in reply.json and reply.json["alert_state"] == "ok"


def test_update_name_description_metadata_config(api):
    wallet = make_wallet(api, "cust_a", metadata={"a": "1"})
    reply = api.put(
        f"/v1/wallets/{wallet['id']}",
        {
            "name": "Main",
            "description": "ours",
            "metadata": {"b": "2"},
            "config": {"allowed_price_types": ["FIXED"]},
        },
    )
    assert reply.status == 200
    changed = {k: reply.json[k] for k in ("name", "description", "metadata", "config")}
    assert changed == {
        "name": "Main",
        "description": "ours",
        "metadata": {"b": "2"},
        "config": {"allowed_price_types": ["FIXED"]},
    }
    assert wallet_of(api, wallet["id"]) == reply.json


def test_update_refusals_change_nothing(api):
    wallet = make_wallet(api, "cust_a")
    assert refusal(api.put("/v1/wallets/wallet_nope", {"name": "x"})) == (
        404,
        "not_found",
        "Wallet not found",
        {"wallet_id": "wallet_nope"},
    )
    schema_refusal(
        api.put(f"/v1/wallets/{wallet['id']}", {"config": {"allowed_price_types": ["SOME"]}}),
        "config.allowed_price_types[0]",
    )
    assert wallet_of(api, wallet["id"]) == wallet


# ---- top-up -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reason",
    [
        "FREE_CREDIT_GRANT",
        "SUBSCRIPTION_CREDIT_GRANT",
        "PURCHASED_CREDIT_DIRECT",
        "CREDIT_NOTE",
        "INVOICE_VOID_REFUND",
    ],
)
def test_top_up_with_each_direct_reason(api, reason):
    wallet = make_wallet(api, "cust_a", initial_credits_to_load="5")
    answer = topped(
        api,
        wallet["id"],
        "10",
        reason,
        idempotency_key="k-1",
        description="why",
        metadata={"po": "42"},
        priority=2,
        expiry_date_utc="2027-01-01T00:00:00Z",
    )
    txn = answer["wallet_transaction"]
    assert set(answer) == {"wallet_transaction", "wallet"}
    assert {
        k: txn[k]
        for k in (
            "transaction_reason",
            "transaction_status",
            "type",
            "amount",
            "credit_amount",
            "credit_balance_before",
            "credit_balance_after",
            "credits_available",
            "reference_type",
            "reference_id",
            "idempotency_key",
            "description",
            "metadata",
            "priority",
            "expiry_date",
            "topup_conversion_rate",
        )
    } == {
        "transaction_reason": reason,
        "transaction_status": "completed",
        "type": "credit",
        "amount": "10",
        "credit_amount": "10",
        "credit_balance_before": "5",
        "credit_balance_after": "15",
        "credits_available": "10",
        "reference_type": "EXTERNAL",
        "reference_id": "k-1",
        "idempotency_key": "k-1",
        "description": "why",
        "metadata": {"po": "42"},
        "priority": 2,
        "expiry_date": "2027-01-01T00:00:00.000000Z",
        "topup_conversion_rate": "1",
    }
    assert "conversion_rate" not in txn and "parent_transaction_id" not in txn
    assert (answer["wallet"]["credit_balance"], answer["wallet"]["balance"]) == ("15", "15")
    assert ledger(api, wallet["id"])[-1] == txn
    assert wallet_of(api, wallet["id"]) == answer["wallet"]


def test_top_up_invoiced_waits_pending_with_an_invoice(api):
    wallet = make_wallet(api, "cust_a", initial_credits_to_load="5", topup_conversion_rate="2")
    answer = topped(api, wallet["id"], "20", "PURCHASED_CREDIT_INVOICED")
    txn = answer["wallet_transaction"]
    assert INVOICE_ID.match(answer["invoice_id"])
    assert list(answer) == ["wallet_transaction", "invoice_id", "wallet"]
    assert {
        k: txn[k]
        for k in (
            "transaction_status",
            "credit_amount",
            "amount",
            "credit_balance_before",
            "credit_balance_after",
            "credits_available",
            "description",
            "reference_type",
        )
    } == {
        "transaction_status": "pending",
        "credit_amount": "20",
        "amount": "40",
        "credit_balance_before": "5",
        "credit_balance_after": "5",
        "credits_available": "20",
        "description": "Purchased credits - pending payment",
        "reference_type": "EXTERNAL",
    }
    assert txn["reference_id"] == txn["idempotency_key"]
    assert answer["wallet"]["credit_balance"] == "5"  # unchanged until paid
    (shown,) = invoices(api)  # the one book's invoice, with what the top-up's view always said
    assert shown["invoice_type"] == "ONE_OFF" and shown["amount_due"] == "40"
    assert [{k: v for k, v in shown.items() if k in TOP_UP_VIEW}] == [
        {
            "id": answer["invoice_id"],
            "wallet_id": wallet["id"],
            "wallet_transaction_id": txn["id"],
            "amount": "40",
            "currency": "usd",
            "status": "pending",
            "invoice_status": "FINALIZED",
            "payment_status": "PENDING",
            "auto_topup": False,
            "created_at": STAMP,
            "settled_at": None,
        }
    ]
    balance = api.get(f"/v1/wallets/{wallet['id']}/balance/real-time").json
    assert balance["real_time_balance"] == "5"


def test_paying_the_invoice_completes_the_credit_and_its_bonus(api):
    wallet = make_wallet(api, "cust_a", initial_credits_to_load="5")
    answer = topped(
        api,
        wallet["id"],
        "20",
        "PURCHASED_CREDIT_INVOICED",
        bonus_credits_to_add="3",
        idempotency_key="buy-1",
    )
    bonus = ledger(api, wallet["id"])[-1]
    assert {
        k: bonus[k]
        for k in (
            "transaction_reason",
            "transaction_status",
            "parent_transaction_id",
            "reference_type",
            "reference_id",
            "idempotency_key",
            "description",
            "credit_amount",
        )
    } == {
        "transaction_reason": "PURCHASED_CREDIT_BONUS",
        "transaction_status": "pending",
        "parent_transaction_id": answer["wallet_transaction"]["id"],
        "reference_type": "EXTERNAL",
        "reference_id": "buy-1",
        "idempotency_key": "",
        "description": "Bonus credits for purchase",
        "credit_amount": "3",
    }
    topped(api, wallet["id"], "1", "FREE_CREDIT_GRANT", idempotency_key="later")  # balance moves on
    advance(api, "PT1H")
    reply = api.post(f"/_mock/invoices/{answer['invoice_id']}/pay")
    assert reply.status == 200
    assert reply.json["invoice"]["status"] == "paid"
    assert reply.json["invoice"]["settled_at"] == "2026-09-01T13:00:00.000000Z"
    assert reply.json["wallet"]["credit_balance"] == "29"
    paid = reply.json["wallet_transaction"]
    assert {
        k: paid[k]
        for k in (
            "transaction_status",
            "credit_balance_before",
            "credit_balance_after",
            "credits_available",
            "description",
            "created_at",
            "updated_at",
        )
    } == {
        "transaction_status": "completed",
        "credit_balance_before": "6",
        "credit_balance_after": "26",
        "credits_available": "20",
        "description": "Purchased credits - pending payment",
        "created_at": STAMP,
        "updated_at": "2026-09-01T13:00:00.000000Z",
    }
    assert rows(api, wallet["id"]) == [
        ("FREE_CREDIT_GRANT", "5", "completed", "5"),
        ("PURCHASED_CREDIT_INVOICED", "20", "completed", "26"),
        ("PURCHASED_CREDIT_BONUS", "3", "completed", "29"),
        ("FREE_CREDIT_GRANT", "1", "completed", "6"),
    ]
    assert wallet_of(api, wallet["id"])["credit_balance"] == "29"
    again = api.post(f"/_mock/invoices/{answer['invoice_id']}/pay")
    assert (again.status, again.json["code"], again.json["message"]) == (
        400,
        "invalid_operation",
        f"Invoice {answer['invoice_id']} is already paid",
    )
    assert wallet_of(api, wallet["id"])["credit_balance"] == "29"


def test_voiding_the_invoice_fails_the_credit(api):
    wallet = make_wallet(api, "cust_a", initial_credits_to_load="5")
    answer = topped(api, wallet["id"], "20", "PURCHASED_CREDIT_INVOICED", bonus_credits_to_add="3")
    reply = api.post(f"/_mock/invoices/{answer['invoice_id']}/void")
    assert reply.status == 200
    assert reply.json["invoice"]["status"] == "voided"
    assert reply.json["wallet_transaction"]["transaction_status"] == "failed"
    assert rows(api, wallet["id"]) == [
        ("FREE_CREDIT_GRANT", "5", "completed", "5"),
        ("PURCHASED_CREDIT_INVOICED", "20", "failed", "5"),
        ("PURCHASED_CREDIT_BONUS", "3", "failed", "5"),
    ]
    assert wallet_of(api, wallet["id"])["credit_balance"] == "5"
    assert api.post(f"/_mock/invoices/{answer['invoice_id']}/pay").json["message"] == (
        f"Invoice {answer['invoice_id']} is already voided"
    )


def test_top_up_by_amount_divides_by_the_topup_rate(api):
    wallet = make_wallet(api, "cust_a", conversion_rate="2", topup_conversion_rate="4")
    answer = topped(api, wallet["id"], None, "PURCHASED_CREDIT_DIRECT", amount="10", idempotency_key="a")
    txn = answer["wallet_transaction"]
    assert (txn["credit_amount"], txn["amount"], txn["topup_conversion_rate"]) == ("2.5", "10", "4")
    # the wallet's money balance is at its own rate
    assert (answer["wallet"]["credit_balance"], answer["wallet"]["balance"]) == ("2.5", "5")
    # credits_to_add wins over amount
    answer = topped(api, wallet["id"], "3", "PURCHASED_CREDIT_DIRECT", amount="10", idempotency_key="b")
    assert (answer["wallet_transaction"]["credit_amount"], answer["wallet_transaction"]["amount"]) == (
        "3",
        "12",
    )
    assert (answer["wallet"]["credit_balance"], answer["wallet"]["balance"]) == ("5.5", "11")


def test_a_direct_bonus_is_its_own_row_not_in_the_answer(api):
    wallet = make_wallet(api, "cust_a")
    answer = topped(
        api,
        wallet["id"],
        "10",
        "PURCHASED_CREDIT_DIRECT",
        bonus_credits_to_add="5",
        bonus_credits_expiry_date_utc="2026-12-01T00:00:00Z",
        metadata={"deal": "x"},
        idempotency_key="buy",
    )
    purchase = answer["wallet_transaction"]
    assert (purchase["transaction_reason"], purchase["credit_balance_after"]) == (
        "PURCHASED_CREDIT_DIRECT",
        "10",
    )
    assert answer["wallet"]["credit_balance"] == "15"  # the bonus is in the balance
    [first, bonus] = ledger(api, wallet["id"])
    assert first == purchase
    assert {
        k: bonus[k]
        for k in (
            "transaction_reason",
            "transaction_status",
            "parent_transaction_id",
            "credit_amount",
            "credit_balance_before",
            "credit_balance_after",
            "credits_available",
            "description",
            "metadata",
            "expiry_date",
            "priority",
            "idempotency_key",
            "reference_type",
        )
    } == {
        "transaction_reason": "PURCHASED_CREDIT_BONUS",
        "transaction_status": "completed",
        "parent_transaction_id": purchase["id"],
        "credit_amount": "5",
        "credit_balance_before": "10",
        "credit_balance_after": "15",
        "credits_available": "5",
        "description": "Bonus credits for purchase",
        "metadata": {"deal": "x"},
        "expiry_date": "2026-12-01T00:00:00.000000Z",
        "priority": None,
        "idempotency_key": "",
        "reference_type": "EXTERNAL",
    }
    breakdown = api.get(
        f"/v1/wallets/{wallet['id']}/balance/real-time?expand=credits_available_breakdown"
    ).json["credits_available_breakdown"]
    assert breakdown == {"purchased": "15", "free": "0"}


def test_a_missing_idempotency_key_is_generated_to_the_second(api):
    wallet = make_wallet(api, "cust_a")
    txn = topped(api, wallet["id"], "7.50")["wallet_transaction"]
    key = key_of(
        "wallet_top_up",
        wallet_id=wallet["id"],
        credits_to_add="7.5",
        transaction_reason="FREE_CREDIT_GRANT",
        timestamp=NOW,
    )
    assert (txn["idempotency_key"], txn["reference_id"]) == (key, key)
    # the same key-less top-up within the same second makes the same key: refused
    reply = top_up(api, wallet["id"], "7.5", idempotency_key="")
    assert refusal(reply) == (
        409,
        "already_exists",
        "A wallet transaction with this idempotency key already exists",
        {"wallet_id": wallet["id"], "type": "credit", "amount": "7.5", "idempotency_key": key},
    )
    assert wallet_of(api, wallet["id"])["credit_balance"] == "7.5"
    advance(api, 1)
    assert topped(api, wallet["id"], "7.5")["wallet"]["credit_balance"] == "15"


def test_a_reused_key_is_refused_in_the_whole_world(api):
    first = make_wallet(api, "cust_a")
    second = make_wallet(api, "cust_b", topup_conversion_rate="3", conversion_rate="2")
    topped(api, first["id"], "10", idempotency_key="shared")
    assert debit(api, first["id"], "1", key="spent").status == 200
    for key in ("shared", "spent"):
        reply = top_up(api, second["id"], "2", "PURCHASED_CREDIT_DIRECT", idempotency_key=key)
        assert refusal(reply) == (
            409,
            "already_exists",
            "A wallet transaction with this idempotency key already exists",
            {"wallet_id": second["id"], "type": "credit", "amount": "6", "idempotency_key": key},
        )
    reply = debit(api, second["id"], "2", key="shared")
    assert refusal(reply)[3] == {
        "wallet_id": second["id"],
        "type": "debit",
        "amount": "4",
        "idempotency_key": "shared",
    }
    assert ledger(api, second["id"]) == []
    assert wallet_of(api, second["id"]) == second


def test_top_up_checks_in_the_servers_order(api):
    wallet = make_wallet(api, "cust_a", initial_credits_to_load="5")
    before = (wallet_of(api, wallet["id"]), ledger(api, wallet["id"]))
    body = {
        "credits_to_add": "0",
        "transaction_reason": "CREDIT_EXPIRED",
        "expiry_date_utc": "2026-09-01T11:59:59Z",
        "priority": -1,
        "bonus_credits_to_add": "0",
        "bonus_credits_expiry_date_utc": "2026-01-01T00:00:00Z",
        "checkout": {"payment_provider": "razorpay"},
    }
    # the wallet is looked up first, with no details
    assert refusal(api.post("/v1/wallets/wallet_nope/top-up", body)) == (
        404,
        "not_found",
        "Wallet not found",
        None,
    )
    steps = [
        (
            "Credits to add must be a positive value",
            {"credits_to_add": "0"},
            lambda b: b.update(credits_to_add="-1"),
        ),
        (
            "Credits to add must be a positive value",
            {"credits_to_add": "-1"},
            lambda b: b.update(credits_to_add="10"),
        ),
        (
            "Invalid transaction reason",
            {
                "transaction_reason": "CREDIT_EXPIRED",
                "allowed_reasons": [
                    "FREE_CREDIT_GRANT",
                    "SUBSCRIPTION_CREDIT_GRANT",
                    "PURCHASED_CREDIT_INVOICED",
                    "PURCHASED_CREDIT_DIRECT",
                    "CREDIT_NOTE",
                    "INVOICE_VOID_REFUND",
                ],
            },
            lambda b: b.update(transaction_reason="PURCHASED_CREDIT_DIRECT"),
        ),
        ("Expiry date must be in the future", None, lambda b: b.pop("expiry_date_utc")),
        ("Priority must be a non-negative integer", {"priority": -1}, lambda b: b.update(priority=0)),
        (
            "To grant no bonus credits, omit bonus_credits_to_add entirely",
            {"bonus_credits_to_add": "0"},
            lambda b: b.update(bonus_credits_to_add="2"),
        ),
        (
            "Bonus credits expiry date must be in the future",
            None,
            lambda b: b.pop("bonus_credits_expiry_date_utc"),
        ),
        (
            "Omit checkout, or set transaction_reason to PURCHASED_CREDIT_INVOICED",
            None,
            lambda b: b.pop("checkout"),
        ),
    ]
    for message, details, fix in steps:
        assert refusal(api.post(f"/v1/wallets/{wallet['id']}/top-up", body)) == (
            400,
            "validation_error",
            message,
            details,
        )
        assert (wallet_of(api, wallet["id"]), ledger(api, wallet["id"])) == before
        fix(body)
    answer = api.post(f"/v1/wallets/{wallet['id']}/top-up", body).json
    assert answer["wallet"]["credit_balance"] == "17"  # 5 + 10 + a bonus of 2
    assert answer["wallet_transaction"]["priority"] == 0


def test_top_up_needs_a_reason_from_the_document(api):
    wallet = make_wallet(api, "cust_a")
    schema_refusal(
        api.post(f"/v1/wallets/{wallet['id']}/top-up", {"credits_to_add": "1"}), "transaction_reason"
    )
    schema_refusal(top_up(api, wallet["id"], "1", "GIFT"), "transaction_reason")
    assert ledger(api, wallet["id"]) == []


def test_a_closed_wallet_can_still_be_topped_up(api):
    wallet = make_wallet(api, "cust_a", initial_credits_to_load="5")
    api.post(f"/v1/wallets/{wallet['id']}/terminate")
    answer = topped(api, wallet["id"], "3")
    assert (answer["wallet"]["wallet_status"], answer["wallet"]["credit_balance"]) == ("closed", "3")


# ---- debit ------------------------------------------------------------------------------------


def test_debit_checks_in_the_servers_order(api):
    wallet = make_wallet(api, "cust_a", initial_credits_to_load="5")
    debit(api, wallet["id"], "1", key="used")
    schema_refusal(
        api.post(
            "/v1/wallets/wallet_nope/debit", {"credits": "0", "transaction_reason": "MANUAL_BALANCE_DEBIT"}
        ),
        "idempotency_key",
    )
    schema_refusal(
        api.post(
            "/v1/wallets/wallet_nope/debit",
            {"credits": "0", "transaction_reason": "MANUAL_BALANCE_DEBIT", "idempotency_key": None},
        ),
        "idempotency_key",
    )
    schema_refusal(
        api.post(
            "/v1/wallets/wallet_nope/debit",
            {"credits": "0", "transaction_reason": "FREE_CREDIT_GRANT", "idempotency_key": ""},
        ),
        "transaction_reason",
    )
    # the credits are checked before the wallet is looked up
    assert refusal(debit(api, "wallet_nope", "0")) == (
        400,
        "validation_error",
        "Credits to debit must be a positive value",
        {"credits": "0"},
    )
    assert refusal(debit(api, "wallet_nope", "-2")) == (
        400,
        "validation_error",
        "Credits to debit must be a positive value",
        {"credits": "-2"},
    )
    assert refusal(debit(api, "wallet_nope", "1", key="used")) == (
        404,
        "not_found",
        "Wallet not found",
        {"wallet_id": "wallet_nope"},
    )
    assert refusal(debit(api, wallet["id"], "1", key="used")) == (
        409,
        "already_exists",
        "A wallet transaction with this idempotency key already exists",
        {"wallet_id": wallet["id"], "type": "debit", "amount": "1", "idempotency_key": "used"},
    )
    assert wallet_of(api, wallet["id"])["credit_balance"] == "4"
    api.post(f"/v1/wallets/{wallet['id']}/terminate")
    status, code, message, _ = refusal(debit(api, wallet["id"], "1", key="used"))
    assert (status, code, message) == (400, "invalid_operation", "Wallet is not active")
    assert len(ledger(api, wallet["id"])) == 3  # grant, debit, termination


def test_debit_consumes_grants_in_the_clouds_order_and_notes_them(api):
    wallet = make_wallet(api, "cust_a", conversion_rate="2")
    big = topped(api, wallet["id"], "10", idempotency_key="big")["wallet_transaction"]
    first = topped(api, wallet["id"], "5", priority=1, idempotency_key="p1")["wallet_transaction"]
    soon = topped(api, wallet["id"], "5", idempotency_key="soon", expiry_date_utc="2026-10-01T00:00:00Z")[
        "wallet_transaction"
    ]
    reply = debit(api, wallet["id"], "12", key="d-1", description="usage", metadata={"job": "7"})
    assert reply.status == 200
    assert (reply.json["credit_balance"], reply.json["balance"]) == ("8", "16")
    txn = ledger(api, wallet["id"])[-1]
    assert TXN_ID.match(txn["reference_id"]) and txn["reference_id"] != txn["id"]
    assert {
        k: v for k, v in txn.items() if k not in ("id", "reference_id", "environment_id", "tenant_id")
    } == {
        "wallet_id": wallet["id"],
        "customer_id": "cust_a",
        "type": "debit",
        "amount": "24",
        "credit_amount": "12",
        "credit_balance_before": "20",
        "credit_balance_after": "8",
        "transaction_status": "completed",
        "reference_type": "REQUEST",
        "description": "usage",
        "metadata": {"job": "7", "consumed_credit_tx_ids": f"{first['id']},{soon['id']},{big['id']}"},
        "expiry_date": None,
        "credits_available": "0",
        "transaction_reason": "MANUAL_BALANCE_DEBIT",
        "priority": None,
        "currency": "usd",
        "conversion_rate": "2",
        "consumption_breakdown": [  # what was drawn from each grant, in that order
            {"credit_transaction_id": first["id"], "credits": "5"},
            {"credit_transaction_id": soon["id"], "credits": "5"},
            {"credit_transaction_id": big["id"], "credits": "2"},
        ],
        "idempotency_key": "d-1",
        "status": "published",
        "created_by": SYSTEM_USER,
        "updated_by": SYSTEM_USER,
        "created_at": STAMP,
        "updated_at": STAMP,
    }
    assert [t["credits_available"] for t in ledger(api, wallet["id"])[:3]] == ["8", "0", "0"]


def test_debit_takes_the_largest_grant_first_among_equals(api):
    wallet = make_wallet(api, "cust_a")
    small = topped(api, wallet["id"], "3", idempotency_key="s")["wallet_transaction"]
    large = topped(api, wallet["id"], "7", idempotency_key="l")["wallet_transaction"]
    debit(api, wallet["id"], "1")
    assert ledger(api, wallet["id"])[-1]["metadata"] == {"consumed_credit_tx_ids": large["id"]}
    assert [t["credits_available"] for t in ledger(api, wallet["id"])[:2]] == ["3", "6"]
    assert small["id"] != large["id"]


def test_debit_may_overdraw_and_an_empty_key_is_reusable(api):
    wallet = make_wallet(api, "cust_a", initial_credits_to_load="5")
    assert debit(api, wallet["id"], "8").json["credit_balance"] == "-3"
    reply = debit(api, wallet["id"], "2")  # "" again: accepted
    assert (reply.status, reply.json["credit_balance"], reply.json["balance"]) == (200, "-5", "-5")
    last = ledger(api, wallet["id"])[-1]
    assert (last["idempotency_key"], last["metadata"]) == ("", {})  # nothing left to consume
    # a credit on an overdrawn wallet makes only what lifts it above zero spendable
    txn = topped(api, wallet["id"], "7")["wallet_transaction"]
    assert (txn["credit_balance_before"], txn["credit_balance_after"], txn["credits_available"]) == (
        "-5",
        "2",
        "2",
    )


# ---- terminate and modify ---------------------------------------------------------------------


def test_terminate_debits_what_is_left_and_closes(api):
    wallet = make_wallet(api, "cust_a", initial_credits_to_load="5", conversion_rate="2")
    advance(api, 60)
    reply = api.post(f"/v1/wallets/{wallet['id']}/terminate")
    assert reply.status == 200
    assert {k: reply.json[k] for k in ("wallet_status", "balance", "credit_balance", "updated_at")} == {
        "wallet_status": "closed",
        "balance": "0",
        "credit_balance": "0",
        "updated_at": "2026-09-01T12:01:00.000000Z",
    }
    assert reply.json == wallet_of(api, wallet["id"])
    txn = ledger(api, wallet["id"])[-1]
    assert {
        k: txn[k]
        for k in (
            "type",
            "transaction_reason",
            "credit_amount",
            "amount",
            "description",
            "reference_type",
            "idempotency_key",
            "credit_balance_after",
        )
    } == {
        "type": "debit",
        "transaction_reason": "WALLET_TERMINATION",
        "credit_amount": "5",
        "amount": "10",
        "description": "Wallet termination - remaining balance debit",
        "reference_type": "REQUEST",
        "idempotency_key": wallet["id"],
        "credit_balance_after": "0",
    }
    assert TXN_ID.match(txn["reference_id"])
    again = api.post(f"/v1/wallets/{wallet['id']}/terminate")
    assert refusal(again) == (400, "invalid_operation", "Wallet is already terminated", None)
    assert len(ledger(api, wallet["id"])) == 2
    assert refusal(api.post("/v1/wallets/wallet_nope/terminate")) == (
        404,
        "not_found",
        "Wallet not found",
        {"wallet_id": "wallet_nope"},
    )


def test_terminate_writes_no_debit_for_an_empty_or_overdrawn_wallet(api):
    empty = make_wallet(api, "cust_a")
    assert api.post(f"/v1/wallets/{empty['id']}/terminate").json["wallet_status"] == "closed"
    assert ledger(api, empty["id"]) == []
    overdrawn = make_wallet(api, "cust_a", currency="eur")
    debit(api, overdrawn["id"], "4")
    reply = api.post(f"/v1/wallets/{overdrawn['id']}/terminate")
    assert (reply.json["wallet_status"], reply.json["credit_balance"]) == ("closed", "-4")
    assert len(ledger(api, overdrawn["id"])) == 1


def test_prepaid_to_postpaid_moves_the_credits_to_a_new_wallet(api):
    settings = {
        "critical": {"threshold": "0", "condition": "below"},
        "warning": None,
        "info": None,
        "alert_enabled": True,
    }
    rule = {"enabled": False, "threshold": "1", "amount": "5", "invoicing": False}
    old = make_wallet(
        api,
        "cust_a",
        initial_credits_to_load="10",
        conversion_rate="2",
        topup_conversion_rate="3",
        metadata={"m": "1"},
        auto_topup=rule,
        alert_settings=settings,
        initial_credits_expiry_date_utc="2027-01-01T00:00:00Z",
    )
    reply = api.post(f"/v1/wallets/{old['id']}/modify", {"modification_type": "prepaid_to_postpaid"})
    assert reply.status == 200
    original, new = reply.json["original_wallet"], reply.json["new_wallet"]
    assert original == wallet_of(api, old["id"])
    assert {k: original[k] for k in ("wallet_status", "balance", "credit_balance", "metadata")} == {
        "wallet_status": "closed",
        "balance": "0",
        "credit_balance": "0",
        "metadata": {"m": "1"},
    }
    assert WALLET_ID.match(new["id"]) and new["id"] != old["id"]
    assert {k: v for k, v in new.items() if k not in ("id", "environment_id", "tenant_id")} == {
        "customer_id": "cust_a",
        "currency": "usd",
        "balance": "20",
        "credit_balance": "10",
        "wallet_status": "active",
        "name": "Postpaid Wallet - USD",
        "description": f"Converted from prepaid wallet {old['id']}",
        "metadata": {"converted_from": old["id"]},
        "wallet_type": "POST_PAID",
        "config": {"allowed_price_types": ["ALL"]},
        "conversion_rate": "2",
        "topup_conversion_rate": "3",
        "alert_state": "ok",
        "auto_topup": rule,
        "alert_settings": settings,
        "status": "published",
        "created_by": SYSTEM_USER,
        "updated_by": SYSTEM_USER,
        "created_at": STAMP,
        "updated_at": STAMP,
    }
    assert wallet_of(api, new["id"]) == new
    out = ledger(api, old["id"])[-1]
    assert {
        k: out[k] for k in ("type", "transaction_reason", "credit_amount", "description", "idempotency_key")
    } == {
        "type": "debit",
        "transaction_reason": "WALLET_TERMINATION",
        "credit_amount": "10",
        "description": "Wallet conversion - prepaid to postpaid",
        "idempotency_key": f"{old['id']}_conversion_debit",
    }
    [moved] = ledger(api, new["id"])
    key = key_of(
        "credit_grant",
        wallet_id=new["id"],
        source_wallet_id=old["id"],
        credits_to_add="10",
        transaction_reason="FREE_CREDIT_GRANT",
        conversion_transfer="true",
    )
    assert {
        k: moved[k]
        for k in (
            "type",
            "transaction_reason",
            "credit_amount",
            "amount",
            "description",
            "reference_type",
            "idempotency_key",
            "expiry_date",
            "credits_available",
        )
    } == {
        "type": "credit",
        "transaction_reason": "FREE_CREDIT_GRANT",
        "credit_amount": "10",
        "amount": "30",
        "description": f"Credits transferred from prepaid wallet {old['id']}",
        "reference_type": "REQUEST",
        "idempotency_key": key,
        "expiry_date": None,
        "credits_available": "10",
    }
    assert [w["id"] for w in api.get("/v1/customers/cust_a/wallets").json] == [new["id"]]


def test_modify_refusals_change_nothing(api):
    prepaid = make_wallet(api, "cust_a", initial_credits_to_load="4")
    postpaid = make_wallet(api, "cust_a", wallet_type="POST_PAID")
    body = {"modification_type": "prepaid_to_postpaid"}
    schema_refusal(api.post(f"/v1/wallets/{prepaid['id']}/modify", {}), "modification_type")
    # the type is checked before the wallet is looked up
    status, code, message, _ = refusal(
        api.post("/v1/wallets/wallet_nope/modify", {"modification_type": "postpaid_to_prepaid"})
    )
    assert (status, code, message) == (400, "validation_error", "Invalid wallet modification request")
    assert refusal(api.post("/v1/wallets/wallet_nope/modify", body)) == (
        404,
        "not_found",
        "Wallet not found",
        {"wallet_id": "wallet_nope"},
    )
    assert refusal(api.post(f"/v1/wallets/{postpaid['id']}/modify", body)) == (
        400,
        "invalid_operation",
        "Only prepaid wallets can be converted to postpaid",
        {"wallet_id": postpaid["id"], "wallet_type": "POST_PAID"},
    )
    assert refusal(api.post(f"/v1/wallets/{prepaid['id']}/modify", body)) == (
        409,
        "already_exists",
        "A customer can only have one active postpaid wallet per currency",
        {"customer_id": "cust_a", "wallet_id": postpaid["id"], "currency": "usd"},
    )
    assert (wallet_of(api, prepaid["id"]), wallet_of(api, postpaid["id"])) == (prepaid, postpaid)
    assert len(ledger(api, prepaid["id"])) == 1 and wallet_count(api) == 2
    api.post(f"/v1/wallets/{prepaid['id']}/terminate")
    assert refusal(api.post(f"/v1/wallets/{prepaid['id']}/modify", body)) == (
        400,
        "invalid_operation",
        "Only active wallets can be converted",
        {"wallet_id": prepaid["id"], "wallet_status": "closed"},
    )


# ---- real-time balance --------------------------------------------------------------------------


def test_real_time_balance_of_an_active_prepaid_wallet(api):
    wallet = make_wallet(api, "cust_a", initial_credits_to_load="10", conversion_rate="4")
    reply = api.get(f"/v1/wallets/{wallet['id']}/balance/real-time")
    assert reply.status == 200
    assert reply.json == {
        **wallet,
        "real_time_balance": "40",
        "real_time_credit_balance": "10",
        "current_period_usage": "0",
        "unpaid_invoices_amount": "0",
        "balance_updated_at": STAMP,
        "is_cached_fallback": False,
    }


def test_the_breakdown_counts_unused_completed_credits_by_origin(api):
    wallet = make_wallet(api, "cust_a", initial_credits_to_load="10")
    topped(api, wallet["id"], "5", "SUBSCRIPTION_CREDIT_GRANT", idempotency_key="s")
    topped(api, wallet["id"], "3", "PURCHASED_CREDIT_DIRECT", idempotency_key="p", bonus_credits_to_add="2")
    topped(api, wallet["id"], "4", "CREDIT_NOTE", idempotency_key="n")
    topped(api, wallet["id"], "50", "PURCHASED_CREDIT_INVOICED", idempotency_key="i")  # pending
    debit(api, wallet["id"], "1")  # from the largest grant without priority: the free 10
    reply = api.get(f"/v1/wallets/{wallet['id']}/balance/real-time?expand=credits_available_breakdown")
    assert reply.json["credits_available_breakdown"] == {"purchased": "5", "free": "14"}
    assert reply.json["real_time_balance"] == "23"
    assert "credits_available_breakdown" not in api.get(f"/v1/wallets/{wallet['id']}/balance/real-time").json


def test_a_closed_wallet_shows_zeros(api):
    wallet = make_wallet(api, "cust_a", initial_credits_to_load="10")
    closed = api.post(f"/v1/wallets/{wallet['id']}/terminate").json
    for path in (
        "real-time?expand=credits_available_breakdown",
        "real-time-cached?expand=credits_available_breakdown",
    ):
        reply = api.get(f"/v1/wallets/{wallet['id']}/balance/{path}")
        assert reply.json == {
            **closed,
            "real_time_balance": "0",
            "real_time_credit_balance": "0",
            "current_period_usage": "0",
            "balance_updated_at": STAMP,
            "credits_available_breakdown": {"purchased": "0", "free": "0"},
            "is_cached_fallback": False,
        }


def test_balance_refuses_an_unknown_expand_before_the_lookup(api):
    wallet = make_wallet(api, "cust_a")
    for wallet_id in (wallet["id"], "wallet_nope"):
        for path in ("real-time", "real-time-cached"):
            reply = api.get(f"/v1/wallets/{wallet_id}/balance/{path}?expand=transactions")
            assert refusal(reply) == (
                400,
                "validation_error",
                "Field is not allowed to be expanded",
                {"field": "transactions"},
            )
    assert refusal(api.get("/v1/wallets/wallet_nope/balance/real-time")) == (
        404,
        "not_found",
        "Wallet not found",
        {"wallet_id": "wallet_nope"},
    )


def test_the_cached_balance_is_the_one_computed_last(api):
    wallet = make_wallet(api, "cust_a", initial_credits_to_load="10")
    path = f"/v1/wallets/{wallet['id']}/balance/real-time-cached"
    # nothing cached yet: computed now, and remembered
    first = api.get(path).json
    assert (first["real_time_balance"], first["is_cached_fallback"], first["unpaid_invoices_amount"]) == (
        "10",
        False,
        "0",
    )
    topped(api, wallet["id"], "5")
    cached = api.get(path).json
    assert (
        cached["balance"],
        cached["real_time_balance"],
        cached["real_time_credit_balance"],
        cached["current_period_usage"],
        cached["is_cached_fallback"],
    ) == ("15", "10", "10", "0", True)
    assert "unpaid_invoices_amount" not in cached
    from_cache = api.get(f"/v1/wallets/{wallet['id']}/balance/real-time?from_cache=true").json
    assert (from_cache["real_time_balance"], from_cache["is_cached_fallback"]) == ("10", True)
    advance(api, 60)
    # older than x-max-live seconds: computed again
    assert api.get(path, headers={"x-max-live": "300"}).json["is_cached_fallback"] is True
    fresh = api.get(path, headers={"x-max-live": "30"}).json
    assert (fresh["real_time_balance"], fresh["is_cached_fallback"]) == ("15", False)
    topped(api, wallet["id"], "1")
    # x-max-live 0, or anything but a positive integer, is ignored: up to 30 minutes old is taken
    assert api.get(path, headers={"x-max-live": "0"}).json["real_time_balance"] == "15"
    assert api.get(path, headers={"x-max-live": "soon"}).json["real_time_balance"] == "15"
    advance(api, "PT30M1S")
    assert api.get(path).json["real_time_balance"] == "16"
    # the plain route always computes
    topped(api, wallet["id"], "2")
    assert api.get(f"/v1/wallets/{wallet['id']}/balance/real-time").json["real_time_balance"] == "18"


def test_a_postpaid_wallet_is_never_read_from_the_cache(api):
    wallet = make_wallet(api, "cust_a", wallet_type="POST_PAID", initial_credits_to_load="3")
    path = f"/v1/wallets/{wallet['id']}/balance/real-time-cached"
    api.get(path)
    topped(api, wallet["id"], "2")
    reply = api.get(path).json
    assert (reply["real_time_balance"], reply["unpaid_invoices_amount"], reply["is_cached_fallback"]) == (
        "5",
        "0",
        False,
    )


# ---- transactions -------------------------------------------------------------------------------


@pytest.fixture
def filled(api):
    """A wallet with four transactions, a minute apart: grant 10 (expires 2026-12-01), purchase
    5 (priority 1), invoiced 7 (pending), debit 2."""
    wallet = make_wallet(api, "cust_a")
    made = [
        topped(api, wallet["id"], "10", expiry_date_utc="2026-12-01T00:00:00Z", idempotency_key="grant")[
            "wallet_transaction"
        ]
    ]
    advance(api, 60)
    made.append(
        topped(api, wallet["id"], "5", "PURCHASED_CREDIT_DIRECT", priority=1, idempotency_key="buy")[
            "wallet_transaction"
        ]
    )
    advance(api, 60)
    made.append(
        topped(api, wallet["id"], "7", "PURCHASED_CREDIT_INVOICED", idempotency_key="later")[
            "wallet_transaction"
        ]
    )
    advance(api, 60)
    debit(api, wallet["id"], "2", key="use")
    made.append(ledger(api, wallet["id"])[-1])
    return wallet, made


def ids(reply) -> list[str]:
    assert reply.status == 200, reply.json
    return [t["id"] for t in reply.json["items"]]


def test_transactions_newest_first_with_next_offset(api, filled):
    wallet, made = filled
    reply = api.get(f"/v1/wallets/{wallet['id']}/transactions")
    assert ids(reply) == [t["id"] for t in reversed(made)]
    assert reply.json["pagination"] == {"total": 4, "limit": 50, "offset": 50}
    assert ids(api.get(f"/v1/wallets/{wallet['id']}/transactions?order=asc")) == [t["id"] for t in made]
    page = api.get(f"/v1/wallets/{wallet['id']}/transactions?limit=2&offset=1")
    assert ids(page) == [made[2]["id"], made[1]["id"]]
    assert page.json["pagination"] == {"total": 4, "limit": 2, "offset": 3}
    # limit 0 means 50, in the query and in a search body
    assert api.get(f"/v1/wallets/{wallet['id']}/transactions?limit=0").json["pagination"] == {
        "total": 4,
        "limit": 50,
        "offset": 50,
    }
    assert api.post("/v1/wallets/transactions/search", {"id": wallet["id"], "limit": 0}).json[
        "pagination"
    ] == {"total": 4, "limit": 50, "offset": 50}


@pytest.mark.parametrize(
    "query, picked",
    [
        ("type=debit", [3]),
        ("transaction_status=pending", [2]),
        ("transaction_reason=PURCHASED_CREDIT_DIRECT", [1]),
        ("priority=1", [1]),
        ("credits_available_gt=5", [2, 0]),
        ("expiry_date_before=2026-12-31T00:00:00Z", [0]),
        ("expiry_date_after=2026-12-02T00:00:00Z", []),
        ("start_time=2026-09-01T12:01:00Z&end_time=2026-09-01T12:02:00Z", [2, 1]),
        ("reference_type=EXTERNAL&reference_id=buy", [1]),
        ("reference_id=buy", [3, 2, 1, 0]),  # alone, accepted and not applied
    ],
)
def test_transaction_filters(api, filled, query, picked):
    wallet, made = filled
    reply = api.get(f"/v1/wallets/{wallet['id']}/transactions?{query}")
    assert ids(reply) == [made[i]["id"] for i in picked]
    assert reply.json["pagination"]["total"] == len(picked)


def test_transaction_query_rules(api, filled):
    wallet, _ = filled
    path = f"/v1/wallets/{wallet['id']}/transactions"
    for query in ("reference_type=EXTERNAL", "reference_type=EXTERNAL&reference_id="):
        assert refusal(api.get(f"{path}?{query}")) == (
            400,
            "validation_error",
            "Reference type and reference id must be provided together",
            None,
        )
    assert refusal(api.get(f"{path}?start_time=2026-09-02T00:00:00Z&end_time=2026-09-01T00:00:00Z")) == (
        400,
        "validation_error",
        "Please provide a valid time range",
        {"end_time": "must be after start_time"},
    )
    assert refusal(
        api.get(f"{path}?expiry_date_before=2026-09-01T00:00:00Z&expiry_date_after=2026-09-02T00:00:00Z")
    ) == (400, "validation_error", "Expiry date before must be after expiry date after", None)
    # beyond the document's maximum: refused naming the field (the cloud: "Invalid filter", details.limit)
    schema_refusal(api.get(f"{path}?limit=1001"), "limit", "query")
    schema_refusal(api.get(f"{path}?type=refund"), "type", "query")


def test_transactions_of_an_unknown_wallet_are_an_empty_page(api):
    reply = api.get("/v1/wallets/wallet_nope/transactions")
    assert reply.json == {"items": [], "pagination": {"total": 0, "limit": 50, "offset": 50}}


def test_search_filters_by_wallet_and_expands_customer_and_wallet(api, filled):
    wallet, made = filled
    customer = make_customer(api, "acme")
    other = make_wallet(api, customer["id"], initial_credits_to_load="1")
    everything = api.post("/v1/wallets/transactions/search", {})
    assert everything.json["pagination"] == {"total": 5, "limit": 50, "offset": 50}
    reply = api.post(
        "/v1/wallets/transactions/search?expand=customer", {"id": other["id"], "expand": "wallet"}
    )
    [txn] = reply.json["items"]
    assert txn["wallet"] == wallet_of(api, other["id"])
    assert txn["customer"] == api.get(f"/v1/customers/{customer['id']}").json
    # the customer of the first wallet does not exist: no customer key
    reply = api.post(
        "/v1/wallets/transactions/search?expand=customer,wallet", {"id": wallet["id"], "type": "debit"}
    )
    [txn] = reply.json["items"]
    assert txn["id"] == made[3]["id"] and "customer" not in txn and txn["wallet"]["id"] == wallet["id"]
    reply = api.post(
        "/v1/wallets/transactions/search",
        {"sort": [{"field": "credit_amount", "direction": "asc"}], "limit": 2, "offset": 1},
    )
    assert [t["credit_amount"] for t in reply.json["items"]] == ["2", "5"]
    assert reply.json["pagination"] == {"total": 5, "limit": 2, "offset": 3}


def test_expand_is_checked_on_search_only(api, filled):
    wallet, _ = filled
    reply = api.get(f"/v1/wallets/{wallet['id']}/transactions?expand=customer,wallet,anything")
    assert reply.status == 200 and all("wallet" not in t for t in reply.json["items"])
    assert refusal(api.post("/v1/wallets/transactions/search?expand=anything", {})) == (
        400,
        "validation_error",
        "Field is not allowed to be expanded",
        {"field": "anything"},
    )
    assert refusal(
        api.post("/v1/wallets/transactions/search", {"sort": [{"field": "reason", "direction": "asc"}]})
    ) == (
        400,
        "validation_error",
        "Unknown field name 'reason' in wallet transaction query",
        {"field": "reason"},
    )


# ---- wallet list and search ---------------------------------------------------------------------


def test_wallet_list_filters_and_always_reports_a_first_page(api):
    first = make_wallet(api, "cust_a", initial_credits_to_load="3")
    second = make_wallet(api, "cust_b")
    closed = make_wallet(api, "cust_c")
    api.post(f"/v1/wallets/{closed['id']}/terminate")
    reply = api.get("/v1/wallets?limit=1&offset=2&order=asc&alert_enabled=true")
    assert sorted(w["id"] for w in reply.json["items"]) == sorted([first["id"], second["id"], closed["id"]])
    assert reply.json["pagination"] == {"total": 3, "limit": 50, "offset": 0}
    reply = api.get(f"/v1/wallets?wallet_ids={first['id']}&wallet_ids={closed['id']}")
    assert sorted(w["id"] for w in reply.json["items"]) == sorted([first["id"], closed["id"]])
    assert reply.json["pagination"] == {"total": 2, "limit": 50, "offset": 0}
    reply = api.get(f"/v1/wallets?wallet_ids={first['id']}&wallet_ids={closed['id']}&status=active")
    assert reply.json["items"] == [wallet_of(api, first["id"])]
    assert [w["id"] for w in api.get("/v1/wallets?status=closed").json["items"]] == [closed["id"]]
    reply = api.get(f"/v1/wallets?wallet_ids={first['id']}&expand=credits_available_breakdown")
    assert reply.json["items"][0]["credits_available_breakdown"] == {"purchased": "0", "free": "3"}
    assert refusal(api.get("/v1/wallets?expand=customer")) == (
        400,
        "validation_error",
        "Field is not allowed to be expanded",
        {"field": "customer"},
    )


def test_wallet_search_takes_the_same_filter_as_a_body(api):
    first = make_wallet(api, "cust_a")
    second = make_wallet(api, "cust_b")
    reply = api.post("/v1/wallets/search", {"wallet_ids": [second["id"]], "limit": 5, "offset": 4})
    assert reply.json == {"items": [second], "pagination": {"total": 1, "limit": 50, "offset": 0}}
    reply = api.post("/v1/wallets/search", {})
    assert sorted(w["id"] for w in reply.json["items"]) == sorted([first["id"], second["id"]])
    assert reply.json["pagination"] == {"total": 2, "limit": 50, "offset": 0}
    reply = api.post("/v1/wallets/search", {"status": "closed"})
    assert reply.json == {"items": [], "pagination": {"total": 0, "limit": 50, "offset": 0}}


# ---- auto top-up --------------------------------------------------------------------------------


def auto_rows(api: Api, wallet_id: str) -> list[dict]:
    return [t for t in ledger(api, wallet_id) if t["metadata"].get("auto_topup") == "true"]


def test_a_debit_down_to_the_threshold_triggers_a_direct_top_up(api):
    rule = {"enabled": True, "threshold": "10", "amount": "25", "invoicing": False}
    wallet = make_wallet(api, "cust_a", auto_topup=rule, conversion_rate="2")
    assert ledger(api, wallet["id"]) == []  # created empty: nothing evaluated
    topped(api, wallet["id"], "30", idempotency_key="start")
    assert auto_rows(api, wallet["id"]) == []  # 30 > 10
    reply = debit(api, wallet["id"], "20")  # exactly at the threshold
    assert (reply.json["credit_balance"], reply.json["balance"]) == ("35", "70")
    [auto] = auto_rows(api, wallet["id"])
    assert TXN_ID.match(auto["idempotency_key"])
    assert {
        k: auto[k]
        for k in (
            "transaction_reason",
            "transaction_status",
            "credit_amount",
            "amount",
            "description",
            "metadata",
            "reference_type",
            "reference_id",
            "credit_balance_before",
            "credit_balance_after",
        )
    } == {
        "transaction_reason": "PURCHASED_CREDIT_DIRECT",
        "transaction_status": "completed",
        "credit_amount": "25",
        "amount": "50",
        "description": AUTO,
        "metadata": {"auto_topup": "true"},
        "reference_type": "EXTERNAL",
        "reference_id": auto["idempotency_key"],
        "credit_balance_before": "10",
        "credit_balance_after": "35",
    }


def test_a_small_top_up_triggers_too_and_direct_ones_repeat_until_above(api):
    rule = {"enabled": True, "threshold": "10", "amount": "4", "invoicing": False}
    wallet = make_wallet(api, "cust_a", auto_topup=rule)
    answer = topped(api, wallet["id"], "2")
    assert answer["wallet_transaction"]["credit_balance_after"] == "2"
    assert answer["wallet"]["credit_balance"] == "14"  # 2 -> 6 -> 10 -> 14
    assert [t["credit_balance_after"] for t in auto_rows(api, wallet["id"])] == ["6", "10", "14"]
    # initial credits are a written credit: evaluated too
    other = make_wallet(api, "cust_b", auto_topup=rule, initial_credits_to_load="5")
    assert other["credit_balance"] == "13"


def test_a_cooldown_allows_one_auto_top_up_per_period(api):
    rule = {
        "enabled": True,
        "threshold": "10",
        "amount": "4",
        "invoicing": False,
        "cooldown": {"value": 1, "unit": "hour"},
    }
    wallet = make_wallet(api, "cust_a", auto_topup=rule, initial_credits_to_load="5")
    assert wallet["credit_balance"] == "9"  # once, though still at or below
    assert debit(api, wallet["id"], "1").json["credit_balance"] == "8"
    advance(api, "PT59M59S")
    assert debit(api, wallet["id"], "1").json["credit_balance"] == "7"
    advance(api, 1)
    assert debit(api, wallet["id"], "1").json["credit_balance"] == "10"
    assert len(auto_rows(api, wallet["id"])) == 2


@pytest.mark.parametrize("value", [10**12, 2**63 - 1])
def test_a_cooldown_longer_than_time_itself_only_stops_the_next_auto_top_up(api, value):
    rule = {
        "enabled": True,
        "threshold": "10",
        "amount": "4",
        "invoicing": False,
        "cooldown": {"value": value, "unit": "day"},
    }
    wallet = make_wallet(api, "cust_a", auto_topup=rule, initial_credits_to_load="5")
    assert wallet["credit_balance"] == "9"
    assert debit(api, wallet["id"], "1").json["credit_balance"] == "8"  # the cooldown runs
    advance(api, "P1000Y")
    assert debit(api, wallet["id"], "1").json["credit_balance"] == "7"  # still
    assert len(auto_rows(api, wallet["id"])) == 1


def test_a_disabled_rule_or_a_put_triggers_nothing(api):
    rule = {"enabled": False, "threshold": "10", "amount": "4", "invoicing": False}
    wallet = make_wallet(api, "cust_a", auto_topup=rule, initial_credits_to_load="5")
    debit(api, wallet["id"], "1")
    assert auto_rows(api, wallet["id"]) == []
    reply = api.put(f"/v1/wallets/{wallet['id']}", {"auto_topup": {"enabled": True}})
    assert reply.json["credit_balance"] == "4" and auto_rows(api, wallet["id"]) == []
    assert debit(api, wallet["id"], "1").json["credit_balance"] == "11"


def test_an_invoiced_auto_top_up_blocks_the_next_until_paid(api):
    rule = {"enabled": True, "threshold": "10", "amount": "4", "invoicing": True}
    wallet = make_wallet(api, "cust_a", auto_topup=rule, initial_credits_to_load="5")
    assert wallet["credit_balance"] == "5"
    [pending] = auto_rows(api, wallet["id"])
    assert (pending["transaction_reason"], pending["transaction_status"], pending["description"]) == (
        "PURCHASED_CREDIT_INVOICED",
        "pending",
        AUTO,
    )
    [invoice] = invoices(api)
    assert (invoice["wallet_transaction_id"], invoice["status"], invoice["auto_topup"]) == (
        pending["id"],
        "pending",
        True,
    )
    assert debit(api, wallet["id"], "1").json["credit_balance"] == "4"
    assert len(auto_rows(api, wallet["id"])) == 1  # the pending one blocks the next
    # paid: 8 credits, still at or below 10: the next one is invoiced
    assert api.post(f"/_mock/invoices/{invoice['id']}/pay").json["wallet"]["credit_balance"] == "8"
    assert [(t["transaction_status"], t["credit_amount"]) for t in auto_rows(api, wallet["id"])] == [
        ("completed", "4"),
        ("pending", "4"),
    ]
    assert [(i["status"], i["auto_topup"]) for i in invoices(api)] == [("paid", True), ("pending", True)]


def test_auto_top_up_over_a_real_socket(http):
    rule = {"enabled": True, "threshold": "0", "amount": "10", "invoicing": False}
    wallet = make_wallet(http, "cust_a", auto_topup=rule, initial_credits_to_load="3")
    reply = debit(http, wallet["id"], "3", key="all")
    assert (reply.status, reply.json["credit_balance"]) == (200, "10")
    assert [t["transaction_reason"] for t in ledger(http, wallet["id"])] == [
        "FREE_CREDIT_GRANT",
        "MANUAL_BALANCE_DEBIT",
        "PURCHASED_CREDIT_DIRECT",
    ]
