"""GET, PUT, top-up, terminate, real-time balance and the customer wallet lists."""

from datetime import datetime, timedelta, timezone
from decimal import Decimal

from .conftest import make_customer, make_wallet

DIRECT = "PURCHASED_CREDIT_DIRECT"


def top_up(api, wallet_id, key, **fields):
    body = {"transaction_reason": DIRECT, "idempotency_key": key, **fields}
    return api.post(f"/v1/wallets/{wallet_id}/top-up", body)


def tomorrow_rfc3339(days=2):
    return (datetime.now(timezone.utc) + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---- GET -------------------------------------------------------------------------------------


def test_get_returns_what_create_returned(api):
    wallet = make_wallet(api, initial_credits_to_load=5)
    assert api.get(f"/v1/wallets/{wallet['id']}").json == wallet


def test_unknown_wallet_is_404(api):
    reply = api.get("/v1/wallets/wallet_00000000000000000000000000")
    assert reply.status == 404
    assert reply.error == {
        "message": "Wallet not found",
        "internal_error": "ent: wallet not found",
        "details": {"wallet_id": "wallet_00000000000000000000000000"},
    }


# ---- PUT -------------------------------------------------------------------------------------


def test_update_is_partial_and_replaces_metadata_and_config(api):
    wallet = make_wallet(api, name="A", description="first", metadata={"a": "1", "b": "2"})
    reply = api.put(
        f"/v1/wallets/{wallet['id']}", {"metadata": {"c": "3"}, "config": {"allowed_price_types": ["USAGE"]}}
    )
    assert reply.status == 200
    body = reply.json
    assert (body["name"], body["description"]) == ("A", "first")
    assert body["metadata"] == {"c": "3"}
    assert body["config"] == {"allowed_price_types": ["USAGE"]}
    assert api.get(f"/v1/wallets/{wallet['id']}").json == body


def test_update_threshold_trigger_needs_both_positive_amounts(api):
    wallet = make_wallet(api)
    path = f"/v1/wallets/{wallet['id']}"
    reply = api.put(path, {"auto_topup_trigger": "balance_below_threshold", "auto_topup_amount": 10})
    assert reply.status == 400
    assert reply.error["message"] == (
        "Both minimum balance and topup amount must be provided for threshold-based auto-topup"
    )
    reply = api.put(
        path,
        {
            "auto_topup_trigger": "balance_below_threshold",
            "auto_topup_min_balance": 0,
            "auto_topup_amount": 10,
        },
    )
    assert reply.error["message"] == "Minimum balance threshold must be a positive value"
    reply = api.put(
        path,
        {
            "auto_topup_trigger": "balance_below_threshold",
            "auto_topup_min_balance": 5,
            "auto_topup_amount": -1,
        },
    )
    assert reply.error["message"] == "Auto-topup amount must be a positive value"
    body = api.put(
        path,
        {
            "auto_topup_trigger": "balance_below_threshold",
            "auto_topup_min_balance": 5,
            "auto_topup_amount": 20,
        },
    ).json
    assert (body["auto_topup_trigger"], body["auto_topup_min_balance"], body["auto_topup_amount"]) == (
        "balance_below_threshold",
        5,
        20,
    )
    body = api.put(path, {"auto_topup_trigger": "disabled"}).json
    assert (body["auto_topup_min_balance"], body["auto_topup_amount"]) == (0, 0)


def test_update_validates_before_lookup_and_404s_unknown(api):
    reply = api.put("/v1/wallets/wallet_nope", {"config": {"allowed_price_types": ["BAD"]}})
    assert reply.status == 400
    reply = api.put("/v1/wallets/wallet_nope", {"name": "x"})
    assert reply.status == 404 and reply.error["message"] == "Wallet not found"


def test_update_cannot_change_currency_type_or_rate(api):
    wallet = make_wallet(api)
    body = api.put(
        f"/v1/wallets/{wallet['id']}", {"currency": "eur", "conversion_rate": 7, "wallet_type": "PROMOTIONAL"}
    ).json
    assert (body["currency"], body["conversion_rate"], body["wallet_type"]) == ("usd", 1, "PRE_PAID")


# ---- top-up ----------------------------------------------------------------------------------


def test_top_up_credits_and_writes_a_transaction(api):
    wallet = make_wallet(api, conversion_rate=2)
    reply = top_up(
        api, wallet["id"], "k1", credits_to_add=10, description="March", priority=1, metadata={"order": "42"}
    )
    assert reply.status == 200
    assert (reply.json["credit_balance"], reply.json["balance"]) == (10, 20)
    txn = api.get(f"/v1/wallets/{wallet['id']}/transactions").json["items"][0]
    assert txn["type"] == "credit" and txn["transaction_status"] == "completed"
    assert (txn["credit_amount"], txn["amount"], txn["credits_available"]) == (10, 20, 10)
    assert (txn["reference_type"], txn["reference_id"]) == ("EXTERNAL", "k1")
    assert (txn["description"], txn["priority"], txn["metadata"]) == ("March", 1, {"order": "42"})
    assert txn["id"].startswith("wtxn_")


def test_credits_to_add_wins_over_amount(api):
    wallet = make_wallet(api, conversion_rate=2)
    assert top_up(api, wallet["id"], "k", credits_to_add=3, amount=100).json["credit_balance"] == 3


def test_amount_converts_at_the_rate_like_the_cloud(api):
    wallet = make_wallet(api, conversion_rate=3)
    body = top_up(api, wallet["id"], "k", amount=10).json
    assert body["credit_balance"] == Decimal("3.333333333")
    assert body["balance"] == 10
    txn = api.get(f"/v1/wallets/{wallet['id']}/transactions").json["items"][0]
    assert (txn["credit_amount"], txn["amount"]) == (Decimal("3.333333333"), 10)


def test_top_up_rules(api):
    # A frozen clock at 10:00 UTC, so "later today" is always still today.
    api.put("/_mock/clock", {"now": "2027-01-01T10:00:00Z", "frozen": True})
    wallet = make_wallet(api)
    wid = wallet["id"]
    reply = top_up(api, wid, "k", credits_to_add=0)
    assert reply.status == 400 and reply.error["message"] == "Credits to add must be a positive value"
    assert reply.error["details"] == {"credits_to_add": "0"}
    assert top_up(api, wid, "k", credits_to_add=-1).status == 400
    assert top_up(api, wid, "k").error["message"] == "Credits to add must be a positive value"
    reply = top_up(api, wid, "k", credits_to_add=1, transaction_reason="INVOICE_PAYMENT")
    assert reply.error["message"] == "Invalid transaction reason"
    assert len(reply.error["details"]["allowed_reasons"]) == 4
    reply = top_up(api, wid, "k", credits_to_add=1, expiry_date_utc="2020-01-01T00:00:00Z")
    assert reply.error["message"] == "Expiry date must be in the future"
    # Credits expire at 00:00 UTC of their day, so a time later today is already past.
    assert (
        top_up(api, wid, "k", credits_to_add=1, expiry_date_utc="2027-01-01T23:59:00Z").error["message"]
        == "Expiry date must be in the future"
    )
    reply = top_up(api, wid, "k", credits_to_add=1, priority=-1)
    assert reply.status == 400 and "priority" in reply.error["internal_error"]
    reply = top_up(api, wid, "k", credits_to_add=1, expiry_date_utc="next week")
    assert reply.status == 400 and "expiry_date_utc" in reply.error["message"]
    assert api.get(f"/v1/wallets/{wid}/transactions").json["items"] == []
    assert api.get(f"/v1/wallets/{wid}").json["credit_balance"] == 0


def test_top_up_requires_reason_and_idempotency_key(api):
    wallet = make_wallet(api)
    reply = api.post(f"/v1/wallets/{wallet['id']}/top-up", {"credits_to_add": 1})
    assert reply.status == 400
    fields = {e["field"] for e in reply.error["details"]["errors"]}
    assert fields == {"idempotency_key", "transaction_reason"}


def test_empty_idempotency_key_is_allowed_and_never_replays(api):
    wallet = make_wallet(api)
    top_up(api, wallet["id"], "", credits_to_add=1)
    assert top_up(api, wallet["id"], "", credits_to_add=1).json["credit_balance"] == 2


def test_top_up_unknown_wallet_is_404_before_body_rules(api):
    reply = top_up(api, "wallet_nope", "k", credits_to_add=0)
    assert reply.status == 404
    assert reply.error == {"message": "Wallet not found", "internal_error": "Wallet not found"}


def test_retry_with_same_key_returns_first_result_and_credits_once(api):
    wallet = make_wallet(api)
    first = top_up(api, wallet["id"], "order-7", credits_to_add=25)
    top_up(api, wallet["id"], "other", credits_to_add=1)
    again = top_up(api, wallet["id"], "order-7", credits_to_add=25)
    assert again.status == 200 and again.json == first.json
    assert api.get(f"/v1/wallets/{wallet['id']}").json["credit_balance"] == 26
    assert api.get(f"/v1/wallets/{wallet['id']}/transactions").json["pagination"]["total"] == 2


def test_reused_key_with_another_request_is_a_conflict(api):
    wallet = make_wallet(api)
    other = make_wallet(api, "c2")
    top_up(api, wallet["id"], "order-8", credits_to_add=25)
    for wid, credits in ((wallet["id"], 30), (other["id"], 25)):
        reply = top_up(api, wid, "order-8", credits_to_add=credits)
        assert reply.status == 409
        assert reply.error["message"] == "This idempotency_key was already used for a different top-up"
    assert api.get(f"/v1/wallets/{other['id']}").json["credit_balance"] == 0


def test_invoiced_purchase_references_a_payment(api):
    wallet = make_wallet(api)
    top_up(api, wallet["id"], "inv", credits_to_add=5, transaction_reason="PURCHASED_CREDIT_INVOICED")
    txn = api.get(f"/v1/wallets/{wallet['id']}/transactions").json["items"][0]
    assert txn["reference_type"] == "PAYMENT" and txn["reference_id"].startswith("pay_")


def test_top_up_precision_is_rounded_to_nine_places(api):
    wallet = make_wallet(api)
    body = top_up(api, wallet["id"], "p", credits_to_add=Decimal("0.1234567894")).json
    assert body["credit_balance"] == Decimal("0.123456789")
    assert top_up(api, wallet["id"], "q", credits_to_add=Decimal("0.0000000001")).status == 400


# ---- terminate -------------------------------------------------------------------------------


def test_terminate_debits_what_is_left_and_closes(api):
    wallet = make_wallet(api, conversion_rate=2, initial_credits_to_load=40)
    reply = api.post(f"/v1/wallets/{wallet['id']}/terminate")
    assert reply.status == 200
    assert (reply.json["wallet_status"], reply.json["balance"], reply.json["credit_balance"]) == (
        "closed",
        0,
        0,
    )
    debit = api.get(f"/v1/wallets/{wallet['id']}/transactions").json["items"][0]
    assert debit["type"] == "debit" and debit["transaction_reason"] == "WALLET_TERMINATION"
    assert (debit["credit_amount"], debit["amount"], debit["credits_available"]) == (40, 80, 0)
    assert (debit["credit_balance_before"], debit["credit_balance_after"]) == (40, 0)
    assert debit["description"] == "Wallet termination - remaining balance debit"
    assert debit["reference_type"] == "REQUEST" and debit["reference_id"].startswith("wtxn_")
    grant = api.get(f"/v1/wallets/{wallet['id']}/transactions?type=credit").json["items"][0]
    assert grant["credits_available"] == 0


def test_second_terminate_is_400_and_empty_wallet_closes_without_transaction(api):
    wallet = make_wallet(api)
    assert api.post(f"/v1/wallets/{wallet['id']}/terminate").status == 200
    reply = api.post(f"/v1/wallets/{wallet['id']}/terminate")
    assert reply.status == 400
    assert reply.error["message"] == "Wallet is already terminated"
    assert reply.error["internal_error"] == "wallet is already closed"
    assert api.get(f"/v1/wallets/{wallet['id']}/transactions").json["items"] == []
    assert api.get(f"/v1/wallets/{wallet['id']}").json["wallet_status"] == "closed"
    assert api.post("/v1/wallets/wallet_nope/terminate").status == 404


# ---- real-time balance -------------------------------------------------------------------------


def test_real_time_balance_of_active_and_closed_wallets(api):
    wallet = make_wallet(api, conversion_rate=4, initial_credits_to_load=3)
    body = api.get(f"/v1/wallets/{wallet['id']}/balance/real-time").json
    assert (body["real_time_balance"], body["real_time_credit_balance"]) == (12, 3)
    assert (body["unpaid_invoice_amount"], body["current_period_usage"]) == (0, 0)
    assert body["status"] == "published" and body["tenant_id"].startswith("tenant_")
    api.post(f"/v1/wallets/{wallet['id']}/terminate")
    body = api.get(f"/v1/wallets/{wallet['id']}/balance/real-time").json
    assert (body["real_time_balance"], body["real_time_credit_balance"]) == (0, 0)
    assert "unpaid_invoice_amount" not in body
    assert body["balance_updated_at"] == body["updated_at"]
    assert api.get("/v1/wallets/wallet_nope/balance/real-time").status == 404


# ---- customer wallet lists ----------------------------------------------------------------------


def test_customer_wallets_lists_active_ones_only(api):
    a = make_wallet(api, "c1")
    b = make_wallet(api, "c1", currency="eur")
    make_wallet(api, "c2")
    api.post(f"/v1/wallets/{b['id']}/terminate")
    listed = api.get("/v1/customers/c1/wallets").json
    assert [w["id"] for w in listed] == [a["id"]]
    assert api.get("/v1/customers/unknown/wallets").json == []


def test_customer_wallets_by_id_or_lookup_key(api):
    customer = make_customer(api, "ext-9")
    wallet = make_wallet(api, customer["id"])
    by_id = api.get(f"/v1/customers/wallets?id={customer['id']}")
    by_key = api.get("/v1/customers/wallets?lookup_key=ext-9")
    assert [w["id"] for w in by_id.json] == [w["id"] for w in by_key.json] == [wallet["id"]]
    real_time = api.get("/v1/customers/wallets?lookup_key=ext-9&include_real_time_balance=true").json
    assert real_time[0]["real_time_balance"] == 0
    reply = api.get("/v1/customers/wallets")
    assert reply.status == 400 and reply.error["message"] == "Please provide either id or lookup_key"
    reply = api.get(f"/v1/customers/wallets?id={customer['id']}&lookup_key=ext-9")
    assert reply.error["message"] == "Please provide either 'id' or 'lookup_key', but not both."
    reply = api.get("/v1/customers/wallets?id=cust_x")
    assert reply.status == 404 and reply.error["message"] == "Customer with ID cust_x was not found"
    reply = api.get("/v1/customers/wallets?lookup_key=nope")
    assert reply.status == 404 and reply.error["details"] == {"lookup_key": "nope"}
    assert api.get("/v1/customers/wallets?id=x&include_real_time_balance=maybe").status == 400
