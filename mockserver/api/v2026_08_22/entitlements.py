"""Entitlements of version 2026-08-22: the eleven entitlement operations and the customer's usage
summary (features with an entitlement, against their limits): requests read with upstream's
checks and words, answers in the document's shapes.

The body has already passed the document's schema (types, enums); what is checked here is what
the schema cannot say, in upstream's order (``dto/entitlement.go``, then the service).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from ...domain import customers, entitlements, errors, usage
from ...domain.entitlements import Aggregated, NewEntitlement
from ...domain.world import World
from .. import Handler, Result, fields
from .catalog import feature_view, plan_view
from .common import dec, page, page_limits, timestamp
from .searching import refine
from .subscriptions import subscription_view

GRANT_FIELDS = (
    "grant_measure",
    "grant_duration_value",
    "grant_duration_unit",
    "grant_allocation_behavior",
    "grant_quota",
)
# What a search's ``filters`` and ``sort`` may name, besides created_at and updated_at.
FIELDS = (
    "id",
    "entity_type",
    "entity_id",
    "feature_id",
    "feature_type",
    "is_enabled",
    "usage_reset_period",
    "status",
)
SOURCE_TYPES = {"PLAN": "plan", "ADDON": "addon", "SUBSCRIPTION": "subscription"}


# ---- requests -----------------------------------------------------------------------------


def _no_grants(body: dict[str, Any], where: str = "") -> None:
    """Grant-based entitlements (time-boxed buckets) are not modelled: refused, naming the field."""
    for name in GRANT_FIELDS:
        if body.get(name) is not None and body.get(name) != "":
            raise errors.validation(
                "Entitlement grants (grant_* fields) are not supported by the sandbox",
                "grant config not supported",
                field=f"{where}{name}",
            )
    if body.get("aggregation_mode") == "parallel":
        raise errors.validation(
            "aggregation_mode=parallel requires a grant config",
            "aggregation_mode=parallel requires a grant config",
            field=f"{where}aggregation_mode",
        )


def _config_keys(value: Any, where: str) -> None:
    for key in value or {}:
        if not str(key).strip():
            raise errors.validation(
                "All keys in config_value must be non-empty, non-whitespace strings",
                "config_value keys must not be empty or whitespace",
                field=f"{where}config_value",
            )


def new_entitlement(body: dict[str, Any], where: str = "") -> NewEntitlement:
    """A CreateEntitlementRequest, checked as upstream's Validate does (the first failure wins)."""
    fields.int64(body.get("usage_limit"), f"{where}usage_limit")
    kind = body["feature_type"]
    if not body.get("feature_id"):
        raise errors.validation(
            "Feature ID is required", "feature_id is required", field=f"{where}feature_id"
        )
    if kind == "static" and not body.get("static_value"):
        raise errors.validation(
            "Static value is required for static features",
            "static_value is required for static features",
            field=f"{where}static_value",
        )
    if kind == "config":
        _config_keys(body.get("config_value"), where)
    elif body.get("config_value"):
        raise errors.validation(
            "Remove config_value or change the feature type to config",
            "config_value is only supported for config features",
            field=f"{where}config_value",
        )
    plan_id = body.get("plan_id") or ""
    entity_type, entity_id = body.get("entity_type") or "", body.get("entity_id") or ""
    if not plan_id and (not entity_type or not entity_id):
        raise errors.validation(
            "Please provide plan_id or entity_type and entity_id",
            "either plan_id or entity_type and entity_id is required",
            plan_id=plan_id,
            entity_type=entity_type,
            entity_id=entity_id,
            field=f"{where}entity_id" if entity_type else f"{where}plan_id",
        )
    _no_grants(body, where)
    named_by = "entity_id"
    if not (entity_type and entity_id):  # plan_id: the older way of naming a plan
        entity_type, entity_id, named_by = "PLAN", plan_id, "plan_id"
    return NewEntitlement(
        entity_type=entity_type,
        entity_id=entity_id,
        feature_id=body["feature_id"],
        feature_type=kind,
        is_enabled=bool(body.get("is_enabled")),
        usage_limit=body.get("usage_limit"),
        usage_reset_period=body.get("usage_reset_period") or "",
        is_soft_limit=bool(body.get("is_soft_limit")),
        static_value=body.get("static_value") or "",
        config_value=body.get("config_value"),
        parent_entitlement_id=body.get("parent_entitlement_id") or "",
        start_date=timestamp(body, "start_date"),
        end_date=timestamp(body, "end_date"),
        entity_field=named_by,
    )


def entitlement_changes(body: dict[str, Any]) -> dict[str, Any]:
    """An UpdateEntitlementRequest: what is given replaces; a usage_limit of 0 means no limit
    (None removes it), an empty reset period or static value changes nothing."""
    fields.int64(body.get("usage_limit"), "usage_limit")
    _config_keys(body.get("config_value"), "")
    _no_grants(body)
    changes: dict[str, Any] = {}
    for name in ("is_enabled", "is_soft_limit"):
        if body.get(name) is not None:
            changes[name] = body[name]
    if body.get("usage_limit") is not None:
        changes["usage_limit"] = body["usage_limit"] or None
    for name in ("usage_reset_period", "static_value"):
        if body.get(name):
            changes[name] = body[name]
    if body.get("config_value") is not None:
        changes["config_value"] = dict(body["config_value"])
    return changes


def _expand(value: Any) -> set[str]:
    return {part.strip() for part in (value or "").split(",") if part.strip()}


def entitlement_query(body: dict[str, Any]) -> entitlements.EntitlementQuery:
    start, end = body.get("start_time"), body.get("end_time")
    entity_ids = set(body.get("entity_ids") or ())
    entity_type = body.get("entity_type")
    if body.get("plan_ids"):  # plan_ids name plans: entity_type PLAN
        entity_ids |= set(body["plan_ids"])
        entity_type = "PLAN"
    return entitlements.EntitlementQuery(
        entity_type=entity_type or None,
        entity_ids=frozenset(entity_ids) if entity_ids else None,
        feature_ids=frozenset(body["feature_ids"]) if body.get("feature_ids") else None,
        feature_type=body.get("feature_type") or None,
        is_enabled=body.get("is_enabled"),
        status=body.get("status") or "published",
        created_from=fields.time_value(start, "start_time") if start is not None else None,
        created_to=fields.time_value(end, "end_time") if end is not None else None,
        descending=body.get("order", "desc") != "asc",
    )


def _ids(value: Any) -> frozenset[str] | None:
    """A list parameter (repeated, or comma-separated as Go's form binding also takes)."""
    if not value:
        return None
    items = value if isinstance(value, list) else [value]
    found = frozenset(part.strip() for item in items for part in str(item).split(",") if part.strip())
    return found or None


# ---- views --------------------------------------------------------------------------------


def entitlement_view(
    world: World,
    record: dict[str, Any],
    expand: set[str] | frozenset[str] = frozenset(),
    plan_id_of_addon: bool = False,
) -> dict[str, Any]:
    """An EntitlementResponse: the record, ``plan_id`` for a plan's (and, on create, an addon's),
    and the feature (its meter with ``meters``), the plan or the addon when expanded."""
    body = dict(record)
    if record["entity_type"] == "PLAN" or (plan_id_of_addon and record["entity_type"] == "ADDON"):
        body["plan_id"] = record["entity_id"]
    feature = world.features.get(record["feature_id"])
    if "features" in expand and feature is not None:
        body["feature"] = feature_view(world, feature, with_meter="meters" in expand)
    if "plans" in expand and record["entity_type"] == "PLAN" and record["entity_id"] in world.plans:
        plan = plan_view(world, world.plans[record["entity_id"]])
        del plan["prices"]
        body["plan"] = plan
    addon = world.records.get("addons", {}).get(record["entity_id"])
    if "addons" in expand and record["entity_type"] == "ADDON" and addon is not None:
        body["addon"] = dict(addon)
    return body


def _source(world: World, sub_id: str, record: dict[str, Any]) -> dict[str, Any]:
    name = ""
    if record["entity_type"] == "PLAN" and record["entity_id"] in world.plans:
        name = world.plans[record["entity_id"]].name
    body: dict[str, Any] = {
        "subscription_id": sub_id,
        "entity_id": record["entity_id"],
        "entity_type": SOURCE_TYPES[record["entity_type"]],
        "quantity": 1,
        "entity_name": name,
        "entitlement_id": record["id"],
        "is_enabled": record["is_enabled"],
    }
    if record.get("usage_limit") is not None:
        body["usage_limit"] = record["usage_limit"]
    if record.get("static_value"):
        body["static_value"] = record["static_value"]
    if record.get("config_value"):
        body["config_value"] = record["config_value"]
    return body


def aggregated_view(world: World, found: Aggregated) -> dict[str, Any]:
    granted: dict[str, Any] = {"is_enabled": found.is_enabled, "is_soft_limit": found.is_soft_limit}
    if found.feature.type == "metered":
        if found.usage_limit is not None:
            granted["usage_limit"] = found.usage_limit
        if found.usage_reset_period:
            granted["usage_reset_period"] = found.usage_reset_period
        granted["aggregation_mode"] = "additive"
    if found.static_values:
        granted["static_values"] = list(found.static_values)
    if found.config_values:
        granted["config_values"] = [dict(v) for v in found.config_values]
    return {
        "feature": feature_view(world, found.feature),
        "entitlement": granted,
        "sources": [_source(world, sub_id, record) for sub_id, record in found.sources],
    }


def _listed(world: World, records: list[dict[str, Any]], expand: set[str], limit: int = 0) -> dict[str, Any]:
    return page([entitlement_view(world, r, expand) for r in records], len(records), limit, 0)


# ---- handlers -----------------------------------------------------------------------------


def _created_view(world: World, record: dict[str, Any]) -> dict[str, Any]:
    """What a create answers: the feature (without its meter) and the plan or addon."""
    return entitlement_view(world, record, {"features", "plans", "addons"}, plan_id_of_addon=True)


def create_entitlement(world: World, params, body) -> Result:
    return 201, _created_view(world, entitlements.create(world, new_entitlement(body)))


def create_entitlements_bulk(world: World, params, body) -> Result:
    news = []
    for index, item in enumerate(body["items"]):
        try:
            news.append(new_entitlement(item, f"items[{index}]."))
        except errors.ApiError as error:  # upstream names the item, keeping the cause
            details = {**(error.details or {}), "index": index}
            raise errors.ApiError(
                400, f"Entitlement at index {index} is invalid", error.internal_error, details
            ) from None
    made = entitlements.create_many(world, news)
    items = [entitlement_view(world, r, {"features", "plans", "addons"}) for r in made]
    return 201, {"items": items}


def get_entitlement(world: World, params, body) -> Result:
    record = entitlements.get(world, params["id"])
    return 200, entitlement_view(world, record, {"features", "meters", "plans"})


def update_entitlement(world: World, params, body) -> Result:
    changes = entitlement_changes(body)
    record = entitlements.get(world, params["id"])
    return 200, entitlement_view(world, entitlements.update(world, record, changes))


def delete_entitlement(world: World, params, body) -> Result:
    entitlements.archive(world, entitlements.get(world, params["id"]))
    return 200, {"message": "entitlement deleted successfully"}


def query_entitlement(world: World, params, body) -> Result:
    limit, offset = page_limits(body, "Invalid filter parameters")
    query = entitlement_query(body)
    found = refine(entitlements.search(world, query), body, FIELDS, "entitlements")
    expand = _expand(body.get("expand"))
    items = [entitlement_view(world, r, expand) for r in found[offset : offset + limit]]
    return 200, page(items, len(found), limit, offset)


def get_plan_entitlements(world: World, params, body) -> Result:
    found = entitlements.of_entity(world, "PLAN", params["id"])
    return 200, _listed(world, found, {"features", "meters", "plans"})


def get_addon_entitlements(world: World, params, body) -> Result:
    found = entitlements.of_entity(world, "ADDON", params["id"])
    return 200, _listed(world, found, {"features", "meters"})


def _customer_entitlements(world: World, customer_id: str, params: dict[str, Any]) -> dict[str, Any]:
    subs, found = entitlements.of_customer(
        world, customer_id, _ids(params.get("feature_ids")), _ids(params.get("subscription_ids"))
    )
    views = []
    for sub in subs:
        view = subscription_view(world, sub)
        del view["line_items"]  # listed without their line items, as upstream lists them
        views.append(view)
    return {
        "customer_id": customer_id,
        "subscriptions": views,
        "features": [aggregated_view(world, f) for f in found],
    }


def get_customer_entitlements(world: World, params, body) -> Result:
    # upstream looks no customer up here: an unknown id has no subscriptions, so nothing
    return 200, _customer_entitlements(world, params["id"], params)


def get_customer_entitlements_by_external_id(world: World, params, body) -> Result:
    customer = customers.by_lookup_key(world, params["external_id"])
    return 200, _customer_entitlements(world, customer.id, params)


def get_subscription_entitlements(world: World, params, body) -> Result:
    sub = usage.subscription(world, params["id"])
    found = entitlements.of_subscription(world, sub, _ids(params.get("feature_ids")))
    return 200, {
        "subscription_id": sub.id,
        "plan_id": sub.plan_id,
        "features": [aggregated_view(world, f) for f in found],
    }


def _percent(current: Decimal, limit: int | None) -> str:
    """Upstream's usage_percent: the share of the limit used (0.5 is half), 16 places; 100 for a
    limit of 0 or less; 0 when unlimited."""
    if limit is None:
        return "0"
    if limit <= 0:
        return "100"
    return dec((current / Decimal(limit)).quantize(Decimal("1e-16"), ROUND_HALF_UP))


def get_customer_usage_summary(world: World, params, body) -> Result:
    """The customer's features with an entitlement (metered, static, boolean, config; by name),
    each with its aggregated limit and, for a metered one, the usage counted against it."""
    customer_id, lookup_key = params.get("customer_id"), params.get("customer_lookup_key")
    if not customer_id and not lookup_key:
        raise errors.validation(
            "either customer_id or customer_lookup_key is required", "invalid request", field="customer_id"
        )
    customer = (
        customers.get(world, customer_id) if customer_id else customers.by_lookup_key(world, lookup_key)
    )
    if customer_id and lookup_key and customer.external_id != lookup_key:
        raise errors.validation(
            "customer_id and customer_lookup_key name different customers",
            "invalid request",
            field="customer_lookup_key",
        )
    feature_ids = set(_ids(params.get("feature_ids")) or ())
    keys = _ids(params.get("feature_lookup_keys"))
    if keys:  # upstream adds the features of these keys (published or archived) to the ids
        feature_ids |= {
            f.id for f in world.features.values() if f.lookup_key in keys and f.status != "deleted"
        }
    _, found = entitlements.of_customer(
        world, customer.id, frozenset(feature_ids) or None, _ids(params.get("subscription_ids"))
    )
    found.sort(key=lambda f: (entitlements.TYPE_ORDER.get(f.feature.type, 0), f.feature.name))
    features = []
    for granted in found:
        metered = granted.feature.type == "metered"
        current = entitlements.current_usage(world, granted) if metered else Decimal(0)
        summary: dict[str, Any] = {
            "feature": feature_view(world, granted.feature),
            "is_unlimited": granted.usage_limit is None,
            "current_usage": dec(current),
            "usage_percent": _percent(current, granted.usage_limit),
            "is_enabled": granted.is_enabled,
            "is_soft_limit": granted.is_soft_limit,
            "sources": [_source(world, sub_id, record) for sub_id, record in granted.sources],
        }
        if granted.usage_limit is not None:
            summary["total_limit"] = granted.usage_limit
        reset_at = entitlements.next_reset(world, granted)
        if reset_at is not None:
            summary["next_usage_reset_at"] = reset_at
        features.append(summary)
    return 200, {"customer_id": customer.id, "features": features}


HANDLERS: dict[str, Handler] = {
    "createEntitlement": create_entitlement,
    "createEntitlementsBulk": create_entitlements_bulk,
    "getEntitlement": get_entitlement,
    "updateEntitlement": update_entitlement,
    "deleteEntitlement": delete_entitlement,
    "queryEntitlement": query_entitlement,
    "getPlanEntitlements": get_plan_entitlements,
    "getAddonEntitlements": get_addon_entitlements,
    "getCustomerEntitlements": get_customer_entitlements,
    "getCustomerEntitlementsByExternalID": get_customer_entitlements_by_external_id,
    "getSubscriptionEntitlements": get_subscription_entitlements,
    "getCustomerUsageSummary": get_customer_usage_summary,
}
# Operations that add to what a world holds: refused (429) in a full world.
GROWS_WORLD = frozenset({"createEntitlement", "createEntitlementsBulk"})
