"""Settling what waits for a payment: a top-up's invoice (its credits pending) and what a
subscription invoice still owes once prepaid wallets paid their part, by a control call or by
the world's policy (``policies``) when the world's clock gets there.

A subscription invoice's outcome is upstream's: paid (by an external payment: payment_status
SUCCEEDED, amount_paid the amount due), its payment failed (FAILED; still owed), or voided
(invoice_status VOIDED; what was paid for it, prepaid credits included, goes back to a prepaid
wallet of its currency as an INVOICE_VOID_REFUND credit). Each raises upstream's event
(``invoice.update.payment``, ``invoice.update.voided``).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from . import errors, money, policies, wallets
from .models import Invoice, Transaction
from .world import World

OUTCOMES = policies.OUTCOMES


def get(world: World, invoice_id: str) -> Invoice:
    invoice = world.invoices.get(invoice_id)
    if invoice is None:
        raise errors.not_found(
            f"Invoice {invoice_id} was not found", "invoice not found", invoice_id=invoice_id
        )
    return invoice


def settle(world: World, invoice_id: str, outcome: str) -> tuple[Invoice, Transaction | None]:
    """Pay, fail or void an invoice: the one way every invoice settles. Returns it and the
    top-up's credit transaction, or the refund a voided invoice gave (None: none)."""
    invoice = get(world, invoice_id)
    if invoice.top_up:
        return wallets.settle_invoice(world, invoice_id, outcome)
    return invoice, settle_bill(world, invoice, outcome)


def settle_bill(world: World, bill: Invoice, outcome: str) -> Transaction | None:
    """An invoice's payment succeeds or fails, or it is voided (a top-up's settles its credit:
    ``wallets.settle_invoice``)."""
    if bill.invoice_status != "FINALIZED":
        raise errors.invalid_operation(
            f"Invoice {bill.id} is {bill.invoice_status.lower()}: nothing to settle",
            "invoice not finalized",
            invoice_id=bill.id,
            invoice_status=bill.invoice_status,
        )
    payable = ("PENDING",) if outcome == "fail" else ("PENDING", "FAILED")  # a failed one may be paid
    if outcome != "void" and (bill.remaining <= 0 or bill.payment_status not in payable):
        raise errors.invalid_operation(
            f"Invoice {bill.id} is already {bill.payment_status.lower()}",
            "invoice already settled",
            invoice_id=bill.id,
            payment_status=bill.payment_status,
        )
    now = world.now()
    bill.settled_at = bill.updated_at = now
    if outcome == "pay":
        bill.amount_paid += bill.remaining
        bill.payment_status = "SUCCEEDED"
        world.emit("invoice.update.payment", bill.id)
        return None
    if outcome == "fail":
        bill.payment_status = "FAILED"
        world.emit("invoice.update.payment", bill.id)
        return None
    bill.invoice_status = "VOIDED"
    refund = _refund(world, bill)
    world.emit("invoice.update.voided", bill.id)
    return refund


def _refund(world: World, bill: Invoice) -> Transaction | None:
    """What was paid for a voided invoice goes back to a prepaid wallet of its currency (one is
    opened when the customer has none), as upstream refunds it."""
    funded = bill.amount_paid + bill.credits_applied
    owed = funded - bill.refunded
    if owed <= 0:
        return None
    wallet = next(
        (
            w
            for w in wallets.active_wallets_of(world, bill.customer_id)
            if w.wallet_type == "PRE_PAID" and w.currency == bill.currency
        ),
        None,
    )
    if wallet is None:
        wallet = wallets.create(
            world,
            wallets.NewWallet(
                customer_id=bill.customer_id,
                currency=bill.currency,
                wallet_type="PRE_PAID",
                name="Subscription Wallet",
                conversion_rate=Decimal(1),
                topup_conversion_rate=Decimal(1),
                config={"allowed_price_types": ["ALL"]},
            ),
        )
    result = wallets.top_up(
        world,
        wallet,
        wallets.Credit(
            credits=money.divide(owed, wallet.topup_conversion_rate),
            reason="INVOICE_VOID_REFUND",
            idempotency_key=bill.id,
            description=f"Refund for voided invoice: {bill.id}",
            metadata={"invoice_id": bill.id},
        ),
    )
    bill.refunded += owed
    if bill.refunded >= funded:
        bill.payment_status = "REFUNDED"
    return result.transaction


def bill_due(world: World, bill: Invoice) -> datetime | None:
    """When the world's policy settles what a subscription invoice owes (None: not by itself)."""
    if not _waiting(bill) or bill.top_up or not bill.subscription_id:
        return None
    return world.policies["subscription_invoices"].due(bill.created_at)


def settle_bill_by_policy(world: World, bill: Invoice) -> None:
    outcome = world.policies["subscription_invoices"].outcome
    if outcome is not None and bill_due(world, bill) is not None:
        settle_bill(world, bill, outcome)


def next_settlement(world: World) -> tuple[datetime, Invoice] | None:
    """The pending invoice a policy settles first, and when (None: nothing will settle by itself)."""
    soonest: tuple[datetime, Invoice] | None = None
    if any(world.policies[kind].outcome is not None for kind in policies.KINDS):
        for invoice in world.invoices.values():
            due = _due(world, invoice)
            if due is not None and (soonest is None or due < soonest[0]):
                soonest = (due, invoice)
    return soonest


class Settlements:
    """What the world's policies settle, soonest first, over one catch-up: the pending invoices
    are read once, then only those made since (invoices are only ever added), so each step does
    not read every invoice again."""

    def __init__(self, world: World):
        self.world = world
        self._heap: list[tuple[datetime, int, Invoice]] = []
        self._order = itertools.count()
        self._read = 0  # how many invoices were read

    def first(self) -> tuple[datetime, Invoice] | None:
        self._read_new()
        while self._heap:
            due, _, invoice = self._heap[0]
            if _waiting(invoice):  # its time was read when it was: it never moves while it waits
                return due, invoice
            heapq.heappop(self._heap)  # settled since
        return None

    def _read_new(self) -> None:
        world = self.world
        fresh = len(world.invoices) - self._read
        if fresh > 0 and any(world.policies[kind].outcome is not None for kind in policies.KINDS):
            self._push(reversed(list(itertools.islice(reversed(world.invoices.values()), fresh))))
        self._read = len(world.invoices)

    def _push(self, things: Iterable[Invoice]) -> None:
        for invoice in things:
            due = _due(self.world, invoice)
            if due is not None:
                heapq.heappush(self._heap, (due, next(self._order), invoice))


def _waiting(invoice: Invoice) -> bool:
    """Still what a policy settles (bill_due and pending_invoice_due, without the policy)."""
    if invoice.top_up:
        return invoice.top_up_status == "pending"
    return (
        invoice.invoice_status == "FINALIZED"
        and invoice.payment_status == "PENDING"
        and invoice.remaining > 0
    )


def _due(world: World, invoice: Invoice) -> datetime | None:
    if invoice.top_up:
        return wallets.pending_invoice_due(world, invoice)
    return bill_due(world, invoice)


def settle_by_policy(world: World, invoice: Invoice) -> None:
    if invoice.top_up:
        wallets.settle_by_policy(world, invoice)
    else:
        settle_bill_by_policy(world, invoice)
