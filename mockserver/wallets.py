"""Wallet rules, as the cloud applied them: create, read, update, top up, terminate, list.

Functions take a world and plain values (the request body as parsed JSON, already checked
against the spec) and return domain objects, or raise ``ApiError``. No HTTP here. Callers hold
``world.lock``.
"""
from __future__ import annotations

import sys
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from . import errors, ledger, money
from .clock import UTC, format_timestamp, parse_timestamp
from .store import TopUpRecord, Transaction, Wallet, World

# Shared by every wallet created without a config (configs are replaced, never changed in place).
DEFAULT_CONFIG = {"allowed_price_types": ["ALL"]}
TOP_UP_REASONS = ("FREE_CREDIT_GRANT", "PURCHASED_CREDIT_INVOICED", "PURCHASED_CREDIT_DIRECT",
                  "SUBSCRIPTION_CREDIT_GRANT")
DEFAULT_NAMES = {"PRE_PAID": "Prepaid Wallet - ", "PROMOTIONAL": "Promotional Wallet - "}


def _details_number(value: Decimal) -> str:
    return str(money.normalize(value))


def _bounded(name: str, value: Any, limit: Decimal = money.MAX_AMOUNT) -> Decimal:
    """A decimal input within what the ledger's columns can hold."""
    number = money.to_decimal(value)
    if abs(number) > limit:
        raise errors.validation(f"{name} must be at most {limit} in absolute value",
                                f"{name} out of range", **{name: _details_number(number)})
    return number


def _missing(struct: str, field: str, go_name: str) -> errors.ApiError:
    """The cloud's binding error for a required field that is empty."""
    text = (f"Key: '{struct}.{go_name}' Error:Field validation for '{go_name}' "
            f"failed on the 'required' tag")
    return errors.ApiError(400, "Invalid request format", text,
                           {"errors": [{"field": field, "in": "body", "problem": "must not be empty"}]})


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
        if wallet.wallet_status == "active":
            ledger.expire_due(world, wallet, now)
            result.append(wallet)
    return result


# ---- create --------------------------------------------------------------------------------

def expiry_from_yyyymmdd(value: int) -> datetime:
    """Midnight UTC of a YYYYMMDD day; out-of-range months and days roll over as Go's time.Date does."""
    year, month, day = value // 10000, value // 100 % 100, value % 100
    years, month_index = divmod(year * 12 + month - 1, 12)
    try:
        return datetime(years, month_index + 1, 1, tzinfo=UTC) + timedelta(days=day - 1)
    except (ValueError, OverflowError):
        raise errors.validation("initial_credits_to_load_expiry_date must be a date as YYYYMMDD",
                                "invalid expiry date",
                                initial_credits_to_load_expiry_date=value) from None


def _future_expiry(expiry: datetime, now: datetime, internal: str) -> None:
    if expiry <= now:
        raise errors.validation("Expiry date must be in the future", internal,
                                expiry_date=format_timestamp(expiry).replace(".000000", ""))


def create(world: World, body: dict[str, Any]) -> Wallet:
    now = world.now()
    customer_id, currency = body["customer_id"], body["currency"]
    if not customer_id:
        raise _missing("CreateWalletRequest", "customer_id", "CustomerID")
    if not currency:
        raise _missing("CreateWalletRequest", "currency", "Currency")
    if len(currency.encode()) != 3:
        raise errors.validation("Currency code must be 3 characters long", "invalid currency code")
    wallet_type = body.get("wallet_type") or "PRE_PAID"
    rate = _bounded("conversion_rate", body.get("conversion_rate", 0), money.MAX_RATE)
    if rate < 0:
        raise errors.validation("Conversion rate must be a positive value",
                                "conversion_rate must be greater than 0",
                                conversion_rate=_details_number(rate))
    rate = money.rate(rate) or money.ONE
    normalized_currency = currency.lower()

    for other in active_wallets_of(world, customer_id):
        if other.currency == normalized_currency and other.wallet_type == wallet_type:
            raise errors.conflict(
                "A customer can only have one active wallet per currency and wallet type",
                "customer already has an active wallet with the same currency and wallet type",
                customer_id=customer_id, wallet_id=other.id, currency=normalized_currency,
                wallet_type=wallet_type)

    initial = money.amount(_bounded("initial_credits_to_load", body.get("initial_credits_to_load", 0)))
    expiry = None
    if initial > 0 and body.get("initial_credits_to_load_expiry_date") is not None:
        expiry = expiry_from_yyyymmdd(body["initial_credits_to_load_expiry_date"])
        _future_expiry(expiry, now, "expiry date cannot be in the past")

    wallet = Wallet(
        id=world.new_id("wallet_", now), customer_id=customer_id, currency=normalized_currency,
        wallet_type=wallet_type,
        name=body.get("name") or sys.intern(DEFAULT_NAMES[wallet_type] + currency),
        conversion_rate=rate, created_at=now, updated_at=now,
        description=body.get("description", ""), metadata=dict(body.get("metadata") or {}),
        config=_copy_config(body["config"]) if "config" in body else DEFAULT_CONFIG,
        auto_topup_trigger=body.get("auto_topup_trigger") or "disabled",
        auto_topup_min_balance=money.amount(_bounded("auto_topup_min_balance",
                                                     body.get("auto_topup_min_balance", 0))),
        auto_topup_amount=money.amount(_bounded("auto_topup_amount",
                                                body.get("auto_topup_amount", 0))),
    )
    world.wallets[wallet.id] = wallet
    world.wallets_by_customer.setdefault(customer_id, []).append(wallet.id)
    if initial > 0:
        ledger.credit(world, wallet, initial, "FREE_CREDIT_GRANT", now,
                      reference_id=world.ids.ulid(int(now.timestamp() * 1000)), expiry_date=expiry)
    return wallet


def _copy_config(config: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, list) else v for k, v in config.items()}


# ---- update --------------------------------------------------------------------------------

def update(world: World, wallet_id: str, body: dict[str, Any]) -> Wallet:
    trigger = body.get("auto_topup_trigger")
    if trigger == "balance_below_threshold":
        if body.get("auto_topup_min_balance") is None or body.get("auto_topup_amount") is None:
            raise errors.validation(
                "Both minimum balance and topup amount must be provided for threshold-based auto-topup",
                "auto_topup_min_balance and auto_topup_amount are required when "
                "auto_topup_trigger is balance_below_threshold")
        if body["auto_topup_min_balance"] <= 0:
            raise errors.validation("Minimum balance threshold must be a positive value",
                                    "auto_topup_min_balance must be greater than 0")
        if body["auto_topup_amount"] <= 0:
            raise errors.validation("Auto-topup amount must be a positive value",
                                    "auto_topup_amount must be greater than 0")
    min_balance = body.get("auto_topup_min_balance")
    topup_amount = body.get("auto_topup_amount")
    min_balance = None if min_balance is None else money.amount(
        _bounded("auto_topup_min_balance", min_balance))
    topup_amount = None if topup_amount is None else money.amount(
        _bounded("auto_topup_amount", topup_amount))

    wallet = get(world, wallet_id)
    for name in ("name", "description"):
        if name in body:
            setattr(wallet, name, body[name])
    if "metadata" in body:
        wallet.metadata = dict(body["metadata"])
    if "config" in body:
        wallet.config = _copy_config(body["config"])
    if trigger is not None:
        wallet.auto_topup_trigger = trigger
    if wallet.auto_topup_trigger == "disabled":
        wallet.auto_topup_min_balance = wallet.auto_topup_amount = money.ZERO
    else:
        if min_balance is not None:
            wallet.auto_topup_min_balance = min_balance
        if topup_amount is not None:
            wallet.auto_topup_amount = topup_amount
    wallet.updated_at = world.now()
    return wallet


# ---- top up --------------------------------------------------------------------------------

def _fingerprint(body: dict[str, Any]) -> tuple:
    return tuple(sorted((k, repr(v)) for k, v in body.items()))


def top_up(world: World, wallet_id: str, body: dict[str, Any]) -> Wallet:
    """Credit a wallet. A retry with the same idempotency key gets the first result back."""
    wallet = world.wallets.get(wallet_id)
    if wallet is None:
        raise errors.not_found("Wallet not found")
    now = world.now()
    ledger.expire_due(world, wallet, now)
    key = body["idempotency_key"]
    if key:
        replay = _replay(world, wallet_id, key, body)
        if replay is not None:
            return replay

    credits = money.amount(_bounded("credits_to_add", body.get("credits_to_add", 0)))
    if credits == 0 and body.get("amount"):
        # Money becomes credits at the wallet's rate (16 significant digits, as the cloud divides).
        credits = money.divide(_bounded("amount", body["amount"]), wallet.conversion_rate)
    expiry = None
    if body.get("expiry_date_utc") is not None:
        try:
            expiry = parse_timestamp(body["expiry_date_utc"])
        except ValueError:
            raise errors.validation("expiry_date_utc must be an RFC 3339 timestamp",
                                    "invalid expiry_date_utc",
                                    expiry_date_utc=body["expiry_date_utc"]) from None
    if money.amount(credits) <= 0:
        raise errors.validation("Credits to add must be a positive value",
                                "credits_to_add must be greater than 0",
                                credits_to_add=_details_number(credits))
    reason = body["transaction_reason"]
    if reason not in TOP_UP_REASONS:
        raise errors.validation("Invalid transaction reason",
                                "transaction_reason must be one of the allowed values",
                                transaction_reason=reason, allowed_reasons=list(TOP_UP_REASONS))
    if expiry is not None:
        if expiry < now:
            raise errors.validation("Expiry date must be in the future",
                                    "expiry_date_utc cannot be in the past")
        # Credits expire at 00:00 UTC of the given day, so that day must still be ahead.
        expiry = expiry.replace(hour=0, minute=0, second=0, microsecond=0)
        _future_expiry(expiry, now, "expiry date cannot be in the past")
    priority = body.get("priority")
    if priority is not None and priority < 0:
        raise errors.validation("Priority must be zero or a positive number",
                                "priority must be greater than or equal to 0", priority=priority)

    reference_type, reference_id = "EXTERNAL", key or world.ids.ulid(int(now.timestamp() * 1000))
    if reason == "PURCHASED_CREDIT_INVOICED":
        reference_type, reference_id = "PAYMENT", world.new_id("pay_", now)
    ledger.credit(world, wallet, credits, reason, now, reference_type=reference_type,
                  reference_id=reference_id, expiry_date=expiry, priority=priority,
                  description=body.get("description", ""), metadata=body.get("metadata"),
                  idempotency_key=key)
    if key:
        world.top_ups[key] = TopUpRecord(wallet_id, _fingerprint(body), _snapshot(wallet))
    return wallet


def _snapshot(wallet: Wallet) -> Wallet:
    copy = Wallet(**{name: getattr(wallet, name) for name in Wallet.__slots__})
    copy.metadata, copy.config = dict(wallet.metadata), _copy_config(wallet.config)
    return copy


def _replay(world: World, wallet_id: str, key: str, body: dict[str, Any]) -> Wallet | None:
    record = world.top_ups.get(key)
    if record is None:
        return None
    if record.wallet_id != wallet_id or record.fingerprint != _fingerprint(body):
        raise errors.conflict(
            "This idempotency_key was already used for a different top-up",
            "idempotency key reused with a different request",
            idempotency_key=key, wallet_id=record.wallet_id)
    return record.result


# ---- terminate -----------------------------------------------------------------------------

def terminate(world: World, wallet_id: str) -> Wallet:
    wallet = get(world, wallet_id)
    if wallet.wallet_status == "closed":
        raise errors.validation("Wallet is already terminated", "wallet is already closed")
    now = world.now()
    if wallet.credit_balance > 0:
        ledger.debit(world, wallet, wallet.credit_balance, "WALLET_TERMINATION", now,
                     description="Wallet termination - remaining balance debit",
                     idempotency_key=wallet.id)
    ledger.set_credit_balance(wallet, money.ZERO, now)
    wallet.wallet_status = "closed"
    return wallet


# ---- transactions --------------------------------------------------------------------------

SORTABLE = {"created_at": lambda t: (t.created_at, t.id), "updated_at": lambda t: (t.created_at, t.id),
            "amount": lambda t: (t.amount, t.id)}


def _time_param(query: dict[str, Any], name: str) -> datetime | None:
    if query.get(name) is None:
        return None
    try:
        return parse_timestamp(query[name])
    except ValueError:
        raise errors.validation("Invalid filter parameters", f"{name} must be an RFC 3339 timestamp",
                                **{name: query[name]}) from None


def transactions(world: World, wallet_id: str, query: dict[str, Any]) -> tuple[list[Transaction], int]:
    """A wallet's transactions, filtered and sorted (newest first by default); returns (page, total)."""
    get(world, wallet_id)
    if (query.get("reference_type") is None) != (query.get("reference_id") is None):
        raise errors.validation("Reference type and reference id must be provided together",
                                "reference_type and reference_id must be provided together")
    sort = query.get("sort", "created_at")
    if sort not in SORTABLE:
        raise errors.validation("Invalid filter parameters", f"cannot sort by {sort!r}",
                                sort=sort, allowed=sorted(SORTABLE))
    start, end = _time_param(query, "start_time"), _time_param(query, "end_time")
    expiry_before = _time_param(query, "expiry_date_before")
    expiry_after = _time_param(query, "expiry_date_after")
    status = query.get("status")

    def keep(t: Transaction) -> bool:
        return ((status is None or status == "published")
                and query.get("type") in (None, t.type)
                and query.get("transaction_status") in (None, t.transaction_status)
                and query.get("transaction_reason") in (None, t.transaction_reason)
                and query.get("priority") in (None, t.priority)
                and query.get("reference_type") in (None, t.reference_type)
                and query.get("reference_id") in (None, t.reference_id)
                and (start is None or t.created_at >= start)
                and (end is None or t.created_at <= end)
                and (expiry_before is None or (t.expiry_date is not None and t.expiry_date <= expiry_before))
                and (expiry_after is None or (t.expiry_date is not None and t.expiry_date >= expiry_after))
                and (query.get("credits_available_gt") is None
                     or t.credits_available > query["credits_available_gt"]))

    matching = [t for t in world.transactions.get(wallet_id, ()) if keep(t)]
    matching.sort(key=SORTABLE[sort], reverse=query.get("order", "desc") == "desc")
    offset, limit = query.get("offset", 0), query.get("limit", 50)
    return matching[offset:offset + limit], len(matching)
