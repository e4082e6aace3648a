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
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from . import charges, customers, errors, money, policies, wallets
from .models import CREDIT, ONE_OFF, SUBSCRIPTION, Invoice, Transaction, Wallet
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


def settle_bill(world: World, bill: Invoice, outcome: str, checked: bool = False) -> Transaction | None:
    """An invoice's payment succeeds or fails, or it is voided (a top-up's settles its credit:
    ``wallets.settle_invoice``); ``checked``: a void whose invoice ``void`` checked."""
    if not checked and bill.invoice_status != "FINALIZED":
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


# ---- the invoice operations of the API -------------------------------------------------------

# Upstream's payment status moves by hand (invoice.go validatePaymentStatusTransition).
TRANSITIONS = {
    "PENDING": ("PENDING", "SUCCEEDED", "OVERPAID", "FAILED"),
    "SUCCEEDED": ("SUCCEEDED", "OVERPAID"),
    "OVERPAID": ("OVERPAID",),
    "FAILED": ("PENDING", "FAILED", "SUCCEEDED", "OVERPAID"),
}


def lookup(world: World, invoice_id: str) -> Invoice:
    """An invoice by id, with upstream's not-found words."""
    invoice = world.invoices.get(invoice_id)
    if invoice is None:
        raise errors.not_found(f"invoice {invoice_id} not found", "ent: invoice not found", id=invoice_id)
    return invoice


@dataclass(frozen=True, slots=True)
class NewLine:
    amount: Decimal
    quantity: Decimal
    display_name: str = ""
    price_id: str = ""
    price_type: str = ""
    meter_id: str = ""
    line_item_id: str = ""


@dataclass(frozen=True, slots=True)
class NewInvoice:
    """An invoice the API creates (upstream's CreateInvoiceRequest, read)."""

    customer_id: str
    currency: str
    amount_due: Decimal
    invoice_type: str = ONE_OFF
    billing_reason: str = ""
    invoice_status: str = ""  # "": as its type says (ONE_OFF and CREDIT are finalized)
    payment_status: str = "PENDING"
    amount_paid: Decimal | None = None
    subscription_id: str = ""
    period_start: datetime | None = None
    period_end: datetime | None = None
    due_date: datetime | None = None
    description: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    lines: tuple[NewLine, ...] = ()


def create(world: World, new: NewInvoice) -> Invoice:
    """Create an invoice as upstream's CreateOneOffInvoice does: a draft, computed (prepaid
    wallets pay its usage lines; nothing to charge: SKIPPED), then finalized when it is ONE_OFF
    or CREDIT or asked to be FINALIZED."""
    if new.amount_due < 0 and new.invoice_type != CREDIT:
        raise errors.validation(
            "amount due is negative for non-credit invoice",
            "amount_due must be non-negative for non-credit invoices",
            amount_due=str(new.amount_due),
            invoice_type=new.invoice_type,
        )
    if new.invoice_type == SUBSCRIPTION:
        for name in ("subscription_id", "period_start", "period_end"):
            if not getattr(new, name):
                message = f"{name} is required for subscription invoice"
                raise errors.validation(message, message)
        assert new.period_start is not None and new.period_end is not None
        if new.period_end < new.period_start:
            raise errors.validation("period_end must be after period_start")
        if new.subscription_id not in world.subscriptions:
            raise errors.not_found(
                "Subscription not found", "ent: subscription not found", subscription_id=new.subscription_id
            )
    if new.lines:
        total = sum((line.amount for line in new.lines), money.ZERO)
        if charges.rounded(total, new.currency) != charges.rounded(new.amount_due, new.currency):
            raise errors.validation(
                f"sum of line item amounts {_text(charges.rounded(total, new.currency))} must equal "
                f"invoice amount_due {_text(charges.rounded(new.amount_due, new.currency))}",
                "sum of line item amounts must equal invoice amount_due",
            )
    customers.get(world, new.customer_id)
    now = world.now()
    usage_amount = sum((line.amount for line in new.lines if line.price_type == "USAGE"), money.ZERO)
    invoice = Invoice(
        id=world.new_id("inv_", now),
        customer_id=new.customer_id,
        currency=new.currency,
        created_at=now,
        invoice_type=new.invoice_type,
        billing_reason=new.billing_reason,
        invoice_status="DRAFT",
        subscription_id=new.subscription_id,
        period_start=new.period_start,
        period_end=new.period_end,
        usage_amount=usage_amount,
        fixed_amount=new.amount_due - usage_amount,
        due_date=new.due_date,
        description=new.description,
        metadata=dict(new.metadata),
    )
    for line in new.lines:
        invoice.lines.append(
            {
                "id": world.new_id("inv_line_", now),
                "line_item_id": line.line_item_id,
                "price_id": line.price_id,
                "meter_id": line.meter_id,
                "display_name": line.display_name,
                "price_type": line.price_type,
                "quantity": _text(line.quantity),
                "amount": _text(line.amount),
            }
        )
    world.invoices[invoice.id] = invoice
    if invoice.total == 0:  # upstream skips a zero-dollar invoice: never finalized, never paid
        invoice.invoice_status = "SKIPPED"
        return invoice
    if new.invoice_type in (ONE_OFF, CREDIT):
        apply_prepaid(world, invoice)  # one-offs take prepaid credits when computed
    if new.payment_status == "SUCCEEDED":
        invoice.amount_paid = invoice.due if new.amount_paid is None else new.amount_paid
        invoice.payment_status, invoice.settled_at = "SUCCEEDED", now
    elif new.payment_status != "PENDING":
        invoice.payment_status = new.payment_status
        if new.amount_paid is not None:
            invoice.amount_paid = new.amount_paid
    if new.invoice_type in (ONE_OFF, CREDIT) or new.invoice_status == "FINALIZED":
        finalize(world, invoice)
    return invoice


def _text(value: Decimal) -> str:
    return format(money.normalize(value), "f")


def apply_prepaid(world: World, invoice: Invoice) -> None:
    """Prepaid wallets in the invoice's currency pay its usage, highest balance first (upstream's
    credit adjustment: a CREDIT_ADJUSTMENT debit each)."""
    payers = [
        w
        for w in wallets.active_wallets_of(world, invoice.customer_id)
        if w.wallet_type == "PRE_PAID" and w.currency == invoice.currency and w.balance > 0
    ]
    payers.sort(key=lambda w: w.balance, reverse=True)
    for wallet in payers:
        owed = invoice.usage_remaining
        if owed <= 0:
            break
        raw = min(owed, wallet.balance)
        wallets.pay_invoice(world, wallet, invoice, min(charges.rounded(raw, invoice.currency), raw))


def finalize(world: World, invoice: Invoice) -> None:
    """A draft is sealed: a subscription's takes its prepaid credits now (a one-off's took them
    when computed); nothing left to pay: it is paid. A skipped invoice stays as it is."""
    if invoice.invoice_status == "SKIPPED":
        return
    if invoice.invoice_status != "DRAFT":
        raise errors.validation(
            "invoice must be in draft status to be finalized",
            "invoice is not in draft status",
            invoice_id=invoice.id,
            invoice_status=invoice.invoice_status,
        )
    now = world.now()
    if invoice.invoice_type == SUBSCRIPTION:
        apply_prepaid(world, invoice)
    invoice.invoice_status, invoice.finalized_at, invoice.updated_at = "FINALIZED", now, now
    if invoice.remaining <= 0 and invoice.payment_status == "PENDING":
        invoice.payment_status, invoice.settled_at = "SUCCEEDED", now
    world.emit("invoice.update.finalized", invoice.id)


VOIDABLE = ("DRAFT", "FINALIZED", "SKIPPED")
VOIDABLE_PAYMENTS = ("PENDING", "FAILED", "SUCCEEDED", "PARTIALLY_REFUNDED", "OVERPAID")


def void(world: World, invoice: Invoice, metadata: dict[str, str] | None = None) -> Transaction | None:
    """Void an invoice (upstream's VoidInvoice): what was paid for it and the prepaid credits it
    took go back to a prepaid wallet as an INVOICE_VOID_REFUND credit; a top-up's pending credit
    fails instead. Returns the refund (None: nothing went back)."""
    if invoice.invoice_status not in VOIDABLE:
        raise errors.validation(
            f"invoice status - {invoice.invoice_status} is not allowed",
            "invoice status is not allowed",
            allowed_statuses=list(VOIDABLE),
        )
    if invoice.payment_status not in VOIDABLE_PAYMENTS:
        raise errors.validation(
            f"invoice payment status - {invoice.payment_status} is not allowed",
            "invoice payment status is not allowed",
            allowed_statuses=list(VOIDABLE_PAYMENTS),
        )
    if metadata:
        invoice.metadata.update(metadata)
    if invoice.top_up and invoice.top_up_status in ("pending", "failed"):
        wallets.settle_invoice(world, invoice.id, "void")
        return None
    if invoice.invoice_status != "FINALIZED":  # a draft or skipped one: nothing was paid for it
        now = world.now()
        invoice.invoice_status, invoice.settled_at, invoice.updated_at = "VOIDED", now, now
        world.emit("invoice.update.voided", invoice.id)
        return None
    return settle_bill(world, invoice, "void", checked=True)


def update_payment_status(world: World, invoice: Invoice, status: str, amount: Decimal | None) -> None:
    """Set an invoice's payment status by hand (upstream's UpdatePaymentStatus): SUCCEEDED pays
    what is due (a top-up's credit completes), FAILED pays nothing, PENDING may say how much was
    paid."""
    if invoice.invoice_status not in ("DRAFT", "FINALIZED"):
        raise errors.validation(
            f"invoice status - {invoice.invoice_status} is not allowed",
            "invoice status is not allowed",
            allowed_statuses=["DRAFT", "FINALIZED"],
        )
    allowed = TRANSITIONS.get(invoice.payment_status)
    if allowed is None:
        raise errors.validation(
            f"invalid current payment status: {invoice.payment_status}", "invalid current payment status"
        )
    if status not in allowed:
        raise errors.validation(
            f"invalid payment status transition from {invoice.payment_status} to {status}",
            "invalid payment status transition",
            allowed_statuses=list(allowed),
        )
    if amount is not None and amount < 0:
        raise errors.validation("amount must be non-negative", "amount must be non-negative")
    waiting = invoice.top_up_status if invoice.top_up else ""  # a top-up's credit, still pending
    if (status == "SUCCEEDED" and waiting in ("pending", "failed")) or (
        status == "FAILED" and waiting == "pending"
    ):
        wallets.settle_invoice(world, invoice.id, "pay" if status == "SUCCEEDED" else "fail")
    now = world.now()
    invoice.payment_status, invoice.updated_at = status, now
    if status == "PENDING" and amount is not None:
        invoice.amount_paid = amount
    elif status == "SUCCEEDED":
        invoice.amount_paid, invoice.settled_at = invoice.due, invoice.settled_at or now
    elif status == "FAILED":
        invoice.amount_paid, invoice.settled_at = money.ZERO, now
    world.emit("invoice.update.payment", invoice.id)


def attempt_payment(world: World, invoice: Invoice) -> Decimal:
    """Pay what an invoice still owes from the customer's POST_PAID wallets (upstream's
    AttemptPayment: CREDITS payments, each an INVOICE_PAYMENT debit; the sandbox has no card to
    charge, so what the wallets cannot pay stays due). Returns what was paid."""
    if invoice.invoice_status == "SKIPPED":
        return money.ZERO
    if invoice.invoice_status != "FINALIZED":
        raise errors.validation(
            "Invoice must be finalized before attempting payment",
            "invoice must be finalized",
            invoice_id=invoice.id,
            invoice_status=invoice.invoice_status,
        )
    if not invoice.subscription_id and invoice.due > 0:
        if invoice.payment_status == "SUCCEEDED":
            raise errors.invalid_operation(
                "Invoice is already paid", "invoice is already paid by payment status"
            )
        if invoice.remaining <= 0:
            raise errors.validation(
                "Invoice has no remaining amount to pay", "invoice has no remaining amount to pay"
            )
    paid = money.ZERO
    payers = [
        w
        for w in wallets.active_wallets_of(world, invoice.customer_id)
        if w.wallet_type == "POST_PAID" and w.currency == invoice.currency and w.balance > 0
    ]
    payers.sort(key=lambda w: (_payer_rank(w), -w.balance))
    for wallet in payers[:5]:  # upstream uses five wallets at most
        owed = invoice.remaining
        if owed <= 0:
            break
        amount = min(owed, wallet.balance)
        wallets.pay_from_wallet(world, wallet, invoice, amount, world.new_id("pay_", world.now()))
        invoice.amount_paid += amount
        paid += amount
    if paid > 0:
        now = world.now()
        invoice.updated_at = now
        if invoice.remaining <= 0:
            invoice.payment_status, invoice.settled_at = "SUCCEEDED", now
        world.emit("invoice.update.payment", invoice.id)
    return paid


def _payer_rank(wallet: Wallet) -> int:
    """Upstream pays with wallets limited to usage first, then to fixed charges, then the rest."""
    types = set(wallet.config.get("allowed_price_types") or ("ALL",))
    if "ALL" in types or {"USAGE", "FIXED"} <= types:
        return 2
    return 0 if "USAGE" in types else 1


@dataclass(frozen=True, slots=True)
class Summary:
    currency: str
    total_revenue: Decimal = money.ZERO
    total_unpaid: Decimal = money.ZERO
    total_overdue: Decimal = money.ZERO
    total_count: int = 0
    unpaid_count: int = 0
    overdue_count: int = 0
    unpaid_usage: Decimal = money.ZERO
    unpaid_fixed: Decimal = money.ZERO


def summaries(world: World, customer_id: str) -> list[Summary]:
    """The customer's invoices summed per currency of its subscriptions not cancelled (upstream's
    GetCustomerMultiCurrencyInvoiceSummary): drafts and finalized ones, the unpaid and overdue.
    A customer it does not know has none."""
    currencies: list[str] = []
    for sub_id in world.subscriptions_by_customer.get(customer_id, ()):
        sub = world.subscriptions[sub_id]
        if sub.status != "cancelled" and sub.currency not in currencies:
            currencies.append(sub.currency)
    return [_summary(world, customer_id, currency) for currency in currencies]


def _summary(world: World, customer_id: str, currency: str) -> Summary:
    now = world.now()
    sums = dict.fromkeys(("revenue", "unpaid", "overdue", "usage", "fixed"), money.ZERO)
    counts = dict.fromkeys(("total", "unpaid", "overdue"), 0)
    for invoice in world.invoices.values():
        if (
            invoice.customer_id != customer_id
            or invoice.invoice_status not in ("DRAFT", "FINALIZED")
            or invoice.currency.lower() != currency.lower()
        ):
            continue
        sums["revenue"] += max(invoice.due, money.ZERO)
        counts["total"] += 1
        if invoice.payment_status == "SUCCEEDED":
            continue
        sums["unpaid"] += invoice.remaining
        counts["unpaid"] += 1
        if invoice.due_date is not None and invoice.due_date < now:
            sums["overdue"] += invoice.remaining
            counts["overdue"] += 1
        for line in invoice.lines:
            sums["usage" if line["price_type"] == "USAGE" else "fixed"] += Decimal(line["amount"])
    return Summary(
        currency,
        sums["revenue"],
        sums["unpaid"],
        sums["overdue"],
        counts["total"],
        counts["unpaid"],
        counts["overdue"],
        sums["usage"],
        sums["fixed"],
    )


def recalculate(world: World, invoice: Invoice) -> Invoice:
    """Void a subscription invoice and make its period's invoice again (upstream's
    RecalculateInvoice). A closed period's usage is final in the sandbox, so the new invoice
    has the same lines; the void gave back what the old one took, and the new one takes its
    prepaid credits again."""
    if invoice.invoice_type != SUBSCRIPTION:
        raise errors.validation(
            f"only SUBSCRIPTION invoices can be recalculated, got {invoice.invoice_type}",
            "invoice type is not supported",
        )
    if invoice.recalculated_invoice_id:
        raise errors.validation(
            f"invoice {invoice.id} was already recalculated as {invoice.recalculated_invoice_id}",
            "invoice has already been recalculated",
            recalculated_invoice_id=invoice.recalculated_invoice_id,
        )
    if not invoice.subscription_id:
        raise errors.validation(
            "subscription_id is required for recalculation", "invoice has no subscription"
        )
    if invoice.period_start is None or invoice.period_end is None:
        raise errors.validation(
            "period_start and period_end are required for recalculation", "invoice has no billing period"
        )
    if invoice.total == 0:
        raise errors.validation(
            "recalculation resulted in zero subtotal for this period", "recalculation produced no invoice"
        )
    if invoice.invoice_status != "VOIDED":
        void(world, invoice)
    now = world.now()
    again = Invoice(
        id=world.new_id("inv_", now),
        customer_id=invoice.customer_id,
        currency=invoice.currency,
        created_at=now,
        invoice_type=SUBSCRIPTION,
        billing_reason=invoice.billing_reason,
        invoice_status="DRAFT",
        subscription_id=invoice.subscription_id,
        period_start=invoice.period_start,
        period_end=invoice.period_end,
        usage_amount=invoice.usage_amount,
        fixed_amount=invoice.fixed_amount,
        lines=[dict(line) for line in invoice.lines],
    )
    world.invoices[again.id] = again
    world.emit("invoice.update", again.id, {"draft": True})
    finalize(world, again)
    invoice.recalculated_invoice_id = again.id
    return again


def update(
    world: World, invoice: Invoice, due_date: datetime | None, metadata: dict[str, str] | None
) -> None:
    """Change an invoice's due date or metadata (upstream's UpdateInvoice: a draft or finalized
    one only)."""
    if invoice.invoice_status not in ("DRAFT", "FINALIZED"):
        raise errors.validation(
            "Invoice can only be updated when in draft or finalized status",
            "cannot update invoice in current status",
            invoice_id=invoice.id,
            current_status=invoice.invoice_status,
        )
    if due_date is not None:
        invoice.due_date = due_date
    if metadata is not None:
        invoice.metadata = metadata
    invoice.updated_at = world.now()
    world.emit("invoice.update", invoice.id)


def trigger_communication(world: World, invoice: Invoice) -> None:
    """Ask for the invoice's communication webhook (upstream's invoice.communication.triggered)."""
    world.emit("invoice.communication.triggered", invoice.id)
