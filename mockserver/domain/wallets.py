"""Wallet rules: open, change, credit, debit, settle, terminate, and read a wallet's ledger.

Functions take a world and typed values (each API version parses its requests into them) and
return domain objects, or raise ``ApiError``. No HTTP, no API field names. They run inside the
world's unit of work, and raise the events that webhooks send.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from . import alerts, charges, errors, ledger, money
from .clock import later
from .models import (
    ONE_OFF,
    WALLET_AUTO_TOPUP,
    AlertSettings,
    AutoTopup,
    Invoice,
    TopUpRecord,
    Transaction,
    Wallet,
)
from .world import World

ACTIVE, CLOSED = "active", "closed"
COOLDOWN_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
LONGEST_PAUSE = timedelta.max.days * 86400  # seconds: a longer cooldown never ends either


def _written(world: World, wallet: Wallet, txn: Transaction) -> None:
    """A completed credit or debit is out: its event, then the balance alerts it may move."""
    world.emit("wallet.transaction.created", txn.id)
    alerts.after_operation(world, wallet)


# ---- reading -------------------------------------------------------------------------------


def get(world: World, wallet_id: str) -> Wallet:
    wallet = world.wallets.get(wallet_id)
    if wallet is None:
        raise errors.not_found("Wallet not found", "ent: wallet not found", wallet_id=wallet_id)
    ledger.expire_due(world, wallet, world.now())
    return wallet


def active_wallets_of(world: World, customer_id: str) -> list[Wallet]:
    now = world.now()
    result = []
    for wallet_id in world.wallets_by_customer.get(customer_id, ()):
        wallet = world.wallets[wallet_id]
        if wallet.wallet_status == ACTIVE:
            ledger.expire_due(world, wallet, now)
            result.append(wallet)
    return result


def all_wallets(world: World, wallet_ids: list[str] | None = None, status: str | None = None) -> list[Wallet]:
    """Wallets of the world, oldest first, optionally only some ids or one status."""
    now = world.now()
    wanted = set(wallet_ids) if wallet_ids else None
    found = []
    for wallet in world.wallets.values():
        if (wanted is None or wallet.id in wanted) and status in (None, wallet.wallet_status):
            ledger.expire_due(world, wallet, now)
            found.append(wallet)
    return found


# ---- open ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewWallet:
    customer_id: str
    currency: str  # stored lower case
    wallet_type: str
    name: str
    conversion_rate: Decimal
    topup_conversion_rate: Decimal
    config: dict[str, Any]
    description: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    auto_topup: AutoTopup | None = None
    alert_settings: AlertSettings | None = None
    initial_credits: Decimal = money.ZERO
    initial_credits_expiry: datetime | None = None
    # The initial grant's idempotency key, from the new wallet's id (None: no key).
    initial_credits_key: Callable[[Wallet, Decimal, datetime], str] | None = None


def ensure_unique(world: World, customer_id: str, currency: str, wallet_type: str) -> None:
    """One active wallet per customer, currency and type (409), on normalised values."""
    currency = currency.lower()
    for other in active_wallets_of(world, customer_id):
        if other.currency == currency and other.wallet_type == wallet_type:
            raise errors.conflict(
                "A customer can only have one active wallet per currency and wallet type",
                "customer already has an active wallet with the same currency and wallet type",
                customer_id=customer_id,
                wallet_id=other.id,
                currency=currency,
                wallet_type=wallet_type,
            )


def create(world: World, new: NewWallet) -> Wallet:
    """Open a wallet; initial credits become a FREE_CREDIT_GRANT (its event comes first)."""
    ensure_unique(world, new.customer_id, new.currency, new.wallet_type)
    now = world.now()
    wallet = Wallet(
        id=world.new_id("wallet_", now),
        customer_id=new.customer_id,
        currency=new.currency.lower(),
        wallet_type=new.wallet_type,
        name=new.name,
        conversion_rate=new.conversion_rate,
        topup_conversion_rate=new.topup_conversion_rate,
        created_at=now,
        updated_at=now,
        description=new.description,
        metadata=dict(new.metadata),
        config=new.config,
        auto_topup=new.auto_topup,
        alert_settings=new.alert_settings,
    )
    world.wallets[wallet.id] = wallet
    world.wallets_by_customer.setdefault(wallet.customer_id, []).append(wallet.id)
    if new.initial_credits > 0:
        key = new.initial_credits_key(wallet, new.initial_credits, now) if new.initial_credits_key else ""
        txn = ledger.credit(
            world,
            wallet,
            new.initial_credits,
            "FREE_CREDIT_GRANT",
            now,
            reference_id=key or world.ids.ulid(int(now.timestamp() * 1000)),
            expiry_date=new.initial_credits_expiry,
            idempotency_key=key,
            topup_conversion_rate=wallet.topup_conversion_rate,
        )
        _written(world, wallet, txn)
    world.emit("wallet.created", wallet.id)
    return wallet


# ---- change --------------------------------------------------------------------------------

CHANGEABLE = frozenset(
    {"name", "description", "metadata", "config", "auto_topup", "alert_settings", "alert_state"}
)


def update(world: World, wallet: Wallet, changes: dict[str, Any]) -> Wallet:
    """Set the given attributes (names of ``Wallet``'s fields) of a wallet."""
    for name, value in changes.items():
        if name not in CHANGEABLE:
            raise ValueError(f"a wallet's {name} cannot be changed")
        setattr(wallet, name, value)
    wallet.updated_at = world.now()
    world.emit("wallet.updated", wallet.id)
    return wallet


# ---- credit --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Credit:
    """A top-up, in credits; ``invoiced`` ones wait, pending, until their invoice is settled."""

    credits: Decimal
    reason: str
    idempotency_key: str = ""
    expiry: datetime | None = None
    priority: int | None = None
    description: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    reference_type: str = "EXTERNAL"
    reference_id: str = ""
    invoiced: bool = False
    bonus_credits: Decimal | None = None
    bonus_expiry: datetime | None = None
    effective_at: datetime | None = None  # the credits' created_at (not after now); None: now
    billing_reason: str = ""  # an invoiced one's invoice: WALLET_AUTO_TOPUP from an auto top-up


@dataclass(slots=True)
class TopUpResult:
    transaction: Transaction
    wallet: Wallet
    invoice: Invoice | None = None


def idempotency_record(world: World, key: str) -> TopUpRecord | None:
    return world.top_ups.get(key) if key else None


def top_up(world: World, wallet: Wallet, credit: Credit, fingerprint: tuple = ()) -> TopUpResult:
    """Credit a wallet (or, invoiced, write its pending credit and an invoice), with its bonus;
    remembers the idempotency key."""
    now = world.now()
    ledger.expire_due(world, wallet, now)
    key = credit.idempotency_key
    reference_id = credit.reference_id or key or world.ids.ulid(int(now.timestamp() * 1000))
    invoice = None
    if credit.invoiced:
        policy = world.policies["invoiced_top_ups"]
        paid_at_once = policy.at_once and policy.outcome == "pay"
        txn = ledger.pending_credit(
            world,
            wallet,
            credit.credits,
            credit.reason,
            now,
            idempotency_key=key,
            expiry_date=credit.expiry,
            priority=credit.priority,
            description=credit.description or (AUTO_COMPLETED if paid_at_once else PENDING_PAYMENT),
            metadata=credit.metadata,
            created_at=credit.effective_at,
            reference_id=reference_id,
        )
        bonus = None
        if credit.bonus_credits is not None:
            bonus = ledger.pending_credit(
                world,
                wallet,
                credit.bonus_credits,
                "PURCHASED_CREDIT_BONUS",
                now,
                expiry_date=credit.bonus_expiry,
                description="Bonus credits for purchase",
                metadata=credit.metadata,
                created_at=credit.effective_at,
                reference_id=reference_id,
                parent_transaction_id=txn.id,
            )
        # As upstream invoices a purchase: a ONE_OFF invoice of one line, what it bought in its
        # metadata (an auto top-up's billing_reason WALLET_AUTO_TOPUP).
        metadata = dict(credit.metadata)
        if credit.description:
            metadata["description"] = credit.description
        metadata.update(
            wallet_transaction_id=txn.id,
            wallet_id=wallet.id,
            credits_amount=money_text(credit.credits),
            auto_completed="true" if paid_at_once else "false",
        )
        invoice = Invoice(
            id=world.new_id("inv_", now),
            customer_id=wallet.customer_id,
            currency=wallet.currency,
            created_at=now,
            invoice_type=ONE_OFF,
            billing_reason=credit.billing_reason,
            wallet_id=wallet.id,
            transaction_id=txn.id,
            fixed_amount=txn.amount,
            due_date=now,
            metadata=metadata,
            lines=[
                {
                    "line_item_id": "",
                    "price_id": "",
                    "meter_id": "",
                    "display_name": f"Purchase {money_text(credit.credits)} Credits",
                    "price_type": "",
                    "quantity": "1",
                    "amount": money_text(txn.amount),
                }
            ],
        )
        world.invoices[invoice.id] = invoice
        # Both credits come with the invoice, which settles them.
        for row in (txn, bonus):
            if row is not None:
                row.source_type, row.source_id = "INVOICE", invoice.id
        if policy.at_once and policy.outcome is not None:
            _settle(world, wallet, invoice, policy.outcome, created=True)
        else:
            due = policy.due(now)
            if due is not None and (world.usage_due is None or due < world.usage_due):
                world.usage_due = due  # what the clock has due (usage.reschedule's figure)
    else:
        txn = ledger.credit(
            world,
            wallet,
            credit.credits,
            credit.reason,
            now,
            reference_type=credit.reference_type,
            reference_id=reference_id,
            expiry_date=credit.expiry,
            priority=credit.priority,
            description=credit.description,
            metadata=credit.metadata,
            created_at=credit.effective_at,
            idempotency_key=key,
            topup_conversion_rate=wallet.topup_conversion_rate,
        )
        world.emit("wallet.transaction.created", txn.id)
        if credit.bonus_credits is not None:
            # The cloud leaves a direct bonus's reference empty, which the published document
            # does not allow: it gets the purchase's reference, as an invoiced bonus does.
            ledger.credit(
                world,
                wallet,
                credit.bonus_credits,
                "PURCHASED_CREDIT_BONUS",
                now,
                reference_type=credit.reference_type,
                reference_id=reference_id,
                expiry_date=credit.bonus_expiry,
                description="Bonus credits for purchase",
                metadata=credit.metadata,
                created_at=credit.effective_at,
                topup_conversion_rate=wallet.topup_conversion_rate,
                parent_transaction_id=txn.id,
            )
        alerts.after_operation(world, wallet)  # once the purchase and its bonus are in
    if key:
        world.top_ups[key] = TopUpRecord(wallet.id, fingerprint, snapshot(wallet))
    return TopUpResult(txn, wallet, invoice)


_WALLET_FIELDS = tuple(f.name for f in fields(Wallet))


def snapshot(wallet: Wallet) -> Wallet:
    """A copy of the wallet as it is now, for answering a retry later."""
    copied = Wallet(**{name: getattr(wallet, name) for name in _WALLET_FIELDS})
    copied.metadata, copied.config = dict(wallet.metadata), copy.deepcopy(wallet.config)
    return copied


def settle_invoice(world: World, invoice_id: str, outcome: str) -> tuple[Invoice, Transaction]:
    """Pay an invoiced top-up (its credit, and bonus, complete), fail its payment (they stay
    pending: what failed may still be paid or voided) or void it (they fail)."""
    invoice = world.invoices.get(invoice_id)
    if invoice is None:
        raise errors.not_found(
            f"Invoice {invoice_id} was not found", "invoice not found", invoice_id=invoice_id
        )
    status = invoice.top_up_status
    if status not in ("pending", "failed") or status == _SETTLED_AS[outcome]:
        raise errors.invalid_operation(
            f"Invoice {invoice_id} is already {status}",
            "invoice already settled",
            invoice_id=invoice_id,
            status=status,
        )
    wallet = world.wallets[invoice.wallet_id]
    txn = _settle(world, wallet, invoice, outcome)
    if outcome == "pay":
        # The cloud evaluates auto top-up once a purchase completes (its balance-alert event).
        auto_top_up(world, wallet)
    return invoice, txn


_SETTLED_AS = {"pay": "paid", "fail": "failed", "void": "voided"}
PENDING_PAYMENT = "Purchased credits - pending payment"
AUTO_COMPLETED = "Purchased credits - auto-completed"


def money_text(value: Decimal) -> str:
    return format(money.normalize(value), "f")


def _settle(
    world: World, wallet: Wallet, invoice: Invoice, outcome: str, created: bool = False
) -> Transaction:
    """An invoice's outcome on it and its credits; ``created``: in the request that bought
    them, as the cloud's auto-completed purchase (one wallet.transaction.created event)."""
    now = world.now()
    txn = transaction(world, wallet.id, invoice.transaction_id)
    bonuses = [t for t in world.transactions[wallet.id] if t.parent_transaction_id == txn.id]
    invoice.settled_at = invoice.updated_at = now
    if outcome == "pay":
        invoice.payment_status, invoice.amount_paid = "SUCCEEDED", invoice.due
    elif outcome == "fail":
        invoice.payment_status = "FAILED"
        return txn  # the cloud leaves the purchase pending: a later payment may still succeed
    else:  # as the cloud shows a voided purchase: its payment stays as it was
        invoice.invoice_status = "VOIDED"
    for row in [txn, *bonuses]:
        if outcome == "pay":
            written = row.updated_at
            ledger.complete(world, wallet, row, now)
            if created:
                row.updated_at = written  # written completed: not changed since
        else:
            row.transaction_status, row.updated_at = "failed", now
    if outcome == "pay":
        world.emit("wallet.transaction.created" if created else "wallet.transaction.updated", txn.id)
        alerts.after_operation(world, wallet)
    return txn


def pending_invoice_due(world: World, invoice: Invoice) -> datetime | None:
    """When the world's policy settles a top-up invoice by itself (None: not by itself)."""
    if invoice.top_up_status != "pending":
        return None
    return world.policies["invoiced_top_ups"].due(invoice.created_at)


def settle_by_policy(world: World, invoice: Invoice) -> None:
    """Settle a top-up invoice as the world's policy says (its time has come)."""
    outcome = world.policies["invoiced_top_ups"].outcome
    if outcome is not None and invoice.top_up_status == "pending":
        settle_invoice(world, invoice.id, outcome)


# ---- debit ---------------------------------------------------------------------------------


def debit(
    world: World,
    wallet: Wallet,
    credits: Decimal,
    reason: str,
    *,
    idempotency_key: str = "",
    description: str = "",
    metadata: dict[str, str] | None = None,
) -> Transaction:
    """A manual debit: allowed past zero, so the balance may go negative."""
    now = world.now()
    ledger.expire_due(world, wallet, now)
    txn = ledger.debit(
        world,
        wallet,
        credits,
        reason,
        now,
        idempotency_key=idempotency_key,
        reference_id=world.new_id("wtxn_", now),
        description=description,
        metadata=metadata,
        overdraft=True,
        note_sources=True,
    )
    _written(world, wallet, txn)
    return txn


def pay_invoice(world: World, wallet: Wallet, bill: Invoice, amount: Decimal) -> Transaction:
    """A prepaid wallet pays ``amount`` of a subscription invoice's usage: a CREDIT_ADJUSTMENT
    debit, written as the cloud writes one (its description, metadata and key)."""
    now = world.now()
    ledger.expire_due(world, wallet, now)
    credits = min(money.divide(amount, wallet.conversion_rate), wallet.credit_balance)
    stamp = int(now.timestamp() * 1_000_000) * 1000  # nanoseconds: the key differs on each attempt
    digest = hashlib.sha256(
        f"wallet_credit_adjustment:invoice_id={bill.id}:ts={stamp}:wallet_id={wallet.id}".encode()
    ).hexdigest()[:16]
    txn = ledger.debit(
        world,
        wallet,
        credits,
        "CREDIT_ADJUSTMENT",
        now,
        reference_type="INVOICE",
        reference_id=bill.id,
        description=f"Amount applied as credit adjustment to invoice {bill.id} from wallet {wallet.id}",
        idempotency_key=f"wallet_credit_adjustment-{digest}",
        metadata={
            "invoice_id": bill.id,
            "customer_id": bill.customer_id,
            "wallet_type": wallet.wallet_type,
            "adjustment_type": "amount_application",
        },
        overdraft=True,
    )
    bill.credits_applied += txn.amount
    _written(world, wallet, txn)
    return txn


def pay_from_wallet(
    world: World, wallet: Wallet, invoice: Invoice, amount: Decimal, payment_id: str
) -> Transaction:
    """A CREDITS payment of ``amount`` from a wallet towards an invoice: an INVOICE_PAYMENT debit
    referring to the payment, written as upstream's payment processor writes it."""
    now = world.now()
    ledger.expire_due(world, wallet, now)
    txn = ledger.debit(
        world,
        wallet,
        money.divide(amount, wallet.conversion_rate),
        "INVOICE_PAYMENT",
        now,
        reference_type="PAYMENT",
        reference_id=payment_id,
        description=f"Payment for invoice {invoice.id}",
        metadata={
            "payment_id": payment_id,
            "invoice_id": invoice.id,
            "payment_method": "CREDITS",
            "wallet_type": wallet.wallet_type,
        },
        overdraft=True,
    )
    _written(world, wallet, txn)
    return txn


# ---- auto top-up ---------------------------------------------------------------------------

AUTO_TOP_UP_DESCRIPTION = "Auto top-up triggered for low ongoing balance"
AUTO_TOP_UP_ROUNDS = 100  # a direct auto top-up repeats until the balance is above the threshold


def auto_top_up(world: World, wallet: Wallet) -> list[TopUpResult]:
    """Add the wallet's auto top-up credits while its balance is at the threshold or below,
    unless a cooldown runs or an earlier auto top-up still waits for its invoice."""
    done: list[TopUpResult] = []
    while len(done) < AUTO_TOP_UP_ROUNDS:
        rule = wallet.auto_topup
        if (
            rule is None
            or not rule.enabled
            or wallet.wallet_status != ACTIVE
            or charges.ongoing_credits(world, wallet) > rule.threshold
            or rule.amount <= 0
        ):
            break
        now = world.now()
        last = _last_auto_top_up(world, wallet)
        if last is not None:
            if last.transaction_status == "pending":
                break
            if rule.cooldown_value and rule.cooldown_unit:
                seconds = rule.cooldown_value * COOLDOWN_UNITS[rule.cooldown_unit]
                pause = timedelta(seconds=min(seconds, LONGEST_PAUSE))  # any int64 the API takes
                if now < later(last.created_at, pause):
                    break
        key = world.new_id("wtxn_", now)
        result = top_up(
            world,
            wallet,
            Credit(
                credits=rule.amount,
                invoiced=rule.invoicing,
                reason="PURCHASED_CREDIT_INVOICED" if rule.invoicing else "PURCHASED_CREDIT_DIRECT",
                idempotency_key=key,
                description=AUTO_TOP_UP_DESCRIPTION,
                metadata={"auto_topup": "true"},
                billing_reason=WALLET_AUTO_TOPUP if rule.invoicing else "",
            ),
        )
        done.append(result)
    return done


def _last_auto_top_up(world: World, wallet: Wallet) -> Transaction | None:
    for txn in reversed(world.transactions.get(wallet.id, ())):
        if txn.metadata.get("auto_topup") == "true":
            return txn
    return None


# ---- terminate -----------------------------------------------------------------------------


def terminate(world: World, wallet: Wallet) -> Wallet:
    """Close a wallet; what is left of its credits goes out as a WALLET_TERMINATION debit."""
    if wallet.wallet_status == CLOSED:
        raise errors.invalid_operation("Wallet is already terminated", "wallet is already closed")
    now = world.now()
    _close(world, wallet, "Wallet termination - remaining balance debit", wallet.id, now)
    world.emit("wallet.terminated", wallet.id)
    return wallet


def _close(world: World, wallet: Wallet, description: str, idempotency_key: str, now: datetime) -> Decimal:
    """Debit the whole credit balance (if any) and close the wallet; returns the credits taken."""
    ledger.expire_due(world, wallet, now)
    left = wallet.credit_balance
    if left > 0:
        txn = ledger.debit(
            world,
            wallet,
            left,
            "WALLET_TERMINATION",
            now,
            description=description,
            idempotency_key=idempotency_key,
            reference_id=world.new_id("wtxn_", now),
        )
        _written(world, wallet, txn)
    wallet.wallet_status, wallet.updated_at = CLOSED, now
    return left


def convert_to_postpaid(
    world: World, wallet: Wallet, transfer_key: Callable[[Wallet, Wallet, Decimal], str] | None = None
) -> Wallet:
    """Close a prepaid wallet and open a postpaid one in its currency holding its credits;
    ``transfer_key`` gives the idempotency key of the credits moved (source, new, credits)."""
    if wallet.wallet_type != "PRE_PAID":
        raise errors.invalid_operation(
            "Only prepaid wallets can be converted to postpaid",
            "wallet is not prepaid",
            wallet_id=wallet.id,
            wallet_type=wallet.wallet_type,
        )
    if wallet.wallet_status != ACTIVE:
        raise errors.invalid_operation(
            "Only active wallets can be converted",
            "wallet is not active",
            wallet_id=wallet.id,
            wallet_status=wallet.wallet_status,
        )
    for other in active_wallets_of(world, wallet.customer_id):
        if other.wallet_type == "POST_PAID" and other.currency == wallet.currency:
            raise errors.conflict(
                "A customer can only have one active postpaid wallet per currency",
                "customer already has an active postpaid wallet",
                customer_id=wallet.customer_id,
                wallet_id=other.id,
                currency=wallet.currency,
            )
    now = world.now()
    moved = _close(
        world, wallet, "Wallet conversion - prepaid to postpaid", f"{wallet.id}_conversion_debit", now
    )
    new = Wallet(
        id=world.new_id("wallet_", now),
        customer_id=wallet.customer_id,
        currency=wallet.currency,
        wallet_type="POST_PAID",
        name=f"Postpaid Wallet - {wallet.currency.upper()}",
        conversion_rate=wallet.conversion_rate,
        topup_conversion_rate=wallet.topup_conversion_rate,
        created_at=now,
        updated_at=now,
        description=f"Converted from prepaid wallet {wallet.id}",
        metadata={"converted_from": wallet.id},
        config={"allowed_price_types": ["ALL"]},
        auto_topup=wallet.auto_topup,
        alert_settings=wallet.alert_settings,
    )
    world.wallets[new.id] = new
    world.wallets_by_customer.setdefault(new.customer_id, []).append(new.id)
    if moved > 0:
        txn = ledger.credit(
            world,
            new,
            moved,
            "FREE_CREDIT_GRANT",
            now,
            reference_type="REQUEST",
            reference_id=world.new_id("wtxn_", now),
            description=f"Credits transferred from prepaid wallet {wallet.id}",
            idempotency_key=(transfer_key(wallet, new, moved) if transfer_key else f"credit_grant-{new.id}"),
            topup_conversion_rate=new.topup_conversion_rate,
        )
        _written(world, new, txn)
    world.emit("wallet.terminated", wallet.id)
    world.emit("wallet.created", new.id)
    return new


# ---- transactions --------------------------------------------------------------------------

SORTABLE: dict[str, Callable[[Transaction], Any]] = {
    "created_at": lambda t: (t.created_at, t.id),
    "updated_at": lambda t: (t.updated_at or t.created_at, t.id),
    "amount": lambda t: (t.amount, t.id),
    "credit_amount": lambda t: (t.credit_amount, t.id),
}


@dataclass(frozen=True, slots=True)
class TransactionQuery:
    """Which transactions to list: every field set must match (None: any)."""

    wallet_ids: tuple[str, ...] | None = None
    ids: tuple[str, ...] | None = None
    type: str | None = None
    transaction_status: str | None = None
    transaction_reason: str | None = None
    priority: int | None = None
    reference_type: str | None = None
    reference_id: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    expiry_before: datetime | None = None
    expiry_after: datetime | None = None
    credits_available_gt: Decimal | None = None
    sort: str = "created_at"
    descending: bool = True
    offset: int = 0
    limit: int = 50

    def keeps(self, t: Transaction) -> bool:
        return (
            (self.ids is None or t.id in self.ids)
            and self.type in (None, t.type)
            and self.transaction_status in (None, t.transaction_status)
            and self.transaction_reason in (None, t.transaction_reason)
            and self.priority in (None, t.priority)
            and self.reference_type in (None, t.reference_type)
            and self.reference_id in (None, t.reference_id)
            and (self.created_from is None or t.created_at >= self.created_from)
            and (self.created_to is None or t.created_at <= self.created_to)
            and (
                self.expiry_before is None
                or (t.expiry_date is not None and t.expiry_date <= self.expiry_before)
            )
            and (
                self.expiry_after is None
                or (t.expiry_date is not None and t.expiry_date >= self.expiry_after)
            )
            and (self.credits_available_gt is None or t.credits_available > self.credits_available_gt)
        )


def transactions(world: World, query: TransactionQuery) -> tuple[list[Transaction], int]:
    """Transactions matching ``query``, sorted (newest first by default); returns (page, total)."""
    now = world.now()
    wallet_ids = query.wallet_ids if query.wallet_ids is not None else tuple(world.wallets)
    matching: list[Transaction] = []
    for wallet_id in wallet_ids:
        wallet = world.wallets.get(wallet_id)
        if wallet is None:
            continue
        ledger.expire_due(world, wallet, now)
        matching.extend(t for t in world.transactions.get(wallet_id, ()) if query.keeps(t))
    matching.sort(key=SORTABLE[query.sort], reverse=query.descending)
    return matching[query.offset : query.offset + query.limit], len(matching)


def transaction(world: World, wallet_id: str, transaction_id: str) -> Transaction:
    return next(t for t in world.transactions[wallet_id] if t.id == transaction_id)
