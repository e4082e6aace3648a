"""Domain objects in the shapes of API version 2026-08-22: decimals as trimmed JSON strings
(``"100"``, ``"0.5"``), as the cloud's decimal type prints them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ...domain import charges, money
from ...domain.clock import format_timestamp
from ...domain.models import (
    SYSTEM_USER,
    AlertLevel,
    AlertSettings,
    AutoTopup,
    ContactPerson,
    Customer,
    Transaction,
    Wallet,
)
from ...domain.world import World

_t = format_timestamp
ZERO = "0"


def dec(value: Decimal) -> str:
    """A decimal as the cloud writes it: no exponent, no trailing zeros."""
    return format(money.normalize(value), "f")


def _owned(world: World) -> dict[str, Any]:
    return {
        "environment_id": world.environment_id,
        "tenant_id": world.tenant_id,
        "status": "published",
        "created_by": SYSTEM_USER,
        "updated_by": SYSTEM_USER,
    }


def auto_topup(rule: AutoTopup) -> dict[str, Any]:
    body: dict[str, Any] = {
        "enabled": rule.enabled,
        "threshold": dec(rule.threshold),
        "amount": dec(rule.amount),
        "invoicing": rule.invoicing,
    }
    if rule.cooldown_value:
        body["cooldown"] = {"value": rule.cooldown_value, "unit": rule.cooldown_unit}
    return body


def _level(level: AlertLevel | None) -> dict[str, Any] | None:
    return None if level is None else {"threshold": dec(level.threshold), "condition": level.condition}


def alert_settings(settings: AlertSettings) -> dict[str, Any]:
    body: dict[str, Any] = {
        "critical": _level(settings.critical),
        "warning": _level(settings.warning),
        "info": _level(settings.info),
        "alert_enabled": settings.alert_enabled,
    }
    if settings.threshold_type:  # only once given (SDK 2.1.43's field)
        body["alert_threshold_type"] = settings.threshold_type
    return body


def wallet(world: World, w: Wallet) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": w.id,
        "customer_id": w.customer_id,
        "currency": w.currency,
        "balance": dec(w.balance),
        "credit_balance": dec(w.credit_balance),
        "wallet_status": w.wallet_status,
        "name": w.name,
        "description": w.description,
        "metadata": w.metadata,
        "wallet_type": w.wallet_type,
        "config": w.config,
        "conversion_rate": dec(w.conversion_rate),
        "topup_conversion_rate": dec(w.topup_conversion_rate),
        "alert_state": w.alert_state,
    }
    if w.auto_topup is not None:
        body["auto_topup"] = auto_topup(w.auto_topup)
    settings = w.alert_settings
    # The cloud leaves alert settings out until one of their levels is set.
    if settings is not None and (settings.critical or settings.warning or settings.info):
        body["alert_settings"] = alert_settings(settings)
    body.update(_owned(world))
    body["created_at"], body["updated_at"] = _t(w.created_at), _t(w.updated_at)
    return body


def breakdown(world: World, w: Wallet) -> dict[str, str]:
    """What is left of the wallet's credits, by origin: purchased or free."""
    purchased = free = money.ZERO
    for t in world.transactions.get(w.id, ()):
        if t.type != "credit" or t.transaction_status != "completed":
            continue
        if t.transaction_reason.startswith("PURCHASED_CREDIT_"):
            purchased += t.credits_available
        elif t.transaction_reason in ("FREE_CREDIT_GRANT", "SUBSCRIPTION_CREDIT_GRANT"):
            free += t.credits_available
    return {"purchased": dec(purchased), "free": dec(free)}


def wallet_balance(
    world: World,
    w: Wallet,
    *,
    real_time: bool = True,
    balance: Decimal | None = None,
    owed: charges.Pending | None = None,
    cached: bool = False,
    expand: bool = False,
) -> dict[str, Any]:
    """A WalletBalanceResponse: the real-time balance is the balance less what the current
    periods' usage and unpaid invoices owe (``owed``, worked out when not given), or ``balance``,
    the one remembered, for a cached read; a closed wallet shows zeros."""
    body = wallet(world, w)
    if real_time:
        if w.wallet_status != "active":
            body.update(real_time_balance=ZERO, real_time_credit_balance=ZERO, current_period_usage=ZERO)
        else:
            if balance is not None:
                owed = charges.NOTHING
            elif owed is None:
                owed = charges.pending(world, w)
            value = w.balance - owed.total if balance is None else balance
            body.update(
                real_time_balance=dec(value),
                real_time_credit_balance=dec(money.divide(value, w.conversion_rate)),
                current_period_usage=dec(owed.total),
            )
            if not cached:
                body["unpaid_invoices_amount"] = dec(owed.unpaid_usage)
        body["balance_updated_at"] = _t(w.updated_at)
        if expand:
            body["credits_available_breakdown"] = breakdown(world, w)
    body["is_cached_fallback"] = cached
    return body


def transaction(world: World, t: Transaction) -> dict[str, Any]:
    w = world.wallets.get(t.wallet_id)
    body: dict[str, Any] = {
        "id": t.id,
        "wallet_id": t.wallet_id,
        "customer_id": w.customer_id if w else "",
        "type": t.type,
        "amount": dec(t.amount),
        "credit_amount": dec(t.credit_amount),
        "credit_balance_before": dec(t.credit_balance_before),
        "credit_balance_after": dec(t.credit_balance_after),
        "transaction_status": t.transaction_status,
        "reference_type": t.reference_type,
        "reference_id": t.reference_id,
        "description": t.description,
        "metadata": t.metadata,
        "expiry_date": _t(t.expiry_date) if t.expiry_date else None,
        "credits_available": dec(t.credits_available),
        "transaction_reason": t.transaction_reason,
        "priority": t.priority,
        "currency": w.currency if w else "",
    }
    if t.parent_transaction_id:
        body["parent_transaction_id"] = t.parent_transaction_id
    if t.type == "debit" and t.conversion_rate is not None:
        body["conversion_rate"] = dec(t.conversion_rate)
    if t.type == "credit" and t.topup_conversion_rate is not None:
        body["topup_conversion_rate"] = dec(t.topup_conversion_rate)
    body.update(sources(t))
    body["idempotency_key"] = t.idempotency_key
    body.update(_owned(world))
    body["created_at"] = _t(t.created_at)
    body["updated_at"] = _t(t.updated_at or t.created_at)
    return body


def sources(t: Transaction) -> dict[str, Any]:
    """Where a transaction's credits came from or went: the invoice it was written with, what a
    debit drew from each credit. Left out when there is none (SDK 2.1.43's fields)."""
    body: dict[str, Any] = {}
    if t.source_type:
        body.update(source_type=t.source_type, source_id=t.source_id)
    if t.consumption_breakdown:
        body["consumption_breakdown"] = [
            {"credit_transaction_id": c.credit_transaction_id, "credits": dec(c.credits)}
            for c in t.consumption_breakdown
        ]
    return body


def customer(world: World, c: Customer) -> dict[str, Any]:
    body: dict[str, Any] = {"id": c.id, "external_id": c.external_id, "name": c.name, "email": c.email}
    if c.contact:
        body["contact"] = c.contact
    body.update(
        address_line1=c.address_line1,
        address_line2=c.address_line2,
        address_city=c.address_city,
        address_state=c.address_state,
        address_postal_code=c.address_postal_code,
        address_country=c.address_country,
        timezone=c.timezone,
        metadata=c.metadata,
    )
    # Left out until set, as the cloud's omitempty fields are.
    if c.billing_currency:
        body["billing_currency"] = c.billing_currency
    if c.tax_treatment:
        body["tax_treatment"] = c.tax_treatment
    if c.contact_persons:
        body["contact_persons"] = [contact_person(p) for p in c.contact_persons]
    body.update(_owned(world))
    body["status"] = c.status
    body["created_at"], body["updated_at"] = _t(c.created_at), _t(c.updated_at)
    return body


def contact_person(p: ContactPerson) -> dict[str, Any]:
    body: dict[str, Any] = {"id": p.id, "first_name": p.first_name}
    for name in ("last_name", "salutation", "designation", "department", "email", "mobile"):
        if getattr(p, name):
            body[name] = getattr(p, name)
    body["is_primary"] = p.is_primary
    return body


def page(items: list[Any], total: int, limit: int, offset: int) -> dict[str, Any]:
    return {"items": items, "pagination": {"total": total, "limit": limit, "offset": offset}}
