"""Payments through the API (2026-08-22), with upstream's rules: an OFFLINE payment pays a
finalized invoice; a CREDITS payment draws on a POST_PAID wallet only (an INVOICE_PAYMENT
debit); refusals keep nothing; list with upstream's filters, get, update along the lifecycle,
delete (archive) only what upstream lets go, process a pending one. Every answer is checked
against the document.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flexprice import Flexprice

from mockserver.pytest_plugin import WebhookReceiver

from ..support import Api, ledger, make_customer, make_wallet, wallet_of
from .conftest import new_key, refusal
from .test_webhooks import Inbox, client_over


def invoice_of(api: Api, amount: str = "30", external_id: str = "acme-1") -> dict[str, Any]:
    """A customer's finalized one-off invoice of ``amount`` USD."""
    customer = make_customer(api, external_id)
    body = {
        "customer_id": customer["id"],
        "currency": "USD",
        "amount_due": amount,
        "subtotal": amount,
        "total": amount,
        "line_items": [{"amount": amount, "quantity": "1", "display_name": "Onboarding"}],
    }
    reply = api.post("/v1/invoices", body)
    assert reply.status == 201, reply.json
    assert (reply.json["invoice_status"], reply.json["payment_status"]) == ("FINALIZED", "PENDING")
    return reply.json


def pay(api: Api, invoice: dict[str, Any], **fields: Any) -> dict[str, Any]:
    body = {
        "destination_type": "INVOICE",
        "destination_id": invoice["id"],
        "payment_method_type": "OFFLINE",
        "amount": invoice["amount_due"],
        "currency": "usd",
        **fields,
    }
    reply = api.post("/v1/payments", body)
    assert reply.status == 201, reply.json
    return reply.json


def invoice(api: Api, invoice_id: str) -> dict[str, Any]:
    reply = api.get(f"/v1/invoices/{invoice_id}")
    assert reply.status == 200, reply.json
    return reply.json


def payments(api: Api, query: str = "") -> list[dict[str, Any]]:
    reply = api.get(f"/v1/payments{query}")
    assert reply.status == 200, reply.json
    assert reply.json["pagination"]["total"] >= len(reply.json["items"])
    return reply.json["items"]


def test_an_offline_payment_marks_a_finalized_invoice_paid(api: Api):
    inv = invoice_of(api, "30")
    part = pay(api, inv, amount="10")
    assert part["id"].startswith("pay_")
    assert (part["payment_status"], part["amount"], part["currency"], part["track_attempts"]) == (
        "SUCCEEDED",
        "10",
        "usd",
        False,
    )
    assert "succeeded_at" in part and "payment_gateway" not in part
    partly = invoice(api, inv["id"])
    assert (partly["payment_status"], partly["amount_paid"], partly["amount_remaining"]) == (
        "PENDING",
        "10",
        "20",
    )
    pay(api, inv, amount="20")
    paid = invoice(api, inv["id"])
    assert (paid["payment_status"], paid["amount_paid"], paid["amount_remaining"]) == ("SUCCEEDED", "30", "0")
    assert "paid_at" in paid
    # a paid invoice takes no more payments
    refused = refusal(
        api.post(
            "/v1/payments",
            {
                "destination_type": "INVOICE",
                "destination_id": inv["id"],
                "payment_method_type": "OFFLINE",
                "amount": "1",
                "currency": "usd",
            },
        )
    )
    assert refused[:3] == (400, "validation_error", "Cannot create payment for an already paid invoice")
    assert len(payments(api, f"?destination_id={inv['id']}")) == 2


def test_a_credits_payment_debits_a_postpaid_wallet_and_settles_the_invoice(api: Api):
    inv = invoice_of(api, "12.5")
    postpaid = make_wallet(api, inv["customer_id"], wallet_type="POST_PAID", initial_credits_to_load="20")
    made = pay(api, inv, payment_method_type="CREDITS")  # the one POST_PAID wallet is chosen
    assert (made["payment_method_type"], made["payment_method_id"], made["payment_status"]) == (
        "CREDITS",
        postpaid["id"],
        "SUCCEEDED",
    )
    assert made["metadata"] == {"wallet_type": "POST_PAID", "wallet_id": postpaid["id"]}
    debit = ledger(api, postpaid["id"])[-1]
    assert (debit["type"], debit["transaction_reason"], debit["amount"]) == (
        "debit",
        "INVOICE_PAYMENT",
        "12.5",
    )
    assert (debit["reference_type"], debit["reference_id"]) == ("PAYMENT", made["id"])
    assert wallet_of(api, postpaid["id"])["balance"] == "7.5"
    settled = invoice(api, inv["id"])
    assert (settled["payment_status"], settled["amount_paid"], settled["amount_remaining"]) == (
        "SUCCEEDED",
        "12.5",
        "0",
    )


def test_credits_from_a_wallet_that_may_not_pay_are_refused_and_nothing_is_kept(api: Api):
    inv = invoice_of(api, "12.5")
    prepaid = make_wallet(api, inv["customer_id"], initial_credits_to_load="100")
    body = {
        "destination_type": "INVOICE",
        "destination_id": inv["id"],
        "payment_method_type": "CREDITS",
        "payment_method_id": prepaid["id"],
        "amount": "12.5",
        "currency": "usd",
    }
    status, code, message, details = refusal(api.post("/v1/payments", body))
    assert (status, code, message) == (
        400,
        "validation_error",
        f"Wallet '{prepaid['id']}' is PRE_PAID but invoice payments require POST_PAID.",
    )
    assert details["expected_wallet_type"] == "POST_PAID"
    # no POST_PAID wallet to choose from
    without = {key: value for key, value in body.items() if key != "payment_method_id"}
    assert refusal(api.post("/v1/payments", without))[:3] == (
        404,
        "not_found",
        "Customer must have at least one wallet to use credits",
    )
    # a POST_PAID wallet without the balance: upstream's processing error, nothing written
    postpaid = make_wallet(api, inv["customer_id"], wallet_type="POST_PAID", initial_credits_to_load="5")
    short = refusal(api.post("/v1/payments", {**body, "payment_method_id": postpaid["id"]}))
    assert short[:3] == (400, "invalid_operation", "Wallet balance is less than payment amount")
    assert refusal(api.post("/v1/payments", without))[:3] == (
        400,
        "invalid_operation",
        "Customer does not have an active wallet with sufficient balance",
    )
    assert payments(api) == []
    assert [t["transaction_reason"] for t in ledger(api, postpaid["id"])] == ["FREE_CREDIT_GRANT"]
    assert wallet_of(api, prepaid["id"])["balance"] == "100"
    assert invoice(api, inv["id"])["amount_paid"] == "0"


def test_an_overpayment_is_taken_as_upstream_takes_it(api: Api):
    """Upstream checks no remaining amount: what is paid past the amount due is recorded, the
    invoice is paid and nothing remains."""
    inv = invoice_of(api, "30")
    pay(api, inv, amount="45")
    paid = invoice(api, inv["id"])
    assert (paid["payment_status"], paid["amount_paid"], paid["amount_remaining"]) == ("SUCCEEDED", "45", "0")


def test_payments_are_refused_for_what_cannot_be_paid(api: Api):
    inv = invoice_of(api, "30")

    def refused(**fields: Any) -> tuple:
        body = {
            "destination_type": "INVOICE",
            "destination_id": inv["id"],
            "payment_method_type": "OFFLINE",
            "amount": "10",
            "currency": "usd",
            **fields,
        }
        return refusal(api.post("/v1/payments", body))[:3]

    assert refused(currency="eur") == (
        400,
        "validation_error",
        "Payment currency must match invoice currency",
    )
    assert refused(currency="usdx") == (400, "validation_error", "Currency code must be 3 characters long")
    assert refused(amount="0") == (400, "validation_error", "Amount must be greater than 0")
    assert refused(payment_method_id="pm_1") == (
        400,
        "validation_error",
        "Do not provide payment method ID for offline or credits payment methods",
    )
    assert refused(destination_id="inv_missing") == (404, "not_found", "invoice inv_missing not found")
    assert refused(payment_method_type="ACH") == (
        400,
        "validation_error",
        "Payment method ID is required for online payment methods",
    )
    assert refused(payment_method_type="CARD") == (
        400,
        "invalid_operation",
        "Failed to get Stripe integration",
    )
    assert api.post(f"/v1/invoices/{inv['id']}/void").status == 200
    assert refused() == (400, "validation_error", "Cannot create payment for a voided invoice")
    assert payments(api) == []


def test_list_filters_get_update_delete_and_process(api: Api):
    inv = invoice_of(api, "30")
    other = invoice_of(api, "8", external_id="acme-2")
    offline = pay(api, inv, amount="10")
    pending = pay(api, inv, amount="5", process_payment=False, idempotency_key="later-1")
    card = pay(api, other, payment_method_type="CARD", process_payment=False)
    assert (pending["payment_status"], card["payment_status"], card["track_attempts"]) == (
        "PENDING",
        "INITIATED",
        True,
    )
    # the same idempotency key answers the payment already made
    assert pay(api, inv, amount="5", process_payment=False, idempotency_key="later-1")["id"] == pending["id"]

    assert [p["id"] for p in payments(api)] == [card["id"], pending["id"], offline["id"]]  # newest first
    assert [p["id"] for p in payments(api, "?order=asc&limit=1")] == [offline["id"]]
    assert [p["id"] for p in payments(api, f"?destination_id={other['id']}")] == [card["id"]]
    assert [p["id"] for p in payments(api, "?payment_status=PENDING")] == [pending["id"]]
    assert [p["id"] for p in payments(api, "?payment_method_type=CARD&currency=usd")] == [card["id"]]
    assert {p["id"] for p in payments(api, f"?payment_ids={offline['id']},{card['id']}")} == {
        offline["id"],
        card["id"],
    }
    assert payments(api, "?destination_type=CUSTOMER") == []

    got = api.get(f"/v1/payments/{offline['id']}")
    assert got.status == 200 and got.json == offline
    assert refusal(api.get("/v1/payments/pay_missing"))[:3] == (404, "not_found", "Payment not found")

    # update: along the lifecycle only; a gateway payment id confirms an INITIATED payment
    updated = api.put(f"/v1/payments/{card['id']}", {"gateway_payment_id": "pi_1", "metadata": {"k": "v"}})
    assert updated.status == 200, updated.json
    assert (updated.json["payment_status"], updated.json["gateway_payment_id"], updated.json["metadata"]) == (
        "PENDING",
        "pi_1",
        {"k": "v"},
    )
    assert refusal(api.put(f"/v1/payments/{offline['id']}", {"payment_status": "PENDING"}))[:3] == (
        400,
        "validation_error",
        "Payment status cannot change from SUCCEEDED to PENDING",
    )
    failed = api.put(f"/v1/payments/{card['id']}", {"payment_status": "FAILED", "error_message": "declined"})
    assert (failed.json["payment_status"], failed.json["error_message"]) == ("FAILED", "declined")

    # delete: a settled or pending payment stays; a failed one is archived (still readable)
    assert refusal(api.delete(f"/v1/payments/{offline['id']}"))[:3] == (
        400,
        "validation_error",
        "A payment in status SUCCEEDED cannot be deleted. Void or refund it instead.",
    )
    deleted = api.delete(f"/v1/payments/{card['id']}")
    assert (deleted.status, deleted.json) == (200, {"message": "payment deleted successfully"})
    assert api.get(f"/v1/payments/{card['id']}").status == 200
    assert card["id"] not in {p["id"] for p in payments(api)}
    assert [p["id"] for p in payments(api, "?status=archived")] == [card["id"]]

    # process: the pending one pays its part; a second time it is no longer pending
    processed = api.post(f"/v1/payments/{pending['id']}/process")
    assert processed.status == 200, processed.json
    assert processed.json["payment_status"] == "SUCCEEDED"
    assert invoice(api, inv["id"])["amount_paid"] == "15"
    assert refusal(api.post(f"/v1/payments/{pending['id']}/process"))[:3] == (
        400,
        "invalid_operation",
        "Invalid payment status for processing payment",
    )


def test_a_pending_credits_payment_is_processed_only_with_the_balance(api: Api):
    inv = invoice_of(api, "12.5")
    postpaid = make_wallet(api, inv["customer_id"], wallet_type="POST_PAID", initial_credits_to_load="10")
    # chosen for the payment, the wallet must hold enough; named, it is checked when processed
    chosen = dict(amount="12.5", payment_method_type="CREDITS", currency="usd")
    assert refusal(
        api.post("/v1/payments", {"destination_type": "INVOICE", "destination_id": inv["id"], **chosen})
    )[:3] == (400, "invalid_operation", "Customer does not have an active wallet with sufficient balance")
    # recorded without processing: CREDITS start PENDING whatever is asked
    made = pay(api, inv, **chosen, payment_method_id=postpaid["id"], process_payment=False)
    assert (made["payment_status"], made["payment_method_id"]) == ("PENDING", postpaid["id"])
    short = refusal(api.post(f"/v1/payments/{made['id']}/process"))
    assert short[:3] == (400, "invalid_operation", "Wallet balance is less than payment amount")
    assert api.get(f"/v1/payments/{made['id']}").json["payment_status"] == "PENDING"
    assert wallet_of(api, postpaid["id"])["balance"] == "10"
    top_up = api.post(
        f"/v1/wallets/{postpaid['id']}/top-up",
        {"credits_to_add": "5", "transaction_reason": "PURCHASED_CREDIT_DIRECT"},
    )
    assert top_up.status == 200, top_up.json
    processed = api.post(f"/v1/payments/{made['id']}/process")
    assert processed.status == 200, processed.json
    assert processed.json["payment_status"] == "SUCCEEDED"
    assert wallet_of(api, postpaid["id"])["balance"] == "2.5"
    assert invoice(api, inv["id"])["payment_status"] == "SUCCEEDED"


def test_paying_a_top_ups_invoice_completes_its_credits(api: Api):
    customer = make_customer(api)
    wallet = make_wallet(api, customer["id"])
    top_up = api.post(
        f"/v1/wallets/{wallet['id']}/top-up",
        {"credits_to_add": "40", "transaction_reason": "PURCHASED_CREDIT_INVOICED"},
    )
    assert top_up.status == 200, top_up.json
    inv = invoice(api, top_up.json["invoice_id"])
    assert wallet_of(api, wallet["id"])["balance"] == "0"
    pay(api, inv, amount="15")
    assert wallet_of(api, wallet["id"])["balance"] == "0"  # partly paid: the credits still wait
    pay(api, inv, amount="25")
    assert wallet_of(api, wallet["id"])["balance"] == "40"
    paid = invoice(api, inv["id"])
    assert (paid["payment_status"], paid["amount_paid"]) == ("SUCCEEDED", "40")


def test_payments_travel_with_the_state_document_and_a_bad_one_is_refused(api: Api):
    inv = invoice_of(api, "30")
    made = pay(api, inv, amount="10")
    document = api.get("/_mock/state").json
    assert document["records"]["payments"][made["id"]]["amount"] == "10"
    copy = api.as_key(new_key())
    same = {**made, "tenant_id": None}  # (the tenant is the key's)
    imported = copy.put("/_mock/state", document)
    assert imported.status == 200, imported.json
    assert {**copy.get(f"/v1/payments/{made['id']}").json, "tenant_id": None} == same
    document["records"]["payments"][made["id"]]["amount"] = "ten"
    refused = copy.put("/_mock/state", document)
    assert refused.status == 400, refused.json
    assert refused.json["details"]["field"] == f"records.payments.{made['id']}"
    assert {**copy.get(f"/v1/payments/{made['id']}").json, "tenant_id": None} == same  # none of it loaded


@pytest.fixture
def hooked(flexprice) -> Iterator[tuple[Api, Inbox]]:
    """The plugin's sandbox as the test's world, and what a receiver registered for it gets."""
    receiver = WebhookReceiver(flexprice)
    yield client_over(flexprice), Inbox(flexprice, receiver)
    receiver.close()


def test_a_payment_raises_upstreams_webhooks_in_order(hooked):
    api, inbox = hooked
    inv = invoice_of(api, "12.5")
    postpaid = make_wallet(api, inv["customer_id"], wallet_type="POST_PAID", initial_credits_to_load="20")
    inbox.take()
    made = pay(api, inv, payment_method_type="CREDITS")
    updated = api.put(f"/v1/payments/{made['id']}", {"metadata": {"k": "v"}})
    assert updated.status == 200, updated.json
    delivered = inbox.take()  # each checked against its schema
    assert [e["event_type"] for e in delivered] == [
        "payment.created",
        "payment.pending",
        "wallet.transaction.created",
        "payment.success",
        "payment.updated",
    ]
    success = delivered[3]["payment"]
    assert (success["id"], success["payment_status"], success["amount"]) == (made["id"], "SUCCEEDED", "12.5")
    assert delivered[2]["transaction"]["wallet_id"] == postpaid["id"]


def test_the_official_sdk_creates_and_reads_a_payment(live_url: str, http: Api):
    inv = invoice_of(http, "30")
    with Flexprice(server_url=f"{live_url}/v1", api_key_auth=http.api_key, timeout_ms=10_000) as sdk:
        made = sdk.payments.create_payment(
            destination_type="INVOICE",
            destination_id=inv["id"],
            payment_method_type="OFFLINE",
            amount="30",
            currency="usd",
        )
        assert (made.payment_status, made.amount) == ("SUCCEEDED", "30")
        read = sdk.payments.get_payment(id=made.id)
        listed = sdk.payments.list_payments(destination_id=inv["id"], payment_ids=[made.id], limit=10)
        assert [p.id for p in listed.items] == [made.id] and listed.pagination.total == 1
    assert (read.id, read.destination_id, read.payment_method_type) == (made.id, inv["id"], "OFFLINE")
    assert invoice(http, inv["id"])["payment_status"] == "SUCCEEDED"
