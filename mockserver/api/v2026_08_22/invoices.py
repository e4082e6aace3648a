"""Invoices of version 2026-08-22: every invoice of the world (a subscription's for each closed
period, a top-up's, one-offs) in upstream's InvoiceResponse, the operations on them, and the
subscription reads that show a period's invoice to come. Requests, handlers and views together.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ...domain import money
from ...domain.clock import format_timestamp
from ...domain.models import Invoice
from ...domain.world import World
from .views import _owned, dec

_t = format_timestamp


def _stamped(world: World, inv: Invoice) -> dict[str, Any]:
    return {
        **_owned(world),
        "created_at": _t(inv.created_at),
        "updated_at": _t(inv.updated_at or inv.created_at),
    }


def _line(world: World, inv: Invoice, index: int, line: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {
        # a subscription's line is its line item's; a top-up's has no id of its own
        "id": line.get("id") or line["line_item_id"] or f"{inv.id}_{index}",
        "invoice_id": inv.id,
        "customer_id": inv.customer_id,
        "display_name": line["display_name"],
        "amount": dec(Decimal(line["amount"])),
        "quantity": dec(Decimal(line["quantity"])),
        "currency": inv.currency,
        "metadata": {},
        **_stamped(world, inv),
    }
    if inv.subscription_id:
        body["subscription_id"] = inv.subscription_id
    if line["line_item_id"]:
        body["subscription_line_item_id"] = line["line_item_id"]
    for name in ("price_id", "price_type", "meter_id"):
        if line[name]:
            body[name] = line[name]
    if inv.period_start is not None and inv.period_end is not None:
        body["period_start"], body["period_end"] = _t(inv.period_start), _t(inv.period_end)
    return body


def invoice(world: World, inv: Invoice, draft: bool = False) -> dict[str, Any]:
    """An invoice as an InvoiceResponse with its line items; ``draft``: as computed, before the
    wallets paid it and it was finalized (what upstream's ``invoice.update`` shows)."""
    draft = draft or inv.invoice_status == "DRAFT"
    credits = money.ZERO if draft else inv.credits_applied
    paid = money.ZERO if draft else inv.amount_paid
    due = max(inv.total - credits, money.ZERO)
    body: dict[str, Any] = {
        "id": inv.id,
        "customer_id": inv.customer_id,
        "invoice_type": inv.invoice_type,
        "invoice_status": "DRAFT" if draft else inv.invoice_status,
        "payment_status": "PENDING" if draft else inv.payment_status,
        "currency": inv.currency,
        "subtotal": dec(inv.total),
        "total": dec(due),
        "amount_due": dec(due),
        "amount_paid": dec(paid),
        "amount_remaining": dec(inv.total - credits - paid),
        "total_prepaid_credits_applied": dec(credits),
        "line_items": [_line(world, inv, n, line) for n, line in enumerate(inv.lines)],
        "metadata": dict(inv.metadata),
        **_stamped(world, inv),
    }
    if inv.subscription_id:
        body["subscription_id"] = inv.subscription_id
    if inv.billing_reason:
        body["billing_reason"] = inv.billing_reason
    if inv.description:
        body["description"] = inv.description
    if inv.period_start is not None and inv.period_end is not None:
        body["period_start"], body["period_end"] = _t(inv.period_start), _t(inv.period_end)
    if inv.due_date is not None:
        body["due_date"] = _t(inv.due_date)
    if not draft:
        body["finalized_at"] = _t(inv.finalized_at or inv.created_at)
        if inv.payment_status == "SUCCEEDED" and inv.settled_at is not None:
            body["paid_at"] = _t(inv.settled_at)
        if inv.invoice_status == "VOIDED" and inv.settled_at is not None:
            body["voided_at"] = _t(inv.settled_at)
        if inv.refunded:
            body["refunded_amount"] = dec(inv.refunded)
    return body
