"""The wallet ledger: every balance change is a transaction, and the balance is their sum.

Credits carry ``credits_available`` (what is left of the grant); debits consume it, lowest
priority number first, then the soonest expiry, then the largest grant, as the cloud does.
Credits whose expiry date has passed are expired lazily, whenever the wallet is touched.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from . import alerts, errors, money
from .models import Consumption, Transaction, Wallet
from .world import World

CREDIT, DEBIT = "credit", "debit"


def _record(
    world: World,
    wallet: Wallet,
    kind: str,
    credits: Decimal,
    reason: str,
    reference_type: str,
    reference_id: str | None,
    now: datetime,
    created_at: datetime | None = None,
    **extra,
) -> Transaction:
    """Write one transaction and move the wallet's balances.

    ``credits`` may carry more places than the ledger keeps (money converted at a rate); as in
    the cloud, amounts are computed from the exact value and each stored figure is rounded once.
    ``created_at`` backdates the row (a top-up's effective date); it is still written ``now``.
    """
    before = wallet.credit_balance
    exact_after = before + credits if kind == CREDIT else before - credits
    txn_id = world.new_id("wtxn_", now)
    # Money moved: a credit at the rate it was bought at, a debit at the wallet's rate.
    rate = wallet.topup_conversion_rate if kind == CREDIT else wallet.conversion_rate
    txn = Transaction(
        id=txn_id,
        wallet_id=wallet.id,
        type=kind,
        credit_amount=money.amount(credits),
        amount=money.amount(money.multiply(credits, rate)),
        credit_balance_before=before,
        credit_balance_after=money.amount(exact_after),
        transaction_reason=reason,
        reference_type=reference_type,
        reference_id=txn_id if reference_id is None else reference_id,
        created_at=created_at or now,
        updated_at=now if created_at else None,
        **extra,
    )
    _keep(world, txn)
    set_credit_balance(wallet, exact_after, now)
    return txn


def _keep(world: World, txn: Transaction) -> None:
    world.transactions.setdefault(txn.wallet_id, []).append(txn)
    world.transaction_count += 1
    if txn.idempotency_key:
        world.transaction_keys.setdefault(txn.idempotency_key, txn.id)


def set_credit_balance(wallet: Wallet, credits: Decimal, now: datetime) -> None:
    wallet.credit_balance = money.amount(credits)
    wallet.balance = money.amount(money.multiply(credits, wallet.conversion_rate))
    wallet.updated_at = now


def credit(
    world: World,
    wallet: Wallet,
    credits: Decimal,
    reason: str,
    now: datetime,
    *,
    reference_type: str = "EXTERNAL",
    reference_id: str | None = None,
    expiry_date: datetime | None = None,
    priority: int | None = None,
    description: str = "",
    metadata: dict | None = None,
    idempotency_key: str = "",
    topup_conversion_rate: Decimal | None = None,
    parent_transaction_id: str | None = None,
    created_at: datetime | None = None,
) -> Transaction:
    if expiry_date is not None:
        _note_expiry(world, wallet.id, expiry_date)
    return _record(
        world,
        wallet,
        CREDIT,
        credits,
        reason,
        reference_type,
        reference_id,
        now,
        credits_available=_spendable(wallet.credit_balance, credits),
        expiry_date=expiry_date,
        priority=priority,
        description=description,
        metadata=metadata or {},
        idempotency_key=idempotency_key,
        topup_conversion_rate=topup_conversion_rate,
        parent_transaction_id=parent_transaction_id,
        created_at=created_at,
    )


def _spendable(before: Decimal, credits: Decimal) -> Decimal:
    """What a credit adds to the spendable grants: all of it, or, on a wallet overdrawn by a
    manual debit, only the part that lifts the balance above zero."""
    if before >= 0:
        return money.amount(credits)
    return money.amount(max(money.ZERO, before + credits))


def pending_credit(
    world: World,
    wallet: Wallet,
    credits: Decimal,
    reason: str,
    now: datetime,
    *,
    expiry_date: datetime | None = None,
    priority: int | None = None,
    description: str = "",
    metadata: dict | None = None,
    idempotency_key: str = "",
    reference_type: str = "EXTERNAL",
    reference_id: str = "",
    parent_transaction_id: str | None = None,
    created_at: datetime | None = None,
) -> Transaction:
    """A credit that waits for its invoice: written, but the balance does not move yet (and
    nothing can spend it: only completed credits are consumed)."""
    before = wallet.credit_balance
    txn = Transaction(
        id=world.new_id("wtxn_", now),
        wallet_id=wallet.id,
        type=CREDIT,
        credit_amount=money.amount(credits),
        amount=money.amount(money.multiply(credits, wallet.topup_conversion_rate)),
        credit_balance_before=before,
        credit_balance_after=before,
        transaction_reason=reason,
        reference_type=reference_type,
        reference_id=reference_id,
        created_at=created_at or now,
        updated_at=now if created_at else None,
        transaction_status="pending",
        credits_available=_spendable(before, credits),
        expiry_date=expiry_date,
        priority=priority,
        description=description,
        metadata=metadata or {},
        idempotency_key=idempotency_key,
        topup_conversion_rate=wallet.topup_conversion_rate,
        parent_transaction_id=parent_transaction_id,
    )
    _keep(world, txn)
    return txn


def complete(world: World, wallet: Wallet, txn: Transaction, now: datetime) -> None:
    """A pending credit whose invoice was paid: the credits become available and the balance grows."""
    before = wallet.credit_balance
    txn.credit_balance_before = before
    txn.credit_balance_after = money.amount(before + txn.credit_amount)
    txn.credits_available = _spendable(before, txn.credit_amount)
    txn.transaction_status, txn.updated_at = "completed", now
    if txn.expiry_date is not None:
        _note_expiry(world, wallet.id, txn.expiry_date)
    set_credit_balance(wallet, txn.credit_balance_after, now)


def _consumption_order(txn: Transaction):
    # NULL priority and NULL expiry sort last, as they do in the cloud's SQL.
    return (
        txn.priority is None,
        txn.priority or 0,
        txn.expiry_date is None,
        txn.expiry_date.timestamp() if txn.expiry_date else 0,
        -txn.credit_amount,
    )


def _eligible_credits(world: World, wallet: Wallet, now: datetime) -> list[Transaction]:
    credits = [
        t
        for t in world.transactions.get(wallet.id, ())
        if t.type == CREDIT
        and t.credits_available > 0
        and t.transaction_status == "completed"
        and (t.expiry_date is None or t.expiry_date >= now)
    ]
    credits.sort(key=_consumption_order)
    return credits


def debit(
    world: World,
    wallet: Wallet,
    credits: Decimal,
    reason: str,
    now: datetime,
    *,
    reference_type: str = "REQUEST",
    reference_id: str | None = None,
    description: str = "",
    idempotency_key: str = "",
    metadata: dict | None = None,
    overdraft: bool = False,
    note_sources: bool = False,
) -> Transaction:
    """Take ``credits`` out of the wallet, consuming grants in the cloud's order.

    With ``overdraft`` (a manual debit) the balance may go below zero once the grants run out.
    The debit lists what it drew from each grant (``consumption_breakdown``); ``note_sources``
    also names those grants in its metadata (``consumed_credit_tx_ids``).
    """
    sources = _eligible_credits(world, wallet, now)
    if not overdraft and sum((t.credits_available for t in sources), money.ZERO) < credits:
        raise errors.invalid_operation(
            "Insufficient balance to process debit operation", "insufficient balance", wallet_id=wallet.id
        )
    remaining = credits
    consumed: list[Consumption] = []
    for source in sources:
        if remaining <= 0:
            break
        taken = min(source.credits_available, remaining)
        source.credits_available -= taken
        remaining -= taken
        consumed.append(Consumption(source.id, taken))
    metadata = dict(metadata or {})
    if note_sources and consumed:
        metadata["consumed_credit_tx_ids"] = ",".join(c.credit_transaction_id for c in consumed)
    return _record(
        world,
        wallet,
        DEBIT,
        credits,
        reason,
        reference_type,
        reference_id,
        now,
        description=description,
        idempotency_key=idempotency_key,
        metadata=metadata,
        conversion_rate=wallet.conversion_rate,
        consumption_breakdown=consumed,
    )


def _note_expiry(world: World, wallet_id: str, expiry: datetime) -> None:
    current = world.next_expiry.get(wallet_id)
    if current is None or expiry < current:
        world.next_expiry[wallet_id] = expiry


def expire_due(world: World, wallet: Wallet, now: datetime) -> list[Transaction]:
    """Write a CREDIT_EXPIRED debit for what is left of each grant whose expiry has passed.

    The world remembers each wallet's next expiry, so a wallet with nothing due costs one lookup.
    """
    due = world.next_expiry.get(wallet.id)
    if due is None or due >= now:
        return []
    del world.next_expiry[wallet.id]
    expired = []
    for grant in list(world.transactions.get(wallet.id, ())):
        if (
            grant.type != CREDIT
            or grant.expiry_date is None
            or grant.credits_available <= 0
            or grant.transaction_status != "completed"
        ):
            continue
        if grant.expiry_date >= now:
            _note_expiry(world, wallet.id, grant.expiry_date)
            continue
        left = grant.credits_available
        grant.credits_available = money.ZERO
        expired.append(
            _record(
                world,
                wallet,
                DEBIT,
                left,
                "CREDIT_EXPIRED",
                "REQUEST",
                None,
                now,
                description=f"Credits expired from transaction {grant.id}",
                consumption_breakdown=[Consumption(grant.id, left)],
            )
        )
    for txn in expired:
        world.emit("wallet.transaction.created", txn.id)
    if expired:
        alerts.after_operation(world, wallet)
    return expired
