"""``POST /_mock/trigger`` over real sockets, on both stores: every webhook event type raised on
demand, delivered (Svix signature verified, body checked against its schema) in the order the
answer lists, and the world's state, read back through the API, agreeing with it; overrides
applied, and refused by name with nothing changed; the plugin's ``trigger()``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest

from mockserver.api.v2026_08_22.webhooks import EVENT_TYPES
from mockserver.client import FlexpriceControlError
from mockserver.pytest_plugin import WebhookReceiver

from ..support import ledger, wallet_of
from .conftest import NOW, Api, make_customer, make_wallet, refusal
from .test_webhooks import Inbox, client_over


@pytest.fixture
def api(flexprice) -> Api:
    return client_over(flexprice)


@pytest.fixture
def inbox(flexprice) -> Iterator[Inbox]:
    flexprice.set_clock(NOW, frozen=True)
    receiver = WebhookReceiver(flexprice)
    yield Inbox(flexprice, receiver)
    receiver.close()


def trigger(api: Api, event: str, overrides: Any = None, status: int = 201) -> dict[str, Any]:
    body: dict[str, Any] = {"event": event}
    if overrides is not None:
        body["overrides"] = overrides
    reply = api.post("/_mock/trigger", body)
    assert reply.status == status, reply.json
    return reply.json


def made(answer: dict[str, Any], kind: str, verb: str = "created") -> str:
    [found] = [o["id"] for o in answer[verb] if o["type"] == kind]
    return found


def balanced(api: Api, wallet_id: str) -> dict[str, Any]:
    """The wallet, once its ledger is checked to sum to its balance."""
    wallet = wallet_of(api, wallet_id)
    signed = sum(
        (Decimal(t["credit_amount"]) * (1 if t["type"] == "credit" else -1))
        for t in ledger(api, wallet_id)
        if t["transaction_status"] == "completed"
    )
    assert signed == Decimal(wallet["credit_balance"]), (signed, wallet)
    return wallet


def real_time(api: Api, wallet_id: str) -> dict[str, Any]:
    reply = api.get(f"/v1/wallets/{wallet_id}/balance/real-time")
    assert reply.status == 200, reply.json
    return reply.json


# ---- what each event's state looks like afterwards, read through the API ----------------------
# (answer, the delivered event of the triggered type, the API) -> assertions


def customer_created(answer, event, api):
    customer = api.get(f"/v1/customers/{made(answer, 'customer')}").json
    assert customer["external_id"] == event["customer"]["external_id"] == "sandbox-trigger-1"


def customer_updated(answer, event, api):
    customer = api.get(f"/v1/customers/{made(answer, 'customer')}").json
    assert customer["name"] == event["customer"]["name"] == "Sandbox trigger customer (updated)"


def customer_deleted(answer, event, api):
    assert event["customer"]["id"] == made(answer, "customer")
    assert api.get(f"/v1/customers/{event['customer']['id']}").json["status"] == "archived"


def wallet_created(answer, event, api):
    wallet = balanced(api, made(answer, "wallet"))
    assert (wallet["id"], wallet["credit_balance"]) == (event["wallet"]["id"], "0")
    assert event["customer"]["id"] == made(answer, "customer") == wallet["customer_id"]


def wallet_updated(answer, event, api):
    wallet = balanced(api, made(answer, "wallet"))
    assert wallet["name"] == event["wallet"]["name"] == "Prepaid Wallet - USD (updated)"


def wallet_terminated(answer, event, api):
    wallet = balanced(api, made(answer, "wallet"))
    assert (wallet["wallet_status"], wallet["credit_balance"]) == ("closed", "0")
    assert event["wallet"]["wallet_status"] == "closed"


def transaction_created(answer, event, api):
    wallet = balanced(api, made(answer, "wallet"))
    newest = ledger(api, wallet["id"])[-1]
    assert newest["id"] == event["transaction"]["id"] == made(answer, "wallet_transaction")
    assert (newest["credit_amount"], wallet["credit_balance"]) == ("10", "20")


def transaction_updated(answer, event, api):
    wallet = balanced(api, made(answer, "wallet"))
    paid = event["updated_transaction"]
    assert (paid["id"], paid["transaction_status"]) == (made(answer, "wallet_transaction"), "completed")
    assert wallet["credit_balance"] == "20"
    [invoice] = api.get("/_mock/invoices").json["items"]
    assert (invoice["id"], invoice["status"]) == (made(answer, "invoice"), "paid")


def credit_dropped(answer, event, api):
    wallet = balanced(api, made(answer, "wallet"))
    assert wallet["credit_balance"] == event["wallet"]["credit_balance"] == "0"


def credit_recovered(answer, event, api):
    wallet = balanced(api, made(answer, "wallet"))
    assert wallet["credit_balance"] == event["wallet"]["credit_balance"] == "10"
    assert [t["type"] for t in ledger(api, wallet["id"])] == ["credit", "debit", "credit"]


def ongoing_dropped(answer, event, api):
    wallet_id = made(answer, "wallet")
    balance = real_time(api, wallet_id)
    assert (balance["credit_balance"], balance["real_time_credit_balance"]) == ("10", "0")
    assert event["alert"]["state"] == "in_alarm"
    assert (
        api.get(f"/v1/subscriptions/{made(answer, 'subscription')}").json["subscription_status"] == "active"
    )


def ongoing_recovered(answer, event, api):
    balance = real_time(api, made(answer, "wallet"))
    assert (balance["credit_balance"], balance["real_time_credit_balance"]) == ("20", "10")
    assert event["alert"]["state"] == "ok"


def ongoing_updated(answer, event, api):
    balance = real_time(api, made(answer, "wallet"))
    assert (balance["credit_balance"], balance["real_time_credit_balance"]) == ("10", "9")


def invoice_closed(answer, event, api):
    [invoice] = api.get("/_mock/invoices").json["items"]
    assert event["invoice"]["id"] == invoice["id"] == made(answer, "invoice")
    assert (invoice["subtotal"], invoice["invoice_status"]) == ("10", "FINALIZED")
    subscription = api.get(f"/v1/subscriptions/{made(answer, 'subscription')}").json
    assert subscription["subscription_status"] == "cancelled"  # its only period closed: nothing due later
    assert api.get("/_mock/usage").json["next_due"] is None


def invoice_paid(answer, event, api):
    [invoice] = api.get("/_mock/invoices").json["items"]
    assert event["invoice"]["id"] == invoice["id"] == made(answer, "invoice")
    assert (invoice["amount_due"], invoice["amount_paid"], invoice["payment_status"]) == (
        "10",
        "10",
        "SUCCEEDED",
    )
    assert event["invoice"]["payment_status"] == "SUCCEEDED"


def invoice_voided(answer, event, api):
    [invoice] = api.get("/_mock/invoices").json["items"]
    assert event["invoice"]["id"] == invoice["id"] == made(answer, "invoice")
    assert (invoice["invoice_status"], invoice["amount_paid"]) == ("VOIDED", "0")
    assert event["invoice"]["invoice_status"] == "VOIDED"


def payment_made(answer, event, api):
    [payment] = api.get("/v1/payments").json["items"]
    assert event["payment"]["id"] == payment["id"] == made(answer, "payment")
    assert (payment["payment_status"], payment["payment_method_type"], payment["amount"]) == (
        "SUCCEEDED",
        "OFFLINE",
        "10",
    )
    invoice = api.get(f"/v1/invoices/{made(answer, 'invoice')}").json
    assert (invoice["payment_status"], invoice["amount_paid"]) == ("SUCCEEDED", "10")


def payment_updated(answer, event, api):
    payment_made(answer, event, api)
    assert api.get(f"/v1/payments/{made(answer, 'payment')}").json["metadata"] == {
        "source": "sandbox-trigger"
    }


STATE: dict[str, Callable[[dict, dict, Api], None]] = {
    "customer.created": customer_created,
    "customer.updated": customer_updated,
    "customer.deleted": customer_deleted,
    "wallet.created": wallet_created,
    "wallet.updated": wallet_updated,
    "wallet.terminated": wallet_terminated,
    "wallet.transaction.created": transaction_created,
    "wallet.transaction.updated": transaction_updated,
    "wallet.credit_balance.dropped": credit_dropped,
    "wallet.credit_balance.recovered": credit_recovered,
    "wallet.ongoing_balance.dropped": ongoing_dropped,
    "wallet.ongoing_balance.recovered": ongoing_recovered,
    "wallet.ongoing_balance.updated": ongoing_updated,
    "invoice.update": invoice_closed,
    "invoice.update.finalized": invoice_closed,
    "invoice.update.payment": invoice_paid,
    "invoice.update.voided": invoice_voided,
    "payment.created": payment_made,
    "payment.pending": payment_made,
    "payment.success": payment_made,
    "payment.updated": payment_updated,
}


def test_every_event_type_has_a_scenario_here():
    assert set(STATE) == set(EVENT_TYPES)


@pytest.mark.parametrize("event_type", EVENT_TYPES)
def test_each_event_is_raised_delivered_and_agrees_with_the_state(api, inbox, event_type):
    answer = trigger(api, event_type)

    assert answer["event"] == event_type and event_type in answer["events"]
    delivered = inbox.take()  # signatures verified, each body checked against its schema
    assert [e["event_type"] for e in delivered] == answer["events"]
    [event] = [e for e in delivered if e["event_type"] == event_type][-1:]
    STATE[event_type](answer, event, api)


def test_the_answer_names_what_was_created_and_what_else_was_raised(api, inbox):
    answer = trigger(api, "wallet.transaction.created")

    assert [o["type"] for o in answer["created"]] == ["customer", "wallet", "wallet_transaction"]
    assert answer["used"] == []
    assert answer["events"] == [
        "customer.created",
        "wallet.transaction.created",  # the initial credits
        "wallet.created",
        "wallet.transaction.created",  # the top-up
    ]
    assert inbox.names() == answer["events"]


def test_usage_is_evaluated_at_once_and_the_worlds_alert_delay_stays(api, inbox):
    first = trigger(api, "wallet.ongoing_balance.updated")
    second = trigger(api, "wallet.ongoing_balance.updated", {"wallet_id": made(first, "wallet")})

    assert api.get("/_mock/usage").json["alert_delay"] == 2.0
    assert [o["type"] for o in second["used"]] == ["wallet", "feature", "plan", "price"]
    assert [o["type"] for o in second["created"]] == ["event"]  # the subscription is reused
    assert second["events"] == ["wallet.ongoing_balance.updated"]
    assert real_time(api, made(first, "wallet"))["real_time_credit_balance"] == "8"


# ---- overrides applied --------------------------------------------------------------------------


def test_overrides_nested_or_dotted_shape_what_is_created(api, inbox):
    answer = trigger(
        api,
        "wallet.transaction.created",
        {
            "customer": {"external_id": "acme-42", "name": "Acme Inc."},
            "wallet.currency": "eur",
            "wallet.initial_credits": 0,
            "credits": "2.5",
        },
    )

    wallet = balanced(api, made(answer, "wallet"))
    assert (wallet["currency"], wallet["credit_balance"]) == ("eur", "2.5")
    customer = api.get(f"/v1/customers/{wallet['customer_id']}").json
    assert (customer["external_id"], customer["name"]) == ("acme-42", "Acme Inc.")
    assert answer["events"] == ["customer.created", "wallet.created", "wallet.transaction.created"]
    assert inbox.take()[-1]["transaction"]["credit_amount"] == "2.5"


def test_existing_objects_are_used_not_created(api, inbox):
    customer = make_customer(api, "acme-7")
    wallet = make_wallet(api, customer["id"], initial_credits_to_load=50)
    inbox.take()

    answer = trigger(api, "wallet.credit_balance.dropped", {"customer_id": customer["id"]})

    assert answer["used"] == [
        {"type": "customer", "id": customer["id"]},
        {"type": "wallet", "id": wallet["id"]},
    ]
    assert answer["events"] == [
        "wallet.transaction.created",
        "wallet.credit_balance.dropped",
    ]
    assert balanced(api, wallet["id"])["credit_balance"] == "0"  # debited down to the level
    updated = trigger(api, "customer.updated", {"customer_id": customer["id"], "update.name": "Acme 2"}, 200)
    assert updated["created"] == [] and updated["events"] == ["customer.updated"]
    assert api.get(f"/v1/customers/{customer['id']}").json["name"] == "Acme 2"


def test_an_alert_threshold_and_the_amounts_are_overrides(api, inbox):
    answer = trigger(api, "wallet.credit_balance.recovered", {"threshold": 5, "wallet.initial_credits": 8})
    wallet = balanced(api, made(answer, "wallet"))
    assert wallet["alert_settings"]["critical"]["threshold"] == "5"
    # 8 debited down to 5 (the level), then topped up to 10 above it
    assert [t["credit_amount"] for t in ledger(api, wallet["id"])] == ["8", "3", "10"]
    assert wallet["credit_balance"] == "15"
    dropped = [e for e in inbox.take() if e["event_type"] == "wallet.credit_balance.dropped"]
    assert dropped[0]["alert"]["alert_settings"]["critical"]["threshold"] == "5"

    invoice = trigger(api, "invoice.update", {"amount": "42.5", "currency": "eur"})
    [bill] = [i for i in api.get("/_mock/invoices").json["items"] if i["id"] == made(invoice, "invoice")]
    assert (bill["subtotal"], bill["currency"]) == ("42.5", "eur")


# ---- overrides refused: named, nothing changed ----------------------------------------------------


def unchanged(api: Api, inbox: Inbox, attempt: Callable[[], tuple]) -> tuple:
    """The refusal ``attempt`` gives, once the world and the outbox are seen not to have moved."""
    before = api.get("/_mock/state").json
    refused = attempt()
    assert api.get("/_mock/state").json == before
    assert inbox.take() == []
    return refused


REFUSALS = [
    (
        "wallet.terminated",
        {"colour": "red", "wallet.colour": "blue", "credits": 5},
        "Overrides that do not apply to wallet.terminated: colour, wallet.colour, credits",
        ["colour", "wallet.colour", "credits"],
    ),
    (
        "wallet.transaction.created",
        {"credits": True, "wallet": {"currency": 3}},
        'Invalid overrides: credits must be a decimal such as "10.5"; '
        "wallet.currency must be a non-empty string",
        ["credits", "wallet.currency"],
    ),
    (
        "wallet.transaction.created",
        {"credits": "-1"},
        "Invalid overrides: credits must be greater than 0",
        ["credits"],
    ),
    (
        "wallet.terminated",
        {"wallet_id": "wallet_nothing"},
        "wallet_id names no wallet: wallet_nothing",
        ["wallet_id"],
    ),
    (
        "customer.deleted",
        {"customer_id": "cust_nothing"},
        "customer_id names no customer: cust_nothing",
        ["customer_id"],
    ),
    (
        "wallet.updated",
        {"wallet_id": "wallet_nothing", "wallet.currency": "eur"},
        "wallet_id uses an existing wallet, so wallet.currency cannot apply",
        ["wallet.currency"],
    ),
    (
        "wallet.created",
        {"customer.external_id": "fresh", "wallet.currency": "e"},  # the customer is made, then undone
        "createWallet refused: Currency code must be 3 characters long (from overrides: wallet.currency)",
        ["wallet.currency"],
    ),
]


@pytest.mark.parametrize("event_type, overrides, message, names", REFUSALS, ids=[r[2][:40] for r in REFUSALS])
def test_a_refused_override_is_named_and_changes_nothing(api, inbox, event_type, overrides, message, names):
    trigger(api, "customer.created")  # a world with something in it
    inbox.take()

    status, code, said, details = unchanged(
        api, inbox, lambda: refusal(api.post("/_mock/trigger", {"event": event_type, "overrides": overrides}))
    )

    assert (status, code) == (400, "validation_error") and said.startswith(message), said
    assert details["overrides"] == names


def test_overrides_of_a_new_wallet_are_refused_when_the_customers_wallet_is_used(api, inbox):
    customer = make_customer(api, "acme-8")
    wallet = make_wallet(api, customer["id"], initial_credits_to_load=50)
    inbox.take()
    asked = {
        "event": "wallet.credit_balance.dropped",
        "overrides": {"customer_id": customer["id"], "threshold": 5},
    }

    status, _, said, details = unchanged(api, inbox, lambda: refusal(api.post("/_mock/trigger", asked)))

    assert status == 400 and details["overrides"] == ["threshold"]
    assert said == (
        f"threshold would shape a wallet the trigger creates, but customer {customer['id']} already has "
        f"the wallet {wallet['id']} in usd, which is used; give wallet_id, or leave them out"
    )


def test_an_event_the_scenario_cannot_raise_is_refused_and_undone(api, inbox):
    first = trigger(api, "wallet.credit_balance.dropped")
    inbox.take()
    wallet_id = made(first, "wallet")

    status, code, said, details = unchanged(
        api,
        inbox,
        lambda: refusal(
            api.post(
                "/_mock/trigger",
                {"event": "wallet.credit_balance.dropped", "overrides": {"wallet_id": wallet_id}},
            )
        ),
    )

    assert (status, code) == (400, "invalid_operation")
    assert said == (
        f"wallet.credit_balance.dropped was not raised: wallet {wallet_id}: the wallet's credit balance "
        "was already at its alert level or has alert settings the trigger cannot reach (its state: "
        "in_alarm); nothing was changed"
    )
    assert details["raised"] == ["wallet.transaction.created"]  # the debit that was undone


def test_an_unknown_event_is_named_with_the_known_ones(api):
    status, _, said, details = refusal(api.post("/_mock/trigger", {"event": "wallet.exploded"}))
    assert status == 400
    assert said.startswith("Unknown event 'wallet.exploded': give one of wallet.created, ")
    assert details["known"] == list(EVENT_TYPES)
    assert refusal(api.post("/_mock/trigger", {}))[2].startswith("event is required: give one of")
    for odd in (["wallet.created"], {"name": "wallet.created"}, 7):
        status, _, said, details = refusal(api.post("/_mock/trigger", {"event": odd}))
        assert status == 400 and said.startswith(f"Unknown event {odd!r}: give one of"), said
        assert details["event"] == repr(odd)
    assert refusal(api.post("/_mock/trigger", {"event": "customer.created", "extra": 1}))[2] == (
        "extra is not a field here (expected: event, overrides)"
    )
    assert refusal(api.post("/_mock/trigger", {"event": "customer.created", "overrides": [1]}))[2] == (
        'overrides must be an object such as {"wallet.currency": "eur"}'
    )


# ---- the plugin ---------------------------------------------------------------------------------


def test_the_plugin_triggers_and_the_receiver_gets_it(flexprice, flexprice_webhooks):
    answer = flexprice.trigger("wallet.terminated", wallet={"currency": "eur"})

    event = flexprice_webhooks.wait_for("wallet.terminated")
    assert event["wallet"]["id"] == made(answer, "wallet") and event["wallet"]["currency"] == "eur"
    with pytest.raises(
        FlexpriceControlError, match=r"Overrides that do not apply to customer\.created: credits"
    ):
        flexprice.trigger("customer.created", {"credits": 5})


def test_a_payment_event_the_worlds_policy_forestalls_is_refused_and_undone(api, inbox):
    assert api.put("/_mock/policies", {"subscription_invoices": "void"}).status == 200
    reply = api.post("/_mock/trigger", {"event": "invoice.update.payment"})
    assert reply.status == 400, reply.json
    assert "subscription_invoices policy settled the invoice another way" in str(reply.json)
    assert api.get("/_mock/invoices").json["items"] == []  # undone whole
    assert api.get("/v1/customers").json["items"] == []
    assert inbox.take() == []


def test_an_update_the_worlds_top_up_policy_forestalls_is_refused_and_undone(api, inbox):
    assert api.put("/_mock/policies", {"invoiced_top_ups": "immediate"}).status == 200
    reply = api.post("/_mock/trigger", {"event": "wallet.transaction.updated"})
    assert reply.status == 400, reply.json
    assert "invoiced_top_ups policy settled the purchase as it was made" in reply.json["message"]
    assert api.get("/v1/customers").json["items"] == [] and inbox.take() == []
