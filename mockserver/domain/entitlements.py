"""Entitlements: what a plan (or an addon, or one subscription) grants for a feature, and what a
customer may use once its subscriptions' entitlements are added up, as upstream computes it.

An entitlement is a plain record, kept as the API shows it in ``world.records["entitlements"]``
(JSON-ready values). Upstream's rules: the feature and the entity must exist and the feature's
type must be the one named; one published entitlement per entity and feature; a deleted one is
archived (still read by id, left out of every list and of what customers get).

What a customer gets (upstream's ``GetCustomerEntitlements``): its active and trialing
subscriptions, each with its plan's published entitlements and the subscription's own ones in
force (an override replaces the plan's entitlement it names as parent); then, per feature, the
enabled ones aggregated by the feature's type (``aggregate``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from . import charges, errors, usage
from .clock import format_timestamp, parse_timestamp
from .models import SYSTEM_USER, Feature, Subscription
from .world import World

COLLECTION = "entitlements"
ENTITY_TYPES = ("PLAN", "ADDON", "SUBSCRIPTION")
# Where the entity an entitlement belongs to is kept: plans and subscriptions are modelled, addons
# are stored records.
_WHAT = {"PLAN": "plan", "ADDON": "addon", "SUBSCRIPTION": "subscription"}
# How upstream orders a customer's features in its usage summary.
TYPE_ORDER = {"metered": 1, "static": 2, "boolean": 3, "config": 4}
NEVER = "0001-01-01T00:00:00Z"  # Go's zero time, which upstream writes for a NEVER reset


def book(world: World) -> dict[str, dict[str, Any]]:
    return world.records.setdefault(COLLECTION, {})


@dataclass(frozen=True, slots=True)
class NewEntitlement:
    entity_type: str
    entity_id: str
    feature_id: str
    feature_type: str
    is_enabled: bool = False
    usage_limit: int | None = None
    usage_reset_period: str = ""
    is_soft_limit: bool = False
    static_value: str = ""
    config_value: dict[str, Any] | None = None
    parent_entitlement_id: str = ""
    start_date: datetime | None = None
    end_date: datetime | None = None
    entity_field: str = "entity_id"  # the request's field that named the entity (or plan_id)


# ---- reading ------------------------------------------------------------------------------


def get(world: World, entitlement_id: str) -> dict[str, Any]:
    found = book(world).get(entitlement_id)
    if found is None:
        raise errors.not_found("Entitlement not found", "ent: entitlement not found", id=entitlement_id)
    return found


def _newest_first(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(records, key=lambda r: (r["created_at"], r["id"]), reverse=True)


def of_entity(world: World, entity_type: str, entity_id: str) -> list[dict[str, Any]]:
    """An entity's published entitlements, newest first (upstream's ListByEntity)."""
    return by_entity(world).get((entity_type, entity_id), [])


def by_entity(world: World) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Every published entitlement by (entity type, entity id), newest first: one pass over the
    book, so a read of many entities costs the book once, not once per entity."""
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in book(world).values():
        if r["status"] == "published":
            grouped.setdefault((r["entity_type"], r["entity_id"]), []).append(r)
    return {key: _newest_first(records) for key, records in grouped.items()}


@dataclass(frozen=True, slots=True)
class EntitlementQuery:
    entity_type: str | None = None
    entity_ids: frozenset[str] | None = None
    feature_ids: frozenset[str] | None = None
    feature_type: str | None = None
    is_enabled: bool | None = None
    status: str = "published"
    created_from: datetime | None = None
    created_to: datetime | None = None
    descending: bool = True


def search(world: World, query: EntitlementQuery) -> list[dict[str, Any]]:
    """The entitlements that match, in the order asked."""
    start = format_timestamp(query.created_from) if query.created_from else None
    end = format_timestamp(query.created_to) if query.created_to else None
    found = [
        r
        for r in book(world).values()
        if r["status"] == query.status
        and (query.entity_type is None or r["entity_type"] == query.entity_type)
        and (query.entity_ids is None or r["entity_id"] in query.entity_ids)
        and (query.feature_ids is None or r["feature_id"] in query.feature_ids)
        and (query.feature_type is None or r["feature_type"] == query.feature_type)
        and (query.is_enabled is None or r["is_enabled"] == query.is_enabled)
        and (start is None or r["created_at"] >= start)
        and (end is None or r["created_at"] <= end)
    ]
    found.sort(key=lambda r: (r["created_at"], r["id"]), reverse=query.descending)
    return found


# ---- changing -----------------------------------------------------------------------------


def _entity_exists(world: World, entity_type: str, entity_id: str) -> bool:
    if entity_type == "PLAN":
        return entity_id in world.plans
    if entity_type == "SUBSCRIPTION":
        return entity_id in world.subscriptions
    return entity_id in world.records.get("addons", {})


def _feature_of(world: World, new: NewEntitlement, bulk: bool, index: int) -> Feature:
    feature = world.features.get(new.feature_id)
    if feature is None:
        if bulk:  # upstream checks a bulk request's features first, as a validation error
            raise errors.validation(
                f"Feature with ID {new.feature_id} not found",
                "feature not found",
                feature_id=new.feature_id,
                field=f"items[{index}].feature_id",
            )
        raise errors.not_found(
            f"Feature with ID {new.feature_id} was not found",
            "ent: feature not found",
            feature_id=new.feature_id,
            field="feature_id",
        )
    return feature


def _check(world: World, new: NewEntitlement, index: int | None = None) -> None:
    """Upstream's service checks, in its order: the entity, the feature, the feature's type."""
    bulk = index is not None
    where = f"items[{index}]." if bulk else ""
    what = _WHAT[new.entity_type]
    if not _entity_exists(world, new.entity_type, new.entity_id):
        named = {f"{what}_id": new.entity_id, "field": f"{where}{new.entity_field}"}
        if bulk:  # upstream checks a bulk request's entities first, as a validation error
            raise errors.validation(
                f"{what.capitalize()} with ID {new.entity_id} not found", f"{what} not found", **named
            )
        raise errors.not_found(f"{what.capitalize()} not found", f"ent: {what} not found", **named)
    feature = _feature_of(world, new, bulk, index or 0)
    if feature.type != new.feature_type:
        details: dict[str, Any] = {"expected": feature.type, "actual": new.feature_type}
        if bulk:
            details.update(feature_id=feature.id, index=index)
        raise errors.validation(
            f"Expected {feature.type}, got {new.feature_type}",
            "feature type mismatch",
            **details,
            field=f"{where}feature_type",
        )


def _published_keys(world: World) -> set[tuple[str, str, str]]:
    """(entity type, entity id, feature id) of every published entitlement."""
    return {
        (r["entity_type"], r["entity_id"], r["feature_id"])
        for r in book(world).values()
        if r["status"] == "published"
    }


def _duplicate(world: World, new: NewEntitlement) -> bool:
    return (new.entity_type, new.entity_id, new.feature_id) in _published_keys(world)


def _record(world: World, new: NewEntitlement, now: datetime) -> dict[str, Any]:
    stamp = format_timestamp(now)
    record: dict[str, Any] = {
        "id": world.new_id("ent_", now),
        "entity_type": new.entity_type,
        "entity_id": new.entity_id,
        "feature_id": new.feature_id,
        "feature_type": new.feature_type,
        # upstream enables every entitlement but a boolean one's, whatever was sent
        "is_enabled": new.is_enabled or new.feature_type != "boolean",
        "is_soft_limit": new.is_soft_limit,
        "static_value": new.static_value,
        "display_order": 0,
        "aggregation_mode": "additive",
        "environment_id": world.environment_id,
        "tenant_id": world.tenant_id,
        "status": "published",
        "created_at": stamp,
        "updated_at": stamp,
        "created_by": SYSTEM_USER,
        "updated_by": SYSTEM_USER,
    }
    if new.usage_limit is not None:
        record["usage_limit"] = new.usage_limit
    if new.usage_reset_period:
        record["usage_reset_period"] = new.usage_reset_period
    if new.config_value is not None:
        record["config_value"] = dict(new.config_value)
    if new.parent_entitlement_id:
        record["parent_entitlement_id"] = new.parent_entitlement_id
    for name in ("start_date", "end_date"):
        moment = getattr(new, name)
        if moment is not None:
            record[name] = format_timestamp(moment)
    return record


def create(world: World, new: NewEntitlement) -> dict[str, Any]:
    _check(world, new)
    if _duplicate(world, new):
        raise errors.conflict(
            "An entitlement with this plan and feature already exists",
            "entitlement already exists",
            entity_type=new.entity_type,
            entity_id=new.entity_id,
            feature_id=new.feature_id,
        )
    record = _record(world, new, world.now())
    book(world)[record["id"]] = record
    return record


def create_many(world: World, news: list[NewEntitlement]) -> list[dict[str, Any]]:
    """All or none: every entity and feature checked first (upstream's order), then each item,
    then duplicates among them and against the world."""
    for index, new in enumerate(news):
        if not _entity_exists(world, new.entity_type, new.entity_id):
            _check(world, new, index)
    for index, new in enumerate(news):
        _feature_of(world, new, True, index)
    for index, new in enumerate(news):
        _check(world, new, index)
    seen: set[tuple[str, str, str]] = set()
    held = _published_keys(world)  # once, not once per item
    for new in news:
        key = (new.entity_type, new.entity_id, new.feature_id)
        if key in seen or key in held:
            raise errors.conflict(
                "An entitlement with the same entity and feature already exists; duplicate "
                "(entity_id, feature_id) in request or in database",
                "entitlement already exists",
                count=len(news),
            )
        seen.add(key)
    world.make_room(len(news) - 1)  # the request was checked for one
    now = world.now()
    made = [_record(world, new, now) for new in news]
    for record in made:
        book(world)[record["id"]] = record
    return made


def update(world: World, record: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """Apply checked changes: a value None removes the field (an unlimited usage limit)."""
    for name, value in changes.items():
        if value is None:
            record.pop(name, None)
        else:
            record[name] = value
    record["updated_at"] = format_timestamp(world.now())
    return record


def archive(world: World, record: dict[str, Any]) -> None:
    record["status"] = "archived"
    record["updated_at"] = format_timestamp(world.now())


def copy_to_plan(world: World, source_plan_id: str, plan_id: str) -> list[dict[str, Any]]:
    """A cloned plan's entitlements: the source's published ones, new ids, the new plan."""
    now = world.now()
    stamp = format_timestamp(now)
    made = []
    for source in reversed(of_entity(world, "PLAN", source_plan_id)):  # oldest first, as made
        record = {**source, "id": world.new_id("ent_", now), "entity_id": plan_id}
        record.update(created_at=stamp, updated_at=stamp, created_by=SYSTEM_USER, updated_by=SYSTEM_USER)
        made.append(record)
    for record in made:
        book(world)[record["id"]] = record
    return made


# ---- what a subscription and a customer get ------------------------------------------------


def _in_force(record: dict[str, Any], now: datetime) -> bool:
    start, end = record.get("start_date"), record.get("end_date")
    return (start is None or parse_timestamp(start) <= now) and (end is None or parse_timestamp(end) > now)


def for_subscription(
    world: World, sub: Subscription, grouped: dict[tuple[str, str], list[dict[str, Any]]] | None = None
) -> list[dict[str, Any]]:
    """The plan's published entitlements, then the subscription's own ones in force; an own one
    naming a plan entitlement as its parent replaces it (upstream's filterOverriddenEntitlements).
    Addons cannot be attached to a subscription in the sandbox, so none of theirs come in.
    ``grouped``: ``by_entity(world)``, when the caller reads several subscriptions."""
    grouped = by_entity(world) if grouped is None else grouped
    now = world.now()
    own = [r for r in grouped.get(("SUBSCRIPTION", sub.id), []) if _in_force(r, now)]
    replaced = {r["parent_entitlement_id"] for r in own if r.get("parent_entitlement_id")}
    plan = [r for r in grouped.get(("PLAN", sub.plan_id), []) if r["id"] not in replaced]
    return plan + own


def customer_subscriptions(
    world: World, customer_id: str, wanted: frozenset[str] | None
) -> list[Subscription]:
    """The customer's active and trialing subscriptions, newest first (upstream's list order)."""
    subs = [
        s
        for s in usage.subscriptions_of(world, customer_id)
        if s.status in charges.BILLED_STATUSES and (wanted is None or s.id in wanted)
    ]
    return sorted(subs, key=lambda s: (s.created_at, s.id), reverse=True)


@dataclass(slots=True)
class Aggregated:
    """A feature's entitlements added up, and where each came from (subscription id, record)."""

    feature: Feature
    is_enabled: bool
    is_soft_limit: bool = False
    usage_limit: int | None = None  # None: unlimited (for a metered feature)
    usage_reset_period: str = ""
    static_values: list[str] = field(default_factory=list)
    config_values: list[dict[str, Any]] = field(default_factory=list)
    sources: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


def aggregate(world: World, granted: list[tuple[str, dict[str, Any]]]) -> list[Aggregated]:
    """Upstream's AggregateEntitlements: enabled, published entitlements grouped by feature (in the
    order met), then by the feature's type: metered limits summed (one without a limit makes it
    unlimited), soft if any is, the reset period most of them have; boolean enabled if any is;
    static values collected once each; config values collected."""
    by_feature: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for sub_id, record in granted:
        if record["is_enabled"] and record["status"] == "published":
            by_feature.setdefault(record["feature_id"], []).append((sub_id, record))
    found = []
    for feature_id, sources in by_feature.items():
        feature = world.features.get(feature_id)
        if feature is None:
            continue
        records = [r for _, r in sources]
        result = Aggregated(feature=feature, is_enabled=bool(records), sources=sources)
        if feature.type == "metered":
            limits = [r.get("usage_limit") for r in records]
            result.usage_limit = None if None in limits else sum(int(x) for x in limits if x is not None)
            result.is_soft_limit = any(r["is_soft_limit"] for r in records)
            periods = Counter(r["usage_reset_period"] for r in records if r.get("usage_reset_period"))
            if periods:
                result.usage_reset_period = periods.most_common(1)[0][0]  # ties: the first met
        elif feature.type == "static":
            for record in records:
                value = record.get("static_value") or ""
                if value and value not in result.static_values:
                    result.static_values.append(value)
        elif feature.type == "config":
            result.config_values = [r["config_value"] for r in records if r.get("config_value")]
        found.append(result)
    return found


def of_customer(
    world: World,
    customer_id: str,
    feature_ids: frozenset[str] | None = None,
    subscription_ids: frozenset[str] | None = None,
) -> tuple[list[Subscription], list[Aggregated]]:
    """The subscriptions that count and the customer's features (upstream's GetCustomerEntitlements)."""
    subs = customer_subscriptions(world, customer_id, subscription_ids)
    grouped = by_entity(world)
    granted = [
        (sub.id, record)
        for sub in subs
        for record in for_subscription(world, sub, grouped)
        if feature_ids is None or record["feature_id"] in feature_ids
    ]
    return subs, aggregate(world, granted)


def of_subscription(
    world: World, sub: Subscription, feature_ids: frozenset[str] | None = None
) -> list[Aggregated]:
    granted = [
        (sub.id, r)
        for r in for_subscription(world, sub)
        if feature_ids is None or r["feature_id"] in feature_ids
    ]
    return aggregate(world, granted)


# ---- usage against what was granted --------------------------------------------------------


def current_usage(world: World, granted: Aggregated) -> Decimal:
    """A metered feature's usage on the subscriptions its entitlements came from. Upstream counts
    the billing period's usage when the reset period is the subscription's billing period, and
    today's, this month's or all time's for DAILY, MONTHLY and NEVER; the sandbox keeps only the
    period's running usage, which it gives for those three too. Any other reset period: zero."""
    total = Decimal(0)
    meter_id = granted.feature.meter_id
    reset = granted.usage_reset_period
    for sub_id in dict.fromkeys(sub_id for sub_id, _ in granted.sources):
        sub = world.subscriptions.get(sub_id)
        if sub is None or not (reset == sub.billing_period or reset in ("DAILY", "MONTHLY", "NEVER")):
            continue
        for item, units, _ in usage.usage_of(world, sub):
            if item.meter_id == meter_id and item.price_type == "USAGE":
                total += units
    return total


def next_reset(world: World, granted: Aggregated) -> str | None:
    """When a metered feature's usage starts again (upstream's GetNextUsageResetAt, for the first
    source's subscription): NEVER is Go's zero time, DAILY tomorrow at midnight, MONTHLY the end of
    the month-long period now is in, at midnight; both cut at the subscription's end. None for
    other features and other periods (upstream fails there and leaves it out)."""
    if granted.feature.type != "metered" or not granted.sources:
        return None
    sub = world.subscriptions.get(granted.sources[0][0])
    reset = granted.usage_reset_period
    if sub is None or reset not in ("NEVER", "DAILY", "MONTHLY"):
        return None
    if reset == "NEVER":
        return NEVER
    now = world.now()
    if reset == "DAILY":
        moment = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    else:
        end = usage.next_boundary(sub.billing_anchor, "MONTHLY", 1, max(now, sub.start_date))
        moment = end.replace(hour=0, minute=0, second=0, microsecond=0)
    if sub.end_date is not None and moment > sub.end_date:
        moment = sub.end_date
    return format_timestamp(moment)
