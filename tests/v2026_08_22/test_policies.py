"""Policies (API 2026-08-22): how a world's pending things settle by themselves, instead of
waiting for POST /_mock/invoices/<id>/pay|fail|void. An invoiced top-up (PURCHASED_CREDIT_INVOICED,
bought with the official SDK) and what a closed period's invoice still owes: each outcome on the
wallet, its ledger and the invoice, the webhooks it raises, ``after`` on the world's clock (moved,
or running with nobody asking), bad input, fixtures, the state document; memory and Redis.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flexprice import Flexprice

from mockserver.pytest_plugin import FlexpriceClient, WebhookReceiver

from ..support import Api, ledger, wallet_of
from .conftest import advance, freeze, make_customer, make_wallet, refusal
from .test_usage import send, setup
from .test_webhooks import conforms


@pytest.fixture
def fp(live_url: str, http: Api) -> Iterator[Flexprice]:
    with Flexprice(server_url=f"{live_url}/v1", api_key_auth=http.api_key, timeout_ms=10_000) as sdk:
        yield sdk


@pytest.fixture
def receiver(live_url: str, http: Api) -> Iterator[WebhookReceiver]:
    handle = FlexpriceClient(live_url, http.api_key)
    made = WebhookReceiver(handle)
    yield made
    made.close()
    handle.close()


def policies(api: Api, body: dict[str, Any] | None = None) -> dict[str, Any]:
    reply = api.get("/_mock/policies") if body is None else api.put("/_mock/policies", body)
    assert reply.status == 200, reply.json
    return reply.json


def wallet(api: Api, credits: str = "5") -> str:
    freeze(api)
    customer = make_customer(api, "acme")
    return make_wallet(api, customer["id"], initial_credits_to_load=credits)["id"]


def buy(fp: Flexprice, wallet_id: str, credits: str = "40", **more: Any):
    """An invoiced top-up, bought with the SDK."""
    return fp.wallets.top_up_wallet(
        id=wallet_id, credits_to_add=credits, transaction_reason="PURCHASED_CREDIT_INVOICED", **more
    )


def invoice(api: Api, invoice_id: str) -> dict[str, Any]:
    return next(i for i in api.get("/_mock/invoices").json["items"] if i["id"] == invoice_id)


def statuses(api: Api, invoice_id: str) -> tuple[str, str, str]:
    found = invoice(api, invoice_id)
    return found["status"], found["invoice_status"], found["payment_status"]


# ---- the control ------------------------------------------------------------------------------


def test_every_policy_starts_manual_and_a_partial_update_answers_them_all(api: Api):
    assert policies(api) == {"invoiced_top_ups": "manual", "subscription_invoices": "manual"}
    assert policies(api, {"invoiced_top_ups": {"after": "PT90M"}}) == {
        "invoiced_top_ups": {"after": "PT1H30M", "outcome": "pay"},
        "subscription_invoices": "manual",
    }
    assert policies(api, {"subscription_invoices": "void"}) == {
        "invoiced_top_ups": {"after": "PT1H30M", "outcome": "pay"},
        "subscription_invoices": "void",
    }
    assert policies(api, {"invoiced_top_ups": "fail", "subscription_invoices": "immediate"}) == {
        "invoiced_top_ups": "fail",
        "subscription_invoices": "immediate",
    }
    assert policies(api, {}) == policies(api)
    assert api.post("/_mock/reset").status == 200
    assert policies(api) == {"invoiced_top_ups": "manual", "subscription_invoices": "manual"}


@pytest.mark.parametrize(
    ("body", "field", "problem"),
    [
        ({"invoiced_topups": "manual"}, "invoiced_topups", "is not a kind of pending thing"),
        ({"invoiced_top_ups": "later"}, "invoiced_top_ups", "must be manual, immediate, fail, void"),
        ({"invoiced_top_ups": 3}, "invoiced_top_ups", 'must be "manual", "immediate"'),
        ({"invoiced_top_ups": {"outcome": "pay"}}, "invoiced_top_ups.after", "is required"),
        ({"invoiced_top_ups": {"after": "PT1H", "outcome": "refund"}}, "invoiced_top_ups.outcome", "must be"),
        ({"invoiced_top_ups": {"after": "PT1H", "when": 1}}, "invoiced_top_ups.when", "is not a field"),
        ({"invoiced_top_ups": {"after": "soon"}}, "invoiced_top_ups.after", "must be an ISO 8601 duration"),
        ({"invoiced_top_ups": {"after": 60}}, "invoiced_top_ups.after", "must be an ISO 8601 duration"),
        ({"invoiced_top_ups": {"after": "PT0S"}}, "invoiced_top_ups.after", "must be more than zero"),
        ({"subscription_invoices": {"after": "P20Y"}}, "subscription_invoices.after", "must be at most ten"),
        (["immediate"], "<body>", "must be an object"),
    ],
)
def test_a_bad_policy_is_refused_naming_the_field_and_changes_nothing(api: Api, body, field, problem):
    policies(api, {"subscription_invoices": "fail"})
    status, code, message, details = refusal(api.put("/_mock/policies", body))
    assert (status, code, details["field"]) == (400, "validation_error", field)
    assert details["problem"].startswith(problem), details
    assert message == f"Invalid policy: {field} {details['problem']}"
    assert policies(api) == {"invoiced_top_ups": "manual", "subscription_invoices": "fail"}


# ---- invoiced top-ups -------------------------------------------------------------------------


def test_manual_keeps_the_purchase_pending_until_a_control_call(http: Api, fp: Flexprice):
    wallet_id = wallet(http)
    top = buy(fp, wallet_id)
    assert top.wallet_transaction.transaction_status == "pending"
    assert top.wallet_transaction.description == "Purchased credits - pending payment"
    advance(http, "P365D")
    assert statuses(http, top.invoice_id) == ("pending", "FINALIZED", "PENDING")
    assert wallet_of(http, wallet_id)["credit_balance"] == "5"


def test_immediate_completes_the_purchase_in_the_request_that_bought_it(
    http: Api, fp: Flexprice, receiver: WebhookReceiver
):
    wallet_id = wallet(http)
    policies(http, {"invoiced_top_ups": "immediate"})
    top = buy(fp, wallet_id, bonus_credits_to_add="4")
    txn = top.wallet_transaction
    # As the cloud's auto-completed purchase: written completed, the invoice paid, its id answered.
    assert (txn.transaction_status, txn.credit_balance_before, txn.credit_balance_after) == (
        "completed",
        "5",
        "45",
    )
    assert txn.description == "Purchased credits - auto-completed"
    assert top.invoice_id is not None
    assert (top.wallet.credit_balance, top.wallet.balance) == ("49", "49")
    assert statuses(http, top.invoice_id) == ("paid", "FINALIZED", "SUCCEEDED")
    bonus = next(t for t in ledger(http, wallet_id) if t["transaction_reason"] == "PURCHASED_CREDIT_BONUS")
    assert bonus["transaction_status"] == "completed"
    created = conforms(receiver.wait_for("wallet.transaction.created", count=2))["transaction"]
    assert (created["id"], created["transaction_status"]) == (txn.id, "completed")
    assert not receiver.of_type("wallet.transaction.updated")  # never pending, so never updated


def test_fail_leaves_the_purchase_pending_with_a_failed_invoice_which_may_still_be_paid(
    http: Api, fp: Flexprice
):
    wallet_id = wallet(http)
    policies(http, {"invoiced_top_ups": "fail"})
    top = buy(fp, wallet_id)
    assert top.wallet_transaction.transaction_status == "pending"  # as upstream: a failed payment
    assert statuses(http, top.invoice_id) == ("failed", "FINALIZED", "FAILED")
    assert wallet_of(http, wallet_id)["credit_balance"] == "5"
    status, code, _, details = refusal(http.post(f"/_mock/invoices/{top.invoice_id}/fail"))
    assert (status, code, details["status"]) == (400, "invalid_operation", "failed")
    paid = http.post(f"/_mock/invoices/{top.invoice_id}/pay")  # a later payment succeeds
    assert paid.status == 200, paid.json
    assert paid.json["wallet_transaction"]["transaction_status"] == "completed"
    assert paid.json["invoice"]["payment_status"] == "SUCCEEDED"
    assert wallet_of(http, wallet_id)["credit_balance"] == "45"


def test_void_fails_the_purchase_at_once(http: Api, fp: Flexprice):
    wallet_id = wallet(http)
    policies(http, {"invoiced_top_ups": "void"})
    top = buy(fp, wallet_id)
    assert top.wallet_transaction.transaction_status == "failed"
    assert statuses(http, top.invoice_id) == ("voided", "VOIDED", "PENDING")
    assert wallet_of(http, wallet_id)["credit_balance"] == "5"


def test_after_settles_when_the_clock_gets_there(http: Api, fp: Flexprice, receiver: WebhookReceiver):
    wallet_id = wallet(http)
    policies(http, {"invoiced_top_ups": {"after": "PT1H"}})
    top = buy(fp, wallet_id)
    advance(http, "PT59M")
    assert statuses(http, top.invoice_id)[0] == "pending"
    advance(http, "PT1M")
    found = invoice(http, top.invoice_id)
    assert (found["status"], found["settled_at"]) == ("paid", "2026-09-01T13:00:00.000000Z")
    assert wallet_of(http, wallet_id)["credit_balance"] == "45"
    updated = conforms(receiver.wait_for("wallet.transaction.updated"))["updated_transaction"]
    assert (updated["id"], updated["transaction_status"]) == (top.wallet_transaction.id, "completed")


def test_after_with_an_outcome_fails_or_voids_when_due(http: Api, fp: Flexprice):
    wallet_id = wallet(http)
    policies(http, {"invoiced_top_ups": {"after": "P1D", "outcome": "void"}})
    top = buy(fp, wallet_id)
    advance(http, "P2D")
    assert statuses(http, top.invoice_id) == ("voided", "VOIDED", "PENDING")
    [txn] = [t for t in ledger(http, wallet_id) if t["id"] == top.wallet_transaction.id]
    assert txn["transaction_status"] == "failed"


def test_a_new_policy_applies_to_what_already_waits_counting_from_its_creation(http: Api, fp: Flexprice):
    wallet_id = wallet(http)
    old = buy(fp, wallet_id, "10").invoice_id
    advance(http, "PT2H")
    young = buy(fp, wallet_id, "20").invoice_id
    policies(http, {"invoiced_top_ups": {"after": "PT1H"}})  # the old one is overdue: settled now
    assert (statuses(http, old)[0], statuses(http, young)[0]) == ("paid", "pending")
    assert wallet_of(http, wallet_id)["credit_balance"] == "15"
    policies(http, {"invoiced_top_ups": "immediate"})
    assert statuses(http, young)[0] == "paid"
    assert wallet_of(http, wallet_id)["credit_balance"] == "35"


def test_a_running_clock_settles_with_nobody_asking(http: Api, fp: Flexprice, receiver: WebhookReceiver):
    wallet_id = wallet(http)
    assert http.put("/_mock/clock", {"frozen": False}).status == 200
    policies(http, {"invoiced_top_ups": {"after": "PT0.5S"}})
    top = buy(fp, wallet_id)
    assert top.wallet_transaction.transaction_status == "pending"
    updated = receiver.wait_for("wallet.transaction.updated", timeout=5)["updated_transaction"]  # no request
    assert (updated["id"], updated["transaction_status"]) == (top.wallet_transaction.id, "completed")


# ---- subscription invoices ------------------------------------------------------------------


def owing(http: Api, policy: Any) -> dict[str, Any]:
    """A period that closes owing 4 (10 calls at 0.5; the wallet pays its 1 credit)."""
    ids = setup(http, initial_credits_to_load="1")
    policies(http, {"subscription_invoices": policy})
    send(http, *[{"event_id": f"e{n}"} for n in range(10)])
    advance(http, "P30D")
    return ids


def bill(http: Api) -> dict[str, Any]:
    [found] = [i for i in http.get("/_mock/invoices").json["items"] if i["invoice_type"] == "SUBSCRIPTION"]
    return found


def test_manual_leaves_a_subscription_invoices_amount_due(http: Api):
    owing(http, "manual")
    found = bill(http)
    assert (found["payment_status"], found["amount_due"], found["amount_remaining"]) == ("PENDING", "4", "4")


def test_immediate_pays_what_the_invoice_owes_as_it_is_finalized(http: Api, receiver: WebhookReceiver):
    owing(http, "immediate")
    found = bill(http)
    assert (found["payment_status"], found["amount_paid"], found["amount_remaining"]) == (
        "SUCCEEDED",
        "4",
        "0",
    )
    paid = conforms(receiver.wait_for("invoice.update.payment"))["invoice"]
    assert (paid["id"], paid["payment_status"], paid["amount_paid"], paid["amount_remaining"]) == (
        found["id"],
        "SUCCEEDED",
        "4",
        "0",
    )
    assert paid["paid_at"]
    names = [e["event_type"] for e in receiver.events if e["event_type"].startswith("invoice.")]
    assert names == ["invoice.update", "invoice.update.finalized", "invoice.update.payment"]


def test_fail_marks_the_payment_failed_and_the_amount_still_due(http: Api, receiver: WebhookReceiver):
    owing(http, "fail")
    found = bill(http)
    assert (found["payment_status"], found["amount_remaining"]) == ("FAILED", "4")
    failed = conforms(receiver.wait_for("invoice.update.payment"))["invoice"]
    assert failed["payment_status"] == "FAILED"
    paid = http.post(f"/_mock/invoices/{found['id']}/pay")  # settled by hand afterwards
    assert paid.status == 200, paid.json
    settled = paid.json["invoice"]
    assert (settled["payment_status"], settled["amount_remaining"]) == ("SUCCEEDED", "0")


def test_void_voids_the_invoice_and_refunds_the_credits_applied(http: Api, receiver: WebhookReceiver):
    ids = owing(http, "void")
    found = bill(http)
    assert (found["invoice_status"], found["payment_status"], found["refunded_amount"]) == (
        "VOIDED",
        "REFUNDED",
        "1",
    )
    voided = conforms(receiver.wait_for("invoice.update.voided"))["invoice"]
    assert (voided["invoice_status"], voided["refunded_amount"]) == ("VOIDED", "1")
    rows = ledger(http, ids["wallet"]["id"])
    [refund] = [t for t in rows if t["transaction_reason"] == "INVOICE_VOID_REFUND"]
    assert (refund["transaction_reason"], refund["credit_amount"], refund["idempotency_key"]) == (
        "INVOICE_VOID_REFUND",
        "1",
        found["id"],
    )
    assert wallet_of(http, ids["wallet"]["id"])["credit_balance"] == "1"


def test_after_pays_a_subscription_invoice_later(http: Api):
    owing(http, {"after": "PT1H"})
    assert bill(http)["payment_status"] == "PENDING"
    advance(http, "PT1H")
    assert bill(http)["payment_status"] == "SUCCEEDED"


# ---- fixtures and the state document ----------------------------------------------------------

FIXTURE = """
policies:
  invoiced_top_ups: immediate
  subscription_invoices: {after: P2D, outcome: fail}
customers:
  - external_id: acme
    name: Acme
    wallets:
      - currency: usd
        top_ups: [{credits_to_add: 80, transaction_reason: PURCHASED_CREDIT_INVOICED}]
"""


def test_a_fixtures_policies_are_the_worlds_and_its_top_ups_follow_them(api: Api):
    freeze(api)
    reply = api.request("POST", "/_mock/fixtures", data=FIXTURE, headers={"Content-Type": "application/yaml"})
    assert reply.status == 201, reply.json
    assert reply.json["wallets"][0]["credit_balance"] == "80"
    assert policies(api) == {
        "invoiced_top_ups": "immediate",
        "subscription_invoices": {"after": "P2D", "outcome": "fail"},
    }


def test_a_fixture_with_a_bad_policy_is_refused_naming_it(api: Api):
    text = "policies: {invoiced_top_ups: {after: PT1H, outcome: maybe}}\ncustomers: []\n"
    status, _, _, details = refusal(api.request("POST", "/_mock/fixtures", data=text))
    assert (status, details["field"], details["line"]) == (400, "policies.invoiced_top_ups.outcome", 1)
    assert policies(api)["invoiced_top_ups"] == "manual"


def test_policies_travel_with_the_state_document(api: Api):
    policies(api, {"invoiced_top_ups": {"after": "PT1H", "outcome": "fail"}})
    document = api.get("/_mock/state").json
    assert document["format"] == "flexprice-mock-state/6"
    assert document["policies"] == {
        "invoiced_top_ups": {"after": "PT1H", "outcome": "fail"},
        "subscription_invoices": "manual",
    }
    assert api.post("/_mock/reset").status == 200
    assert api.put("/_mock/state", document).status == 200
    assert policies(api) == document["policies"]
    older = {k: v for k, v in document.items() if k != "policies"} | {"format": "flexprice-mock-state/4"}
    assert api.put("/_mock/state", older).status == 200  # before policies: every one manual
    assert policies(api) == {"invoiced_top_ups": "manual", "subscription_invoices": "manual"}
    broken = {**document, "policies": {"invoiced_top_ups": {"after": "nope"}}}
    status, _, _, details = refusal(api.put("/_mock/state", broken))
    assert (status, details["field"]) == (400, "policies.invoiced_top_ups.after")
    assert policies(api)["invoiced_top_ups"] == "manual"


def test_a_restored_world_settles_what_its_policy_has_due(api: Api):
    wallet_id = wallet(api)
    policies(api, {"invoiced_top_ups": {"after": "PT1H"}})
    reply = api.post(
        f"/v1/wallets/{wallet_id}/top-up",
        {"credits_to_add": "40", "transaction_reason": "PURCHASED_CREDIT_INVOICED"},
    )
    assert reply.status == 200, reply.json
    document = api.get("/_mock/state").json
    assert api.post("/_mock/reset").status == 200
    assert api.put("/_mock/state", document).status == 200
    advance(api, "PT1H")
    assert statuses(api, reply.json["invoice_id"])[0] == "paid"
