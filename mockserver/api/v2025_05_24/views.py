"""Domain objects as the API's JSON shapes (WalletResponse, CustomerResponse, ...).

Decimals stay ``Decimal`` here, trimmed to their shortest form; the JSON encoder writes them
as exact JSON numbers. Transactions leave empty optional fields out, as the cloud's
``omitempty`` does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ...domain import money
from ...domain.clock import format_timestamp
from ...domain.models import SYSTEM_USER, AutoTopup, Customer, Transaction, Wallet
from ...domain.world import World

_n = money.normalize
_t = format_timestamp


_NO_AUTO_TOPUP = AutoTopup(False, money.ZERO, money.ZERO)


def wallet(w: Wallet) -> dict[str, Any]:
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


def wallet_balance(world: World, w: Wallet, now: datetime) -> dict[str, Any]:
    """The real-time balance: with no invoices or usage in the sandbox, it is the balance itself."""
    body = wallet(w)
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


def transaction(t: Transaction) -> dict[str, Any]:
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


def customer(world: World, c: Customer) -> dict[str, Any]:
    return {
        "id": c.id,
        "external_id": c.external_id,
        "name": c.name,
        "email": c.email,
        "address_line1": c.address_line1,
        "address_line2": c.address_line2,
        "address_city": c.address_city,
        "address_state": c.address_state,
        "address_postal_code": c.address_postal_code,
        "address_country": c.address_country,
        "metadata": c.metadata,
        "environment_id": world.environment_id,
        "tenant_id": world.tenant_id,
        "status": c.status,
        "created_at": _t(c.created_at),
        "updated_at": _t(c.updated_at),
        "created_by": SYSTEM_USER,
        "updated_by": SYSTEM_USER,
    }


def page(items: list[dict[str, Any]], total: int, limit: int, offset: int) -> dict[str, Any]:
    return {"items": items, "pagination": {"total": total, "limit": limit, "offset": offset}}
