"""The catalog of version 2026-08-22: features, plans and prices created, read, searched, updated,
deleted, cloned and synced, with upstream's checks and words (``service/feature.go``, ``plan.go``,
``price.go``). Creation's checks and the shapes of these objects are shared with the usage
operations (``usage.py``: a subscription's line items show prices and meters too).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ...domain import catalog, entitlements, errors, usage
from ...domain.models import Price
from ...domain.world import World
from .. import Handler, Result, fields
from .common import dec, page, page_limits
from .entitlements import entitlement_view
from .searching import refine
from .usage import feature_view, new_feature, new_plan, new_price, plan_view, price_view

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


def _metadata(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in (value or {}).items()}


def _unsupported(body: dict[str, Any], names: tuple[str, ...], what: str) -> None:
    for name in names:
        if body.get(name) not in (None, "", [], {}):
            raise errors.validation(
                f"{what} {name} is not supported by the sandbox", f"{name} not supported", field=name
            )


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
        changes["metadata"] = _metadata(body["metadata"])
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
        world, source, name, lookup_key, body.get("description"), _metadata(body.get("metadata"))
    )
    return 201, feature_view(world, made, with_meter=False)


# ---- plans ---------------------------------------------------------------------------------


def create_plan(world: World, params, body) -> Result:
    return 201, plan_view(world, usage.add_plan(world, new_plan(world, body)))


def _plan_entitlements(world: World, plan_id: str, expand: set[str]) -> list[dict[str, Any]]:
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
        metadata=_metadata(body.get("metadata")) or None,
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
        changes["metadata"] = _metadata(body["metadata"])
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
        _metadata(body.get("metadata")),
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
        changes["metadata"] = _metadata(body["metadata"])
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
