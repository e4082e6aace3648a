"""Every invoice in one book: a state document written before the invoices were one model
(format 5: top-up invoices in ``invoices``, subscription invoices in ``bills``) loads into it, and
what it held settles and shows as it did."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from .conftest import Api

# Written by the sandbox before format 6 (commit 9470658): a customer with a monthly subscription
# (a usage price of 0.5 a call, a fixed price of 10), a prepaid wallet with an invoiced auto
# top-up of 7 (pending), an invoiced top-up of 6 (paid) and one of 9 (pending); two closed
# periods, the second's invoice voided (its credits refunded).
OLD = json.loads((Path(__file__).parent / "data" / "state-format-5.json").read_text())


def test_a_format_5_document_loads_its_bills_into_the_one_book_of_invoices(api: Api):
    assert OLD["format"] == "flexprice-mock-state/5" and len(OLD["bills"]) == 2
    assert api.put("/_mock/state", OLD).status == 200
    document = api.get("/_mock/state").json
    assert document["format"] == "flexprice-mock-state/6" and "bills" not in document
    books = {i["id"]: i for i in document["invoices"]}
    assert list(books) == [i["id"] for i in OLD["invoices"]] + [b["id"] for b in OLD["bills"]]
    auto, paid, pending = (books[i["id"]] for i in OLD["invoices"])
    assert (auto["invoice_type"], auto["billing_reason"], auto["payment_status"]) == (
        "ONE_OFF",
        "WALLET_AUTO_TOPUP",
        "PENDING",
    )
    assert (paid["billing_reason"], paid["payment_status"], Decimal(paid["amount_paid"])) == (
        "",
        "SUCCEEDED",
        6,
    )
    assert pending["wallet_id"] == OLD["wallets"][0]["id"] and Decimal(pending["fixed_amount"]) == 9
    first, second = (books[b["id"]] for b in OLD["bills"])
    assert (first["invoice_type"], first["billing_reason"], first["subscription_id"]) == (
        "SUBSCRIPTION",
        "SUBSCRIPTION_CYCLE",
        OLD["subscriptions"][0]["id"],
    )
    assert first["lines"] == OLD["bills"][0]["lines"]
    assert (second["invoice_status"], second["payment_status"], Decimal(second["refunded"])) == (
        "VOIDED",
        "REFUNDED",
        Decimal("0.5"),
    )
    # The new document loads as it is written.
    assert api.put("/_mock/state", document).status == 200
    assert api.get("/_mock/state").json == document


def test_what_a_format_5_document_held_settles_as_before(api: Api):
    assert api.put("/_mock/state", OLD).status == 200
    listed = {i["id"]: i for i in api.get("/_mock/invoices").json["items"]}
    pending_id = OLD["invoices"][2]["id"]
    assert (listed[pending_id]["status"], listed[pending_id]["amount"]) == ("pending", "9")
    assert listed[OLD["invoices"][0]["id"]]["auto_topup"] is True
    bill = listed[OLD["bills"][0]["id"]]
    assert (bill["invoice_type"], bill["amount_due"], bill["payment_status"]) == (
        "SUBSCRIPTION",
        "10",
        "PENDING",
    )
    wallet_id = OLD["wallets"][0]["id"]
    before = Decimal(api.get(f"/v1/wallets/{wallet_id}").json["credit_balance"])
    paid = api.post(f"/_mock/invoices/{pending_id}/pay")
    assert paid.status == 200 and paid.json["invoice"]["status"] == "paid"
    assert Decimal(paid.json["wallet"]["credit_balance"]) == before + 9
    settled = api.post(f"/_mock/invoices/{OLD['bills'][0]['id']}/pay")
    assert (settled.json["invoice"]["payment_status"], settled.json["invoice"]["amount_remaining"]) == (
        "SUCCEEDED",
        "0",
    )


def test_a_current_document_may_not_hold_bills(api: Api):
    document = api.get("/_mock/state").json
    reply = api.put("/_mock/state", {**document, "bills": []})
    assert reply.status == 400
    assert reply.json["details"]["field"] == "bills"
