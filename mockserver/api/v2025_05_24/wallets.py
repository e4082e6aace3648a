"""Wallets in version 2025-05-24: their requests (with that server's checks and words), handlers
and views (WalletResponse, the real-time balance, transactions).

A body has already passed the document's schema; what is checked here is what the schema
cannot say (empty strings, ranges, dates in the future), in the order the cloud checked it.
Decimals stay ``Decimal`` in the views, trimmed to their shortest form; the JSON encoder writes
them as exact JSON numbers. Transactions leave empty optional fields out, as the cloud's
``omitempty`` does.
"""

from __future__ import annotations

import sys
from datetime import datetime
from decimal import Decimal
from typing import Any

from ...domain import errors, money, wallets
from ...domain.clock import format_timestamp
from ...domain.models import SYSTEM_USER, AutoTopup, Transaction, Wallet
from ...domain.world import World
from .. import Handler, Result, fields
from .common import page

# Operations that add to what a world holds (World.object_count): refused (429) in a full world.
GROWS_WORLD = frozenset({"createWallet", "topUpWallet", "terminateWallet"})

# Shared by every wallet created without a config (configs are replaced, never changed in place).
DEFAULT_CONFIG = {"allowed_price_types": ["ALL"]}
TOP_UP_REASONS = (
    "FREE_CREDIT_GRANT",
    "PURCHASED_CREDIT_INVOICED",
    "PURCHASED_CREDIT_DIRECT",
    "SUBSCRIPTION_CREDIT_GRANT",
)
DEFAULT_NAMES = {"PRE_PAID": "Prepaid Wallet - ", "PROMOTIONAL": "Promotional Wallet - "}
THRESHOLD_TRIGGER = "balance_below_threshold"


def bounded(name: str, value: Any, limit: Decimal = money.MAX_AMOUNT) -> Decimal:
    """A decimal input within what the ledger's columns can hold."""
    return fields.within(name, money.to_decimal(value), limit)


def _missing(struct: str, field: str, go_name: str) -> errors.ApiError:
    """The cloud's binding error for a required field that is empty."""
    text = f"Key: '{struct}.{go_name}' Error:Field validation for '{go_name}' failed on the 'required' tag"
    return errors.ApiError(
        400,
        "Invalid request format",
        text,
        {"errors": [{"field": field, "in": "body", "problem": "must not be empty"}]},
    )


def expiry_from_yyyymmdd(value: int) -> datetime:
    return fields.yyyymmdd(value, "initial_credits_to_load_expiry_date")


def future_expiry(expiry: datetime, now: datetime, internal: str) -> None:
    if expiry <= now:
        raise errors.validation(
            "Expiry date must be in the future",
            internal,
            expiry_date=format_timestamp(expiry).replace(".000000", ""),
        )


def _copy_config(config: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, list) else v for k, v in config.items()}


# ---- create --------------------------------------------------------------------------------


def new_wallet(world: World, body: dict[str, Any]) -> wallets.NewWallet:
    customer_id, currency = body["customer_id"], body["currency"]
    if not customer_id:
        raise _missing("CreateWalletRequest", "customer_id", "CustomerID")
    if not currency:
        raise _missing("CreateWalletRequest", "currency", "Currency")
    if len(currency.encode()) != 3:
        raise errors.validation("Currency code must be 3 characters long", "invalid currency code")
    wallet_type = body.get("wallet_type") or "PRE_PAID"
    rate = fields.conversion_rate(bounded("conversion_rate", body.get("conversion_rate", 0), money.MAX_RATE))
    wallets.ensure_unique(world, customer_id, currency, wallet_type)

    initial = money.amount(bounded("initial_credits_to_load", body.get("initial_credits_to_load", 0)))
    expiry = None
    if initial > 0 and body.get("initial_credits_to_load_expiry_date") is not None:
        expiry = expiry_from_yyyymmdd(body["initial_credits_to_load_expiry_date"])
        future_expiry(expiry, world.now(), "expiry date cannot be in the past")
    auto_topup = AutoTopup(
        enabled=body.get("auto_topup_trigger") == THRESHOLD_TRIGGER,
        threshold=money.amount(bounded("auto_topup_min_balance", body.get("auto_topup_min_balance", 0))),
        amount=money.amount(bounded("auto_topup_amount", body.get("auto_topup_amount", 0))),
    )
    return wallets.NewWallet(
        customer_id=customer_id,
        currency=currency,
        wallet_type=wallet_type,
        name=body.get("name") or sys.intern(DEFAULT_NAMES[wallet_type] + currency),
        conversion_rate=rate,
        topup_conversion_rate=rate,
        config=_copy_config(body["config"]) if "config" in body else DEFAULT_CONFIG,
        description=body.get("description", ""),
        metadata=dict(body.get("metadata") or {}),
        auto_topup=auto_topup,
        initial_credits=initial,
        initial_credits_expiry=expiry,
    )


# ---- update --------------------------------------------------------------------------------


def wallet_changes(world: World, wallet_id: str, body: dict[str, Any]) -> tuple[Wallet, dict[str, Any]]:
    """The wallet to change and its changes; the body is checked before the wallet is looked up."""
    trigger = body.get("auto_topup_trigger")
    if trigger == THRESHOLD_TRIGGER:
        if body.get("auto_topup_min_balance") is None or body.get("auto_topup_amount") is None:
            raise errors.validation(
                "Both minimum balance and topup amount must be provided for threshold-based auto-topup",
                "auto_topup_min_balance and auto_topup_amount are required when "
                "auto_topup_trigger is balance_below_threshold",
            )
        if body["auto_topup_min_balance"] <= 0:
            raise errors.validation(
                "Minimum balance threshold must be a positive value",
                "auto_topup_min_balance must be greater than 0",
            )
        if body["auto_topup_amount"] <= 0:
            raise errors.validation(
                "Auto-topup amount must be a positive value", "auto_topup_amount must be greater than 0"
            )
    min_balance = body.get("auto_topup_min_balance")
    topup_amount = body.get("auto_topup_amount")
    min_balance = (
        None if min_balance is None else money.amount(bounded("auto_topup_min_balance", min_balance))
    )
    topup_amount = None if topup_amount is None else money.amount(bounded("auto_topup_amount", topup_amount))

    wallet = wallets.get(world, wallet_id)
    changes: dict[str, Any] = {name: body[name] for name in ("name", "description") if name in body}
    if "metadata" in body:
        changes["metadata"] = dict(body["metadata"])
    if "config" in body:
        changes["config"] = _copy_config(body["config"])
    current = wallet.auto_topup or AutoTopup(False, money.ZERO, money.ZERO)
    enabled = current.enabled if trigger is None else trigger == THRESHOLD_TRIGGER
    if not enabled:
        changes["auto_topup"] = AutoTopup(False, money.ZERO, money.ZERO)
    else:
        changes["auto_topup"] = AutoTopup(
            True,
            current.threshold if min_balance is None else min_balance,
            current.amount if topup_amount is None else topup_amount,
        )
    return wallet, changes


# ---- top up --------------------------------------------------------------------------------


def fingerprint(body: dict[str, Any]) -> tuple:
    return tuple(sorted((k, repr(v)) for k, v in body.items()))


def replay(world: World, wallet_id: str, body: dict[str, Any]) -> Wallet | None:
    """The first answer of a top-up retried with the same key; 409 for a different request."""
    key = body["idempotency_key"]
    record = wallets.idempotency_record(world, key)
    if record is None:
        return None
    if record.wallet_id != wallet_id or record.fingerprint != fingerprint(body):
        raise errors.conflict(
            "This idempotency_key was already used for a different top-up",
            "idempotency key reused with a different request",
            idempotency_key=key,
            wallet_id=record.wallet_id,
        )
    return record.result


def credit(world: World, wallet: Wallet, body: dict[str, Any]) -> wallets.Credit:
    now = world.now()
    fields.int64(body.get("priority"), "priority")  # decoded before any check
    key = body["idempotency_key"]
    credits = money.amount(bounded("credits_to_add", body.get("credits_to_add", 0)))
    if credits == 0 and body.get("amount"):
        # Money becomes credits at the wallet's rate (16 significant digits, as the cloud divides).
        credits = money.divide(bounded("amount", body["amount"]), wallet.conversion_rate)
    expiry = None
    if body.get("expiry_date_utc") is not None:
        try:
            expiry = fields.moment(body["expiry_date_utc"])
        except ValueError:
            raise errors.validation(
                "expiry_date_utc must be an RFC 3339 timestamp",
                "invalid expiry_date_utc",
                expiry_date_utc=body["expiry_date_utc"],
            ) from None
    reason = body["transaction_reason"]
    fields.positive_credits_and_reason(credits, reason, TOP_UP_REASONS)
    if expiry is not None:
        if expiry < now:
            raise errors.validation(
                "Expiry date must be in the future", "expiry_date_utc cannot be in the past"
            )
        # Credits expire at 00:00 UTC of the given day, so that day must still be ahead.
        expiry = expiry.replace(hour=0, minute=0, second=0, microsecond=0)
        future_expiry(expiry, now, "expiry date cannot be in the past")
    priority = body.get("priority")
    if priority is not None and priority < 0:
        raise errors.validation(
            "Priority must be zero or a positive number",
            "priority must be greater than or equal to 0",
            priority=priority,
        )
    reference_type, reference_id = "EXTERNAL", key
    if reason == "PURCHASED_CREDIT_INVOICED":  # paid at once in this version
        reference_type, reference_id = "PAYMENT", world.new_id("pay_", now)
    return wallets.Credit(
        credits=credits,
        reason=reason,
        idempotency_key=key,
        expiry=expiry,
        priority=priority,
        description=body.get("description", ""),
        metadata=dict(body.get("metadata") or {}),
        reference_type=reference_type,
        reference_id=reference_id,
    )


# ---- transactions --------------------------------------------------------------------------


def _time_param(query: dict[str, Any], name: str) -> datetime | None:
    if query.get(name) is None:
        return None
    try:
        return fields.moment(query[name])
    except ValueError:
        raise errors.validation(
            "Invalid filter parameters", f"{name} must be an RFC 3339 timestamp", **{name: query[name]}
        ) from None


def transaction_query(wallet_id: str, query: dict[str, Any]) -> wallets.TransactionQuery | None:
    """The list's filters; None when the query can match nothing (a status other than published)."""
    if (query.get("reference_type") is None) != (query.get("reference_id") is None):
        raise errors.validation(
            "Reference type and reference id must be provided together",
            "reference_type and reference_id must be provided together",
        )
    sort = query.get("sort", "created_at")
    if sort not in ("created_at", "updated_at", "amount"):
        raise errors.validation(
            "Invalid filter parameters",
            f"cannot sort by {sort!r}",
            sort=sort,
            allowed=["amount", "created_at", "updated_at"],
        )
    filters = wallets.TransactionQuery(
        wallet_ids=(wallet_id,),
        type=query.get("type"),
        transaction_status=query.get("transaction_status"),
        transaction_reason=query.get("transaction_reason"),
        priority=query.get("priority"),
        reference_type=query.get("reference_type"),
        reference_id=query.get("reference_id"),
        created_from=_time_param(query, "start_time"),
        created_to=_time_param(query, "end_time"),
        expiry_before=_time_param(query, "expiry_date_before"),
        expiry_after=_time_param(query, "expiry_date_after"),
        credits_available_gt=query.get("credits_available_gt"),
        sort=sort,
        descending=query.get("order", "desc") == "desc",
        offset=query.get("offset", 0),
        limit=query.get("limit", 50),
    )
    return filters if query.get("status") in (None, "published") else None


# ---- views ---------------------------------------------------------------------------------


_n = money.normalize
_t = format_timestamp


_NO_AUTO_TOPUP = AutoTopup(False, money.ZERO, money.ZERO)


def wallet_view(w: Wallet) -> dict[str, Any]:
    auto_topup = w.auto_topup or _NO_AUTO_TOPUP
    # Every field of the seed page's response is always present (name, description and metadata
    # included, even when empty), so clients generated from it find what they expect.
    return {
        "id": w.id,
        "customer_id": w.customer_id,
        "name": w.name,
        "currency": w.currency,
        "description": w.description,
        "balance": _n(w.balance),
        "credit_balance": _n(w.credit_balance),
        "wallet_status": w.wallet_status,
        "metadata": w.metadata,
        "auto_topup_trigger": "balance_below_threshold" if auto_topup.enabled else "disabled",
        "auto_topup_min_balance": _n(auto_topup.threshold),
        "auto_topup_amount": _n(auto_topup.amount),
        "wallet_type": w.wallet_type,
        "config": w.config,
        "conversion_rate": _n(w.conversion_rate),
        "created_at": _t(w.created_at),
        "updated_at": _t(w.updated_at),
    }


def wallet_balance_view(world: World, w: Wallet, now: datetime) -> dict[str, Any]:
    """The real-time balance: with no invoices or usage in the sandbox, it is the balance itself."""
    body = wallet_view(w)
    body.update(
        environment_id=world.environment_id,
        tenant_id=world.tenant_id,
        status="published",
        created_by=SYSTEM_USER,
        updated_by=SYSTEM_USER,
    )
    if w.wallet_status != "active":
        body.update(
            real_time_balance=money.ZERO,
            real_time_credit_balance=money.ZERO,
            balance_updated_at=_t(w.updated_at),
        )
        return body
    body.update(
        real_time_balance=_n(w.balance),
        real_time_credit_balance=_n(money.divide(w.balance, w.conversion_rate)),
        balance_updated_at=_t(now),
        unpaid_invoice_amount=money.ZERO,
        current_period_usage=money.ZERO,
    )
    return body


def transaction_view(t: Transaction) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": t.id,
        "wallet_id": t.wallet_id,
        "type": t.type,
        "amount": _n(t.amount),
        "credit_amount": _n(t.credit_amount),
        "credit_balance_before": _n(t.credit_balance_before),
        "credit_balance_after": _n(t.credit_balance_after),
        "transaction_status": t.transaction_status,
    }
    if t.expiry_date is not None:
        body["expiry_date"] = _t(t.expiry_date)
    if t.priority is not None:
        body["priority"] = t.priority
    body["credits_available"] = _n(t.credits_available)
    for name in ("transaction_reason", "reference_type", "reference_id", "description"):
        value = getattr(t, name)
        if value:
            body[name] = value
    if t.metadata:
        body["metadata"] = t.metadata
    body["created_at"] = body["updated_at"] = _t(t.created_at)
    return body


# ---- handlers ------------------------------------------------------------------------------


def create_wallet(world: World, params, body) -> Result:
    return 200, wallet_view(wallets.create(world, new_wallet(world, body)))


def get_wallet(world: World, params, body) -> Result:
    return 200, wallet_view(wallets.get(world, params["id"]))


def update_wallet(world: World, params, body) -> Result:
    wallet, changes = wallet_changes(world, params["id"], body)
    return 200, wallet_view(wallets.update(world, wallet, changes))


def top_up_wallet(world: World, params, body) -> Result:
    """Credit a wallet. A retry with the same idempotency key gets the first result back."""
    wallet = world.wallets.get(params["id"])
    if wallet is None:
        raise errors.not_found("Wallet not found")
    earlier = replay(world, wallet.id, body)
    if earlier is not None:
        return 200, wallet_view(earlier)
    to_add = credit(world, wallet, body)
    return 200, wallet_view(wallets.top_up(world, wallet, to_add, fingerprint(body)).wallet)


def terminate_wallet(world: World, params, body) -> Result:
    return 200, wallet_view(wallets.terminate(world, wallets.get(world, params["id"])))


def get_wallet_balance(world: World, params, body) -> Result:
    return 200, wallet_balance_view(world, wallets.get(world, params["id"]), world.now())


def list_wallet_transactions(world: World, params, body) -> Result:
    wallet = wallets.get(world, params["id"])
    query = transaction_query(wallet.id, params)
    found, total = wallets.transactions(world, query) if query is not None else ([], 0)
    return 200, page(
        [transaction_view(t) for t in found], total, params.get("limit", 50), params.get("offset", 0)
    )


def list_customer_wallets(world: World, params, body) -> Result:
    return 200, [wallet_view(w) for w in wallets.active_wallets_of(world, params["id"])]


def get_customer_wallets(world: World, params, body) -> Result:
    customer = fields.customer_by_id_or_lookup_key(world, params)
    found = wallets.active_wallets_of(world, customer.id)
    if params.get("include_real_time_balance"):
        now = world.now()
        return 200, [wallet_balance_view(world, w, now) for w in found]
    return 200, [wallet_view(w) for w in found]


HANDLERS: dict[str, Handler] = {
    "createWallet": create_wallet,
    "getWallet": get_wallet,
    "updateWallet": update_wallet,
    "topUpWallet": top_up_wallet,
    "terminateWallet": terminate_wallet,
    "getWalletBalance": get_wallet_balance,
    "listWalletTransactions": list_wallet_transactions,
    "listCustomerWallets": list_customer_wallets,
    "getCustomerWallets": get_customer_wallets,
}
