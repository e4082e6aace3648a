"""Invoices through the API (2026-08-22): every invoice the sandbox makes (a period's, a top-up's,
a one-off) found by POST /v1/invoices/search and read by GET /v1/invoices/{id}; preview, finalize,
void with its refund, payment status and attempt, the PDF, the customer's summary; and the
subscription reads of the period so far. Every answer is checked against the document.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ..support import Api, ledger
from .conftest import advance, refusal
from .test_usage import created, send, setup

FIXED = {"type": "FIXED", "amount": "10", "invoice_cadence": "ADVANCE"}


def with_fixed_price(api: Api, **wallet: Any) -> dict[str, Any]:
    """setup's customer, usage price (0.5 a call) and prepaid wallet, and a fixed price of 10 a
    month on the plan (added before the subscription, so it is one of its line items)."""
    ids = setup(api, **wallet)
    plan_id = ids["plan"]["id"]
    price = {
        "entity_type": "PLAN",
        "entity_id": plan_id,
        "currency": "usd",
        "billing_model": "FLAT_FEE",
        "billing_period": "MONTHLY",
        "billing_period_count": 1,
        "price_unit_type": "FIAT",
        **FIXED,
    }
    created(api, "/v1/prices", price)
    sub = created(
        api,
        "/v1/subscriptions",
        {
            "customer_id": ids["customer"]["id"],
            "plan_id": plan_id,
            "currency": "usd",
            "billing_period": "MONTHLY",
        },
    )
    api.post(f"/v1/subscriptions/{ids['subscription']['id']}/cancel", {"cancellation_type": "immediate"})
    return {**ids, "subscription": sub}


def search(api: Api, body: dict[str, Any]) -> list[dict[str, Any]]:
    reply = api.post("/v1/invoices/search", body)
    assert reply.status == 200, reply.json
    assert reply.json["pagination"]["total"] == len(reply.json["items"])
    return reply.json["items"]


def get(api: Api, invoice_id: str) -> dict[str, Any]:
    reply = api.get(f"/v1/invoices/{invoice_id}")
    assert reply.status == 200, reply.json
    return reply.json


def test_a_closed_period_is_found_by_search_and_read_with_its_usage_line(api: Api):
    ids = with_fixed_price(api, initial_credits_to_load="1")
    send(api, {}, {}, {}, {})  # 4 calls: 2 of usage
    advance(api, "P1M")
    (found,) = search(api, {"subscription_id": ids["subscription"]["id"]})
    assert (found["invoice_type"], found["billing_reason"], found["invoice_status"]) == (
        "SUBSCRIPTION",
        "SUBSCRIPTION_CYCLE",
        "FINALIZED",
    )
    # the prepaid wallet paid 1 of the usage: 11 of 12 is due
    assert (found["subtotal"], found["total_prepaid_credits_applied"], found["amount_due"]) == (
        "12",
        "1",
        "11",
    )
    invoice = get(api, found["id"])
    assert invoice == found
    usage_line = next(line for line in invoice["line_items"] if line["price_type"] == "USAGE")
    assert (usage_line["quantity"], usage_line["amount"], usage_line["display_name"]) == (
        "4",
        "2",
        "API calls",
    )
    assert usage_line["period_start"] == "2026-09-01T12:00:00.000000Z"
    assert search(api, {"customer_id": ids["customer"]["id"], "invoice_type": "ONE_OFF"}) == []
    assert [
        i["id"] for i in search(api, {"external_customer_id": "acme", "payment_status": ["PENDING"]})
    ] == [found["id"]]
    assert refusal(api.get("/v1/invoices/inv_nope"))[:3] == (404, "not_found", "invoice inv_nope not found")


def test_a_preview_is_a_draft_of_the_period_so_far_and_is_not_kept(api: Api):
    ids = with_fixed_price(api)
    send(api, {}, {})
    reply = api.post("/v1/invoices/preview", {"subscription_id": ids["subscription"]["id"]})
    assert reply.status == 200, reply.json
    preview = reply.json
    assert (preview["invoice_status"], preview["subtotal"], preview["amount_due"]) == ("DRAFT", "11", "11")
    assert {line["price_type"]: line["amount"] for line in preview["line_items"]} == {
        "USAGE": "1",
        "FIXED": "10",
    }
    assert search(api, {}) == [] and api.get("/_mock/invoices").json["items"] == []
    assert api.get(f"/v1/invoices/{preview['id']}").status == 404
    missing = refusal(api.post("/v1/invoices/preview", {"subscription_id": "subs_nope"}))
    assert missing[0] == 404


def test_a_draft_is_finalized_once(api: Api):
    ids = with_fixed_price(api)
    body = {
        "customer_id": ids["customer"]["id"],
        "subscription_id": ids["subscription"]["id"],
        "invoice_type": "SUBSCRIPTION",
        "billing_period": "MONTHLY",
        "period_start": "2026-09-01T12:00:00Z",
        "period_end": "2026-10-01T12:00:00Z",
        "currency": "usd",
        "amount_due": "13",
        "subtotal": "13",
        "total": "13",
        "line_items": [
            {"amount": "3", "quantity": "6", "price_type": "USAGE", "display_name": "API calls"},
            {"amount": "10", "quantity": "1", "price_type": "FIXED", "display_name": "Pro"},
        ],
    }
    reply = api.post("/v1/invoices", body)
    assert reply.status == 201, reply.json
    draft = reply.json
    assert (draft["invoice_status"], draft["amount_due"]) == ("DRAFT", "13")
    assert api.post(f"/v1/invoices/{draft['id']}/finalize").json == {
        "message": "invoice finalized successfully"
    }
    final = get(api, draft["id"])
    # finalizing a subscription invoice applies prepaid credits to its usage
    assert (final["invoice_status"], final["total_prepaid_credits_applied"], final["amount_due"]) == (
        "FINALIZED",
        "3",
        "10",
    )
    assert refusal(api.post(f"/v1/invoices/{draft['id']}/finalize"))[:3] == (
        400,
        "validation_error",
        "invoice must be in draft status to be finalized",
    )


def test_voiding_refunds_what_was_paid_and_applied_and_happens_once(api: Api):
    ids = with_fixed_price(api)
    send(api, {}, {})
    advance(api, "P1M")
    (invoice,) = search(api, {"customer_id": ids["customer"]["id"]})
    paid = api.put(f"/v1/invoices/{invoice['id']}/payment", {"payment_status": "SUCCEEDED"})
    assert paid.status == 200, paid.json
    assert (paid.json["payment_status"], paid.json["amount_paid"], paid.json["amount_remaining"]) == (
        "SUCCEEDED",
        "10",
        "0",
    )
    assert api.post(f"/v1/invoices/{invoice['id']}/void").json == {"message": "invoice voided successfully"}
    voided = get(api, invoice["id"])
    assert (voided["invoice_status"], voided["payment_status"], voided["refunded_amount"]) == (
        "VOIDED",
        "REFUNDED",
        "11",
    )
    assert [i["id"] for i in search(api, {"voided_at_gte": "2026-10-01T12:00:00Z"})] == [invoice["id"]]
    assert search(api, {"invoice_status": ["FINALIZED"]}) == []
    refund = ledger(api, ids["wallet"]["id"])[-1]
    assert (refund["transaction_reason"], refund["credit_amount"]) == ("INVOICE_VOID_REFUND", "11")
    assert refusal(api.post(f"/v1/invoices/{invoice['id']}/void"))[:3] == (
        400,
        "validation_error",
        "invoice status - VOIDED is not allowed",
    )


def test_payment_status_moves_as_upstream_allows(api: Api):
    ids = with_fixed_price(api)
    advance(api, "P1M")
    (invoice,) = search(api, {"customer_id": ids["customer"]["id"]})
    failed = api.put(f"/v1/invoices/{invoice['id']}/payment", {"payment_status": "FAILED"})
    assert (failed.json["payment_status"], failed.json["amount_paid"]) == ("FAILED", "0")
    pending = api.put(f"/v1/invoices/{invoice['id']}/payment", {"payment_status": "PENDING", "amount": "4"})
    assert (pending.json["payment_status"], pending.json["amount_remaining"]) == ("PENDING", "6")
    assert api.put(f"/v1/invoices/{invoice['id']}/payment", {"payment_status": "SUCCEEDED"}).status == 200
    assert refusal(api.put(f"/v1/invoices/{invoice['id']}/payment", {"payment_status": "FAILED"}))[:3] == (
        400,
        "validation_error",
        "invalid payment status transition from SUCCEEDED to FAILED",
    )
    assert get(api, invoice["id"])["payment_status"] == "SUCCEEDED"


def test_a_one_off_invoice_is_created_finalized_and_paid_from_a_postpaid_wallet(api: Api):
    ids = setup(api)
    body = {
        "customer_id": ids["customer"]["id"],
        "currency": "USD",
        "amount_due": "12.5",
        "subtotal": "12.5",
        "total": "12.5",
        "line_items": [{"amount": "12.5", "quantity": "1", "display_name": "Onboarding"}],
    }
    reply = api.post("/v1/invoices", body)
    assert reply.status == 201, reply.json
    invoice = reply.json
    assert (invoice["invoice_type"], invoice["invoice_status"], invoice["currency"]) == (
        "ONE_OFF",
        "FINALIZED",
        "usd",
    )
    assert [(line["display_name"], line["amount"]) for line in invoice["line_items"]] == [
        ("Onboarding", "12.5")
    ]
    mismatch = refusal(api.post("/v1/invoices", {**body, "amount_due": "13"}))
    assert mismatch[:3] == (
        400,
        "validation_error",
        "sum of line item amounts 12.5 must equal invoice amount_due 13",
    )
    # only POST_PAID wallets pay; the prepaid one is left alone
    postpaid = api.post(
        "/v1/wallets",
        {
            "customer_id": ids["customer"]["id"],
            "currency": "usd",
            "wallet_type": "POST_PAID",
            "initial_credits_to_load": "20",
        },
    ).json
    attempt = api.post(f"/v1/invoices/{invoice['id']}/payment/attempt")
    assert attempt.json == {"message": "payment processed successfully"}
    assert (get(api, invoice["id"])["payment_status"], get(api, invoice["id"])["amount_paid"]) == (
        "SUCCEEDED",
        "12.5",
    )
    debit = ledger(api, postpaid["id"])[-1]
    assert (debit["transaction_reason"], debit["amount"], debit["reference_type"]) == (
        "INVOICE_PAYMENT",
        "12.5",
        "PAYMENT",
    )
    assert refusal(api.post(f"/v1/invoices/{invoice['id']}/payment/attempt"))[:3] == (
        400,
        "invalid_operation",
        "Invoice is already paid",
    )


def test_the_customer_invoice_summary_sums_what_is_unpaid_by_kind(api: Api):
    ids = with_fixed_price(api, initial_credits_to_load="0")
    send(api, {}, {})
    advance(api, "P1M")
    reply = api.get(f"/v1/customers/{ids['customer']['id']}/invoices/summary")
    assert reply.status == 200, reply.json
    assert reply.json["default_currency"] == "usd"
    (summary,) = reply.json["summaries"]
    assert {
        k: summary[k] for k in ("total_invoice_count", "unpaid_invoice_count", "total_unpaid_amount")
    } == {
        "total_invoice_count": 1,
        "unpaid_invoice_count": 1,
        "total_unpaid_amount": "11",
    }
    assert (summary["unpaid_usage_charges"], summary["unpaid_fixed_charges"]) == ("1", "10")


def test_an_auto_top_ups_invoice_has_upstreams_type_and_reason(api: Api):
    ids = setup(api, initial_credits_to_load="3")
    wallet = api.post(
        "/v1/wallets",
        {
            "customer_id": ids["customer"]["id"],
            "currency": "eur",
            "initial_credits_to_load": "3",
            "auto_topup": {"enabled": True, "threshold": "8", "amount": "7", "invoicing": True},
        },
    ).json
    (found,) = [i for i in api.get("/_mock/invoices").json["items"] if i.get("wallet_id") == wallet["id"]]
    invoice = get(api, found["id"])
    assert (invoice["invoice_type"], invoice["billing_reason"], invoice["amount_due"]) == (
        "ONE_OFF",
        "WALLET_AUTO_TOPUP",
        "7",
    )
    assert invoice["metadata"]["wallet_id"] == wallet["id"] and invoice["metadata"]["auto_topup"] == "true"
    # paid through the API, its pending credits complete
    assert api.put(f"/v1/invoices/{found['id']}/payment", {"payment_status": "SUCCEEDED"}).status == 200
    assert Decimal(api.get(f"/v1/wallets/{wallet['id']}").json["credit_balance"]) == 10


def test_the_pdf_and_the_communication_trigger(api: Api):
    ids = setup(api)
    body = {
        "customer_id": ids["customer"]["id"],
        "currency": "usd",
        "amount_due": "5",
        "subtotal": "5",
        "total": "5",
    }
    invoice = api.post("/v1/invoices", body).json
    pdf = api.get(f"/v1/invoices/{invoice['id']}/pdf")
    assert pdf.status == 200 and pdf.headers["Content-Type"] == "application/pdf"
    assert pdf.raw.startswith(b"%PDF-1.4") and pdf.raw.rstrip().endswith(b"%%EOF")
    assert invoice["id"].encode() in pdf.raw
    triggered = api.post(f"/v1/invoices/{invoice['id']}/comms/trigger")
    assert triggered.json == {"message": "communication triggered successfully"}


def test_the_subscription_reads_of_the_period_so_far(api: Api):
    ids = with_fixed_price(api)
    sub_id = ids["subscription"]["id"]
    send(api, {}, {}, {})
    usage = api.post("/v1/subscriptions/usage", {"subscription_id": sub_id})
    assert usage.status == 200, usage.json
    (charge,) = usage.json["charges"]
    assert (usage.json["amount"], charge["quantity"], charge["meter_display_name"]) == (
        Decimal("1.5"),
        Decimal(3),
        "API calls",
    )
    v2 = api.get(f"/v1/subscriptions/{sub_id}/v2")
    assert v2.status == 200 and "line_items" not in v2.json
    expanded = api.get(f"/v1/subscriptions/{sub_id}/v2?expand=subscription_line_items,plan").json
    assert len(expanded["line_items"]) == 2 and expanded["plan"]["id"] == ids["plan"]["id"]
    items = api.post(
        "/v1/subscriptions/lineitems/search",
        {"subscription_ids": [sub_id], "price_ids": [charge_price(api, sub_id)]},
    )
    assert items.status == 200 and items.json["pagination"]["total"] == 1
    updated = api.put(f"/v1/subscriptions/{sub_id}", {"cancel_at": "2026-09-20T00:00:00Z"})
    assert updated.status == 200, updated.json
    assert (updated.json["cancel_at"], updated.json["current_period_end"]) == (
        "2026-09-20T00:00:00.000000Z",
        "2026-09-20T00:00:00.000000Z",
    )
    advance(api, "P1M")
    (invoice,) = search(api, {"subscription_id": sub_id})
    assert invoice["period_end"] == "2026-09-20T00:00:00.000000Z"
    assert api.get(f"/v1/subscriptions/{sub_id}").json["subscription_status"] == "cancelled"


def charge_price(api: Api, sub_id: str) -> str:
    sub = api.get(f"/v1/subscriptions/{sub_id}").json
    return next(item["price_id"] for item in sub["line_items"] if item["price_type"] == "USAGE")


def test_update_and_recalculate_a_closed_periods_invoice(api: Api):
    ids = with_fixed_price(api)
    send(api, {}, {})
    advance(api, "P1M")
    (invoice,) = search(api, {"customer_id": ids["customer"]["id"]})
    updated = api.put(
        f"/v1/invoices/{invoice['id']}", {"metadata": {"po": "42"}, "due_date": "2026-10-15T00:00:00Z"}
    )
    assert updated.status == 200, updated.json
    assert (updated.json["metadata"], updated.json["due_date"]) == (
        {"po": "42"},
        "2026-10-15T00:00:00.000000Z",
    )
    assert refusal(api.post(f"/v1/invoices/{invoice['id']}/recalculate-v2"))[:3] == (
        400,
        "validation_error",
        "Only draft invoices can be recalculated",
    )
    started = api.post(f"/v1/invoices/{invoice['id']}/recalculate")
    assert started.status == 202, started.json
    again = get(api, started.json["run_id"])
    assert (again["subtotal"], again["period_start"], again["invoice_status"]) == (
        "11",
        invoice["period_start"],
        "FINALIZED",
    )
    assert get(api, invoice["id"])["invoice_status"] == "VOIDED"
    assert refusal(api.post(f"/v1/invoices/{invoice['id']}/recalculate"))[0] == 400
    assert refusal(api.put(f"/v1/invoices/{invoice['id']}", {"metadata": {}}))[:3] == (
        400,
        "validation_error",
        "Invoice can only be updated when in draft or finalized status",
    )


def test_search_applies_upstreams_filters_and_sort(api: Api):
    customer = api.post("/v1/customers", {"external_id": "sorted", "name": "Sorted"}).json
    for amount in ("4", "10", "9"):
        body = {"customer_id": customer["id"], "currency": "usd", "amount_due": amount}
        assert api.post("/v1/invoices", {**body, "subtotal": amount, "total": amount}).status == 201
    over_five = {"field": "amount_due", "operator": "gt", "value": {"number": 5}}
    found = api.post(
        "/v1/invoices/search",
        {"filters": [over_five], "sort": [{"field": "amount_due", "direction": "desc"}], "limit": 1},
    ).json
    assert ([i["amount_due"] for i in found["items"]], found["pagination"]["total"]) == (["10"], 2)
    ascending = search(api, {"sort": [{"field": "amount_due", "direction": "asc"}]})
    assert [i["amount_due"] for i in ascending] == ["4", "9", "10"]  # as amounts, not as text
    unknown = api.post("/v1/invoices/search", {"filters": [{**over_five, "field": "secret"}]})
    assert refusal(unknown)[:3] == (400, "validation_error", "Invalid filter")
