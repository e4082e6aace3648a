"""Wallets in version 2026-08-22: their requests, read into domain values with that server's
checks, their order and its words (``internal/api/dto`` and the wallet service upstream), their
handlers and their views.

The body has already passed the document's schema (types, enums, lengths); what is checked
here is what the schema cannot say. After an operation that writes a completed credit or debit,
the wallet's auto top-up is evaluated, as the cloud does after every wallet operation.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from ...domain import charges, customers, errors, money, wallets
from ...domain.clock import UTC, format_timestamp
from ...domain.models import AlertLevel, AlertSettings, AutoTopup, Transaction, Wallet
from ...domain.world import World
from .. import Handler, Result, fields
from .common import ZERO, dec, decimal, expand, owned, page, page_limits, timestamp
from .customers import customer_view

# Operations that add to what a world holds (World.object_count): refused (429) in a full world.
GROWS_WORLD = frozenset({"createWallet", "topUpWallet", "debitWallet", "modifyWallet", "terminateWallet"})
TOP_UP_REASONS = (
    "FREE_CREDIT_GRANT",
    "SUBSCRIPTION_CREDIT_GRANT",
    "PURCHASED_CREDIT_INVOICED",
    "PURCHASED_CREDIT_DIRECT",
    "CREDIT_NOTE",
    "INVOICE_VOID_REFUND",
)
CONFIGS = {"PRE_PAID": {"allowed_price_types": ["USAGE"]}, "POST_PAID": {"allowed_price_types": ["ALL"]}}
NAMES = {"PRE_PAID": "Prepaid Wallet - ", "POST_PAID": "Postpaid Wallet - "}
BREAKDOWN = ("credits_available_breakdown",)
CACHE_TTL = timedelta(minutes=30)  # how long the cloud keeps a computed real-time balance
_t = format_timestamp


# ---- requests ----------------------------------------------------------------------------


def _future(
    moment: datetime | None, now: datetime, message: str = "Expiry date must be in the future", **details: Any
) -> None:
    if moment is not None and moment < now:
        raise errors.validation(message, "expiry date cannot be in the past", **details)


def _key(scope: str, **parts: Any) -> str:
    """An idempotency key as the cloud derives one: the scope and 16 hex digits of a hash of
    the parts, sorted by name (``internal/idempotency/generator.go``)."""
    text = scope + "".join(f":{k}={v}" for k, v in sorted(parts.items()))
    return f"{scope}-{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def _second(moment: datetime) -> str:
    """A time as Go's ``Format(time.RFC3339)`` writes a UTC one: to the second, with ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _yyyymmdd(value: int) -> datetime:
    return fields.yyyymmdd(value, "initial_credits_to_load_expiry_date")


def auto_topup(body: dict[str, Any]) -> AutoTopup:
    """The ``auto_topup`` object of a new wallet: threshold, amount and invoicing are required."""
    if body.get("threshold") is None:
        raise errors.validation("Threshold is required", "auto_topup.threshold is required")
    if body.get("amount") is None:
        raise errors.validation("Amount is required", "auto_topup.amount is required")
    if body.get("invoicing") is None:
        raise errors.validation("Invoicing boolean is required", "auto_topup.invoicing is required")
    value, unit = _cooldown(body.get("cooldown"))
    return AutoTopup(
        enabled=bool(body.get("enabled")),
        threshold=money.amount(decimal(body, "threshold") or money.ZERO),
        amount=money.amount(decimal(body, "amount") or money.ZERO),
        invoicing=body["invoicing"],
        cooldown_value=value,
        cooldown_unit=unit,
    )


def _cooldown(cooldown: dict[str, Any] | None) -> tuple[int | None, str | None]:
    if cooldown is None:
        return None, None
    value, unit = cooldown.get("value", 0), cooldown.get("unit") or ""
    if value <= 0:
        raise errors.validation("Duration value must be greater than zero", "invalid cooldown", value=value)
    if not unit:
        raise errors.validation("Duration unit is required", "invalid cooldown")
    return value, unit


def _level(body: dict[str, Any] | None) -> AlertLevel | None:
    if body is None:
        return None
    return AlertLevel(
        threshold=money.amount(decimal(body, "threshold") or money.ZERO), condition=body.get("condition", "")
    )


def alert_settings(body: dict[str, Any], check: bool = True) -> AlertSettings:
    """Wallet alert levels; checked on create (critical first, then warning and info around it).
    Percentages are kept within 0-100 on update too: any other is no percentage."""
    settings = AlertSettings(
        critical=_level(body.get("critical")),
        warning=_level(body.get("warning")),
        info=_level(body.get("info")),
        alert_enabled=bool(body.get("alert_enabled")),
        threshold_type=body.get("alert_threshold_type") or "",
    )
    if check:
        _check_alerts(settings)
    if settings.threshold_type == "percentage":
        for name in ("critical", "warning", "info"):
            level = getattr(settings, name)
            if level is not None and not 0 <= level.threshold <= 100:
                raise errors.validation(
                    f"Please provide a valid {name} threshold: a percentage between 0 and 100",
                    "percentage threshold out of range",
                    field=f"alert_settings.{name}.threshold",
                    threshold=fields.shown(level.threshold),
                )
    return settings


def _check_alerts(s: AlertSettings) -> None:
    def fail(message: str) -> errors.ApiError:
        return errors.validation(message, "invalid alert settings")

    if s.alert_enabled and not (s.critical or s.warning or s.info):
        raise fail("Please provide at least one threshold configuration")
    if s.critical and s.critical.condition not in ("above", "below"):
        raise fail("Please provide a valid critical threshold condition")
    if s.warning:
        if not s.critical:
            raise fail("Please provide a critical threshold")
        above = s.critical.condition == "above"
        if (
            (s.warning.threshold > s.critical.threshold)
            if above
            else (s.warning.threshold < s.critical.threshold)
        ):
            raise fail("Please provide a valid warning threshold")
        if s.warning.condition != s.critical.condition:
            raise fail("Please provide a valid warning condition")
    if s.info:
        if s.info.condition not in ("above", "below"):
            raise fail("Please provide a valid info threshold condition")
        around = s.warning or s.critical
        if around:
            if s.info.condition != around.condition:
                raise fail("Please provide a valid info condition")
            if (
                (s.info.threshold > around.threshold)
                if around.condition == "above"
                else (s.info.threshold < around.threshold)
            ):
                raise fail("Please provide a valid info threshold")


def _customer_id_text(value: str, external: bool) -> None:
    what = "external customer id" if external else "customer id"
    if not external and (value.startswith("_") or value.endswith("_")):
        raise errors.validation("Please provide a valid customer id", "invalid customer id")
    for bad in ("%", " "):
        if bad in value:
            raise errors.validation(
                f"Please provide a valid {what} - cannot contain: {bad}", f"invalid {what}"
            )


def new_wallet(world: World, body: dict[str, Any]) -> wallets.NewWallet:
    """A CreateWalletRequest, checked in the server's order."""
    if body.get("price_unit"):
        # The sandbox has no price units, so no code names a published one.
        raise errors.not_found(
            f"Price unit with code {body['price_unit']} was not found",
            "price unit not found",
            price_unit=body["price_unit"],
        )
    currency = body["currency"]
    if not currency:
        raise errors.validation("Invalid request format", "currency is required")
    if len(currency) != 3:
        raise errors.validation("Currency code must be 3 characters long", "invalid currency code")
    rule = auto_topup(body["auto_topup"]) if body.get("auto_topup") is not None else None
    wallet_type = body.get("wallet_type") or "PRE_PAID"
    rate = fields.conversion_rate(decimal(body, "conversion_rate", money.ZERO, money.MAX_RATE) or money.ZERO)
    topup_rate = decimal(body, "topup_conversion_rate", None, money.MAX_RATE)
    if topup_rate is not None and topup_rate <= 0:
        raise errors.validation(
            "Topup conversion rate must be a positive value",
            "topup_conversion_rate must be greater than 0",
            topup_conversion_rate=fields.shown(topup_rate),
        )
    customer_id, external_id = body.get("customer_id") or "", body.get("external_customer_id") or ""
    if not customer_id and not external_id:
        raise errors.validation(
            "Please provide either customer_id or external_customer_id",
            "customer_id or external_customer_id is required",
        )
    if external_id:
        _customer_id_text(external_id, external=True)
    if customer_id:
        _customer_id_text(customer_id, external=False)
    now = world.now()
    expiry = timestamp(body, "initial_credits_expiry_date_utc")
    _future(expiry, now)
    settings = alert_settings(body["alert_settings"]) if body.get("alert_settings") is not None else None
    if not customer_id:
        customer_id = customers.by_lookup_key(world, external_id).id
    initial = money.amount(decimal(body, "initial_credits_to_load", money.ZERO) or money.ZERO)
    if initial > 0 and expiry is None and body.get("initial_credits_to_load_expiry_date") is not None:
        expiry = _yyyymmdd(body["initial_credits_to_load_expiry_date"])
        # The cloud checks this date in the top-up that follows its duplicate-wallet check.
        wallets.ensure_unique(world, customer_id, currency, wallet_type)
        _future(expiry, now, expiry_date=format_timestamp(expiry).replace(".000000", ""))
    return wallets.NewWallet(
        customer_id=customer_id,
        currency=currency,
        wallet_type=wallet_type,
        name=NAMES[wallet_type] + currency.upper(),
        conversion_rate=rate,
        topup_conversion_rate=money.rate(topup_rate) if topup_rate is not None else rate,
        config=CONFIGS[wallet_type],
        description=body.get("description", ""),
        metadata=dict(body.get("metadata") or {}),
        auto_topup=rule,
        alert_settings=settings,
        initial_credits=initial if initial > 0 else money.ZERO,
        initial_credits_expiry=expiry,
        initial_credits_key=initial_credits_key,
    )


def initial_credits_key(wallet: Wallet, credits: Decimal, now: datetime) -> str:
    return _key(
        "credit_grant",
        wallet_id=wallet.id,
        credits_to_add=fields.shown(credits),
        transaction_reason="FREE_CREDIT_GRANT",
        timestamp=_second(now),
    )


def transfer_key(source: Wallet, new: Wallet, credits: Decimal) -> str:
    """The key of the credits a prepaid wallet hands to the postpaid one it became."""
    return _key(
        "credit_grant",
        wallet_id=new.id,
        source_wallet_id=source.id,
        credits_to_add=fields.shown(credits),
        transaction_reason="FREE_CREDIT_GRANT",
        conversion_transfer="true",
    )


def wallet_changes(wallet: Wallet, body: dict[str, Any]) -> dict[str, Any]:
    """An UpdateWalletRequest: auto_topup merges field by field; the rest replaces."""
    changes: dict[str, Any] = {name: body[name] for name in ("name", "description") if name in body}
    if body.get("metadata") is not None:
        changes["metadata"] = dict(body["metadata"])
    if body.get("config") is not None:
        changes["config"] = {"allowed_price_types": list(body["config"].get("allowed_price_types") or [])}
    if body.get("auto_topup") is not None:
        changes["auto_topup"] = _merged_auto_topup(wallet.auto_topup, body["auto_topup"])
    if body.get("alert_settings") is not None:
        settings = alert_settings(body["alert_settings"], check=False)
        changes["alert_settings"] = settings
        if not settings.alert_enabled:
            changes["alert_state"] = "ok"
    return changes


def _merged_auto_topup(current: AutoTopup | None, body: dict[str, Any]) -> AutoTopup:
    base = current or AutoTopup(False, money.ZERO, money.ZERO)
    value, unit = base.cooldown_value, base.cooldown_unit
    cooldown = body.get("cooldown")
    if cooldown is not None:
        value = cooldown.get("value", value)
        unit = cooldown.get("unit", unit)
        if not value:  # a value of 0 clears the cooldown
            value = unit = None
    threshold, amount = decimal(body, "threshold"), decimal(body, "amount")
    return AutoTopup(
        enabled=base.enabled if body.get("enabled") is None else body["enabled"],
        threshold=base.threshold if threshold is None else money.amount(threshold),
        amount=base.amount if amount is None else money.amount(amount),
        invoicing=base.invoicing if body.get("invoicing") is None else body["invoicing"],
        cooldown_value=value,
        cooldown_unit=unit,
    )


def credit(world: World, wallet: Wallet, body: dict[str, Any]) -> wallets.Credit:
    """A TopUpWalletRequest: credits (or money at the top-up rate), reason, dates, bonus."""
    now = world.now()
    fields.int64(body.get("priority"), "priority")  # decoded before any check
    credits = decimal(body, "credits_to_add", money.ZERO) or money.ZERO
    amount = decimal(body, "amount", money.ZERO) or money.ZERO
    if credits == 0 and amount != 0:
        credits = money.divide(amount, wallet.topup_conversion_rate)
    reason = body["transaction_reason"]
    fields.positive_credits_and_reason(credits, reason, TOP_UP_REASONS)
    expiry = timestamp(body, "expiry_date_utc")
    _future(expiry, now)
    priority = body.get("priority")
    if priority is not None and priority < 0:
        raise errors.validation(
            "Priority must be a non-negative integer",
            "priority must be greater than or equal to 0",
            priority=priority,
        )
    bonus = decimal(body, "bonus_credits_to_add")
    if bonus is not None and bonus <= 0:
        raise errors.validation(
            "To grant no bonus credits, omit bonus_credits_to_add entirely",
            "bonus_credits_to_add must be greater than 0",
            bonus_credits_to_add=fields.shown(bonus),
        )
    bonus_expiry = timestamp(body, "bonus_credits_expiry_date_utc")
    _future(bonus_expiry, now, "Bonus credits expiry date must be in the future")
    effective = timestamp(body, "effective_date")
    if effective is not None and effective > now:
        raise errors.validation(
            "Effective date must not be in the future",
            "effective_date is after now",
            effective_date=body["effective_date"],
        )
    invoiced = reason == "PURCHASED_CREDIT_INVOICED"
    if body.get("checkout") is not None and not invoiced:
        raise errors.validation(
            "Omit checkout, or set transaction_reason to PURCHASED_CREDIT_INVOICED",
            "checkout needs PURCHASED_CREDIT_INVOICED",
        )
    _coupons(body.get("coupons") or [])
    key = body.get("idempotency_key") or _key(
        "wallet_top_up",
        wallet_id=wallet.id,
        credits_to_add=fields.shown(credits),
        transaction_reason=reason,
        timestamp=_second(now),
    )
    description = body.get("description", "")  # an invoiced one's default: the domain's, by policy
    return wallets.Credit(
        credits=credits,
        reason=reason,
        idempotency_key=key,
        expiry=expiry,
        priority=priority,
        description=description,
        metadata=dict(body.get("metadata") or {}),
        invoiced=invoiced,
        bonus_credits=money.amount(bonus) if bonus is not None else None,
        bonus_expiry=bonus_expiry,
        effective_at=effective,
    )


def _coupons(coupons: list[dict[str, Any]]) -> None:
    """A top-up's coupons, by code. The sandbox has no coupons, so a code names none: 404, as the
    cloud answers a code it cannot find (an empty one is a 400 first)."""
    for index, coupon in enumerate(coupons):
        if not coupon["coupon_code"]:
            where = f"coupons[{index}].coupon_code"
            raise errors.validation("Provide a valid coupon code", "coupon_code is required", field=where)
    for index, coupon in enumerate(coupons):
        code = coupon["coupon_code"]
        raise errors.not_found(
            f"Coupon with code '{code}' not found",
            "coupon not found",
            coupon_code=code,
            field=f"coupons[{index}].coupon_code",
        )


def unused_key(world: World, wallet: Wallet, key: str, kind: str, credits: Decimal) -> None:
    """A transaction's idempotency key is unique in the world (409 when it was used before).
    The details name the money amount of the refused row, as the cloud's insert reports it."""
    if key and key in world.transaction_keys:
        rate = wallet.topup_conversion_rate if kind == "credit" else wallet.conversion_rate
        raise errors.conflict(
            "A wallet transaction with this idempotency key already exists",
            "duplicate idempotency key",
            wallet_id=wallet.id,
            type=kind,
            amount=fields.shown(money.amount(money.multiply(credits, rate))),
            idempotency_key=key,
        )


def debit(body: dict[str, Any]) -> tuple[Decimal, str]:
    """A ManualBalanceDebitRequest: (credits, reason), checked before the wallet is looked up."""
    if body.get("idempotency_key") is None:
        raise errors.validation("Invalid request format", "idempotency_key is required")
    credits = money.amount(decimal(body, "credits", money.ZERO) or money.ZERO)
    if credits <= 0:
        raise errors.validation(
            "Credits to debit must be a positive value",
            "credits must be greater than 0",
            credits=fields.shown(credits),
        )
    reason = body["transaction_reason"]
    if reason != "MANUAL_BALANCE_DEBIT":
        raise errors.validation(
            "Invalid transaction reason",
            "transaction_reason must be MANUAL_BALANCE_DEBIT",
            transaction_reason=reason,
            allowed_reasons=["MANUAL_BALANCE_DEBIT"],
        )
    return credits, reason


def transaction_query(query: dict[str, Any], wallet_ids: tuple[str, ...] | None) -> wallets.TransactionQuery:
    """A WalletTransactionFilter (query string or search body)."""
    limit, offset = page_limits(query, "Invalid filter")
    if query.get("reference_type") is not None and not query.get("reference_id"):
        raise errors.validation(
            "Reference type and reference id must be provided together",
            "reference_type and reference_id must be provided together",
        )
    start, end = timestamp(query, "start_time"), timestamp(query, "end_time")
    if start and end and end < start:
        raise errors.validation(
            "Please provide a valid time range", "invalid time range", end_time="must be after start_time"
        )
    before, after = timestamp(query, "expiry_date_before"), timestamp(query, "expiry_date_after")
    if before and after and before < after:
        raise errors.validation("Expiry date before must be after expiry date after", "invalid expiry range")
    sort = query.get("sort")
    field, descending = "created_at", query.get("order", "desc") == "desc"
    if isinstance(sort, list) and sort:
        field = sort[0].get("field", field)
        descending = sort[0].get("direction", "desc") == "desc"
        if field not in wallets.SORTABLE:
            raise errors.validation(
                f"Unknown field name '{field}' in wallet transaction query", "unknown sort field", field=field
            )
    return wallets.TransactionQuery(
        wallet_ids=wallet_ids,
        type=query.get("type"),
        transaction_status=query.get("transaction_status"),
        transaction_reason=query.get("transaction_reason"),
        priority=query.get("priority"),
        reference_type=query.get("reference_type"),
        reference_id=query.get("reference_id") if query.get("reference_type") else None,
        created_from=start,
        created_to=end,
        expiry_before=before,
        expiry_after=after,
        credits_available_gt=decimal(query, "credits_available_gt"),
        sort=field,
        descending=descending,
        offset=offset,
        limit=limit,
    )


# ---- views -------------------------------------------------------------------------------


def auto_topup_view(rule: AutoTopup) -> dict[str, Any]:
    body: dict[str, Any] = {
        "enabled": rule.enabled,
        "threshold": dec(rule.threshold),
        "amount": dec(rule.amount),
        "invoicing": rule.invoicing,
    }
    if rule.cooldown_value:
        body["cooldown"] = {"value": rule.cooldown_value, "unit": rule.cooldown_unit}
    return body


def _level_view(level: AlertLevel | None) -> dict[str, Any] | None:
    return None if level is None else {"threshold": dec(level.threshold), "condition": level.condition}


def alert_settings_view(settings: AlertSettings) -> dict[str, Any]:
    body: dict[str, Any] = {
        "critical": _level_view(settings.critical),
        "warning": _level_view(settings.warning),
        "info": _level_view(settings.info),
        "alert_enabled": settings.alert_enabled,
    }
    if settings.threshold_type:  # only once given (SDK 2.1.43's field)
        body["alert_threshold_type"] = settings.threshold_type
    return body


def wallet_view(world: World, w: Wallet) -> dict[str, Any]:
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
        body["auto_topup"] = auto_topup_view(w.auto_topup)
    settings = w.alert_settings
    # The cloud leaves alert settings out until one of their levels is set.
    if settings is not None and (settings.critical or settings.warning or settings.info):
        body["alert_settings"] = alert_settings_view(settings)
    body.update(owned(world))
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


def wallet_balance_view(
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
    body = wallet_view(world, w)
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


def transaction_view(world: World, t: Transaction) -> dict[str, Any]:
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
    body.update(owned(world))
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


# ---- handlers ----------------------------------------------------------------------------


def _wallet(world: World, wallet: Wallet) -> dict[str, Any]:
    return wallet_view(world, wallet)


def _breakdown(world: World, wallet: Wallet, expanded: set[str]) -> dict[str, Any]:
    body = wallet_view(world, wallet)
    if expanded:
        body["credits_available_breakdown"] = breakdown(world, wallet)
    return body


def create_wallet(world: World, params, body) -> Result:
    new = new_wallet(world, body)
    wallet = wallets.create(world, new)
    if new.initial_credits > 0:  # only a written credit makes the cloud evaluate auto top-up
        wallets.auto_top_up(world, wallet)
    return 200, _wallet(world, wallet)


def _wallet_list(world: World, query: dict[str, Any]) -> Result:
    # The cloud ignores limit, offset and order here, and always reports a first page of 50.
    page_limits(query, "An unexpected error occurred")
    expanded = expand(query.get("expand"), BREAKDOWN)
    found = wallets.all_wallets(world, query.get("wallet_ids"), query.get("status"))
    return 200, page([_breakdown(world, w, expanded) for w in found], len(found), 50, 0)


def list_wallets(world: World, params, body) -> Result:
    return _wallet_list(world, params)


def query_wallet(world: World, params, body) -> Result:
    return _wallet_list(world, body)


def get_wallet(world: World, params, body) -> Result:
    return 200, _wallet(world, wallets.get(world, params["id"]))


def update_wallet(world: World, params, body) -> Result:
    wallet = wallets.get(world, params["id"])
    return 200, _wallet(world, wallets.update(world, wallet, wallet_changes(wallet, body)))


def top_up_wallet(world: World, params, body) -> Result:
    wallet = world.wallets.get(params["id"])
    if wallet is None:
        raise errors.not_found("Wallet not found", "ent: wallet not found")
    to_add = credit(world, wallet, body)
    unused_key(world, wallet, to_add.idempotency_key, "credit", to_add.credits)
    result = wallets.top_up(world, wallet, to_add)
    if result.transaction.transaction_status == "completed":  # direct, or an invoice paid at once
        wallets.auto_top_up(world, wallet)
    answer: dict[str, Any] = {"wallet_transaction": transaction_view(world, result.transaction)}
    if result.invoice is not None:
        answer["invoice_id"] = result.invoice.id
    answer["wallet"] = _wallet(world, wallet)
    return 200, answer


def debit_wallet(world: World, params, body) -> Result:
    credits, reason = debit(body)
    wallet = wallets.get(world, params["id"])
    if wallet.wallet_status != wallets.ACTIVE:
        raise errors.invalid_operation(
            "Wallet is not active",
            "wallet is not active",
            wallet_id=wallet.id,
            wallet_status=wallet.wallet_status,
        )
    key = body["idempotency_key"]
    unused_key(world, wallet, key, "debit", credits)
    wallets.debit(
        world,
        wallet,
        credits,
        reason,
        idempotency_key=key,
        description=body.get("description", ""),
        metadata=body.get("metadata"),
    )
    wallets.auto_top_up(world, wallet)
    return 200, _wallet(world, wallet)


def modify_wallet(world: World, params, body) -> Result:
    if body.get("modification_type") != "prepaid_to_postpaid":
        raise errors.validation(
            "Invalid wallet modification request",
            "unknown modification_type",
            modification_type=body.get("modification_type"),
        )
    original = wallets.get(world, params["id"])
    new = wallets.convert_to_postpaid(world, original, transfer_key)
    wallets.auto_top_up(world, new)
    return 200, {"original_wallet": _wallet(world, original), "new_wallet": _wallet(world, new)}


def terminate_wallet(world: World, params, body) -> Result:
    return 200, _wallet(world, wallets.terminate(world, wallets.get(world, params["id"])))


def _max_live(params: dict[str, Any]) -> int | None:
    """The ``x-max-live`` header: seconds, used only when it is a positive integer."""
    raw = (params.get("x-max-live") or "").strip()
    return int(raw) if raw.isdigit() and int(raw) > 0 else None


def _balance(
    world: World, wallet: Wallet, expanded: set[str], from_cache: bool, max_live: int | None = None
) -> dict[str, Any]:
    """The real-time balance: computed now (and remembered), or, when a cached read is asked
    for, the one computed last if it is young enough."""
    now = world.now()
    show = bool(expanded)
    if wallet.wallet_status != wallets.ACTIVE or wallet.wallet_type == "POST_PAID":
        return wallet_balance_view(world, wallet, expand=show)
    if from_cache:
        cached = world.balance_cache.get(wallet.id)
        limit = CACHE_TTL if max_live is None else min(CACHE_TTL, timedelta(seconds=max_live))
        if cached is not None and now - cached[1] <= limit:
            return wallet_balance_view(world, wallet, balance=cached[0], cached=True, expand=show)
    owed = charges.pending(world, wallet)  # once: what is remembered and what is shown
    world.balance_cache[wallet.id] = (wallet.balance - owed.total, now)
    return wallet_balance_view(world, wallet, owed=owed, expand=show)


def get_wallet_balance(world: World, params, body) -> Result:
    expanded = expand(params.get("expand"), BREAKDOWN)
    wallet = wallets.get(world, params["id"])
    return 200, _balance(world, wallet, expanded, bool(params.get("from_cache")))


def get_wallet_balance_cached(world: World, params, body) -> Result:
    expanded = expand(params.get("expand"), BREAKDOWN)
    wallet = wallets.get(world, params["id"])
    return 200, _balance(world, wallet, expanded, True, _max_live(params))


def _transaction_page(
    world: World, query: dict[str, Any], wallet_ids: tuple[str, ...] | None, expanded: set[str]
) -> Result:
    filters = transaction_query(query, wallet_ids)
    found, total = wallets.transactions(world, filters)
    items = []
    for txn in found:
        item = transaction_view(world, txn)
        wallet = world.wallets[txn.wallet_id]
        if "wallet" in expanded:
            item["wallet"] = wallet_view(world, wallet)
        customer = world.customers.get(wallet.customer_id)
        if "customer" in expanded and customer is not None and customer.status == "published":
            item["customer"] = customer_view(world, customer)
        items.append(item)
    # As in the cloud, the page's offset is the offset of the next page.
    return 200, page(items, total, filters.limit, filters.offset + filters.limit)


def get_wallet_transactions(world: World, params, body) -> Result:
    # An unknown wallet has no transactions (200, empty), as in the cloud; expand is ignored here.
    return _transaction_page(world, params, (params["id"],), set())


def query_wallet_transaction(world: World, params, body) -> Result:
    asked = ",".join(filter(None, (params.get("expand"), body.get("expand"))))
    expanded = expand(asked, ("customer", "created_by_user", "wallet"))
    wallet_ids = (body["id"],) if body.get("id") else None
    return _transaction_page(world, body, wallet_ids, expanded)


def get_wallets_by_customer_id(world: World, params, body) -> Result:
    expanded = expand(params.get("expand"), BREAKDOWN)
    return 200, [_breakdown(world, w, expanded) for w in wallets.active_wallets_of(world, params["id"])]


def get_customer_wallets(world: World, params, body) -> Result:
    customer = fields.customer_by_id_or_lookup_key(world, params)
    expanded = expand(params.get("expand"), BREAKDOWN)
    found = wallets.active_wallets_of(world, customer.id)
    if not params.get("include_real_time_balance"):
        return 200, [wallet_balance_view(world, w, real_time=False) for w in found]
    return 200, [
        _balance(world, w, expanded, bool(params.get("from_cache")), _max_live(params)) for w in found
    ]


HANDLERS: dict[str, Handler] = {
    "createWallet": create_wallet,
    "listWallets": list_wallets,
    "queryWallet": query_wallet,
    "getWallet": get_wallet,
    "updateWallet": update_wallet,
    "topUpWallet": top_up_wallet,
    "debitWallet": debit_wallet,
    "modifyWallet": modify_wallet,
    "terminateWallet": terminate_wallet,
    "getWalletBalance": get_wallet_balance,
    "getWalletBalanceCached": get_wallet_balance_cached,
    "getWalletTransactions": get_wallet_transactions,
    "queryWalletTransaction": query_wallet_transaction,
    "getWalletsByCustomerId": get_wallets_by_customer_id,
    "getCustomerWallets": get_customer_wallets,
}
