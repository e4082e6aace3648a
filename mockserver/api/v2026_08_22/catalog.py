"""The catalog of version 2026-08-22: features, plans and prices created, read, searched, updated,
deleted, cloned and synced, with upstream's checks and words (``service/feature.go``, ``plan.go``,
``price.go``): their requests, handlers and views. A feature's meter is created with it, here.
Entitlements and invoices show these objects with this module's views.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from ...domain import catalog, entitlements, errors, money, usage
from ...domain.clock import format_timestamp
from ...domain.models import Feature, Meter, Plan, Price, Tier
from ...domain.world import World
from .. import Handler, Result, fields
from .common import dec, decimal, metadata_of, page, page_limits, stamped, trimmed
from .searching import refine

_t = format_timestamp
MAX_UINT64 = 2**64 - 1

# What ``filters`` and ``sort`` may name, besides created_at and updated_at.
FEATURE_FIELDS = ("id", "name", "type", "lookup_key", "meter_id", "status", "description")
PLAN_FIELDS = ("id", "name", "lookup_key", "status", "description")
PRICE_FIELDS = (
    "id",
    "currency",
    "type",
    "billing_model",
    "billing_period",
    "entity_type",
    "entity_id",
    "meter_id",
    "lookup_key",
    "status",
)
_PRICE_CRITICAL = ("billing_model", "amount", "tier_mode", "tiers", "transform_quantity")
_PRICE_UNIT_FIELDS = ("price_unit_amount", "price_unit_tiers")


def _expand(value: Any) -> set[str]:
    return {part.strip() for part in (value or "").split(",") if part.strip()}


def _time_range(body: dict[str, Any]) -> tuple[datetime | None, datetime | None]:
    start, end = body.get("start_time"), body.get("end_time")
    return (
        fields.time_value(start, "start_time") if start is not None else None,
        fields.time_value(end, "end_time") if end is not None else None,
    )


def _set(body: dict[str, Any], name: str) -> frozenset[str] | None:
    return frozenset(body[name]) if body.get(name) else None


def _unsupported(body: dict[str, Any], names: tuple[str, ...], what: str) -> None:
    for name in names:
        if body.get(name) not in (None, "", [], {}):
            raise errors.validation(
                f"{what} {name} is not supported by the sandbox", f"{name} not supported", field=name
            )


# ---- requests ----------------------------------------------------------------------------


def new_meter(world: World, body: dict[str, Any], now: datetime) -> Meter:
    """A feature's inline meter, with upstream's checks and words (``domain/meter``)."""
    for name in ("name", "event_name", "reset_usage"):
        if not trimmed(body, name):
            raise errors.validation(
                "Invalid request format", f"meter.{name} is required", field=f"meter.{name}"
            )
    aggregation = body.get("aggregation") or {}
    kind = aggregation.get("type")
    field_name = trimmed(aggregation, "field")
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
        key = trimmed(item, "key")
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
    meter_id = trimmed(body, "meter_id")
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
    if bool(trimmed(body, "unit_singular")) != bool(trimmed(body, "unit_plural")):
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
        lookup_key=trimmed(body, "lookup_key") or _lookup_key_of(body["name"]),
        description=body.get("description") or "",
        unit_singular=trimmed(body, "unit_singular"),
        unit_plural=trimmed(body, "unit_plural"),
        metadata=metadata_of(body.get("metadata")),
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
        lookup_key=trimmed(body, "lookup_key"),
        description=body.get("description") or "",
        display_order=body.get("display_order") or 0,
        metadata=metadata_of(body.get("metadata")),
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
    meter_id = trimmed(body, "meter_id")
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
    display_name = trimmed(body, "display_name")
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
        lookup_key=trimmed(body, "lookup_key"),
        description=body.get("description") or "",
        metadata=metadata_of(body.get("metadata")),
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


# ---- views -------------------------------------------------------------------------------


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
    return {**body, **stamped(world, f.created_at, f.updated_at), "status": f.status}


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
    return {**body, **stamped(world, p.created_at, p.updated_at), "status": p.status}


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
    return {**body, **stamped(world, p.created_at, p.updated_at), "status": p.status}


# ---- features ------------------------------------------------------------------------------


def create_feature(world: World, params, body) -> Result:
    feature = usage.add_feature(world, *new_feature(world, body))
    return 201, feature_view(world, feature, with_meter=False)


def query_feature(world: World, params, body) -> Result:
    limit, offset = page_limits(body, "Invalid filter parameters")
    start, end = _time_range(body)
    keys = set(body.get("lookup_keys") or ())
    if body.get("lookup_key"):
        keys.add(body["lookup_key"])
    query = catalog.FeatureQuery(
        ids=_set(body, "feature_ids"),
        meter_ids=_set(body, "meter_ids"),
        lookup_keys=frozenset(keys) if keys else None,
        name_contains=body.get("name_contains") or "",
        status=body.get("status") or None,
        created_from=start,
        created_to=end,
        descending=body.get("order", "desc") != "asc",
    )
    found = refine(catalog.search_features(world, query), body, FEATURE_FIELDS, "features")
    with_meter = "meters" in _expand(body.get("expand"))
    items = [feature_view(world, f, with_meter=with_meter) for f in found[offset : offset + limit]]
    return 200, page(items, len(found), limit, offset)


def _meter_filters(body: dict[str, Any]) -> dict[str, list[str]] | None:
    if body.get("filters") is None:
        return None
    found: dict[str, list[str]] = {}
    for index, item in enumerate(body["filters"]):
        key = (item.get("key") or "").strip()
        values = [v for v in item.get("values") or () if isinstance(v, str) and v]
        if not key:
            raise errors.validation(
                "Please provide a key for each filter",
                "filter key is required",
                field=f"filters[{index}].key",
            )
        if not values:
            raise errors.validation(
                "Please provide at least one value for each filter",
                "filter values are required",
                field=f"filters[{index}].values",
            )
        found[key] = values
    return found


def update_feature(world: World, params, body) -> Result:
    _unsupported(body, ("alert_settings", "reporting_unit", "group_id"), "Feature")
    filters = _meter_filters(body)
    changes: dict[str, Any] = {}
    for name in ("name", "description", "unit_singular", "unit_plural"):
        if body.get(name) is not None:
            changes[name] = body[name]
    if body.get("metadata") is not None:
        changes["metadata"] = metadata_of(body["metadata"])
    feature = catalog.feature(world, params["id"])
    return 200, feature_view(
        world, catalog.update_feature(world, feature, changes, filters), with_meter=False
    )


def delete_feature(world: World, params, body) -> Result:
    feature = world.features.get(params["id"])
    if feature is None:
        raise errors.not_found(
            "The specified feature does not exist",
            f"Feature with ID {params['id']} was not found",
            feature_id=params["id"],
        )
    catalog.archive_feature(world, feature)
    return 200, {"message": "feature deleted successfully"}


def _clone_names(body: dict[str, Any], what: str) -> tuple[str, str]:
    for name in ("name", "lookup_key"):
        if not body.get(name):
            raise errors.validation(
                f"Please provide a unique {name} for the cloned {what}",
                f"{name} is required for cloned {what}",
                field=name,
            )
    return body["name"], body["lookup_key"]


def clone_feature(world: World, params, body) -> Result:
    name, lookup_key = _clone_names(body, "feature")
    source = catalog.feature(world, params["id"])
    made = catalog.clone_feature(
        world, source, name, lookup_key, body.get("description"), metadata_of(body.get("metadata"))
    )
    return 201, feature_view(world, made, with_meter=False)


# ---- plans ---------------------------------------------------------------------------------


def create_plan(world: World, params, body) -> Result:
    return 201, plan_view(world, usage.add_plan(world, new_plan(world, body)))


def _plan_entitlements(world: World, plan_id: str, expand: set[str]) -> list[dict[str, Any]]:
    # Imported here: entitlements show features and plans with this module's views.
    from .entitlements import entitlement_view

    return [entitlement_view(world, r, expand) for r in entitlements.of_entity(world, "PLAN", plan_id)]


def get_plan(world: World, params, body) -> Result:
    """The plan with every price (ended ones too) and its published entitlements."""
    plan = usage.plan(world, params["id"])
    view = plan_view(world, plan)
    found = _plan_entitlements(world, plan.id, {"features", "meters", "plans"})
    if found:
        view["entitlements"] = found
    return 200, view


def query_plan(world: World, params, body) -> Result:
    limit, offset = page_limits(body, "Invalid filter parameters")
    start, end = _time_range(body)
    query = catalog.PlanQuery(
        ids=_set(body, "plan_ids"),
        lookup_key=body.get("lookup_key") or "",
        metadata=metadata_of(body.get("metadata")) or None,
        status=body.get("status") or "published",
        created_from=start,
        created_to=end,
        descending=body.get("order", "desc") != "asc",
    )
    found = refine(catalog.search_plans(world, query), body, PLAN_FIELDS, "plans")
    total, found = len(found), found[offset : offset + limit]
    expand = _expand(body.get("expand"))
    now = world.now()
    items = []
    for plan in found:  # prices and entitlements only when expanded, as upstream lists plans
        view = plan_view(world, plan)
        prices = [price_view(world, p) for p in usage.prices_of(world, plan.id) if catalog.live(p, now)]
        del view["prices"]
        if "prices" in expand and prices:
            view["prices"] = prices
        if "entitlements" in expand:
            found_entitlements = _plan_entitlements(world, plan.id, expand & {"features"})
            if found_entitlements:
                view["entitlements"] = found_entitlements
        items.append(view)
    return 200, page(items, total, limit, offset)


def update_plan(world: World, params, body) -> Result:
    changes: dict[str, Any] = {}
    for name in ("name", "description", "lookup_key", "display_order"):
        if body.get(name) is not None:
            changes[name] = body[name]
    if body.get("metadata") is not None:
        changes["metadata"] = metadata_of(body["metadata"])
    plan = usage.plan(world, params["id"])
    return 200, plan_view(world, catalog.update_plan(world, plan, changes))


def delete_plan(world: World, params, body) -> Result:
    catalog.archive_plan(world, usage.plan(world, params["id"]))
    return 200, {"message": "price deleted successfully"}  # (upstream's words for a plan, as they are)


def clone_plan(world: World, params, body) -> Result:
    name, lookup_key = _clone_names(body, "plan")
    source = usage.plan(world, params["id"])
    made = catalog.clone_plan(
        world,
        source,
        name,
        lookup_key,
        body.get("description"),
        body.get("display_order"),
        metadata_of(body.get("metadata")),
    )
    view = plan_view(world, made)
    found = _plan_entitlements(world, made.id, set())
    if found:
        view["entitlements"] = found
    return 201, view


def sync_plan_prices(world: World, params, body) -> Result:
    """Upstream starts a workflow and answers at once; the sandbox syncs before it answers, so the
    workflow it names has already run (``GET /subscriptions/{id}`` shows the new line items)."""
    plan = usage.plan(world, params["id"])
    now = world.now()
    catalog.sync_plan(world, plan)
    return 200, {
        "message": "price sync workflow started successfully",
        "workflow_id": f"PriceSyncWorkflow-{plan.id}",
        "run_id": world.new_id("run_", now),
    }


# ---- prices --------------------------------------------------------------------------------


def create_price(world: World, params, body) -> Result:
    return 201, price_view(world, usage.add_price(world, new_price(world, body)))


def get_price(world: World, params, body) -> Result:
    return 200, price_view(world, usage.price(world, params["id"]))


def create_prices_bulk(world: World, params, body) -> Result:
    prices: list[Price] = []
    for index, item in enumerate(body["items"]):
        try:
            prices.append(new_price(world, item))
        except errors.ApiError as error:
            if error.status != 400:  # (a plan or meter not found is upstream's own answer)
                raise
            details = {**(error.details or {}), "index": index}
            if "field" in details:
                details["field"] = f"items[{index}].{details['field']}"
            raise errors.ApiError(
                400, f"Price at index {index} is invalid", error.internal_error, details
            ) from None
    made = catalog.add_prices(world, prices)
    return 201, {"items": [price_view(world, p) for p in made]}


def query_price(world: World, params, body) -> Result:
    limit, offset = page_limits(body, "Invalid filter parameters")
    start, end = _time_range(body)
    entity_ids = set(body.get("entity_ids") or ())
    entity_type = body.get("entity_type") or None
    if body.get("plan_ids"):
        entity_ids |= set(body["plan_ids"])
        entity_type = "PLAN"
    query = catalog.PriceQuery(
        ids=_set(body, "price_ids"),
        entity_type=entity_type,
        entity_ids=frozenset(entity_ids) if entity_ids else None,
        meter_ids=_set(body, "meter_ids"),
        billing_periods=_set(body, "billing_periods"),
        status=body.get("status") or "published",
        allow_expired=bool(body.get("allow_expired_prices")),
        created_from=start,
        created_to=end,
        descending=body.get("order", "desc") != "asc",
    )
    found = refine(catalog.search_prices(world, query), body, PRICE_FIELDS, "prices")
    return 200, page(
        [price_view(world, p) for p in found[offset : offset + limit]], len(found), limit, offset
    )


def get_price_by_lookup_key(world: World, params, body) -> Result:
    return 200, price_view(world, catalog.by_lookup_key(world, params["lookup_key"]))


def _replacement_body(old: Price, body: dict[str, Any]) -> dict[str, Any]:
    """The create request a charge-changing update makes (upstream's ToCreatePriceRequest): the
    old price's terms, the request's where it gives them."""
    model = body.get("billing_model") or old.billing_model
    made: dict[str, Any] = {
        "entity_type": old.entity_type,
        "entity_id": old.entity_id,
        "currency": old.currency,
        "type": old.type,
        "billing_model": model,
        "billing_period": old.billing_period,
        "billing_period_count": old.billing_period_count,
        "invoice_cadence": old.invoice_cadence,
        "price_unit_type": old.price_unit_type,
        "display_name": body.get("display_name") or old.display_name,
        "lookup_key": body.get("lookup_key") or old.lookup_key,
        "description": body.get("description") or old.description,
        "metadata": body["metadata"] if body.get("metadata") is not None else dict(old.metadata),
    }
    if old.type == "USAGE":
        made["meter_id"] = old.meter_id
    if model in ("FLAT_FEE", "PACKAGE"):
        made["amount"] = body["amount"] if body.get("amount") is not None else dec(old.amount)
    if model == "PACKAGE":
        if body.get("transform_quantity") is not None:
            made["transform_quantity"] = body["transform_quantity"]
        elif old.divide_by is not None:
            made["transform_quantity"] = {"divide_by": old.divide_by, "round": old.round}
    if model == "TIERED":
        made["tiers"] = body.get("tiers") or [
            {"up_to": t.up_to, "unit_amount": dec(t.unit_amount), "flat_amount": dec(t.flat_amount)}
            for t in old.tiers
        ]
        made["tier_mode"] = body.get("tier_mode") or old.tier_mode or "VOLUME"
    return made


def update_price(world: World, params, body) -> Result:
    """Fields that change the charge make a new price (the old one ends when it starts); the
    others change the price in place."""
    has_fiat = body.get("amount") is not None or bool(body.get("tiers"))
    has_units = any(body.get(name) not in (None, []) for name in _PRICE_UNIT_FIELDS)
    if has_fiat and has_units:
        raise errors.validation(
            "Cannot provide both FIAT fields (amount, tiers) and custom price unit fields "
            "(price_unit_amount, price_unit_tiers) in the same request",
            "cannot provide both FIAT fields and custom price unit fields",
            field="price_unit_amount",
        )
    critical = any(body.get(name) not in (None, "", []) for name in _PRICE_CRITICAL) or has_units
    if body.get("effective_from") is not None and not critical:
        raise errors.validation(
            "When providing effective_from, you must also provide one of: amount, billing_model, "
            "tier_mode, tiers, transform_quantity, price_unit_amount, or price_unit_tiers",
            "effective_from requires at least one critical field",
            field="effective_from",
        )
    _unsupported(body, ("group_id",), "Price")
    old = usage.price(world, params["id"])
    if has_units:  # the sandbox's prices are all FIAT
        raise errors.validation(
            "Price unit type cannot be changed during update. Cannot use price_unit_amount or "
            "price_unit_tiers on a FIAT price.",
            "cannot use custom price unit fields on a FIAT price",
            field="price_unit_amount" if body.get("price_unit_amount") is not None else "price_unit_tiers",
        )
    if critical:
        effective = (
            fields.time_value(body["effective_from"], "effective_from", "Invalid request format")
            if body.get("effective_from") is not None
            else None
        )
        new = new_price(world, _replacement_body(old, body))
        return 200, price_view(world, catalog.replace_price(world, old, new, effective))
    changes: dict[str, Any] = {}
    for name in ("lookup_key", "description", "display_name"):
        if body.get(name):
            changes[name] = body[name]
    if body.get("metadata") is not None:
        changes["metadata"] = metadata_of(body["metadata"])
    return 200, price_view(world, catalog.update_price(world, old, changes))


def delete_price(world: World, params, body) -> Result:
    """Upstream never archives a price: DELETE ends it (now, or at ``end_date``)."""
    end = (body or {}).get("end_date")
    at = fields.time_value(end, "end_date", "Invalid request format") if end is not None else None
    catalog.terminate_price(world, usage.price(world, params["id"]), at)
    return 200, {"message": "price deleted successfully"}


HANDLERS: dict[str, Handler] = {
    "createFeature": create_feature,
    "queryFeature": query_feature,
    "updateFeature": update_feature,
    "deleteFeature": delete_feature,
    "cloneFeature": clone_feature,
    "createPlan": create_plan,
    "getPlan": get_plan,
    "queryPlan": query_plan,
    "updatePlan": update_plan,
    "deletePlan": delete_plan,
    "clonePlan": clone_plan,
    "syncPlanPrices": sync_plan_prices,
    "createPrice": create_price,
    "getPrice": get_price,
    "createPricesBulk": create_prices_bulk,
    "queryPrice": query_price,
    "getPriceByLookupKey": get_price_by_lookup_key,
    "updatePrice": update_price,
    "deletePrice": delete_price,
}
# Operations that add to what a world holds: refused (429) in a full world.
GROWS_WORLD = frozenset(
    {
        "createFeature",
        "createPlan",
        "createPrice",
        "createPricesBulk",
        "cloneFeature",
        "clonePlan",
        "syncPlanPrices",
        "updatePrice",
    }
)
