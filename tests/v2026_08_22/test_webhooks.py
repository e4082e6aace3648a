"""Webhooks of version 2026-08-22, over real sockets with real receivers: every event's trigger,
order and payload (each checked against its schema under the document's ``x-webhook-events``),
Svix signatures checked by the ``svix`` library, retries walked through on the world's clock,
a hung receiver, webhook faults, registration and endpoint management.

Nothing sleeps: ``POST /_mock/webhooks/wait`` returns once a world's outbox is drained.
"""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from datetime import datetime, timedelta
from typing import Any

import pytest
from jsonschema import Draft4Validator
from svix.webhooks import Webhook, WebhookVerificationError

import mockserver
from mockserver.api.v2026_08_22.webhooks import EVENT_TYPES
from mockserver.cli import parse_args
from mockserver.config import Settings
from mockserver.http.spec import _nullable, _resolve
from mockserver.pytest_plugin import FlexpriceClient, WebhookReceiver, new_api_key
from mockserver.webhooks.endpoints import WebhookError

from ..support import LocalServer, QuietHandler, ledger
from .conftest import CONTRACT, NOW, SUITE, Api, Reply, advance, freeze, make_customer, make_wallet, refusal

DOCUMENT = CONTRACT.spec.document
SCHEMAS = {
    name: Draft4Validator(_nullable(_resolve(ref, DOCUMENT)))
    for name, ref in DOCUMENT["x-webhook-events"].items()
}
SECRET = "whsec_" + base64.b64encode(b"flexprice-sandbox-secret").decode()
OTHER_SECRET = "whsec_" + base64.b64encode(b"somebody-else-s-secret-x").decode()
SCHEDULE = ("PT5S", "PT5M", "PT30M", "PT2H", "PT5H", "PT10H", "PT10H")  # after the first attempt
SCHEDULE_SECONDS = (5, 300, 1800, 7200, 18000, 36000, 36000)


# ---- helpers --------------------------------------------------------------------------------


def client_over(handle: FlexpriceClient) -> Api:
    """The handle's world over its socket, every API reply checked against the document."""

    def send(method, path, data, headers):
        reply = handle.session.request(method, handle.url + path, data=data, headers=headers, timeout=10)
        return Reply(reply.status_code, reply.headers, reply.content)

    return SUITE.Api(send, handle.api_key)


@pytest.fixture
def client(flexprice) -> Api:
    return client_over(flexprice)


def drain(handle) -> dict[str, Any]:
    """Wait until nothing of the world's outbox is due or in flight."""
    result = handle.drain_webhooks(5)
    assert result["drained"], result
    return result


def conforms(event: dict[str, Any]) -> dict[str, Any]:
    """The event, once checked against its schema in the document."""
    schema = SCHEMAS[event["event_type"]]
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in schema.iter_errors(event)]
    assert not errors, f"{event['event_type']} breaks its schema: {errors}"
    return event


class Inbox:
    """What a registered receiver got, step by step: ``take()`` drains the world's outbox and
    returns (and forgets) the events received since the last call, each checked against its
    schema; they arrive in the order they were raised (one delivery at a time per endpoint)."""

    def __init__(self, handle: FlexpriceClient, receiver: WebhookReceiver):
        self.handle, self.receiver = handle, receiver

    def take(self) -> list[dict[str, Any]]:
        drain(self.handle)
        events = list(self.receiver.events)
        self.receiver.events.clear()
        assert len(self.receiver.deliveries) == sum(d["verified"] for d in self.receiver.deliveries)
        return [conforms(e) for e in events]

    def names(self) -> list[str]:
        return [e["event_type"] for e in self.take()]


@pytest.fixture
def receivers(flexprice):
    """Make receivers registered for the test's world (``WebhookReceiver(flexprice, **endpoint)``)."""
    made: list[WebhookReceiver] = []

    def make(**endpoint: Any) -> WebhookReceiver:
        made.append(WebhookReceiver(flexprice, **endpoint))
        return made[-1]

    yield make
    for receiver in made:
        receiver.close()


@pytest.fixture
def receiver(receivers) -> WebhookReceiver:
    """A receiver of every event of the test's world, as the plugin's ``flexprice_webhooks``."""
    return receivers()


@pytest.fixture
def inbox(flexprice, receiver) -> Inbox:
    return Inbox(flexprice, receiver)


def wallet_payload(wallet: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A wallet as webhooks carry it (upstream's trimmed projection) from its API answer."""
    names = ("id", "customer_id", "currency", "balance", "credit_balance", "wallet_status", "name")
    body = {name: wallet[name] for name in names}
    body.update(wallet_type=wallet["wallet_type"], conversion_rate=wallet["conversion_rate"])
    return {**body, **changes}


def top_up(client: Api, wallet_id: str, credits: str, reason: str = "PURCHASED_CREDIT_DIRECT") -> dict:
    reply = client.post(
        f"/v1/wallets/{wallet_id}/top-up", {"credits_to_add": credits, "transaction_reason": reason}
    )
    assert reply.status == 200, reply.json
    return reply.json


def debit(client: Api, wallet_id: str, credits: str, key: str) -> dict:
    reply = client.post(
        f"/v1/wallets/{wallet_id}/debit",
        {"credits": credits, "transaction_reason": "MANUAL_BALANCE_DEBIT", "idempotency_key": key},
    )
    assert reply.status == 200, reply.json
    return reply.json


def balances(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(event type, the credit balance its wallet or transaction shows) of each event."""
    shown = []
    for event in events:
        if "wallet" in event:
            shown.append((event["event_type"], event["wallet"]["credit_balance"]))
        else:
            txn = event.get("transaction") or event["updated_transaction"]
            shown.append((event["event_type"], txn["credit_balance_after"]))
    return shown


def verified(secret: str, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    """The payload, once the svix library has verified its signature (it raises otherwise)."""
    Webhook(secret).verify(body, headers)
    return json.loads(body)


def stamp(moment: str) -> datetime:
    return datetime.fromisoformat(moment.replace("Z", "+00:00"))


class Catcher:
    """A bare receiver, registered by nobody: keeps each POST's headers and body, answers 200."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self._arrived = threading.Condition()
        catcher = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with catcher._arrived:
                    catcher.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                    catcher._arrived.notify_all()
                self.send_response(200)
                self.end_headers()

        self._server = LocalServer(Handler)
        self.url = self._server.url + "/hooks"

    def wait(self, count: int, timeout: float = 5.0) -> list[tuple[dict[str, str], bytes]]:
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.requests) < count:
                left = deadline - time.monotonic()
                assert left > 0, f"{len(self.requests)} requests, not {count}"
                self._arrived.wait(left)
            return list(self.requests)

    def close(self) -> None:
        self._server.close()


class HungReceiver:
    """A raw TCP server that accepts connections, reads nothing and never answers, until closed."""

    def __init__(self) -> None:
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(16)
        self._socket.settimeout(0.05)
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}/hooks"
        self.held: list[socket.socket] = []
        self.accepted = threading.Event()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                connection, _ = self._socket.accept()
            except (TimeoutError, OSError):
                continue
            self.held.append(connection)
            self.accepted.set()

    def close(self) -> None:
        self._closed = True
        for connection in self.held:
            connection.close()
        self._socket.close()


@pytest.fixture
def own_sandbox():
    """Start a sandbox of the suite's version with the given settings; stopped after the test."""
    yield from SUITE.sandboxes()


# ---- the events, their triggers, order and payloads -----------------------------------------


def test_the_document_has_a_schema_for_every_event_the_sandbox_sends():
    assert sorted(DOCUMENT["x-webhook-events"]) == sorted(EVENT_TYPES)
    assert len(EVENT_TYPES) == 21
    # The schemas have teeth: a decimal as a JSON number, or a missing field, breaks them.
    wallet = {
        "id": "wallet_1",
        "customer_id": "cust_1",
        "currency": "usd",
        "balance": "1",
        "credit_balance": "1",
        "wallet_status": "active",
        "wallet_type": "PRE_PAID",
        "conversion_rate": "1",
    }
    schema = SCHEMAS["wallet.created"]
    assert schema.is_valid({"event_type": "wallet.created", "wallet": wallet})
    assert not schema.is_valid({"event_type": "wallet.created", "wallet": {**wallet, "balance": 1}})
    assert not schema.is_valid({"event_type": "wallet.created"})


def test_customer_created_updated_and_deleted_carry_the_customer(client, inbox):
    customer = make_customer(
        client, "acme-42", email="billing@acme.test", address_city="Berlin", metadata={"plan": "gold"}
    )
    shown = {
        "id": customer["id"],
        "external_id": "acme-42",
        "environment_id": "",
        "name": "Acme Inc.",
        "email": "billing@acme.test",
        "address_city": "Berlin",
        "timezone": "UTC",
        "metadata": {"plan": "gold"},
    }
    assert inbox.take() == [{"event_type": "customer.created", "customer": shown}]

    reply = client.put(f"/v1/customers/{customer['id']}", {"name": "Acme GmbH"})
    assert reply.status == 200, reply.json
    assert inbox.take() == [{"event_type": "customer.updated", "customer": {**shown, "name": "Acme GmbH"}}]

    assert client.delete(f"/v1/customers/{customer['id']}").status == 204
    # The archived customer still resolves, as the cloud's payload builder reads it.
    assert inbox.take() == [{"event_type": "customer.deleted", "customer": {**shown, "name": "Acme GmbH"}}]


def test_wallet_created_comes_after_its_initial_credits_transaction(client, inbox):
    customer = make_customer(client)
    inbox.take()
    wallet = make_wallet(client, customer["id"], initial_credits_to_load="100")
    [grant] = ledger(client, wallet["id"])
    assert inbox.take() == [
        {
            "event_type": "wallet.transaction.created",
            "transaction": {
                "id": grant["id"],
                "wallet_id": wallet["id"],
                "customer_id": customer["id"],
                "type": "credit",
                "amount": "100",
                "credit_amount": "100",
                "credit_balance_before": "0",
                "credit_balance_after": "100",
                "transaction_status": "completed",
                "reference_type": "EXTERNAL",
                "reference_id": grant["reference_id"],
                "transaction_reason": "FREE_CREDIT_GRANT",
                "currency": "usd",
            },
        },
        {
            "event_type": "wallet.created",
            "wallet": {
                "id": wallet["id"],
                "customer_id": customer["id"],
                "currency": "usd",
                "balance": "100",
                "credit_balance": "100",
                "wallet_status": "active",
                "name": "Prepaid Wallet - USD",
                "wallet_type": "PRE_PAID",
                "conversion_rate": "1",
            },
            # its customer (SDK 2.1.43's payload), trimmed as customer events carry it
            "customer": {
                "id": customer["id"],
                "external_id": "acme-1",
                "environment_id": "",
                "name": "Acme Inc.",
                "timezone": "UTC",
            },
        },
    ]
    # Without initial credits: the wallet alone, and no balance alert for its zero balance.
    empty = make_wallet(client, customer["id"], currency="eur")
    [created] = inbox.take()
    assert {k: v for k, v in created.items() if k != "customer"} == {
        "event_type": "wallet.created",
        "wallet": wallet_payload(empty),
    }


def test_wallet_updated_on_put_only(client, inbox):
    wallet = make_wallet(client, "cust_1", initial_credits_to_load="10")
    inbox.take()
    reply = client.put(f"/v1/wallets/{wallet['id']}", {"name": "Team credits"})
    assert reply.status == 200, reply.json
    assert inbox.take() == [
        {"event_type": "wallet.updated", "wallet": wallet_payload(wallet, name="Team credits")}
    ]
    top_up(client, wallet["id"], "5")  # a top-up changes the wallet but is no wallet.updated
    assert inbox.names() == ["wallet.transaction.created"]


def test_top_ups_direct_at_once_invoiced_when_their_invoice_is_paid(client, flexprice, inbox):
    wallet = make_wallet(client, "cust_1")
    inbox.take()

    direct = top_up(client, wallet["id"], "50.50")
    [event] = inbox.take()
    assert event["event_type"] == "wallet.transaction.created"
    txn = event["transaction"]
    assert txn["id"] == direct["wallet_transaction"]["id"]
    assert (txn["type"], txn["amount"], txn["credit_amount"], txn["transaction_reason"]) == (
        "credit",
        "50.5",
        "50.5",
        "PURCHASED_CREDIT_DIRECT",
    )
    assert (txn["credit_balance_before"], txn["credit_balance_after"], txn["transaction_status"]) == (
        "0",
        "50.5",
        "completed",
    )
    assert not {"created_at", "credits_available", "idempotency_key", "priority"} & set(txn)

    invoiced = top_up(client, wallet["id"], "20", "PURCHASED_CREDIT_INVOICED")
    assert invoiced["wallet_transaction"]["transaction_status"] == "pending"
    assert inbox.take() == []  # a pending invoiced credit announces nothing
    assert flexprice.webhook_deliveries(event_type="wallet.transaction.created")[0]["payload"] == event

    reply = client.post(f"/_mock/invoices/{invoiced['invoice_id']}/pay")
    assert reply.status == 200, reply.json
    [settled] = inbox.take()
    assert set(settled) == {"event_type", "updated_transaction"}
    assert settled["event_type"] == "wallet.transaction.updated"
    paid = settled["updated_transaction"]
    assert paid["id"] == invoiced["wallet_transaction"]["id"]
    assert (paid["transaction_status"], paid["transaction_reason"], paid["credit_amount"]) == (
        "completed",
        "PURCHASED_CREDIT_INVOICED",
        "20",
    )
    assert (paid["credit_balance_before"], paid["credit_balance_after"]) == ("50.5", "70.5")


def test_terminate_sends_the_debit_then_the_alert_then_terminated(client, inbox):
    wallet = make_wallet(client, "cust_1", initial_credits_to_load="50")
    inbox.take()
    reply = client.post(f"/v1/wallets/{wallet['id']}/terminate")
    assert reply.status == 200, reply.json
    events = inbox.take()
    assert [e["event_type"] for e in events] == [
        "wallet.transaction.created",
        "wallet.credit_balance.dropped",
        "wallet.terminated",
    ]
    debit_row = events[0]["transaction"]
    assert (
        debit_row["type"],
        debit_row["transaction_reason"],
        debit_row["amount"],
        debit_row["credit_balance_before"],
        debit_row["credit_balance_after"],
        debit_row["description"],
    ) == ("debit", "WALLET_TERMINATION", "50", "50", "0", "Wallet termination - remaining balance debit")
    closed = wallet_payload(wallet, balance="0", credit_balance="0", wallet_status="closed")
    # No wallet-level alert_settings: the tenant default (critical at or below 0), no alert object.
    assert events[1] == {"event_type": "wallet.credit_balance.dropped", "wallet": closed}
    assert events[2] == {"event_type": "wallet.terminated", "wallet": closed}

    empty = make_wallet(client, "cust_1", currency="eur")
    inbox.take()
    assert client.post(f"/v1/wallets/{empty['id']}/terminate").status == 200
    assert inbox.names() == ["wallet.terminated"]  # nothing to debit, nothing dropped


def test_credit_balance_drops_at_zero_or_below_once_and_recovers_on_a_top_up(client, inbox):
    wallet = make_wallet(client, "cust_1", initial_credits_to_load="10")
    inbox.take()

    debit(client, wallet["id"], "10", "to-zero")
    assert balances(inbox.take()) == [
        ("wallet.transaction.created", "0"),
        ("wallet.credit_balance.dropped", "0"),
    ]
    debit(client, wallet["id"], "5", "overdrawn")  # still in alarm: no second dropped
    assert balances(inbox.take()) == [("wallet.transaction.created", "-5")]

    top_up(client, wallet["id"], "20")
    events = inbox.take()
    assert balances(events) == [
        ("wallet.transaction.created", "15"),
        ("wallet.credit_balance.recovered", "15"),
    ]
    assert "alert" not in events[1]
    assert events[1]["wallet"] == wallet_payload(wallet, balance="15", credit_balance="15")


def test_a_wallet_with_its_own_alert_settings_gets_the_alert_and_a_warning_drops_too(client, inbox):
    """As the cloud now does (flexprice#2724, SDK 2.1.43's server): warning and info drop too."""
    settings = {
        "critical": {"threshold": "10", "condition": "below"},
        "warning": {"threshold": "50", "condition": "below"},
        "alert_enabled": True,
    }
    shown_settings = {**settings, "info": None}
    wallet = make_wallet(client, "cust_1", initial_credits_to_load="100", alert_settings=settings)
    assert inbox.names() == [
        "wallet.transaction.created",
        "wallet.ongoing_balance.updated",
        "wallet.created",
    ]

    debit(client, wallet["id"], "60", "to-warning")  # 40: warning, dropped on both streams
    events = inbox.take()
    assert balances(events) == [
        ("wallet.transaction.created", "40"),
        ("wallet.credit_balance.dropped", "40"),
        ("wallet.ongoing_balance.dropped", "40"),
        ("wallet.ongoing_balance.updated", "40"),
    ]
    warned = {
        "state": "warning",
        "current_balance": "40",
        "credit_balance": "40",
        "alert_type": "low_credit_balance",
        "alert_settings": shown_settings,
    }
    assert events[1]["alert"] == warned
    assert events[2]["alert"] == {**warned, "alert_type": "low_ongoing_balance"}

    debit(client, wallet["id"], "35.5", "to-critical")  # 4.5: in alarm on both streams
    events = inbox.take()
    assert balances(events) == [
        ("wallet.transaction.created", "4.5"),
        ("wallet.credit_balance.dropped", "4.5"),
        ("wallet.ongoing_balance.dropped", "4.5"),
        ("wallet.ongoing_balance.updated", "4.5"),
    ]
    alert = {**warned, "state": "in_alarm", "current_balance": "4.5", "credit_balance": "4.5"}
    assert events[1]["alert"] == alert
    assert events[2]["alert"] == {**alert, "alert_type": "low_ongoing_balance"}
    assert "alert" not in events[3]  # ongoing_balance.updated never carries one

    top_up(client, wallet["id"], "100")
    events = inbox.take()
    assert balances(events) == [
        ("wallet.transaction.created", "104.5"),
        ("wallet.credit_balance.recovered", "104.5"),
        ("wallet.ongoing_balance.recovered", "104.5"),
        ("wallet.ongoing_balance.updated", "104.5"),
    ]
    recovered = {**alert, "state": "ok", "current_balance": "104.5", "credit_balance": "104.5"}
    assert events[1]["alert"] == recovered
    assert events[2]["alert"] == {**recovered, "alert_type": "low_ongoing_balance"}


def test_a_wallet_that_only_warned_drops_then_recovers(client, inbox):
    settings = {
        "critical": {"threshold": "0", "condition": "below"},
        "warning": {"threshold": "20", "condition": "below"},
    }
    wallet = make_wallet(client, "cust_1", initial_credits_to_load="30", alert_settings=settings)
    inbox.take()
    debit(client, wallet["id"], "15", "warn")  # 15: warning, announced
    events = inbox.take()
    assert [e["event_type"] for e in events] == [
        "wallet.transaction.created",
        "wallet.credit_balance.dropped",
    ]
    assert events[1]["alert"]["state"] == "warning"
    top_up(client, wallet["id"], "10")  # 25: back to ok
    events = inbox.take()
    assert [e["event_type"] for e in events] == [
        "wallet.transaction.created",
        "wallet.credit_balance.recovered",
    ]
    assert events[1]["alert"]["state"] == "ok"
    assert events[1]["alert"]["alert_settings"]["alert_enabled"] is False


def test_ongoing_balance_events_need_alerts_enabled_or_an_auto_top_up(client, inbox):
    # Own settings with alerts disabled: the credit stream (with the alert), no ongoing stream.
    settings = {"critical": {"threshold": "10", "condition": "below"}, "alert_enabled": False}
    quiet = make_wallet(client, "cust_1", initial_credits_to_load="20", alert_settings=settings)
    assert inbox.names() == ["wallet.transaction.created", "wallet.created"]
    debit(client, quiet["id"], "15", "quiet")
    events = inbox.take()
    assert [e["event_type"] for e in events] == [
        "wallet.transaction.created",
        "wallet.credit_balance.dropped",
    ]
    assert events[1]["alert"]["alert_settings"] == {**settings, "warning": None, "info": None}

    # An auto top-up watches the ongoing balance (tenant default, critical at or below 0).
    auto = {"enabled": True, "threshold": "10", "amount": "50", "invoicing": False}
    wallet = make_wallet(client, "cust_1", currency="eur", initial_credits_to_load="20", auto_topup=auto)
    assert inbox.names() == [
        "wallet.transaction.created",
        "wallet.ongoing_balance.updated",
        "wallet.created",
    ]
    debit(client, wallet["id"], "25", "below-zero")  # -5, then the auto top-up brings 50
    events = inbox.take()
    assert [e["event_type"] for e in events] == [
        "wallet.transaction.created",
        "wallet.credit_balance.dropped",
        "wallet.ongoing_balance.dropped",
        "wallet.ongoing_balance.updated",
        "wallet.transaction.created",
        "wallet.credit_balance.recovered",
        "wallet.ongoing_balance.recovered",
        "wallet.ongoing_balance.updated",
    ]
    moved = [events[0]["transaction"], events[4]["transaction"]]
    assert [(t["transaction_reason"], t["credit_balance_after"]) for t in moved] == [
        ("MANUAL_BALANCE_DEBIT", "-5"),
        ("PURCHASED_CREDIT_DIRECT", "45"),
    ]
    assert all("alert" not in e for e in events)  # no wallet-level settings: no alert object
    # Each balance update carries the balance it was raised at (as the cloud snapshots it);
    # the other wallet events read the wallet when they are sent, as the cloud's builder does.
    assert [events[i]["wallet"]["credit_balance"] for i in (3, 7)] == ["-5", "45"]
    assert events[1]["wallet"]["credit_balance"] == "45"


def test_modify_to_postpaid_moves_the_credits_then_terminates_then_creates(client, inbox):
    wallet = make_wallet(client, "cust_1", initial_credits_to_load="30")
    inbox.take()
    reply = client.post(f"/v1/wallets/{wallet['id']}/modify", {"modification_type": "prepaid_to_postpaid"})
    assert reply.status == 200, reply.json
    new = reply.json["new_wallet"]
    events = inbox.take()
    assert [
        (
            e["event_type"],
            (e.get("wallet") or e.get("transaction"))["wallet_id" if "transaction" in e else "id"],
        )
        for e in events
    ] == [
        ("wallet.transaction.created", wallet["id"]),
        ("wallet.credit_balance.dropped", wallet["id"]),
        ("wallet.transaction.created", new["id"]),
        ("wallet.terminated", wallet["id"]),
        ("wallet.created", new["id"]),
    ]
    assert (events[0]["transaction"]["type"], events[0]["transaction"]["transaction_reason"]) == (
        "debit",
        "WALLET_TERMINATION",
    )
    assert (events[2]["transaction"]["type"], events[2]["transaction"]["credit_amount"]) == ("credit", "30")
    assert events[3]["wallet"]["wallet_status"] == "closed"
    assert events[4]["wallet"] == {
        "id": new["id"],
        "customer_id": "cust_1",
        "currency": "usd",
        "balance": "30",
        "credit_balance": "30",
        "wallet_status": "active",
        "name": "Postpaid Wallet - USD",
        "wallet_type": "POST_PAID",
        "conversion_rate": "1",
    }


def test_expired_credits_are_a_debit_and_may_drop_the_balance(client, inbox):
    freeze(client)
    wallet = make_wallet(client, "cust_1")
    inbox.take()
    reply = client.post(
        f"/v1/wallets/{wallet['id']}/top-up",
        {
            "credits_to_add": "10",
            "transaction_reason": "FREE_CREDIT_GRANT",
            "expiry_date_utc": "2026-09-02T00:00:00Z",
        },
    )
    assert reply.status == 200, reply.json
    inbox.take()
    advance(client, "P2D")
    events = inbox.take()
    assert [(e["event_type"], balances([e])[0][1]) for e in events] == [
        ("wallet.transaction.created", "0"),
        ("wallet.credit_balance.dropped", "0"),
    ]
    assert events[0]["transaction"]["transaction_reason"] == "CREDIT_EXPIRED"


# ---- signatures and modes -------------------------------------------------------------------


def test_svix_verifies_every_delivery_and_rejects_a_wrong_secret(client, flexprice, flexprice_webhooks):
    receiver = flexprice_webhooks
    assert receiver.secret.startswith("whsec_") and receiver.endpoint["mode"] == "svix"
    make_customer(client, "acme-1")
    drain(flexprice)
    [delivery] = receiver.deliveries
    headers, body = delivery["headers"], delivery["body"]

    assert verified(receiver.secret, body, headers) == json.loads(body)
    [journalled] = flexprice.webhook_deliveries()
    assert headers["svix-id"] == journalled["id"] and headers["svix-id"].startswith("msg_")
    assert abs(int(headers["svix-timestamp"]) - time.time()) < 300
    assert headers["svix-signature"].startswith("v1,")
    assert headers["content-type"] == "application/json"
    assert body.decode() == journalled["attempts"][0]["request"]["body"]

    with pytest.raises(WebhookVerificationError):
        Webhook(OTHER_SECRET).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(receiver.secret).verify(body.replace(b"acme-1", b"acme-2"), headers)


def test_a_secret_given_at_registration_signs_the_deliveries(client, flexprice, receivers):
    receiver = receivers(secret=SECRET)
    assert receiver.endpoint["secret"] == SECRET
    make_customer(client)
    drain(flexprice)
    [delivery] = receiver.deliveries
    assert verified(SECRET, delivery["body"], delivery["headers"])["event_type"] == "customer.created"


def test_native_mode_is_unsigned_and_sends_the_static_headers(client, flexprice, receivers):
    receiver = receivers(mode="native", headers={"X-Api-Key": "hook-key", "X-Tenant": "acme"})
    make_customer(client, "acme-1")
    drain(flexprice)
    [delivery] = receiver.deliveries
    headers = delivery["headers"]
    assert not [name for name in headers if name.startswith(("svix-", "webhook-"))]
    assert (headers["x-api-key"], headers["x-tenant"], headers["content-type"]) == (
        "hook-key",
        "acme",
        "application/json",
    )
    assert conforms(json.loads(delivery["body"]))["customer"]["external_id"] == "acme-1"


# ---- retries on the world's clock ------------------------------------------------------------


def test_a_receiver_answering_500_gets_eight_attempts_then_the_delivery_is_failed(
    client, flexprice, receiver
):
    receiver.status = 500
    freeze(client)
    make_customer(client, "acme-1")
    drain(flexprice)  # the first attempt goes at once
    [delivery] = flexprice.webhook_deliveries()
    assert (delivery["status"], len(delivery["attempts"])) == ("pending", 1)
    assert stamp(delivery["next_attempt_at"]) == stamp(NOW) + timedelta(seconds=5)

    advance(client, "PT4S")  # not yet due
    drain(flexprice)
    assert len(flexprice.webhook_deliveries()[0]["attempts"]) == 1
    advance(client, "PT1S")
    drain(flexprice)
    assert len(flexprice.webhook_deliveries()[0]["attempts"]) == 2

    for step in SCHEDULE[1:]:
        advance(client, step)
        drain(flexprice)
    [delivery] = flexprice.webhook_deliveries()
    assert (delivery["status"], delivery["next_attempt_at"]) == ("failed", None)
    attempts = delivery["attempts"]
    assert [a["status_code"] for a in attempts] == [500] * 8
    assert {a["error"] for a in attempts} == {"the receiver answered 500"}
    # Each attempt on the Svix schedule, on the world's (frozen, advanced) clock.
    elapsed = [0]
    for seconds in SCHEDULE_SECONDS:
        elapsed.append(elapsed[-1] + seconds)
    assert [stamp(a["world_at"]) - stamp(NOW) for a in attempts] == [timedelta(seconds=s) for s in elapsed]
    # Every attempt journalled with what was sent: the same id and body each time, signed.
    body = attempts[0]["request"]["body"]
    for attempt in attempts:
        sent = attempt["request"]["headers"]
        assert (sent["svix-id"], attempt["request"]["body"]) == (delivery["id"], body)
        assert verified(receiver.secret, body.encode(), sent)["customer"]["external_id"] == "acme-1"
    # The receiver got all eight, each verified, with one svix-id: a handler can dedupe them.
    assert len(receiver.deliveries) == 8 and all(d["verified"] for d in receiver.deliveries)
    assert {d["headers"]["svix-id"] for d in receiver.deliveries} == {delivery["id"]}
    assert flexprice.webhook_deliveries(status="failed")[0]["id"] == delivery["id"]

    # Nothing is lost: once the receiver is fixed, a redelivery starts again and succeeds.
    receiver.status = 200
    reply = client.post(f"/_mock/webhooks/deliveries/{delivery['id']}/redeliver")
    assert reply.status == 202 and reply.json["id"] == delivery["id"]
    drain(flexprice)
    [delivery] = flexprice.webhook_deliveries()
    assert delivery["status"] == "delivered"
    assert [a["status_code"] for a in delivery["attempts"]] == [500] * 8 + [200]
    assert len(receiver.deliveries) == 9
    assert receiver.deliveries[-1]["headers"]["svix-id"] == delivery["id"]
    assert flexprice.webhook_deliveries(status="failed") == []
    assert client.post("/_mock/webhooks/deliveries/msg_unknown/redeliver").status == 404


class HoldingReceiver:
    """A receiver that fails every attempt (500) and holds its answer to attempt ``held`` until
    the test releases it: the test acts while that attempt is in flight, at a moment it knows."""

    def __init__(self, held: int) -> None:
        self.arrived: list[threading.Event] = [threading.Event() for _ in range(9)]
        self.release = threading.Event()
        self.count = 0
        receiver = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.count += 1
                number = receiver.count
                receiver.arrived[number].set()
                if number == held:
                    receiver.release.wait(10)
                self.send_response(500)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._server = LocalServer(Handler)
        self.url = self._server.url + "/hooks"

    def close(self) -> None:
        self.release.set()
        self._server.close()


def test_a_clock_moved_while_an_attempt_is_answered_counts_for_the_next_one(client, flexprice):
    receiver = HoldingReceiver(held=2)
    try:
        assert client.post("/_mock/webhooks", {"url": receiver.url}).status == 201
        freeze(client)
        make_customer(client, "acme-1")
        drain(flexprice)  # attempt 1 at NOW, failed: attempt 2 due 5 s after it was sent
        advance(client, "PT5S")
        assert receiver.arrived[2].wait(5), "attempt 2 never came"
        # The receiver has seen attempt 2 and not answered yet: the test moves the clock past
        # the next step (5 min after attempt 2 was sent), then lets the answer go.
        advance(client, "PT6M")
        receiver.release.set()
        assert receiver.arrived[3].wait(5), "attempt 3 never came: it was scheduled from the answer"
        drain(flexprice)
        [delivery] = flexprice.webhook_deliveries()
        first, second, third = delivery["attempts"]
        start = stamp(NOW)
        assert [stamp(a["world_at"]) - start for a in (first, second, third)] == [
            timedelta(0),
            timedelta(seconds=5),
            timedelta(seconds=365),
        ]
        # Sent and answered, in world and wall time: attempt 2 was answered after the move.
        assert stamp(second["world_answered_at"]) - start == timedelta(seconds=365)
        assert stamp(first["world_answered_at"]) == start
        for attempt in (first, second, third):
            assert stamp(attempt["at"]) <= stamp(attempt["answered_at"])
        assert stamp(second["answered_at"]) <= stamp(third["at"])
        # The next step (30 min) counts from when attempt 3 was sent.
        assert stamp(delivery["next_attempt_at"]) - start == timedelta(seconds=365 + 1800)
        assert [a["status_code"] for a in delivery["attempts"]] == [500, 500, 500]
    finally:
        receiver.close()


def test_the_clouds_retry_route_sends_a_system_events_webhooks_again(client, flexprice, receiver):
    make_customer(client, "acme-1")
    drain(flexprice)
    [delivery] = flexprice.webhook_deliveries()
    assert delivery["status"] == "delivered" and delivery["event_id"].startswith("sys_event_")
    reply = client.post("/v1/webhooks/retry", {"system_event_id": delivery["event_id"]})
    assert (reply.status, reply.json) == (
        202,
        {
            "success": True,
            "system_event_id": delivery["event_id"],
            "message": "Webhook delivery completed for the system event",
        },
    )
    drain(flexprice)
    [again] = flexprice.webhook_deliveries()
    assert again["id"] == delivery["id"] and len(again["attempts"]) == 2
    assert [d["headers"]["svix-id"] for d in receiver.deliveries] == [delivery["id"]] * 2
    # An id the world never raised re-sends nothing; a missing one is the client's mistake.
    assert client.post("/v1/webhooks/retry", {"system_event_id": "sys_event_none"}).status == 202
    drain(flexprice)
    assert len(receiver.deliveries) == 2
    assert refusal(client.post("/v1/webhooks/retry", {})) == (
        400,
        "validation_error",
        "system_event_id is required",
        {"errors": [{"field": "system_event_id", "in": "body", "problem": "is required"}]},
    )


def test_a_refused_connection_is_a_failed_attempt_retried_later(client, flexprice):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    flexprice.add_webhook(f"http://127.0.0.1:{port}/hooks")
    freeze(client)
    make_customer(client)
    drain(flexprice)
    [delivery] = flexprice.webhook_deliveries()
    [attempt] = delivery["attempts"]
    assert attempt["status_code"] is None and "ConnectionRefusedError" in attempt["error"]
    assert (delivery["status"], stamp(delivery["next_attempt_at"])) == (
        "pending",
        stamp(NOW) + timedelta(seconds=5),
    )


# ---- a receiver that never answers ----------------------------------------------------------


def test_a_hung_receiver_does_not_hold_up_the_api_or_other_endpoints(client, flexprice, receiver):
    hung = HungReceiver()
    try:
        endpoint = flexprice.add_webhook(hung.url, events=["customer.created"])
        customer = make_customer(client)
        assert hung.accepted.wait(5)  # the delivery is in flight, and stays so
        # The API answers while the receiver hangs.
        wallet = make_wallet(client, customer["id"], initial_credits_to_load="100")
        for credits in ("1", "2", "3"):
            top_up(client, wallet["id"], credits)
        debit(client, wallet["id"], "6", "hung")
        assert client.get(f"/v1/wallets/{wallet['id']}/balance/real-time").json["credit_balance"] == "100"
        # ...and the other endpoint gets its deliveries meanwhile.
        receiver.wait_for("wallet.transaction.created", count=5)
        [stuck] = flexprice.webhook_deliveries(endpoint=endpoint["id"])
        assert (stuck["status"], stuck["attempts"]) == ("pending", [])
    finally:
        hung.close()  # the connection ends: the attempt fails, to be retried
    drain(flexprice)
    [stuck] = flexprice.webhook_deliveries(endpoint=endpoint["id"])
    [attempt] = stuck["attempts"]
    assert (stuck["status"], attempt["status_code"]) == ("pending", None)
    assert attempt["error"]


def test_waiting_for_one_worlds_outbox_holds_up_no_other_world(client, flexprice):
    """The wait runs off the server's event loop: while it waits on a hung receiver, another
    world's requests are answered at once."""
    hung = HungReceiver()
    try:
        flexprice.add_webhook(hung.url, events=["customer.created"])
        make_customer(client)
        assert hung.accepted.wait(5)
        waited: dict[str, Any] = {}
        waiting = threading.Thread(target=lambda: waited.update(flexprice.drain_webhooks(2)))
        waiting.start()
        time.sleep(0.2)  # the wait has begun
        other = client_over(FlexpriceClient(flexprice.url, new_api_key())).get("/v1/customers")
        assert other.status == 200 and other.json["items"] == []
        assert waiting.is_alive(), "the other world's answer came only after the wait"
        waiting.join(10)
        assert waited["drained"] is False  # the hung delivery is still in flight
    finally:
        hung.close()


def test_a_receiver_slower_than_the_webhook_timeout_is_a_failed_attempt(own_sandbox):
    server = own_sandbox(webhook_timeout=1)
    handle = FlexpriceClient(server.url, new_api_key())
    hung = HungReceiver()
    try:
        client = client_over(handle)
        handle.add_webhook(hung.url)
        make_customer(client)
        assert handle.drain_webhooks(10)["drained"]
        [delivery] = handle.webhook_deliveries()
        [attempt] = delivery["attempts"]
        assert attempt["status_code"] is None and "timed out" in attempt["error"]
        assert attempt["latency_ms"] >= 900
        assert delivery["status"] == "pending"
    finally:
        handle.reset()  # nothing left to retry
        hung.close()
        handle.close()


# ---- webhook faults -------------------------------------------------------------------------


def test_fail_first_fails_the_first_attempts_with_the_status_unsent(client, flexprice, receivers):
    receiver = receivers(faults={"fail_first": 2, "fail_status": 503})
    assert receiver.endpoint["faults"]["fail_first"] == 2
    freeze(client)
    make_customer(client)
    drain(flexprice)
    advance(client, "PT5S")
    drain(flexprice)
    assert receiver.deliveries == []  # injected failures send nothing
    advance(client, "PT5M")
    drain(flexprice)
    [delivery] = flexprice.webhook_deliveries()
    assert delivery["status"] == "delivered"
    assert [(a["status_code"], a["error"]) for a in delivery["attempts"]] == [
        (503, "injected: faults.fail_first"),
        (503, "injected: faults.fail_first"),
        (200, None),
    ]
    assert [e["event_type"] for e in receiver.events] == ["customer.created"]


def test_duplicate_sends_a_message_twice_with_the_same_svix_id(client, flexprice, receivers):
    receiver = receivers(faults={"duplicate": True})
    make_customer(client, "acme-1")
    drain(flexprice)
    assert len(receiver.deliveries) == 2
    first, second = receiver.deliveries
    assert first["headers"]["svix-id"] == second["headers"]["svix-id"]
    assert first["body"] == second["body"] and first["verified"] and second["verified"]
    # An idempotent handler, keyed by svix-id, acts once.
    handled = {d["headers"]["svix-id"]: json.loads(d["body"]) for d in receiver.deliveries}
    assert [e["customer"]["external_id"] for e in handled.values()] == ["acme-1"]
    [delivery] = flexprice.webhook_deliveries()
    assert delivery["status"] == "delivered"
    assert [(a["status_code"], a["duplicate"]) for a in delivery["attempts"]] == [(200, False), (200, True)]


def test_a_duplicate_probability_is_reproducible_with_its_seed(client, flexprice, receivers):
    faults = {"duplicate": 0.5, "seed": 7}
    twins = [receivers(faults=faults) for _ in range(2)]
    for n in range(8):
        make_customer(client, f"acme-{n}")
    drain(flexprice)
    patterns = []
    for receiver in twins:
        twice = [
            len(d["attempts"]) == 2
            for d in reversed(flexprice.webhook_deliveries(endpoint=receiver.endpoint["id"]))
        ]
        assert len(receiver.deliveries) == 8 + sum(twice)
        patterns.append(twice)
    assert patterns[0] == patterns[1]
    assert True in patterns[0] and False in patterns[0]


def test_out_of_order_delivers_what_is_due_together_newest_first(client, flexprice, receivers):
    receiver = receivers(faults={"out_of_order": True})
    wallet = make_wallet(client, "cust_1", initial_credits_to_load="50")
    drain(flexprice)
    assert [e["event_type"] for e in receiver.events] == ["wallet.created", "wallet.transaction.created"]
    receiver.events.clear()
    assert client.post(f"/v1/wallets/{wallet['id']}/terminate").status == 200
    drain(flexprice)
    assert [e["event_type"] for e in receiver.events] == [
        "wallet.terminated",
        "wallet.credit_balance.dropped",
        "wallet.transaction.created",
    ]


def test_delay_holds_each_attempt_back(client, flexprice, receivers):
    receiver = receivers(faults={"delay": "300ms"})
    assert receiver.endpoint["faults"]["delay_ms"] == 300
    started = time.monotonic()
    make_customer(client)  # answered without waiting for the delivery
    receiver.wait_for("customer.created")
    assert time.monotonic() - started >= 0.3
    drain(flexprice)
    assert flexprice.webhook_deliveries()[0]["status"] == "delivered"


# ---- registration ---------------------------------------------------------------------------

URL = "http://127.0.0.1:9/hooks"
SHORT_SECRET = "whsec_" + base64.b64encode(b"only-8-b").decode()


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "url"),
        ({"url": ""}, "url"),
        ({"url": "ftp://example.com/hooks"}, "url"),
        ({"url": "http:///no-host"}, "url"),
        ({"url": URL, "events": ["wallet.exploded"]}, "events"),
        ({"url": URL, "events": []}, "events"),
        ({"url": URL, "events": "wallet.created"}, "events"),
        ({"url": URL, "secret": "c2VjcmV0LXNlY3JldC1zZWNyZXQ="}, "secret"),
        ({"url": URL, "secret": "whsec_not*base64!"}, "secret"),
        ({"url": URL, "secret": SHORT_SECRET}, "secret"),
        ({"url": URL, "secret": 42}, "secret"),
        ({"url": URL, "colour": "red"}, "colour"),
        ({"url": URL, "mode": "smoke-signals"}, "mode"),
        ({"url": URL, "headers": {"X-Count": 1}}, "headers"),
        ({"url": URL, "faults": []}, "faults"),
        ({"url": URL, "faults": {"explode": True}}, "faults.explode"),
        ({"url": URL, "faults": {"fail_first": -1}}, "faults.fail_first"),
        ({"url": URL, "faults": {"fail_first": True}}, "faults.fail_first"),
        ({"url": URL, "faults": {"fail_status": 200}}, "faults.fail_status"),
        ({"url": URL, "faults": {"delay": "soon"}}, "faults.delay"),
        ({"url": URL, "faults": {"duplicate": 2}}, "faults.duplicate"),
        ({"url": URL, "faults": {"out_of_order": "yes"}}, "faults.out_of_order"),
        ({"url": URL, "faults": {"seed": "7"}}, "faults.seed"),
        (["http://127.0.0.1:9/hooks"], "body"),
    ],
)
def test_a_bad_registration_is_a_400_naming_the_field_and_registers_nothing(client, body, field):
    status, code, message, details = refusal(client.post("/_mock/webhooks", body))
    assert (status, code, details["field"]) == (400, "validation_error", field)
    assert message == f"Invalid webhook endpoint: {field} {details['problem']}"
    assert client.get("/_mock/webhooks").json == {"items": [], "total": 0}


@pytest.mark.parametrize(
    "body, problem",
    [
        ({"url": "ftp://x/h"}, "must be an http or https URL with a host, not 'ftp://x/h'"),
        ({"url": URL, "secret": "c2VjcmV0"}, "must start with whsec_"),
        ({"url": URL, "secret": "whsec_not*base64!"}, "must be whsec_ followed by base64"),
        (
            {"url": URL, "secret": SHORT_SECRET},
            "must hold at least 16 bytes of key (24 or more base64 characters)",
        ),
        (
            {"url": URL, "events": ["wallet.created", "wallet.exploded"]},
            f"has unknown event types ['wallet.exploded'] (known: {', '.join(EVENT_TYPES)})",
        ),
    ],
)
def test_a_refused_registration_says_what_is_wrong(client, body, problem):
    assert refusal(client.post("/_mock/webhooks", body))[3]["problem"] == problem


def test_version_2025_05_24_refuses_registrations_clearly():
    app = mockserver.create_app(api_version="2025-05-24", log_requests=False)
    client = app.test_client()
    headers = {"x-api-key": new_api_key()}
    reply = client.post("/_mock/webhooks", json={"url": URL}, headers=headers)
    assert reply.status_code == 400
    body = reply.get_json()
    assert body["success"] is False
    assert body["error"]["message"] == (
        "API version 2025-05-24 sends no webhooks here; serve 2026-08-22 "
        "(--api-version 2026-08-22) to receive them"
    )
    assert client.get("/_mock/webhooks", headers=headers).get_json() == {"items": [], "total": 0}


# ---- endpoint management --------------------------------------------------------------------


def test_endpoints_are_listed_read_and_deleted(client, flexprice):
    first = flexprice.add_webhook(URL)
    second = flexprice.add_webhook(
        "https://hooks.example.test/flexprice?tenant=acme",
        secret=SECRET,
        events=["wallet.created", "customer.created"],
        mode="native",
        headers={"X-Api-Key": "k"},
    )
    assert first["id"].startswith("ep_") and first["id"] != second["id"]
    assert (first["url"], first["events"], first["mode"], first["headers"]) == (URL, None, "svix", {})
    assert first["secret"].startswith("whsec_") and len(base64.b64decode(first["secret"][6:])) >= 16
    assert "faults" not in first
    assert (second["secret"], second["events"], second["mode"], second["headers"]) == (
        SECRET,
        ["customer.created", "wallet.created"],
        "native",
        {"X-Api-Key": "k"},
    )

    listed = client.get("/_mock/webhooks").json
    assert (listed["total"], [e["id"] for e in listed["items"]]) == (2, [first["id"], second["id"]])
    assert client.get(f"/_mock/webhooks/{second['id']}").json == second

    reply = client.delete(f"/_mock/webhooks/{first['id']}")
    assert (reply.status, reply.json) == (200, first)
    assert client.get(f"/_mock/webhooks/{first['id']}").status == 404
    assert client.delete(f"/_mock/webhooks/{first['id']}").status == 404
    assert [e["id"] for e in client.get("/_mock/webhooks").json["items"]] == [second["id"]]
    # Another world sees none of them.
    other = client.as_key(new_api_key())
    assert other.get("/_mock/webhooks").json["total"] == 0
    assert other.get(f"/_mock/webhooks/{second['id']}").status == 404


def test_a_deleted_endpoint_gets_nothing_more(client, flexprice, receiver):
    make_customer(client, "before")
    receiver.wait_for("customer.created")
    assert client.delete(f"/_mock/webhooks/{receiver.endpoint['id']}").status == 200
    make_customer(client, "after")
    drain(flexprice)
    assert [e["customer"]["external_id"] for e in receiver.events] == ["before"]
    assert len(flexprice.webhook_deliveries()) == 1


def test_an_endpoint_for_some_events_gets_only_those(client, flexprice, receiver, receivers):
    only = receivers(events=["wallet.created"])
    customer = make_customer(client)
    wallet = make_wallet(client, customer["id"], initial_credits_to_load="5")
    top_up(client, wallet["id"], "5")
    drain(flexprice)
    assert [e["event_type"] for e in only.events] == ["wallet.created"]
    assert [d["event_type"] for d in flexprice.webhook_deliveries(endpoint=only.endpoint["id"])] == [
        "wallet.created"
    ]
    everything = flexprice.webhook_deliveries(endpoint=receiver.endpoint["id"])
    assert len(everything) == len(receiver.events) == 4
    assert [d["event_type"] for d in flexprice.webhook_deliveries(event_type="wallet.created")] == [
        "wallet.created",
        "wallet.created",
    ]


def test_deliveries_refuse_an_unknown_filter(client):
    status, _, message, details = refusal(client.get("/_mock/webhooks/deliveries?type=wallet.created"))
    assert (status, details) == (400, {"parameter": "type"})
    assert message == "query parameter type is not a delivery filter (expected: event_type, status, endpoint)"


def test_reset_forgets_a_worlds_endpoints_and_deliveries(client, flexprice, receiver):
    make_customer(client, "before")
    drain(flexprice)
    assert client.post("/_mock/reset").status == 200
    assert client.get("/_mock/webhooks").json["total"] == 0
    assert flexprice.webhook_deliveries() == []
    make_customer(client, "after")
    drain(flexprice)
    assert [e["customer"]["external_id"] for e in receiver.events] == ["before"]


def test_a_webhook_url_gives_every_new_world_an_endpoint(own_sandbox):
    catcher = Catcher()
    try:
        args = vars(
            parse_args(["--webhook-url", catcher.url, "--webhook-secret", SECRET, "--webhook-timeout", "3"])
        )
        args.pop("no_fixtures")
        settings = Settings.from_env({}, **args)
        assert (settings.webhook_url, settings.webhook_secret, settings.webhook_timeout) == (
            catcher.url,
            SECRET,
            3,
        )
        server = own_sandbox(webhook_url=catcher.url, webhook_secret=SECRET, webhook_timeout=3)
        handles = [FlexpriceClient(server.url, new_api_key()) for _ in range(2)]
        for n, handle in enumerate(handles):
            [endpoint] = handle.control("GET", "/_mock/webhooks")["items"]
            assert (endpoint["id"], endpoint["url"], endpoint["secret"], endpoint["events"]) == (
                "ep_default",
                catcher.url,
                SECRET,
                None,
            )
            make_customer(client_over(handle), f"acme-{n}")
        received = catcher.wait(2)
        assert sorted(
            verified(SECRET, body, headers)["customer"]["external_id"] for headers, body in received
        ) == [
            "acme-0",
            "acme-1",
        ]
        # A reset world starts again with the default endpoint, and only it.
        first = handles[0]
        first.add_webhook(URL)
        first.reset()
        assert [e["id"] for e in first.control("GET", "/_mock/webhooks")["items"]] == ["ep_default"]
        for handle in handles:
            handle.reset()
            handle.close()
    finally:
        catcher.close()


def test_the_environment_sets_the_webhook_url_and_a_bad_one_stops_the_start():
    settings = Settings.from_env({"FLEXPRICE_MOCK_WEBHOOK_URL": URL, "FLEXPRICE_MOCK_WEBHOOK_TIMEOUT": "2"})
    assert (settings.webhook_url, settings.webhook_timeout) == (URL, 2)
    with pytest.raises(WebhookError) as refused:  # checked at start, not in every world
        mockserver.create_app(webhook_url="ftp://example.com/hooks", log_requests=False)
    assert (
        str(refused.value)
        == "--webhook-url: must be an http or https URL with a host, not 'ftp://example.com/hooks'"
    )


def test_a_closed_outbox_stops_scheduling_quietly(monkeypatch):
    crashes: list[Any] = []
    monkeypatch.setattr(threading, "excepthook", crashes.append)
    app = SUITE.create_app(log_requests=False)
    client = SUITE.client_of(app)
    assert client.post("/_mock/webhooks", {"url": URL}).status == 201
    outbox = app.extensions["mockserver"].outbox
    outbox.close()
    make_customer(client)  # due at once: the scheduler finds no pool to hand it to
    outbox._scheduler.join(5)
    assert not outbox._scheduler.is_alive()
    assert crashes == []
