"""POST /v1/wallets: the seed page's call, defaults, validation order and messages, the 409 rule."""

import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from .conftest import make_wallet

ID = re.compile(r"^wallet_[0-9A-HJKMNP-TV-Z]{26}$")
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def future_yyyymmdd(days=30) -> int:
    return int((datetime.now(timezone.utc) + timedelta(days=days)).strftime("%Y%m%d"))


def seed_request(customer_id="cust_01JW2K7QZ3M5N6P7R8S9TVWXYZ"):
    """The seed page's request with real values in place of its placeholders."""
    return {
        "auto_topup_amount": 123,
        "auto_topup_min_balance": 123,
        "auto_topup_trigger": "disabled",
        "config": {"allowed_price_types": ["ALL"]},
        "conversion_rate": 123,
        "currency": "USD",
        "customer_id": customer_id,
        "description": "Prepaid credits for API usage",
        "initial_credits_to_load": 123,
        "initial_credits_to_load_expiry_date": future_yyyymmdd(),
        "metadata": {},
        "name": "Main wallet",
        "wallet_type": "PROMOTIONAL",
    }


SEED_RESPONSE_TYPES = {
    "auto_topup_amount": Decimal,
    "auto_topup_min_balance": Decimal,
    "auto_topup_trigger": str,
    "balance": Decimal,
    "config": dict,
    "conversion_rate": Decimal,
    "created_at": str,
    "credit_balance": Decimal,
    "currency": str,
    "customer_id": str,
    "description": str,
    "id": str,
    "metadata": dict,
    "name": str,
    "updated_at": str,
    "wallet_status": str,
    "wallet_type": str,
}


def test_seed_request_answers_every_seed_field_in_its_type(api):
    reply = api.post("/v1/wallets", seed_request())
    assert reply.status == 200
    body = reply.json
    for field, kind in SEED_RESPONSE_TYPES.items():
        value = body[field]
        assert isinstance(value, (kind, int) if kind is Decimal else kind), (field, value)
    assert ID.match(body["id"])
    assert TIMESTAMP.match(body["created_at"]) and body["created_at"] == body["updated_at"]
    assert body["currency"] == "usd"
    assert body["credit_balance"] == 123
    assert body["balance"] == 123 * 123
    assert body["conversion_rate"] == 123
    assert (body["name"], body["description"], body["wallet_type"]) == (
        "Main wallet",
        "Prepaid credits for API usage",
        "PROMOTIONAL",
    )
    assert (body["auto_topup_min_balance"], body["auto_topup_amount"]) == (123, 123)
    assert body["wallet_status"] == "active"
    assert reply.headers["X-Request-ID"]


def test_decimals_are_json_numbers_not_strings(api):
    reply = api.post("/v1/wallets", {"customer_id": "c1", "currency": "usd", "conversion_rate": 1.5})
    assert b'"conversion_rate":1.5' in reply.raw
    assert b'"balance":0' in reply.raw


def test_defaults(api):
    body = api.post("/v1/wallets", {"customer_id": "c1", "currency": "eur"}).json
    assert body["wallet_type"] == "PRE_PAID"
    assert body["name"] == "Prepaid Wallet - eur"
    assert body["conversion_rate"] == 1
    assert body["auto_topup_trigger"] == "disabled"
    assert body["config"] == {"allowed_price_types": ["ALL"]}
    assert body["balance"] == body["credit_balance"] == 0
    assert body["metadata"] == {} and body["description"] == ""


def test_default_name_keeps_currency_as_sent_and_names_promotional(api):
    body = api.post(
        "/v1/wallets", {"customer_id": "c1", "currency": "GBP", "wallet_type": "PROMOTIONAL"}
    ).json
    assert body["name"] == "Promotional Wallet - GBP"
    assert body["currency"] == "gbp"


def test_zero_conversion_rate_defaults_to_one_and_rate_keeps_five_places(api):
    assert make_wallet(api, conversion_rate=0)["conversion_rate"] == 1
    assert make_wallet(api, "c2", conversion_rate=1.234567)["conversion_rate"] == Decimal("1.23457")


def test_currency_must_be_three_characters(api):
    reply = api.post("/v1/wallets", {"customer_id": "c1", "currency": "usdt"})
    assert reply.status == 400
    assert reply.error["message"] == "Currency code must be 3 characters long"
    assert reply.error["internal_error"] == "invalid currency code"
    assert api.get("/v1/customers/c1/wallets").json == []


def test_missing_required_fields_are_all_listed(api):
    reply = api.post("/v1/wallets", {"wallet_type": "CREDIT"})
    assert reply.status == 400
    assert reply.error["message"] == "currency is required"
    problems = {(e["field"], e["problem"]) for e in reply.error["details"]["errors"]}
    assert problems == {
        ("currency", "is required"),
        ("customer_id", "is required"),
        ("wallet_type", "must be one of: PROMOTIONAL, PRE_PAID"),
    }


def test_empty_customer_id_is_a_binding_error(api):
    reply = api.post("/v1/wallets", {"customer_id": "", "currency": "usd"})
    assert reply.status == 400
    assert reply.error["message"] == "Invalid request format"
    assert "'CreateWalletRequest.CustomerID'" in reply.error["internal_error"]


def test_validation_order_currency_before_rate(api):
    reply = api.post("/v1/wallets", {"customer_id": "c1", "currency": "us", "conversion_rate": -1})
    assert reply.error["message"] == "Currency code must be 3 characters long"


def test_negative_conversion_rate(api):
    reply = api.post("/v1/wallets", {"customer_id": "c1", "currency": "usd", "conversion_rate": -1})
    assert reply.status == 400
    assert reply.error == {
        "message": "Conversion rate must be a positive value",
        "internal_error": "conversion_rate must be greater than 0",
        "details": {"conversion_rate": "-1"},
    }


def test_bad_config_price_type_names_the_path(api):
    reply = api.post(
        "/v1/wallets",
        {"customer_id": "c1", "currency": "usd", "config": {"allowed_price_types": ["ALL", "SOME"]}},
    )
    assert reply.status == 400
    assert reply.error["message"] == "config.allowed_price_types[1] must be one of: ALL, USAGE, FIXED"


def test_one_active_wallet_per_customer_currency_and_type(api):
    first = make_wallet(api, "c1", currency="USD")
    reply = api.post("/v1/wallets", {"customer_id": "c1", "currency": "usd", "wallet_type": "PRE_PAID"})
    assert reply.status == 409
    assert reply.error["message"] == (
        "A customer can only have one active wallet per currency and wallet type"
    )
    assert reply.error["details"] == {
        "customer_id": "c1",
        "wallet_id": first["id"],
        "currency": "usd",
        "wallet_type": "PRE_PAID",
    }
    # Another type, another currency or another customer is fine.
    assert (
        api.post("/v1/wallets", {"customer_id": "c1", "currency": "usd", "wallet_type": "PROMOTIONAL"}).status
        == 200
    )
    assert api.post("/v1/wallets", {"customer_id": "c1", "currency": "eur"}).status == 200
    assert api.post("/v1/wallets", {"customer_id": "c2", "currency": "usd"}).status == 200
    # A closed wallet no longer counts.
    api.post(f"/v1/wallets/{first['id']}/terminate")
    assert api.post("/v1/wallets", {"customer_id": "c1", "currency": "USD"}).status == 200


def test_initial_credits_write_a_free_credit_grant_with_expiry(api):
    expiry = future_yyyymmdd(10)
    wallet = make_wallet(
        api, conversion_rate=2, initial_credits_to_load=50, initial_credits_to_load_expiry_date=expiry
    )
    assert (wallet["credit_balance"], wallet["balance"]) == (50, 100)
    items = api.get(f"/v1/wallets/{wallet['id']}/transactions").json["items"]
    assert len(items) == 1
    grant = items[0]
    assert grant["type"] == "credit"
    assert grant["transaction_reason"] == "FREE_CREDIT_GRANT"
    assert grant["reference_type"] == "EXTERNAL"
    assert (grant["credit_amount"], grant["amount"], grant["credits_available"]) == (50, 100, 50)
    assert (grant["credit_balance_before"], grant["credit_balance_after"]) == (0, 50)
    day = datetime.strptime(str(expiry), "%Y%m%d")
    assert grant["expiry_date"] == day.strftime("%Y-%m-%dT00:00:00.000000Z")


def test_negative_initial_credits_are_ignored(api):
    wallet = make_wallet(api, initial_credits_to_load=-5)
    assert wallet["credit_balance"] == 0
    assert api.get(f"/v1/wallets/{wallet['id']}/transactions").json["items"] == []


def test_past_or_today_expiry_rejects_the_whole_create(api):
    for expiry in (20200101, int(datetime.now(timezone.utc).strftime("%Y%m%d"))):
        reply = api.post(
            "/v1/wallets",
            {
                "customer_id": "c1",
                "currency": "usd",
                "initial_credits_to_load": 10,
                "initial_credits_to_load_expiry_date": expiry,
            },
        )
        assert reply.status == 400
        assert reply.error["message"] == "Expiry date must be in the future"
        assert reply.error["internal_error"] == "expiry date cannot be in the past"
    assert reply.error["details"]["expiry_date"].endswith("T00:00:00Z")
    assert api.get("/v1/customers/c1/wallets").json == []


def test_out_of_range_expiry_parts_roll_over(api):
    year = datetime.now(timezone.utc).year + 1
    wallet = make_wallet(
        api, initial_credits_to_load=1, initial_credits_to_load_expiry_date=year * 10000 + 1340
    )  # month 13, day 40
    grant = api.get(f"/v1/wallets/{wallet['id']}/transactions").json["items"][0]
    assert grant["expiry_date"].startswith(f"{year + 1}-02-09")


def test_unknown_customer_is_accepted_as_in_the_cloud(api):
    assert api.post("/v1/wallets", {"customer_id": "cust_nobody", "currency": "usd"}).status == 200
