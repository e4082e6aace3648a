"""Usage operations of version 2026-08-22: events, features (with their meters), plans, prices,
subscriptions and the customer's usage summary: requests read into domain values with the
server's checks, and answers in the document's shapes.

The body has already passed the document's schema (types, enums, sizes); what is checked here
is what the schema cannot say.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from decimal import Decimal
from typing import Any

from ...domain import charges, customers, errors, money, usage
from ...domain.clock import END_OF_TIME, format_timestamp
from ...domain.models import Customer, Feature, LineItem, Meter, Plan, Price, Subscription, Tier
from ...domain.world import World
from .. import Handler, Result, fields
from .common import dec, decimal, owned, page, timestamp

_t = format_timestamp
MAX_UINT64 = 2**64 - 1
MAX_INT64 = 2**63 - 1
NEEDS_FIELD = ("SUM", "AVG", "MAX", "COUNT_UNIQUE", "LATEST", "SUM_WITH_MULTIPLIER", "WEIGHTED_SUM")


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    return value.strip() if isinstance(value, str) else ""


def _metadata(body: dict[str, Any]) -> dict[str, str]:
    value = body.get("metadata") or {}
    return {str(k): str(v) for k, v in value.items()}


# ---- requests -----------------------------------------------------------------------------


def new_meter(world: World, body: dict[str, Any], now: datetime) -> Meter:
    """A feature's inline meter, with upstream's checks and words (``domain/meter``)."""
    for name in ("name", "event_name", "reset_usage"):
        if not _text(body, name):
            raise errors.validation(
                "Invalid request format", f"meter.{name} is required", field=f"meter.{name}"
            )
    aggregation = body.get("aggregation") or {}
    kind = aggregation.get("type")
    field_name = _text(aggregation, "field")
    where = "meter.aggregation"
    if not kind:
        raise errors.validation(
            "Please provide a valid aggregation type", "invalid aggregation type", field=where
        )
    if aggregation.get("expression"):  # CEL is not evaluated by the sandbox (see the README)
        if kind not in ("SUM", "AVG", "MAX", "LATEST"):
            raise errors.validation(
                "Use SUM, AVG, MAX or LATEST when providing an expression",
                "expression not allowed for aggregation type",
                field=f"{where}.expression",
            )
        if field_name:
            raise errors.validation(
                "Provide either field or expression, not both", "field and expression", field=f"{where}.field"
            )
        raise errors.validation(
            "Aggregation expressions are not supported by the sandbox: aggregate a field",
            "expression not supported",
            field=f"{where}.expression",
        )
    if kind != "COUNT" and not field_name:
        raise errors.validation(
            "Please specify a field or expression for this aggregation type",
            "field or expression is required for aggregation type",
            aggregation_type=kind,
            field=f"{where}.field",
        )
    multiplier = decimal(aggregation, "multiplier")
    if kind == "SUM_WITH_MULTIPLIER" and multiplier is None:
        raise errors.validation(
            "Please provide a multiplier value", "multiplier is required", field=f"{where}.multiplier"
        )
    if multiplier is not None and multiplier <= 0:
        raise errors.validation(
            "Multiplier must be greater than zero", "invalid multiplier", field=f"{where}.multiplier"
        )
    for name in ("bucket_size", "group_by"):
        if aggregation.get(name):
            raise errors.validation(
                "Windowed aggregation (bucket_size, group_by) is not supported by the sandbox",
                f"{name} not supported",
                field=f"{where}.{name}",
            )
    if kind == "WEIGHTED_SUM":
        raise errors.validation(
            "WEIGHTED_SUM aggregation is not supported by the sandbox",
            "aggregation not supported",
            field=where,
        )
    filters: dict[str, list[str]] = {}
    for index, item in enumerate(body.get("filters") or ()):
        key = _text(item, "key")
        values = [v for v in item.get("values") or () if isinstance(v, str) and v]
        if not key:
            raise errors.validation(
                "Please provide a key for each filter",
                "filter key is required",
                field=f"meter.filters[{index}].key",
            )
        if not values:
            raise errors.validation(
                "Please provide at least one value for each filter",
                "filter values are required",
                field=f"meter.filters[{index}].values",
            )
        filters[key] = values
    return Meter(
        id=world.new_id("meter_", now),
        name=body["name"],
        event_name=body["event_name"].strip(),
        aggregation=kind,
        created_at=now,
        updated_at=now,
        field_name=field_name,
        multiplier=multiplier,
        filters=filters,
        reset_usage=body["reset_usage"],
    )


def new_feature(world: World, body: dict[str, Any]) -> tuple[Feature, Meter | None]:
    """A feature, and the meter it brings inline (not yet added: the feature may be refused)."""
    now = world.now()
    if not body.get("name"):
        raise errors.validation("Name is required", "name is required", field="name")
    meter_id = _text(body, "meter_id")
    metered = body["type"] == "metered"
    if metered:
        if not meter_id and not body.get("meter"):
            raise errors.validation(
                "Please provide meter details to setup a metered feature",
                "either meter_id or meter must be provided",
                field="meter",
            )
        if meter_id:
            usage.meter(world, meter_id)
    if bool(_text(body, "unit_singular")) != bool(_text(body, "unit_plural")):
        raise errors.validation(
            "unit_singular and unit_plural must be set together", "invalid feature", field="unit_singular"
        )
    meter = new_meter(world, body["meter"], now) if metered and not meter_id else None
    feature = Feature(
        id=world.new_id("feat_", now),
        name=body["name"],
        type=body["type"],
        created_at=now,
        updated_at=now,
        meter_id=(meter.id if meter else meter_id) if metered else "",
        # upstream derives a key from the name when none is sent, so names clash as keys do
        lookup_key=_text(body, "lookup_key") or _lookup_key_of(body["name"]),
        description=body.get("description") or "",
        unit_singular=_text(body, "unit_singular"),
        unit_plural=_text(body, "unit_plural"),
        metadata=_metadata(body),
    )
    return feature, meter


def _lookup_key_of(name: str) -> str:
    """A feature's key made from its name as upstream makes one: lower case, each run of other
    characters than a-z and 0-9 an underscore, none at either end."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def new_plan(world: World, body: dict[str, Any]) -> Plan:
    now = world.now()
    if not body.get("name"):  # validate:"required": blank text is a name
        raise fields.field_error("CreatePlanRequest", [("name", "required")])
    return Plan(
        id=world.new_id("plan_", now),
        name=body["name"],
        created_at=now,
        updated_at=now,
        lookup_key=_text(body, "lookup_key"),
        description=body.get("description") or "",
        display_order=body.get("display_order") or 0,
        metadata=_metadata(body),
    )


def new_price(world: World, body: dict[str, Any]) -> Price:
    """A price, with upstream's checks in upstream's order (the first failure wins)."""
    now = world.now()
    fields.int64(body.get("billing_period_count"), "billing_period_count")  # decoded before any check
    failures = fields.currency_failures(body)
    if failures:
        raise fields.field_error("CreatePriceRequest", failures)
    model, kind = body["billing_model"], body["type"]
    count = body.get("billing_period_count") or 0
    if count < 1:  # the document's default of 1 is not applied upstream
        raise errors.validation(
            "Billing period count must be greater than 0",
            "billing period count must be greater than 0",
            billing_period_count=count,
        )
    amount = decimal(body, "amount")
    transform = body.get("transform_quantity")
    divide_by = (transform or {}).get("divide_by")
    tiers = _tiers(body) if model == "TIERED" else []
    if model == "PACKAGE":
        if transform is None:
            raise errors.validation(
                "Please provide the number of units to set up package pricing",
                "transform_quantity is required for PACKAGE",
                field="transform_quantity",
            )
        if not divide_by or divide_by < 1:
            raise errors.validation(
                "Transform quantity divide by must be greater than or equal to 1",
                "invalid divide_by",
                divide_by=divide_by or 0,
            )
    if model in ("PACKAGE", "FLAT_FEE") and amount is None:
        words = "package" if model == "PACKAGE" else "flat fee"
        raise errors.validation(
            f"Amount is required to set up {words} pricing with fiat pricing units",
            "amount is required",
            field="amount",
        )
    meter_id = _text(body, "meter_id")
    if kind == "USAGE" and not meter_id:
        raise errors.validation(
            "Please select a metered feature to set up usage pricing",
            "meter_id is required",
            field="meter_id",
        )
    if kind == "USAGE" and body.get("min_quantity") is not None:
        raise errors.validation(
            "min_quantity cannot be set for usage pricing", "min_quantity not allowed", field="min_quantity"
        )
    if body["entity_type"] == "PLAN" and body["entity_id"] not in world.plans:
        raise errors.not_found(
            "The specified plan does not exist", "plan not found", plan_id=body["entity_id"]
        )
    if amount is not None and amount < 0:
        raise errors.validation(
            "Please provide a non-negative amount value", "negative amount", field="amount"
        )
    if kind == "USAGE" and body["invoice_cadence"] == "ADVANCE":
        raise errors.validation(
            "Please use ARREAR invoice cadence for USAGE price type",
            "invalid invoice cadence",
            field="invoice_cadence",
        )
    if kind == "USAGE" and meter_id not in world.meters:
        raise errors.not_found(
            "Meter not found", "meter not found", meter_id=meter_id, tenant_id=world.tenant_id
        )
    if body.get("price_unit_type") == "CUSTOM":
        raise errors.validation(
            "Custom price units are not supported by the sandbox",
            "price unit not supported",
            field="price_unit_type",
        )
    display_name = _text(body, "display_name")
    if not display_name:  # upstream: the meter's name for a usage price, the plan's for a fixed one
        named = world.meters.get(meter_id) if kind == "USAGE" else world.plans.get(body["entity_id"])
        display_name = named.name if named is not None else ""
    return Price(
        id=world.new_id("price_", now),
        entity_type=body["entity_type"],
        entity_id=body["entity_id"],
        currency=body["currency"].strip().lower(),
        type=kind,
        billing_model=model,
        billing_period=body["billing_period"],
        billing_period_count=count,
        invoice_cadence=body["invoice_cadence"],
        created_at=now,
        updated_at=now,
        amount=amount or money.ZERO,
        meter_id=meter_id if kind == "USAGE" else "",
        tier_mode=(body.get("tier_mode") or "VOLUME") if model == "TIERED" else "",
        tiers=tiers,
        divide_by=divide_by if model == "PACKAGE" else None,
        round=(transform or {}).get("round") or "up",
        display_name=display_name,
        lookup_key=_text(body, "lookup_key"),
        description=body.get("description") or "",
        metadata=_metadata(body),
    )


def _tiers(body: dict[str, Any]) -> list[Tier]:
    raw = body.get("tiers") or []
    if not raw:
        raise errors.validation(
            "Price tiers are required to set up tiered pricing", "tiers are required", field="tiers"
        )
    for index, item in enumerate(raw):  # upstream checks every tier's amounts first
        for name, words in (("unit_amount", "Unit amount"), ("flat_amount", "Flat amount")):
            amount = decimal(item, name)
            if amount is not None and amount < 0:
                raise errors.validation(
                    f"tiers at index {index} is invalid",
                    f"{words.lower()} cannot be negative",
                    tier_index=index,
                    field_name="tiers",
                    field=f"tiers[{index}].{name}",
                    problem=f"{words} cannot be negative",
                )
    tiers, below = [], 0
    for index, item in enumerate(raw):
        up_to = item.get("up_to")
        if up_to is not None and not 0 <= up_to <= MAX_UINT64:  # Go reads up_to as a uint64
            raise errors.validation(
                "Invalid request format",
                "up_to out of range",
                field=f"tiers[{index}].up_to",
                problem=f"must be between 0 and {MAX_UINT64}",
            )
        last = index == len(raw) - 1
        if (up_to is None and not last) or (up_to is not None and up_to <= below):
            raise errors.validation(
                "each tier's up_to must be greater than the one before; only the last tier may omit it",
                "invalid price",
                field=f"tiers[{index}].up_to",
            )
        tiers.append(
            Tier(
                unit_amount=decimal(item, "unit_amount", money.ZERO) or money.ZERO,
                flat_amount=decimal(item, "flat_amount", money.ZERO) or money.ZERO,
                up_to=up_to,
            )
        )
        below = up_to or below
    return tiers


def _customer_of(world: World, body: dict[str, Any]) -> Customer:
    customer_id, external_id = _text(body, "customer_id"), _text(body, "external_customer_id")
    if not customer_id and not external_id:
        raise errors.validation(
            "Please provide either customer_id or external_customer_id",
            "customer_id or external_customer_id is required",
            field="customer_id",
        )
    customer = (
        customers.get(world, customer_id) if customer_id else customers.by_lookup_key(world, external_id)
    )
    if customer.status != "published":
        raise errors.validation(
            "The customer must be active to create a subscription",
            "customer is not active",
            customer_id=customer.id,
        )
    return customer


def new_subscription(world: World, body: dict[str, Any]) -> usage.NewSubscription:
    failures = fields.currency_failures(body, required=("plan_id",))  # validated before any lookup
    if failures:
        raise fields.field_error("CreateSubscriptionRequest", failures)
    customer = _customer_of(world, body)
    period = body["billing_period"]
    if period not in usage.SUBSCRIBABLE:
        raise errors.validation(
            f"billing_period {period} cannot be subscribed to", "invalid subscription", field="billing_period"
        )
    count = body.get("billing_period_count") or 1
    if count < 1:
        raise errors.validation(
            "Billing Period must be a valid positive number",
            "invalid billing period count",
            field="billing_period_count",
        )
    if body.get("billing_anchor") and (body.get("billing_cycle") or "anniversary") != "anniversary":
        raise errors.validation(
            "billing_anchor can only be passed when billing_cycle is anniversary",
            "billing_anchor with calendar billing",
            field="billing_anchor",
        )
    start, end = timestamp(body, "start_date"), timestamp(body, "end_date")
    if start is not None and end is not None and end <= start:
        raise errors.validation("end_date must be after start_date", "invalid subscription", field="end_date")
    anchor = timestamp(body, "billing_anchor")
    for moment in (start or world.now(), anchor):
        if moment is not None and not _period_fits(moment, period, count):
            raise errors.validation(
                "A billing period must end by 9999-12-31, the last date the sandbox holds",
                "billing period out of range",
                field="billing_period_count"
                if count > 1
                else ("start_date" if moment is start else "billing_anchor"),
                billing_period_count=count,
            )
    return usage.NewSubscription(
        customer_id=customer.id,
        plan_id=body["plan_id"],
        currency=body["currency"].strip(),
        billing_period=period,
        billing_period_count=count,
        start_date=start,
        end_date=end,
        billing_cycle=body.get("billing_cycle") or "anniversary",
        billing_anchor=anchor,
        lookup_key=_text(body, "lookup_key"),
        metadata=_metadata(body),
    )


def _period_fits(moment: datetime, period: str, count: int) -> bool:
    """Whether the period of ``count`` from ``moment`` ends on a date Python holds (year 9999 at most);
    upstream (Go's time, int64) has room for far more."""
    if count > MAX_INT64:
        return False
    return usage.boundary(moment, period, count, 1) < END_OF_TIME  # (the end of time: past 9999)


def decoded_event(body: dict[str, Any], where: str = "") -> datetime | None:
    """What upstream's JSON decoding of an event refuses, before any check of its fields: a
    timestamp that is not RFC 3339 (Go's time.Time; "" included), a property number beyond
    float64. Returns the event's time, None when it has none."""
    moment = None
    if body.get("timestamp") is not None:
        try:
            moment = fields.rfc3339(body["timestamp"])
        except ValueError:
            raise errors.validation(
                "Invalid request payload",
                "timestamp is not RFC 3339",
                field=f"{where}timestamp",
                problem="must be an RFC 3339 timestamp (2026-09-01T12:00:00Z) within the years 1 to 9999 UTC",
            ) from None
    path = _beyond_float64(body.get("properties") or {}, f"{where}properties")
    if path is not None:
        raise errors.validation(
            "Invalid request payload",
            "number out of range",
            field=path,
            problem="is a number beyond float64's range",
        )
    return moment


def _beyond_float64(value: Any, path: str) -> str | None:
    """The path of the first number in ``value`` that a float64 cannot hold, if any."""
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    elif isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        try:
            return path if math.isinf(float(value)) else None
        except OverflowError:  # an int too large for a float
            return path
    else:
        return None
    for key, item in items:
        found = _beyond_float64(item, f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}")
        if found is not None:
            return found
    return None


def new_event(
    world: World, body: dict[str, Any], now: datetime, where: str = "", moment: datetime | None = None
) -> usage.UsageEvent:
    """An event: a single one missing its name or customer is an unreadable payload upstream, an
    element of a bulk request fails its validation (the details name the field either way)."""
    for name in ("event_name", "external_customer_id"):
        if not _text(body, name):
            message = "Request validation failed" if where else "Invalid request payload"
            raise errors.validation(
                message, f"{name} is required", field=f"{where}{name}", problem="is required"
            )
    properties = dict(body.get("properties") or {})
    name = body["event_name"].strip()
    _quantities_fit(world, name, properties, where)
    return usage.UsageEvent(
        event_name=name,
        external_customer_id=body["external_customer_id"],
        timestamp=moment or now,
        properties=properties,
        event_id=_text(body, "event_id"),
    )


def _quantities_fit(world: World, name: str, properties: dict[str, Any], where: str) -> None:
    """Each quantity the event gives a meter fits the column upstream stores it in (400 otherwise:
    upstream accepts the event and then cannot store its usage)."""
    for meter in world.meters.values():
        if meter.event_name != name or not charges.passes(meter, properties):
            continue
        quantity = charges.event_quantity(meter, properties)
        if quantity is not None and quantity > charges.MAX_QUANTITY:
            raise errors.validation(
                f"The quantity of meter {meter.name!r} must be at most {charges.MAX_QUANTITY} per event",
                "quantity out of range",
                field=f"{where}properties.{meter.field_name}",
                problem=f"gives a quantity above {charges.MAX_QUANTITY}",
                meter_id=meter.id,
            )


# ---- views --------------------------------------------------------------------------------


def _stamped(world: World, created: datetime, updated: datetime) -> dict[str, Any]:
    return {**owned(world), "created_at": _t(created), "updated_at": _t(updated)}


def meter_view(world: World, m: Meter) -> dict[str, Any]:
    aggregation: dict[str, Any] = {"type": m.aggregation}
    if m.field_name:
        aggregation["field"] = m.field_name
    if m.multiplier is not None:
        aggregation["multiplier"] = dec(m.multiplier)
    return {
        "id": m.id,
        "name": m.name,
        "event_name": m.event_name,
        "aggregation": aggregation,
        "filters": [{"key": k, "values": v} for k, v in m.filters.items()],
        "reset_usage": m.reset_usage,
        "status": m.status,
        "tenant_id": world.tenant_id,
        "created_at": _t(m.created_at),
        "updated_at": _t(m.updated_at),
    }


def feature_view(world: World, f: Feature, with_meter: bool = True) -> dict[str, Any]:
    """A feature; the create answer names its meter (meter_id) without embedding it, as upstream's."""
    body: dict[str, Any] = {"id": f.id, "name": f.name, "type": f.type, "metadata": f.metadata}
    for name in ("lookup_key", "description", "unit_singular", "unit_plural", "meter_id"):
        if getattr(f, name):
            body[name] = getattr(f, name)
    if with_meter and f.meter_id in world.meters:
        body["meter"] = meter_view(world, world.meters[f.meter_id])
    return {**body, **_stamped(world, f.created_at, f.updated_at), "status": f.status}


def price_view(world: World, p: Price) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": p.id,
        "amount": dec(p.amount),
        "display_amount": _display(p),
        "currency": p.currency,
        "type": p.type,
        "billing_model": p.billing_model,
        "billing_period": p.billing_period,
        "billing_period_count": p.billing_period_count,
        "billing_cadence": "RECURRING",  # upstream writes it so for every price
        "invoice_cadence": p.invoice_cadence,
        "entity_type": p.entity_type,
        "entity_id": p.entity_id,
        "price_unit_type": p.price_unit_type,
        "metadata": p.metadata,
        "min_quantity": None,
    }
    if p.meter_id:
        body["meter_id"] = p.meter_id
        if p.meter_id in world.meters:
            body["meter"] = meter_view(world, world.meters[p.meter_id])
    if p.billing_model == "TIERED":
        body["tier_mode"] = p.tier_mode
        body["tiers"] = [
            {"up_to": t.up_to, "unit_amount": dec(t.unit_amount), "flat_amount": dec(t.flat_amount)}
            for t in p.tiers
        ]
    if p.divide_by is not None:
        body["transform_quantity"] = {"divide_by": p.divide_by, "round": p.round}
    for name in ("display_name", "lookup_key", "description"):
        if getattr(p, name):
            body[name] = getattr(p, name)
    for name in ("start_date", "end_date"):
        if getattr(p, name) is not None:
            body[name] = _t(getattr(p, name))
    return {**body, **_stamped(world, p.created_at, p.updated_at), "status": p.status}


def _display(p: Price) -> str:
    symbol = {"usd": "$", "eur": "€", "gbp": "£", "inr": "₹"}.get(p.currency, p.currency.upper() + " ")
    return f"{symbol}{dec(p.amount)}"


def plan_view(world: World, p: Plan) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": p.id,
        "name": p.name,
        "description": p.description,
        "display_order": p.display_order,
        "metadata": p.metadata,
        "prices": [price_view(world, price) for price in usage.prices_of(world, p.id)],
    }
    if p.lookup_key:
        body["lookup_key"] = p.lookup_key
    return {**body, **_stamped(world, p.created_at, p.updated_at), "status": p.status}


def line_item_view(world: World, sub: Subscription, item: LineItem) -> dict[str, Any]:
    price = world.prices[item.price_id]
    body: dict[str, Any] = {
        "id": item.id,
        "subscription_id": sub.id,
        "customer_id": sub.customer_id,
        "entity_type": "plan",
        "entity_id": sub.plan_id,
        "plan_display_name": world.plans[sub.plan_id].name if sub.plan_id in world.plans else "",
        "price_id": item.price_id,
        "price_type": item.price_type,
        "display_name": item.display_name,
        "quantity": dec(item.quantity if item.price_type == "FIXED" else money.ZERO),
        "currency": sub.currency,
        "billing_period": price.billing_period,
        "billing_period_count": price.billing_period_count,
        "invoice_cadence": price.invoice_cadence,
        "start_date": _t(sub.start_date),
        "metadata": {},
    }
    if item.meter_id:
        body["meter_id"] = item.meter_id
        if item.meter_id in world.meters:
            body["meter_display_name"] = world.meters[item.meter_id].name
    return {**body, **_stamped(world, item.created_at, item.created_at)}


def subscription_view(world: World, s: Subscription) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": s.id,
        "customer_id": s.customer_id,
        "plan_id": s.plan_id,
        "currency": s.currency,
        "subscription_status": s.status,
        "subscription_type": "standalone",
        "billing_period": s.billing_period,
        "billing_period_count": s.billing_period_count,
        "billing_cadence": "RECURRING",
        "billing_cycle": s.billing_cycle,
        "billing_anchor": _t(s.billing_anchor),
        "start_date": _t(s.start_date),
        "current_period_start": _t(s.current_period_start),
        "current_period_end": _t(s.current_period_end),
        "cancel_at_period_end": s.cancel_at_period_end,
        "collection_method": "charge_automatically",
        "payment_behavior": "default_active",
        "pause_status": "none",
        "metadata": s.metadata,
        "line_items": [line_item_view(world, s, world.line_items[i]) for i in s.line_items],
        "version": 1,
    }
    for name in ("end_date", "cancel_at", "cancelled_at"):
        moment = getattr(s, name)
        if moment is not None:
            body[name] = _t(moment)
    if s.lookup_key:
        body["lookup_key"] = s.lookup_key
    if s.parent_subscription_id:
        body["parent_subscription_id"] = s.parent_subscription_id
    return {**body, **_stamped(world, s.created_at, s.updated_at)}


# ---- handlers -----------------------------------------------------------------------------


def ingest_event(world: World, params, body) -> Result:
    moment = decoded_event(body)
    (event_id,) = usage.ingest(world, [new_event(world, body, world.now(), moment=moment)])
    return 202, {"message": "Event accepted for processing", "event_id": event_id}


def ingest_events_bulk(world: World, params, body) -> Result:
    now = world.now()
    moments = [decoded_event(item, f"events[{i}].") for i, item in enumerate(body["events"])]
    events = [
        new_event(world, item, now, f"events[{i}].", moments[i]) for i, item in enumerate(body["events"])
    ]
    usage.ingest(world, events)
    return 202, {"message": "Events accepted for processing"}


def create_subscription(world: World, params, body) -> Result:
    return 201, subscription_view(world, usage.subscribe(world, new_subscription(world, body)))


def get_subscription(world: World, params, body) -> Result:
    return 200, subscription_view(world, usage.subscription(world, params["id"]))


CANCELLED = {
    "immediate": "Subscription cancelled immediately",
    "end_of_period": "Subscription will be cancelled at the end of the current period ({date})",
    "scheduled_date": "Subscription end date set to {date}",
}


def cancel_subscription(world: World, params, body) -> Result:
    kind = body["cancellation_type"]
    at = timestamp(body, "cancel_at")
    if kind == "scheduled_date" and at is None:  # upstream validates before the lookup
        raise errors.validation(
            "Provide a cancel_at date (past for backdated cancellation, future for scheduled cancellation)",
            "cancel_at is required for scheduled_date",
            field="cancel_at",
        )
    if kind == "immediate" and at is not None and at > world.now():
        raise errors.validation(
            "Use cancellation_type 'scheduled_date' to schedule a future cancellation",
            "cancel_at cannot be a future date for immediate cancellation",
            field="cancel_at",
            cancel_at=at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
    sub = world.subscriptions.get(params["id"])
    if sub is None:
        raise errors.not_found(
            "Subscription not found",
            "subscription not found",
            subscription_id=params["id"],
        )
    # The SDK sends the policy's right spelling; the document upstream publishes, its typo.
    policy = body.get("cancel_immediately_invoice_policy") or body.get("cancel_immediately_inovice_policy")
    when = usage.cancel(world, sub, kind, at, invoice=policy == "generate_invoice")
    return 200, {
        "subscription_id": sub.id,
        "cancellation_type": kind,
        "effective_date": _t(when),
        "status": sub.status,
        "reason": body.get("reason") or "",
        "message": CANCELLED[kind].format(date=when.date().isoformat()),
        "processed_at": _t(world.now()),
        "total_credit_amount": "0",
    }


def query_subscription(world: World, params, body) -> Result:
    for name in ("active_at", "start_time", "end_time", "trial_end_due_lte"):
        timestamp(body, name)  # checked; the sandbox filters by customer, plan, id and status
    wanted_customers = set(body.get("customer_ids") or ())
    if body.get("customer_id"):
        wanted_customers.add(body["customer_id"])
    if body.get("external_customer_id"):
        found = world.customer_by_external_id.get(body["external_customer_id"])
        wanted_customers.add(found or "")
    wanted_ids = set(body.get("subscription_ids") or ())
    statuses = set(body.get("subscription_status") or ())
    matching = [
        s
        for s in world.subscriptions.values()
        if (not wanted_customers or s.customer_id in wanted_customers)
        and (not wanted_ids or s.id in wanted_ids)
        and (not body.get("plan_id") or s.plan_id == body["plan_id"])
        and (not statuses or s.status in statuses)
    ]
    matching.sort(key=lambda s: (s.created_at, s.id), reverse=body.get("order", "desc") != "asc")
    limit, offset = body.get("limit") or 50, body.get("offset") or 0
    items = [subscription_view(world, s) for s in matching[offset : offset + limit]]
    return 200, page(items, len(matching), limit, offset)


def get_subscriptions_for_customer(world: World, params, body) -> Result:
    """The customer's active and trialing subscriptions, unpaged; line items only when expanded."""
    roots = (
        {part.strip().split(".")[0] for part in params["expand"].split(",")}
        if params.get("expand")
        else set()
    )
    for name in sorted(roots - {"subscription_line_items", "entitlements"}):  # upstream's allowed roots
        raise errors.validation(
            "Field is not allowed to be expanded", "field not allowed to be expanded", field=name
        )
    customer = customers.by_lookup_key(world, params["external_id"])
    expanded = "subscription_line_items" in roots
    items = []
    for sub in usage.subscriptions_of(world, customer.id):
        if sub.status in charges.BILLED_STATUSES:
            view = subscription_view(world, sub)
            if not expanded:
                del view["line_items"]
            items.append(view)
    return 200, {"items": items, "pagination": {"total": 0, "limit": 0, "offset": 0}}


HANDLERS: dict[str, Handler] = {
    "ingestEvent": ingest_event,
    "ingestEventsBulk": ingest_events_bulk,
    "createSubscription": create_subscription,
    "getSubscription": get_subscription,
    "cancelSubscription": cancel_subscription,
    "querySubscription": query_subscription,
    "getSubscriptionsForCustomer": get_subscriptions_for_customer,
}
# Operations that add to what a world holds: refused (429) in a full world.
GROWS_WORLD = frozenset({"createSubscription", "ingestEvent", "ingestEventsBulk"})
