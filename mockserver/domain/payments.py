"""Payments, as upstream's payment service and processor make them (``internal/ee/service/
payment.go``, ``payment_processor.go``, ``internal/types/payment.go``).

A payment names what it pays (an INVOICE, or a CUSTOMER), how (OFFLINE, CREDITS from a POST_PAID
wallet, CARD, ACH, UPI, PAYMENT_LINK) and how much. Processing one (at creation unless asked not
to, or later) runs it: an OFFLINE payment succeeds; a CREDITS payment debits its wallet
(INVOICE_PAYMENT, reference PAYMENT); a succeeded payment of an invoice adds to what was paid for
it, and the invoice is paid once nothing remains (a draft one is finalized then), as upstream's
post-processing does; each step raises upstream's webhook event (payment.created, .pending,
.success, .updated). The sandbox has no payment gateway: processing a CARD, ACH, UPI or
PAYMENT_LINK payment is refused, and such a payment can only be recorded (``process`` false) and
moved by hand (``update``).

Payments live in the world's records (``World.records["payments"]``) as JSON values, so they are
kept wherever the world is; this module reads them into ``Payment`` and writes them back. A
refusal is decided before anything is written: where upstream keeps a FAILED payment after its
processing failed (a wallet without the balance), the sandbox refuses the request with
upstream's answer and keeps nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from . import customers, errors, money, wallets
from .clock import format_timestamp, parse_timestamp
from .models import Invoice, Wallet
from .world import World

COLLECTION = "payments"
PREFIX = "pay_"  # upstream's UUID_PREFIX_PAYMENT

INVOICE, CUSTOMER = "INVOICE", "CUSTOMER"
OFFLINE, CREDITS, CARD, ACH, UPI, PAYMENT_LINK = "OFFLINE", "CREDITS", "CARD", "ACH", "UPI", "PAYMENT_LINK"
METHOD_TYPES = (CARD, ACH, OFFLINE, CREDITS, PAYMENT_LINK, UPI)
INITIATED, PENDING, PROCESSING, SUCCEEDED = "INITIATED", "PENDING", "PROCESSING", "SUCCEEDED"
FAILED, OVERPAID, REFUNDED, PARTIALLY_REFUNDED, VOIDED = (
    "FAILED",
    "OVERPAID",
    "REFUNDED",
    "PARTIALLY_REFUNDED",
    "VOIDED",
)
STATUSES = (INITIATED, PENDING, PROCESSING, SUCCEEDED, OVERPAID, FAILED, REFUNDED, PARTIALLY_REFUNDED, VOIDED)

# The moves the update API allows (types/payment.go paymentStatusTransitions).
TRANSITIONS: dict[str, tuple[str, ...]] = {
    INITIATED: (INITIATED, PENDING, PROCESSING, SUCCEEDED, OVERPAID, FAILED),
    PENDING: (PENDING, PROCESSING, SUCCEEDED, OVERPAID, FAILED),
    PROCESSING: (PROCESSING, SUCCEEDED, OVERPAID, FAILED),
    SUCCEEDED: (SUCCEEDED, OVERPAID, REFUNDED, PARTIALLY_REFUNDED, VOIDED),
    OVERPAID: (OVERPAID, REFUNDED, PARTIALLY_REFUNDED),
    PARTIALLY_REFUNDED: (PARTIALLY_REFUNDED, REFUNDED),
    FAILED: (FAILED,),
    REFUNDED: (REFUNDED,),
    VOIDED: (VOIDED,),
}
DELETABLE = (INITIATED, FAILED)  # never sent to a gateway, or definitively not charged
GATEWAYS = {"stripe": "Stripe", "razorpay": "Razorpay", "nomod": "Nomod", "moyasar": "Moyasar"}


@dataclass(slots=True)
class Payment:
    id: str
    idempotency_key: str
    destination_type: str
    destination_id: str
    payment_method_type: str
    payment_method_id: str
    amount: Decimal
    currency: str
    payment_status: str
    created_at: datetime
    updated_at: datetime
    track_attempts: bool = False
    payment_gateway: str | None = None
    gateway_payment_id: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    gateway_metadata: dict[str, str] = field(default_factory=dict)
    succeeded_at: datetime | None = None
    failed_at: datetime | None = None
    voided_at: datetime | None = None
    refunded_at: datetime | None = None
    error_message: str | None = None
    status: str = "published"  # archived once deleted


_TIMES = ("created_at", "updated_at", "succeeded_at", "failed_at", "voided_at", "refunded_at")


def _record(p: Payment) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for name in Payment.__slots__:
        value = getattr(p, name)
        if name in _TIMES:
            value = None if value is None else format_timestamp(value)
        elif name == "amount":
            value = format(money.normalize(value), "f")
        elif isinstance(value, dict):
            value = dict(value)
        record[name] = value
    return record


def _read(record: dict[str, Any]) -> Payment:
    values = dict(record)
    for name in _TIMES:
        if values.get(name) is not None:
            values[name] = parse_timestamp(values[name])
    values["amount"] = Decimal(values["amount"])
    return Payment(**values)


def problem(record: Any) -> str | None:
    """What makes a stored payment record unreadable (a state document's), or None."""
    if not isinstance(record, dict):
        return "must be an object"
    unknown = sorted(set(record) - set(Payment.__slots__))
    if unknown:
        return f"has fields a payment does not: {', '.join(unknown)}"
    try:
        p = _read(record)
    except (TypeError, ValueError, ArithmeticError) as error:
        return f"is not a payment: {error}"
    if p.payment_status not in STATUSES or p.payment_method_type not in METHOD_TYPES:
        return "has an unknown payment_status or payment_method_type"
    if p.destination_type not in (INVOICE, CUSTOMER) or not p.amount.is_finite():
        return "has an unknown destination_type or an amount that is not a number"
    return None


def _save(world: World, p: Payment) -> None:
    world.records.setdefault(COLLECTION, {})[p.id] = _record(p)


def get(world: World, payment_id: str) -> Payment:
    """A payment by id, archived ones too (upstream's Get reads any status)."""
    record = world.records.get(COLLECTION, {}).get(payment_id)
    if record is None:
        raise errors.not_found("Payment not found", "ent: payment not found", payment_id=payment_id)
    return _read(record)


def all_payments(world: World) -> list[Payment]:
    return [_read(record) for record in world.records.get(COLLECTION, {}).values()]


# ---- create --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewPayment:
    """A CreatePaymentRequest, read (fields already of the right types)."""

    destination_type: str
    destination_id: str
    payment_method_type: str
    amount: Decimal
    currency: str
    payment_method_id: str = ""
    payment_gateway: str | None = None
    idempotency_key: str = ""
    success_url: str = ""
    cancel_url: str = ""
    save_card_and_make_default: bool = False
    tax_id_collection_enabled: bool = False
    metadata: dict[str, str] = field(default_factory=dict)
    process: bool = True


def _idempotency_key(p: Payment) -> str:
    """Upstream's generated key (idempotency.ScopePayment): the same invoice, amount, currency,
    method and gateway give the same key, so such a payment is made once."""
    parts = {
        "amount": format(money.normalize(p.amount), "f"),
        "currency": p.currency,
        "invoice_id": p.destination_id,
        "payment_gateway": p.payment_gateway or "",
        "payment_method_id": p.payment_method_id,
        "payment_method_type": p.payment_method_type,
    }
    text = "payment" + "".join(f":{k}={v}" for k, v in sorted(parts.items()))
    return f"payment-{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def create(world: World, new: NewPayment) -> tuple[Payment, bool]:
    """Make a payment and, unless ``new.process`` is false, process it (upstream's
    CreatePayment). Returns it and whether it is new (False: the idempotency key named one
    already made, returned as it is)."""
    if len(new.currency) != 3:
        raise errors.validation("Currency code must be 3 characters long", "invalid currency code")
    method = new.payment_method_type
    gateway = new.payment_gateway
    if new.tax_id_collection_enabled and (method != PAYMENT_LINK or gateway != "stripe"):
        raise errors.validation(
            "Remove gateway_options.stripe, or set payment_method_type to PAYMENT_LINK and "
            "payment_gateway to stripe",
            "gateway_options.stripe only applies to Stripe payment-link payments",
            payment_method_type=method,
        )
    method_id = new.payment_method_id
    track = method != OFFLINE
    if method == OFFLINE:
        gateway = None
        if method_id:
            raise errors.validation(
                "Do not provide payment method ID for offline or credits payment methods",
                "payment method id is not allowed for offline payment method type",
                payment_method_type=method,
                payment_method_id=method_id,
            )
    elif method == PAYMENT_LINK:
        method_id = ""
        if gateway is None:
            raise errors.validation(
                "Payment gateway must be specified for payment link method type",
                "payment gateway is required for payment link method type",
                payment_method_type=method,
            )
    elif method in (ACH, UPI) and not method_id:
        raise errors.validation(
            "Payment method ID is required for online payment methods",
            "payment method id is required for online payment method type",
            payment_method_type=method,
        )
    elif method == CREDITS:
        track = False

    invoice: Invoice | None = None
    if new.destination_type == INVOICE:
        invoice = _invoice(world, new.destination_id)
        _check_payable(invoice, new.currency)
    else:
        customers.get(world, new.destination_id)

    if method == PAYMENT_LINK and gateway == "moyasar" and new.metadata.get("external_payment") != "true":
        raise errors.validation(
            "Invoice must be synced to Moyasar before creating a payment link. "
            "Please sync the invoice first.",
            "invoice is not synced to Moyasar",
            invoice_id=new.destination_id,
            gateway=gateway,
        )

    metadata = dict(new.metadata)
    if method == CREDITS:
        if invoice is None:  # upstream reads the customer and the debit's invoice from it
            raise errors.validation(
                "A CREDITS payment pays an invoice: destination_type must be INVOICE",
                "credits payments require an invoice destination",
                destination_type=new.destination_type,
            )
        if method_id:
            wallet = wallets.get(world, method_id)
            if wallet.wallet_type != "POST_PAID":
                raise errors.validation(
                    f"Wallet '{wallet.id}' is {wallet.wallet_type} but invoice payments require POST_PAID.",
                    "credits require a postpaid wallet",
                    payment_method_id=method_id,
                    wallet_id=wallet.id,
                    wallet_type=wallet.wallet_type,
                    expected_wallet_type="POST_PAID",
                )
        else:
            wallet = _select_wallet(world, invoice, new)
            method_id = wallet.id
            metadata.update(wallet_type=wallet.wallet_type, wallet_id=wallet.id)

    if new.amount <= 0:
        raise errors.validation("Amount must be greater than 0", "invalid amount")

    now = world.now()
    gateway_metadata = {}
    if new.success_url:
        gateway_metadata["success_url"] = new.success_url
    if new.cancel_url:
        gateway_metadata["cancel_url"] = new.cancel_url
    if new.save_card_and_make_default:
        gateway_metadata["save_card_and_make_default"] = "true"
    if new.tax_id_collection_enabled:
        gateway_metadata["tax_id_collection_enabled"] = "true"
    # Offline and credits payments start PENDING; one recorded without processing, INITIATED.
    started = PENDING if new.process or method in (OFFLINE, CREDITS) else INITIATED
    payment = Payment(
        id="",
        idempotency_key=new.idempotency_key,
        destination_type=new.destination_type,
        destination_id=new.destination_id,
        payment_method_type=method,
        payment_method_id=method_id,
        amount=new.amount,
        currency=new.currency.lower(),
        payment_status=INITIATED if method == PAYMENT_LINK else started,
        created_at=now,
        updated_at=now,
        track_attempts=track,
        payment_gateway=gateway,
        metadata=metadata,
        gateway_metadata=gateway_metadata,
    )
    if not payment.idempotency_key:
        payment.idempotency_key = _idempotency_key(payment)
    for existing in world.records.get(COLLECTION, {}).values():
        if existing["idempotency_key"] == payment.idempotency_key:
            return _read(existing), False  # upstream answers the payment already made with it
    if new.process:
        _check_processable(world, payment, invoice)
    payment.id = world.new_id(PREFIX, now)
    _save(world, payment)
    world.emit("payment.created", payment.id)
    if new.process:
        _run(world, payment, invoice)
    return payment, True


def _invoice(world: World, invoice_id: str) -> Invoice:
    invoice = world.invoices.get(invoice_id)
    if invoice is None:
        raise errors.not_found(
            f"invoice {invoice_id} not found", "ent: invoice not found", invoice_id=invoice_id
        )
    return invoice


def _check_payable(invoice: Invoice, currency: str) -> None:
    """Upstream's validateInvoicePaymentEligibility: not paid, not voided, the same currency."""
    if invoice.payment_status == SUCCEEDED:
        raise errors.validation(
            "Cannot create payment for an already paid invoice",
            "invoice is already paid",
            invoice_id=invoice.id,
        )
    if invoice.invoice_status == "VOIDED":
        raise errors.validation(
            "Cannot create payment for a voided invoice", "invoice is voided", invoice_id=invoice.id
        )
    if invoice.currency.lower() != currency.lower():
        raise errors.validation(
            "Payment currency must match invoice currency",
            "invoice currency does not match payment currency",
            invoice_currency=invoice.currency,
            payment_currency=currency,
        )


def _select_wallet(world: World, invoice: Invoice, new: NewPayment) -> Wallet:
    """The wallet a CREDITS payment without one draws on (upstream's selectWalletForPayment):
    the customer's one active POST_PAID wallet of the currency with a positive balance; none, or
    more than one, is refused; so is one without the balance."""
    payers = [
        w
        for w in wallets.active_wallets_of(world, invoice.customer_id)
        if w.wallet_type == "POST_PAID" and w.currency.lower() == new.currency.lower() and w.balance > 0
    ]
    if len(payers) != 1:
        raise errors.not_found(
            "Customer must have at least one wallet to use credits",
            "no wallets found for customer",
            customer_id=invoice.customer_id,
        )
    if payers[0].balance < new.amount:
        raise errors.invalid_operation(
            "Customer does not have an active wallet with sufficient balance",
            "no wallet with sufficient balance found",
            customer_id=invoice.customer_id,
            amount=format(money.normalize(new.amount), "f"),
            currency=new.currency,
        )
    return payers[0]


# ---- processing ----------------------------------------------------------------------------


def process(world: World, payment_id: str) -> Payment:
    """Run a pending payment (upstream's ProcessPayment)."""
    payment = get(world, payment_id)
    invoice = world.invoices.get(payment.destination_id) if payment.destination_type == INVOICE else None
    _check_processable(world, payment, invoice)
    _run(world, payment, invoice)
    return payment


def _check_processable(world: World, payment: Payment, invoice: Invoice | None) -> None:
    """Everything that would fail the processing, checked before anything is written."""
    method = payment.payment_method_type
    if method == PAYMENT_LINK:
        if payment.payment_status not in (INITIATED, PENDING):
            raise errors.invalid_operation(
                "Invalid payment status for processing payment link",
                "payment is not in initiated or pending state",
                payment_id=payment.id,
                status=payment.payment_status,
            )
    elif payment.payment_status != PENDING:
        raise errors.invalid_operation(
            "Invalid payment status for processing payment",
            "payment is not in pending state",
            payment_id=payment.id,
            status=payment.payment_status,
        )
    if method == CREDITS:
        wallet = wallets.get(world, payment.payment_method_id)
        if wallet.wallet_status != wallets.ACTIVE:
            raise errors.invalid_operation(
                "Wallet is not active", "wallet is not active", wallet_id=wallet.id
            )
        if wallet.currency.lower() != payment.currency.lower():
            raise errors.invalid_operation(
                "Wallet currency does not match payment currency",
                "wallet currency does not match payment currency",
                wallet_id=wallet.id,
                currency=payment.currency,
            )
        if wallet.balance < payment.amount:
            raise errors.invalid_operation(
                "Wallet balance is less than payment amount",
                "wallet balance is less than payment amount",
                wallet_id=wallet.id,
                amount=format(money.normalize(payment.amount), "f"),
            )
    elif method == ACH:
        raise errors.invalid_operation(
            "ACH payment processing is not supported yet",
            "ACH payment processing not implemented",
            payment_id=payment.id,
        )
    elif method in (CARD, UPI) or (method == PAYMENT_LINK and payment.payment_status == INITIATED):
        name = GATEWAYS.get(payment.payment_gateway or "stripe", (payment.payment_gateway or "").title())
        raise errors.invalid_operation(
            f"Failed to get {name} integration",
            "the sandbox has no payment gateway to charge through",
            payment_id=payment.id,
            payment_method_type=method,
        )
    if invoice is not None and invoice.currency.lower() != payment.currency.lower():
        raise errors.invalid_operation(  # post-processing would fail once the money moved
            "Payment currency does not match invoice currency",
            "payment currency does not match invoice currency",
            payment_id=payment.id,
            invoice_id=invoice.id,
        )


def _run(world: World, payment: Payment, invoice: Invoice | None) -> None:
    """Processing that ``_check_processable`` allowed: it succeeds (a payment link already
    made stays pending, as upstream leaves it until its gateway reports)."""
    now = world.now()
    payment.updated_at = now
    world.emit("payment.pending", payment.id)  # upstream's, as processing starts
    if payment.payment_method_type == PAYMENT_LINK:
        payment.payment_status = PENDING
        _save(world, payment)
        return
    if payment.payment_method_type == CREDITS:
        assert invoice is not None  # create refuses CREDITS to anything but an invoice
        wallet = wallets.get(world, payment.payment_method_id)
        wallets.pay_from_wallet(world, wallet, invoice, payment.amount, payment.id)
    payment.payment_status, payment.succeeded_at = SUCCEEDED, now
    _save(world, payment)
    world.emit("payment.success", payment.id)
    if invoice is not None:
        _paid_towards(world, invoice, payment.amount)


def _paid_towards(world: World, invoice: Invoice, amount: Decimal) -> None:
    """A succeeded payment adds to what was paid for its invoice (upstream's invoice
    post-processing): nothing left: paid (a draft is finalized then; a top-up's credit
    completes); some left: its payment stays pending."""
    now = world.now()
    paid = invoice.amount_paid + amount
    if paid >= invoice.due and invoice.top_up and invoice.top_up_status in ("pending", "failed"):
        wallets.settle_invoice(world, invoice.id, "pay")
    invoice.amount_paid, invoice.updated_at = paid, now
    if invoice.remaining <= 0:
        if invoice.payment_status != SUCCEEDED:
            invoice.payment_status, invoice.settled_at = SUCCEEDED, now
        if invoice.invoice_status == "DRAFT":
            invoice.invoice_status, invoice.finalized_at = "FINALIZED", now
    else:
        invoice.payment_status = PENDING


# ---- update, delete, list ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Changes:
    """An UpdatePaymentRequest, read: None leaves a field as it is."""

    payment_status: str | None = None
    payment_gateway: str | None = None
    gateway_payment_id: str | None = None
    payment_method_id: str | None = None
    metadata: dict[str, str] | None = None
    succeeded_at: datetime | None = None
    failed_at: datetime | None = None
    voided_at: datetime | None = None
    refunded_at: datetime | None = None
    error_message: str | None = None


def update(world: World, payment_id: str, changes: Changes) -> Payment:
    """Change a payment's recorded fields (upstream's UpdatePayment): its status only along the
    lifecycle; a gateway payment id confirms an INITIATED payment (PENDING). It moves no money
    and settles no invoice, as upstream's update does not."""
    payment = get(world, payment_id)
    target = changes.payment_status
    if target is not None:
        if target not in STATUSES:
            raise errors.validation(
                "Please provide a valid payment status", "invalid payment status", allowed=list(STATUSES)
            )
        allowed = TRANSITIONS[payment.payment_status]
        if target not in allowed:
            raise errors.validation(
                f"Payment status cannot change from {payment.payment_status} to {target}",
                "invalid payment status transition",
                current_status=payment.payment_status,
                allowed_statuses=list(allowed),
            )
        payment.payment_status = target
    if changes.payment_gateway is not None:
        payment.payment_gateway = changes.payment_gateway
    if changes.gateway_payment_id is not None:
        payment.gateway_payment_id = changes.gateway_payment_id
        if payment.payment_status == INITIATED:
            payment.payment_status = PENDING
    if changes.payment_method_id is not None:
        payment.payment_method_id = changes.payment_method_id
    for name in ("succeeded_at", "failed_at", "voided_at", "refunded_at", "error_message"):
        value = getattr(changes, name)
        if value is not None:
            setattr(payment, name, value)
    if changes.metadata is not None:
        payment.metadata = dict(changes.metadata)
    payment.updated_at = world.now()
    _save(world, payment)
    world.emit("payment.updated", payment.id)
    return payment


def delete(world: World, payment_id: str) -> None:
    """Archive a payment (upstream's DeletePayment): only one never sent to a gateway
    (INITIATED) or that definitively failed; a settled or live one is voided or refunded
    instead."""
    payment = get(world, payment_id)
    if payment.payment_status not in DELETABLE:
        raise errors.validation(
            f"A payment in status {payment.payment_status} cannot be deleted. Void or refund it instead.",
            "payment cannot be deleted in its current status",
            payment_id=payment_id,
            payment_status=payment.payment_status,
        )
    payment.status, payment.updated_at = "archived", world.now()
    _save(world, payment)


@dataclass(frozen=True, slots=True)
class Filter:
    """Upstream's PaymentFilter (query parameters of GET /payments)."""

    payment_ids: tuple[str, ...] = ()
    destination_type: str | None = None
    destination_id: str | None = None
    payment_method_type: str | None = None
    payment_status: str | None = None
    payment_gateway: str | None = None
    currency: str | None = None
    gateway_payment_id: str | None = None
    status: str = "published"
    start_time: datetime | None = None
    end_time: datetime | None = None
    sort: str = "created_at"
    descending: bool = True


SORTABLE = ("created_at", "updated_at", "amount", "payment_status", "currency", "id")


def search(world: World, f: Filter) -> list[Payment]:
    """The payments a filter selects, in its order (newest first by default)."""
    found = []
    for p in all_payments(world):
        if (
            p.status != f.status
            or (f.payment_ids and p.id not in f.payment_ids)
            or (f.destination_type is not None and p.destination_type != f.destination_type)
            or (f.destination_id is not None and p.destination_id != f.destination_id)
            or (f.payment_method_type is not None and p.payment_method_type != f.payment_method_type)
            or (f.payment_status is not None and p.payment_status != f.payment_status)
            or (f.payment_gateway is not None and p.payment_gateway != f.payment_gateway)
            or (f.currency is not None and p.currency != f.currency)
            or (f.gateway_payment_id is not None and p.gateway_payment_id != f.gateway_payment_id)
            or (f.start_time is not None and p.created_at < f.start_time)
            or (f.end_time is not None and p.created_at > f.end_time)
        ):
            continue
        found.append(p)
    field_name = f.sort if f.sort in SORTABLE else "created_at"
    found.sort(key=lambda p: (getattr(p, field_name), p.id), reverse=f.descending)
    return found
