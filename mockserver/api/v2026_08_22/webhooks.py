"""Webhooks of version 2026-08-22: the payloads, as the cloud sends them: flat
``{"event_type", "<wallet|transaction|updated_transaction|customer|invoice|payment>": {...}, "alert"?}``, each
object a trimmed projection with decimals as strings, no envelope id or timestamp; and the
operation asking for a system event's webhooks again."""

from __future__ import annotations

from typing import Any

from ...domain import errors, payments
from ...domain.clock import format_timestamp
from ...domain.models import RETRY_EVENT, Customer, Event, Transaction, Wallet
from ...domain.world import World
from .. import Handler, Result
from ..fields import ADDRESS_FIELDS
from .common import dec
from .invoices import invoice
from .wallets import alert_settings_view, sources

EVENT_TYPES = (
    "wallet.created",
    "wallet.updated",
    "wallet.terminated",
    "wallet.transaction.created",
    "wallet.transaction.updated",
    "wallet.credit_balance.dropped",
    "wallet.credit_balance.recovered",
    "wallet.ongoing_balance.dropped",
    "wallet.ongoing_balance.recovered",
    "wallet.ongoing_balance.updated",
    "customer.created",
    "customer.updated",
    "customer.deleted",
    "invoice.update",
    "invoice.update.finalized",
    "invoice.update.payment",
    "invoice.update.voided",
    "payment.created",
    "payment.pending",
    "payment.success",
    "payment.updated",
)


def _wallet(w: Wallet) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": w.id,
        "customer_id": w.customer_id,
        "currency": w.currency,
        "balance": dec(w.balance),
        "credit_balance": dec(w.credit_balance),
        "wallet_status": w.wallet_status,
    }
    if w.name:
        body["name"] = w.name
    body.update(wallet_type=w.wallet_type, conversion_rate=dec(w.conversion_rate))
    return body


def _transaction(world: World, t: Transaction) -> dict[str, Any]:
    wallet = world.wallets[t.wallet_id]
    body: dict[str, Any] = {
        "id": t.id,
        "wallet_id": t.wallet_id,
        "customer_id": wallet.customer_id,
        "type": t.type,
        "amount": dec(t.amount),
        "credit_amount": dec(t.credit_amount),
        "credit_balance_before": dec(t.credit_balance_before),
        "credit_balance_after": dec(t.credit_balance_after),
        "transaction_status": t.transaction_status,
        "reference_type": t.reference_type,
    }
    # The cloud's omitempty fields: present only when they hold something.
    for name, value in (("reference_id", t.reference_id), ("description", t.description)):
        if value:
            body[name] = value
    if t.expiry_date is not None:
        body["expiry_date"] = t.expiry_date.isoformat().replace("+00:00", "Z")
    body.update(transaction_reason=t.transaction_reason, currency=wallet.currency)
    if t.metadata:
        body["metadata"] = t.metadata
    body.update(sources(t))
    return body


def _customer(world: World, c: Customer) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": c.id,
        "external_id": c.external_id,
        "environment_id": world.environment_id,
        "name": c.name,
    }
    for name in ("email", *ADDRESS_FIELDS, "timezone"):
        if getattr(c, name):
            body[name] = getattr(c, name)
    if c.metadata:
        body["metadata"] = c.metadata
    return body


def _payment(p: payments.Payment) -> dict[str, Any]:
    """Upstream's webhook projection of a payment (webhook/dto/payment.go: Payment)."""
    body: dict[str, Any] = {
        "id": p.id,
        "destination_type": p.destination_type,
        "destination_id": p.destination_id,
        "payment_method_type": p.payment_method_type,
        "amount": dec(p.amount),
        "currency": p.currency,
        "payment_status": p.payment_status,
    }
    if p.payment_gateway is not None:
        body["payment_gateway"] = p.payment_gateway
    for name in ("succeeded_at", "failed_at", "refunded_at", "voided_at"):
        moment = getattr(p, name)
        if moment is not None:
            body[name] = format_timestamp(moment)
    if p.error_message is not None:
        body["error_message"] = p.error_message
    return body


def payload(world: World, event: Event) -> dict[str, Any]:
    """The body of ``event``'s webhook, built from the world as it is now."""
    name = event.name
    if name.startswith("invoice."):  # the whole invoice, as upstream's payload carries it
        draft = bool((event.data or {}).get("draft"))
        return {"event_type": name, "invoice": invoice(world, world.invoices[event.entity_id], draft=draft)}
    if name.startswith("payment."):  # the payment as it is when delivered, as upstream reads it
        return {"event_type": name, "payment": _payment(payments.get(world, event.entity_id))}
    if name.startswith("customer."):
        return {"event_type": name, "customer": _customer(world, world.customers[event.entity_id])}
    if name.startswith("wallet.transaction."):
        # Newest last in each wallet's ledger: the one an event names is found at once.
        txn = next(t for ts in world.transactions.values() for t in reversed(ts) if t.id == event.entity_id)
        key = "updated_transaction" if name.endswith(".updated") else "transaction"
        return {"event_type": name, key: _transaction(world, txn)}
    data = event.data or {}
    found = world.wallets[event.entity_id]
    wallet = _wallet(found)
    if "balances" in data:  # the balances the event was raised at
        wallet.update(
            balance=dec(data["balances"]["balance"]), credit_balance=dec(data["balances"]["credit_balance"])
        )
    body: dict[str, Any] = {"event_type": name, "wallet": wallet}
    # The wallet's customer (SDK 2.1.43's payload), archived ones too; none when its customer_id,
    # never checked on create, names no customer.
    customer = world.customers.get(found.customer_id)
    if customer is not None:
        body["customer"] = _customer(world, customer)
    alert = data.get("alert")
    if alert is not None:
        balance = dec(alert["balance"])
        body["alert"] = {
            "state": alert["state"],
            "current_balance": balance,
            "credit_balance": balance,
            "alert_type": alert["alert_type"],
            "alert_settings": alert_settings_view(alert["settings"]),
        }
    return body


def retry_webhook(world: World, params, body) -> Result:
    """Ask for a system event's webhooks again: the request is itself an event, which the outbox
    acts on once this unit of work is kept (the cloud re-sends at once and answers 202)."""
    event_id = body["system_event_id"]
    if not event_id:
        raise errors.validation("Invalid request format", "system_event_id is required")
    world.emit(RETRY_EVENT, event_id)
    return 202, {
        "success": True,
        "message": "Webhook delivery completed for the system event",
        "system_event_id": event_id,
    }


HANDLERS: dict[str, Handler] = {"retryWebhook": retry_webhook}
