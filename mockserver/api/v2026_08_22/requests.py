"""Requests of version 2026-08-22 read into domain values, with that server's checks, their
order and its words (``internal/api/dto`` and the wallet and customer services upstream).

The body has already passed the document's schema (types, enums, lengths); what is checked
here is what the schema cannot say. Decimals arrive as strings or numbers.
"""

from __future__ import annotations

import hashlib
import zoneinfo
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from ...domain import customers, errors, money, wallets
from ...domain.clock import UTC, format_timestamp
from ...domain.models import AlertLevel, AlertSettings, AutoTopup, ContactPerson, Wallet
from ...domain.world import World
from .. import fields

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
CUSTOMER_TEXT = fields.TEXT_FIELDS + ("timezone", "contact")
CONTACT_PERSON_TEXT = ("last_name", "salutation", "designation", "department", "email", "mobile", "id")


# ---- values --------------------------------------------------------------------------------


def decimal(
    body: dict[str, Any], name: str, default: Decimal | None = None, limit: Decimal = money.MAX_AMOUNT
) -> Decimal | None:
    """A decimal field sent as a string ("10.5") or a number, within what the ledger holds."""
    value = body.get(name)
    if value is None:
        return default
    try:
        number = Decimal(value) if isinstance(value, str) else money.to_decimal(value)
    except ArithmeticError:
        number = None
    if number is None or not number.is_finite():
        raise errors.validation(
            f'{name} must be a decimal such as "10.5"', "invalid decimal", **{name: str(value)}
        )
    return fields.within(name, number, limit)


def timestamp(body: dict[str, Any], name: str) -> datetime | None:
    value = body.get(name)
    if value is None:
        return None
    try:
        return fields.moment(value)
    except ValueError:
        raise errors.validation(
            f"{name} must be an RFC 3339 timestamp such as 2027-01-01T00:00:00Z",
            f"invalid {name}",
            **{name: value},
        ) from None


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


# ---- wallets -------------------------------------------------------------------------------


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


def expand(value: str | None, allowed: tuple[str, ...]) -> set[str]:
    """An ``expand`` list; a field that may not be expanded is a 400."""
    asked = {part.strip() for part in (value or "").split(",") if part.strip()}
    for name in sorted(asked):
        if name not in allowed:
            raise errors.validation("Field is not allowed to be expanded", "invalid expand", field=name)
    return asked


def page_limits(query: dict[str, Any], message: str) -> tuple[int, int]:
    """(limit, offset) of a list: limit 1..1000 (0 means 50), offset 0 or more."""
    limit, offset = query.get("limit") or 50, query.get("offset") or 0
    if not 1 <= limit <= 1000:
        raise errors.validation(message, "invalid limit", limit="must be between 1 and 1000")
    if offset < 0:
        raise errors.validation(message, "invalid offset", offset="must be non-negative")
    return limit, offset


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


# ---- customers -----------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones()) | {"UTC"}


def _customer_failures(body: dict[str, Any], creating: bool) -> list[tuple[str, str]]:
    failures = []
    for name in ("external_id", "name"):
        if (creating or name in body) and not body.get(name):
            failures.append((name, "required"))
    failures.extend(fields.contact_failures(body))
    if body.get("timezone") and body["timezone"] not in _timezones():
        failures.append(("timezone", "timezone"))
    return failures


def new_customer(body: dict[str, Any]) -> dict[str, Any]:
    """A CreateCustomerRequest as the customer's fields (timezone UTC unless given)."""
    failures = _customer_failures(body, creating=True)
    if failures:
        raise fields.field_error("CreateCustomerRequest", failures)
    values = {name: body.get(name) or "" for name in CUSTOMER_TEXT}
    values["timezone"] = body.get("timezone") or "UTC"
    values["metadata"] = dict(body.get("metadata") or {})
    values.update(_billing_fields(body))
    return values


def customer_changes(body: dict[str, Any]) -> dict[str, Any]:
    failures = _customer_failures(body, creating=False)
    if failures:
        raise fields.field_error("UpdateCustomerRequest", failures)
    changes = {name: body[name] for name in CUSTOMER_TEXT if body.get(name) is not None}
    if body.get("metadata") is not None:
        changes["metadata"] = dict(body["metadata"])
    changes.update(_billing_fields(body))
    return changes


def _billing_fields(body: dict[str, Any]) -> dict[str, Any]:
    """billing_currency ("" clears it), tax_treatment and contact_persons (the list replaces the
    customer's), as far as the body gives them; checked after the validator's fields."""
    values: dict[str, Any] = {}
    currency = body.get("billing_currency")
    if currency is not None:
        if currency and len(currency) != 3:
            raise errors.validation(
                "Billing currency must be 3 characters long",
                "invalid billing currency code",
                billing_currency=currency,
            )
        values["billing_currency"] = currency.lower()  # stored lower case, as wallets' currencies
    if body.get("tax_treatment") is not None:
        values["tax_treatment"] = body["tax_treatment"]
    if body.get("contact_persons") is not None:
        values["contact_persons"] = _contact_persons(body["contact_persons"])
    return values


def _contact_persons(items: list[dict[str, Any]]) -> list[ContactPerson]:
    """Contact persons: a first name each, a valid e-mail when given, ids (when given) unique,
    at most one primary."""
    persons, ids, primary = [], set(), None
    for index, item in enumerate(items):
        where = f"contact_persons[{index}]"
        if not item.get("first_name"):
            raise errors.validation(
                "Contact person first name is required", "first_name is required", field=f"{where}.first_name"
            )
        if item.get("email") and not fields.EMAIL.match(item["email"]):
            raise errors.validation(
                "Please provide a valid email for the contact person",
                "invalid contact person email",
                field=f"{where}.email",
                email=item["email"],
            )
        if item.get("id"):
            if item["id"] in ids:
                raise errors.validation(
                    "Contact person ids must be unique", "duplicate contact person id", field=f"{where}.id"
                )
            ids.add(item["id"])
        if item.get("is_primary"):
            if primary is not None:
                raise errors.validation(
                    "At most one contact person can be primary",
                    "more than one primary contact person",
                    field=f"{where}.is_primary",
                    primary=primary,
                )
            primary = where
        text = {name: item.get(name) or "" for name in CONTACT_PERSON_TEXT}
        persons.append(
            ContactPerson(first_name=item["first_name"], is_primary=bool(item.get("is_primary")), **text)
        )
    return persons


def customer_query(query: dict[str, Any]) -> customers.CustomerQuery:
    """A CustomerFilter (query string or search body); published customers unless a status is asked."""
    limit, offset = page_limits(query, "Invalid filter parameters")
    external_ids = set(query.get("external_ids") or ())
    if query.get("external_id"):
        external_ids.add(query["external_id"])
    if query.get("email") and not fields.EMAIL.match(query["email"]):
        raise errors.validation("Please provide a valid email", "invalid email", email=query["email"])
    start, end = query.get("start_time"), query.get("end_time")
    conditions = [fields.customer_condition(c) for c in query.get("filters") or ()]
    wanted = dict(query.get("metadata") or {})
    if wanted:  # JSON containment, as the cloud filters metadata
        conditions.append(lambda c: all(c.metadata.get(k) == v for k, v in wanted.items()))
    return customers.CustomerQuery(
        ids=frozenset(query["customer_ids"]) if query.get("customer_ids") else None,
        external_ids=frozenset(external_ids) if external_ids else None,
        email=query.get("email") or None,
        status=query.get("status") or "published",
        # "" is no timestamp (refused, as in the transaction filter), not "no filter"
        created_from=fields.time_value(start, "start_time") if start is not None else None,
        created_to=fields.time_value(end, "end_time") if end is not None else None,
        conditions=tuple(conditions),
        sort=tuple((rule.get("field"), rule.get("direction") == "desc") for rule in query.get("sort") or ()),
        descending=query.get("order", "desc") == "desc",
        offset=offset,
        limit=limit,
    )
