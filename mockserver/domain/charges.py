"""What usage costs: a meter's running aggregate, a price's charge for a quantity, and what a
wallet owes for the current periods (the ``pending`` that its real-time balance subtracts).

Aggregates are kept as events arrive (a count, a sum, a maximum, the latest value, the distinct
values), so a read never looks at events: the sandbox does not keep them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import (
    MAX_EMAX,
    MIN_EMIN,
    ROUND_CEILING,
    ROUND_DOWN,
    ROUND_FLOOR,
    ROUND_HALF_UP,
    Context,
    Decimal,
    InvalidOperation,
)
from typing import Any

from . import money
from .models import SUBSCRIPTION, Invoice, LineItem, Meter, Price, Subscription, Wallet
from .world import World

# Subscriptions whose usage counts against a wallet (upstream: ListByCustomerID's statuses).
BILLED_STATUSES = ("active", "trialing")
# Line item charges are rounded to the currency's precision, half away from zero (upstream's
# currency table: 2 places unless listed, and for currencies it does not know).
NO_DECIMALS = frozenset({"jpy", "krw", "vnd", "clp"})
# Upstream keeps each event's quantity for a meter in a Decimal(18, 8) column (meter_usage.qty_total,
# the multiplier applied): a larger one cannot be stored. Ingestion refuses it; an event counted
# later (deferred, or by a meter made after it) is held to the column's range here.
MAX_QUANTITY = Decimal("9999999999.99999999")
QUANTITY_PLACES = Decimal("1e-8")
# Sums of bounded quantities times bounded prices stay far below this many digits; every step
# that rounds gets a context this wide, so no product or sum of the world's values can trap.
_WIDE = Context(prec=200, Emax=MAX_EMAX, Emin=MIN_EMIN)


# ---- meters -------------------------------------------------------------------------------


def text_of(value: Any) -> str:
    """A property as the text filters and distinct counts compare (numbers as JSON writes them)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):  # as Go prints a JSON number: 1.50 is "1.5"
        return format(money.normalize(value), "f")
    return str(value)


def number_of(value: Any) -> Decimal | None:
    """A property as a quantity: a number or a numeric string; None when it is neither."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, Decimal)):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            return None
        return number if number.is_finite() else None
    return None


def event_quantity(meter: Meter, properties: dict[str, Any]) -> Decimal | None:
    """What one event adds to the meter's quantity as upstream extracts it (the multiplier
    applied, a negative as 0); None for the aggregations that count events or values."""
    if meter.aggregation in ("COUNT", "COUNT_UNIQUE"):
        return None
    value = number_of(properties.get(meter.field_name)) or money.ZERO
    if meter.aggregation == "SUM_WITH_MULTIPLIER":
        value = _WIDE.multiply(value, meter.multiplier or money.ONE)
    return max(value, money.ZERO)


def stored_quantity(value: Decimal) -> Decimal:
    """A quantity as the column keeps it: at most 8 places (truncated), within its range."""
    if value.copy_abs() > MAX_QUANTITY:  # copy_abs: no context, so 1E+999999 cannot trap
        return MAX_QUANTITY if value > 0 else -MAX_QUANTITY
    return value.quantize(QUANTITY_PLACES, rounding=ROUND_DOWN, context=_WIDE)


def passes(meter: Meter, properties: dict[str, Any]) -> bool:
    """Every filter holds: the property is present and one of the filter's values."""
    for key, values in meter.filters.items():
        if key not in properties or text_of(properties[key]) not in values:
            return False
    return True


def distinct_value(meter: Meter, properties: dict[str, Any]) -> str | None:
    """What a COUNT_UNIQUE meter counts of an event: its field as text (None: not there)."""
    raw = properties.get(meter.field_name)
    return None if raw is None else text_of(raw)


def record(item: LineItem, meter: Meter, properties: dict[str, Any], at: datetime) -> bool:
    """Add one event (that passed the meter's filters) to a line item's running aggregate.
    Returns whether the line item now keeps one more distinct value (an object of its world)."""
    kind = meter.aggregation
    if kind == "COUNT":
        item.count += 1
        return False
    if kind == "COUNT_UNIQUE":
        distinct = distinct_value(meter, properties)
        if distinct is None or distinct in item.uniques:
            return False
        item.uniques.add(distinct)
        return True
    raw = properties.get(meter.field_name)
    value = number_of(raw)  # missing or not a number: a row of 0, as upstream writes one
    value = max(value, money.ZERO) if value is not None else money.ZERO  # negative counts as 0
    value = stored_quantity(value)
    item.count += 1
    item.total += value
    if item.maximum is None or value > item.maximum:
        item.maximum = value
    if item.latest_at is None or at >= item.latest_at:
        item.latest, item.latest_at = value, at
    return False


def quantity(item: LineItem, meter: Meter) -> Decimal:
    """The period's quantity so far, by the meter's aggregation."""
    kind = meter.aggregation
    if kind == "COUNT":
        return Decimal(item.count)
    if kind == "COUNT_UNIQUE":
        return Decimal(len(item.uniques))
    if kind in ("SUM", "WEIGHTED_SUM"):
        return item.total
    if kind == "SUM_WITH_MULTIPLIER":
        return money.multiply(item.total, meter.multiplier or money.ONE)
    if kind == "AVG":
        return money.divide(item.total, Decimal(item.count)) if item.count else money.ZERO
    if kind == "MAX":
        return item.maximum if item.maximum is not None else money.ZERO
    if kind == "LATEST":
        return item.latest if item.latest is not None else money.ZERO
    raise ValueError(f"unknown aggregation {kind!r}")


def reset(item: LineItem) -> None:
    item.count, item.total, item.maximum, item.latest, item.latest_at = 0, money.ZERO, None, None, None
    item.uniques = set()


# ---- prices -------------------------------------------------------------------------------


def rounded(amount: Decimal, currency: str) -> Decimal:
    places = Decimal(1) if currency in NO_DECIMALS else Decimal("0.01")
    return amount.quantize(places, rounding=ROUND_HALF_UP, context=_WIDE)


def cost(price: Price, units: Decimal) -> Decimal:
    """The charge for ``units`` under a price, rounded to its currency's precision."""
    if units <= 0:
        return money.ZERO
    if price.billing_model == "PACKAGE":
        packages = money.divide(units, Decimal(price.divide_by or 1))
        whole = packages.to_integral_value(ROUND_CEILING if price.round != "down" else ROUND_FLOOR)
        charge = money.multiply(whole, price.amount)
    elif price.billing_model == "TIERED":
        charge = _tiered(price, units)
    else:  # FLAT_FEE
        charge = money.multiply(units, price.amount)
    return rounded(charge, price.currency)


def _tiered(price: Price, units: Decimal) -> Decimal:
    if not price.tiers:
        return money.ZERO
    if price.tier_mode == "SLAB":  # each tier charges the units that fall in it
        charge, below = money.ZERO, money.ZERO
        for tier in price.tiers:
            top = Decimal(tier.up_to) if tier.up_to is not None else None
            inside = (min(units, top) if top is not None else units) - below
            if inside <= 0:
                break
            charge += money.multiply(inside, tier.unit_amount) + tier.flat_amount
            if top is None:
                break
            below = top
        return charge
    # VOLUME: every unit at the rate of the tier the whole quantity falls in
    tier = next((t for t in price.tiers if t.up_to is None or units <= t.up_to), price.tiers[-1])
    return money.multiply(units, tier.unit_amount) + tier.flat_amount


def line_usage(world: World, item: LineItem) -> tuple[Decimal, Decimal]:
    """A line item's quantity and charge: so far this period (USAGE), per period (FIXED)."""
    if item.price_type != "USAGE":
        return item.quantity, cost(world.prices[item.price_id], item.quantity)
    meter = world.meters.get(item.meter_id)
    if meter is None:
        return money.ZERO, money.ZERO
    units = quantity(item, meter)
    return units, cost(world.prices[item.price_id], units)


# ---- what a wallet owes -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pending:
    """What a prepaid wallet's real-time balance subtracts: ``total`` (the cloud reports it as
    current_period_usage) and the usage part of unpaid invoices (unpaid_invoices_amount)."""

    total: Decimal = money.ZERO
    unpaid_usage: Decimal = money.ZERO


NOTHING = Pending()


def billed_subscriptions(world: World, customer_id: str, currency: str) -> list[Subscription]:
    found = []
    for sub_id in world.subscriptions_by_customer.get(customer_id, ()):
        sub = world.subscriptions[sub_id]
        if sub.status in BILLED_STATUSES and sub.currency == currency:
            found.append(sub)
    return found


def pending(world: World, wallet: Wallet) -> Pending:
    """The current periods' priced usage of the customer's subscriptions in the wallet's currency,
    and its unpaid invoices, as the wallet's allowed price types let them count."""
    if wallet.wallet_type != "PRE_PAID" or not world.subscriptions_by_customer.get(wallet.customer_id):
        return NOTHING
    allowed = set(wallet.config.get("allowed_price_types") or ())
    usage = money.ZERO
    if not allowed or allowed & {"USAGE", "ALL"}:
        for sub in billed_subscriptions(world, wallet.customer_id, wallet.currency):
            for item_id in sub.line_items:
                item = world.line_items[item_id]
                if item.price_type == "USAGE":
                    usage += line_usage(world, item)[1]
    unpaid_usage, unpaid_all = money.ZERO, money.ZERO
    for bill in unpaid_bills(world, wallet.customer_id, wallet.currency):
        unpaid_usage += bill.usage_remaining
        unpaid_all += bill.remaining
    total = usage + (unpaid_all if allowed & {"ALL", "FIXED"} else unpaid_usage)
    return Pending(total, unpaid_usage)


def unpaid_bills(world: World, customer_id: str, currency: str) -> list[Invoice]:
    """The customer's subscription invoices in ``currency`` with something left to pay."""
    return [
        bill
        for bill in world.invoices.values()
        if bill.invoice_type == SUBSCRIPTION
        and bill.customer_id == customer_id
        and bill.currency == currency
        and bill.remaining > 0
    ]


def ongoing_credits(world: World, wallet: Wallet) -> Decimal:
    """The real-time credit balance: what alerts on the ongoing balance and auto top-up watch."""
    owed = pending(world, wallet).total
    if owed == 0:
        return wallet.credit_balance
    return wallet.credit_balance - money.divide(owed, wallet.conversion_rate)
