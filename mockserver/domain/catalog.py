"""The catalog past creation, as upstream runs it: features, plans and prices searched, updated,
deleted (archived, or for a price terminated), cloned, and a plan's prices synced onto its
subscriptions.

Upstream's rules kept here: a feature an entitlement still uses cannot be deleted (and a metered
one's meter is disabled with it); a plan with subscriptions that are not cancelled cannot be
deleted; a clone takes a lookup key no published object has, and copies the plan's live prices
(without their lookup keys) and its entitlements; a price is never archived by DELETE but ends
(``end_date``), after which new subscriptions and lookups leave it out.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from . import charges, entitlements, errors, usage
from .models import Feature, LineItem, Meter, Plan, Price, Subscription
from .world import World

# ---- features ------------------------------------------------------------------------------


def feature(world: World, feature_id: str) -> Feature:
    found = world.features.get(feature_id)
    if found is None:
        raise errors.not_found(
            f"Feature with ID {feature_id} was not found", "ent: feature not found", feature_id=feature_id
        )
    return found


@dataclass(frozen=True, slots=True)
class FeatureQuery:
    ids: frozenset[str] | None = None
    meter_ids: frozenset[str] | None = None
    lookup_keys: frozenset[str] | None = None
    name_contains: str = ""
    status: str | None = None  # None: published and archived, as upstream lists features
    created_from: datetime | None = None
    created_to: datetime | None = None
    descending: bool = True


def search_features(world: World, query: FeatureQuery) -> list[Feature]:
    needle = query.name_contains.casefold()
    found = [
        f
        for f in world.features.values()
        if (f.status in ("published", "archived") if query.status is None else f.status == query.status)
        and (query.ids is None or f.id in query.ids)
        and (query.meter_ids is None or f.meter_id in query.meter_ids)
        and (query.lookup_keys is None or f.lookup_key in query.lookup_keys)
        and (not needle or needle in f.name.casefold())
        and (query.created_from is None or f.created_at >= query.created_from)
        and (query.created_to is None or f.created_at <= query.created_to)
    ]
    found.sort(key=lambda f: (f.created_at, f.id), reverse=query.descending)
    return found


def update_feature(
    world: World, f: Feature, changes: dict[str, Any], meter_filters: dict[str, list[str]] | None = None
) -> Feature:
    """Name, description, metadata and units as given (units stay set together); a metered
    feature's meter takes the filters given."""
    singular = changes.get("unit_singular", f.unit_singular)
    plural = changes.get("unit_plural", f.unit_plural)
    if bool(singular) != bool(plural):
        raise errors.validation(
            "Unit singular and unit plural must be set together",
            "unit_singular and unit_plural must be set together",
            field="unit_singular" if "unit_singular" in changes else "unit_plural",
        )
    for name, value in changes.items():
        setattr(f, name, value)
    now = world.now()
    if meter_filters is not None and f.type == "metered" and f.meter_id in world.meters:
        meter = world.meters[f.meter_id]
        meter.filters, meter.updated_at = dict(meter_filters), now
    f.updated_at = now
    return f


def archive_feature(world: World, f: Feature) -> None:
    if any(r["feature_id"] == f.id and r["status"] == "published" for r in entitlements.book(world).values()):
        raise errors.invalid_operation(
            "Feature is linked to some plans, please remove the feature from the plans first",
            "feature is linked to some plans",
            feature_id=f.id,
        )
    now = world.now()
    if f.type == "metered" and f.meter_id in world.meters:
        meter = world.meters[f.meter_id]
        meter.status, meter.updated_at = "archived", now
    f.status, f.updated_at = "archived", now


def clone_feature(
    world: World,
    source: Feature,
    name: str,
    lookup_key: str,
    description: str | None,
    metadata: dict[str, str],
) -> Feature:
    """A copy under a new name and lookup key; a metered one gets a copy of its meter, so that
    changing or deleting either feature leaves the other alone."""
    if any(f.lookup_key == lookup_key and f.status == "published" for f in world.features.values()):
        raise errors.conflict(
            "Please choose a different lookup_key for the cloned feature",
            "a published feature with this lookup_key already exists",
            lookup_key=lookup_key,
            field="lookup_key",
        )
    now = world.now()
    meter: Meter | None = None
    if source.type == "metered" and source.meter_id in world.meters:
        original = world.meters[source.meter_id]
        meter = replace(
            original,
            id=world.new_id("meter_", now),
            filters={k: list(v) for k, v in original.filters.items()},
            created_at=now,
            updated_at=now,
            status="published",
        )
    made = Feature(
        id=world.new_id("feat_", now),
        name=name,
        type=source.type,
        created_at=now,
        updated_at=now,
        meter_id=meter.id if meter is not None else "",
        lookup_key=lookup_key,
        description=source.description if description is None else description,
        unit_singular=source.unit_singular,
        unit_plural=source.unit_plural,
        metadata={**source.metadata, **metadata, "source_feature_id": source.id},
    )
    if meter is not None:
        world.meters[meter.id] = meter
    world.features[made.id] = made
    return made


# ---- plans ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlanQuery:
    ids: frozenset[str] | None = None
    lookup_key: str = ""
    metadata: dict[str, str] | None = None
    status: str = "published"
    created_from: datetime | None = None
    created_to: datetime | None = None
    descending: bool = True


def search_plans(world: World, query: PlanQuery) -> list[Plan]:
    wanted = query.metadata or {}
    found = [
        p
        for p in world.plans.values()
        if p.status == query.status
        and (query.ids is None or p.id in query.ids)
        and (not query.lookup_key or p.lookup_key == query.lookup_key)
        and all(p.metadata.get(k) == v for k, v in wanted.items())
        and (query.created_from is None or p.created_at >= query.created_from)
        and (query.created_to is None or p.created_at <= query.created_to)
    ]
    found.sort(key=lambda p: (p.created_at, p.id), reverse=query.descending)
    return found


def update_plan(world: World, p: Plan, changes: dict[str, Any]) -> Plan:
    for name, value in changes.items():
        setattr(p, name, value)
    p.updated_at = world.now()
    return p


def archive_plan(world: World, p: Plan) -> None:
    if any(s.plan_id == p.id and s.status != "cancelled" for s in world.subscriptions.values()):
        raise errors.invalid_operation(
            "Please remove the active subscriptions before deleting this plan.",
            "plan is still associated with subscriptions",
            plan_id=p.id,
        )
    p.status, p.updated_at = "archived", world.now()


def live(price: Price, now: datetime) -> bool:
    """Published and not ended (upstream's price filter without allow_expired_prices)."""
    return price.status == "published" and (price.end_date is None or price.end_date > now)


def clone_plan(
    world: World,
    source: Plan,
    name: str,
    lookup_key: str,
    description: str | None,
    display_order: int | None,
    metadata: dict[str, str],
) -> Plan:
    """A copy with the source's live prices (new ids, no lookup keys) and published entitlements."""
    if any(p.lookup_key == lookup_key and p.status == "published" for p in world.plans.values()):
        raise errors.conflict(
            "Please choose a different lookup_key for the cloned plan",
            "a published plan with this lookup_key already exists",
            lookup_key=lookup_key,
            field="lookup_key",
        )
    now = world.now()
    sources = [p for p in usage.prices_of(world, source.id) if live(p, now)]
    world.make_room(len(sources) + len(entitlements.of_entity(world, "PLAN", source.id)))
    made = Plan(
        id=world.new_id("plan_", now),
        name=name,
        created_at=now,
        updated_at=now,
        lookup_key=lookup_key,
        description=source.description if description is None else description,
        display_order=source.display_order if display_order is None else display_order,
        metadata={**source.metadata, **metadata, "source_plan_id": source.id},
    )
    world.plans[made.id] = made
    for price in sources:
        copy = replace(
            price,
            id=world.new_id("price_", now),
            entity_id=made.id,
            lookup_key="",
            tiers=list(price.tiers),
            metadata=dict(price.metadata),
            created_at=now,
            updated_at=now,
        )
        world.prices[copy.id] = copy
    entitlements.copy_to_plan(world, source.id, made.id)
    return made


def sync_plan(world: World, p: Plan) -> int:
    """Bring the plan's subscriptions (not cancelled) in line with its prices, as upstream's price
    sync does: a live price of the subscription's currency and billing period (or ONETIME) that
    none of its line items has gets one; a line item whose price has ended is ended. The sandbox's
    line items cannot end within a period, so an ended one is taken off the subscription, its
    period's usage carried to the new line item of the same meter (if one is made now). Returns
    how many line items were made."""
    now = world.now()
    prices = [x for x in usage.prices_of(world, p.id) if live(x, now)]
    plans: list[tuple[Subscription, list[Price], list[LineItem]]] = []
    for sub in world.subscriptions.values():
        if sub.plan_id != p.id or sub.status not in charges.BILLED_STATUSES:
            continue
        items = [world.line_items[i] for i in sub.line_items]
        ended = [i for i in items if i.price_id in world.prices and not live(world.prices[i.price_id], now)]
        have = {i.price_id for i in items}
        adding = [
            x
            for x in prices
            if x.id not in have
            and x.currency == sub.currency
            and x.billing_period in (sub.billing_period, "ONETIME")
        ]
        if adding or ended:
            plans.append((sub, adding, ended))
    made = sum(len(adding) for _, adding, _ in plans)
    world.make_room(made - 1)  # the request was checked for one
    for sub, adding, ended in plans:
        for price in adding:
            item = LineItem(
                id=world.new_id("subs_line_", now),
                subscription_id=sub.id,
                price_id=price.id,
                price_type=price.type,
                created_at=now,
                meter_id=price.meter_id,
                display_name=price.display_name,
            )
            previous = next((i for i in ended if i.meter_id and i.meter_id == item.meter_id), None)
            if previous is not None:  # the period's usage so far goes on with the new price
                for name in ("count", "total", "maximum", "latest", "latest_at"):
                    setattr(item, name, getattr(previous, name))
                item.uniques = set(previous.uniques)
            world.line_items[item.id] = item
            sub.line_items.append(item.id)
        for old in ended:
            sub.line_items.remove(old.id)
            del world.line_items[old.id]
        sub.updated_at = now
    if plans:
        world.distinct_values = None  # line items came and went: count their distinct values again
    return made


# ---- prices --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PriceQuery:
    ids: frozenset[str] | None = None
    entity_type: str | None = None
    entity_ids: frozenset[str] | None = None
    meter_ids: frozenset[str] | None = None
    billing_periods: frozenset[str] | None = None
    status: str = "published"
    allow_expired: bool = False
    created_from: datetime | None = None
    created_to: datetime | None = None
    descending: bool = True


def search_prices(world: World, query: PriceQuery) -> list[Price]:
    now = world.now()
    found = [
        p
        for p in world.prices.values()
        if p.status == query.status
        and (query.allow_expired or p.end_date is None or p.end_date > now)
        and (query.ids is None or p.id in query.ids)
        and (query.entity_type is None or p.entity_type == query.entity_type)
        and (query.entity_ids is None or p.entity_id in query.entity_ids)
        and (query.meter_ids is None or p.meter_id in query.meter_ids)
        and (query.billing_periods is None or p.billing_period in query.billing_periods)
        and (query.created_from is None or p.created_at >= query.created_from)
        and (query.created_to is None or p.created_at <= query.created_to)
    ]
    found.sort(key=lambda p: (p.created_at, p.id), reverse=query.descending)
    return found


def by_lookup_key(world: World, lookup_key: str) -> Price:
    for p in world.prices.values():
        if p.lookup_key == lookup_key and p.status == "published" and p.end_date is None:
            return p
    raise errors.not_found(
        f"Price with lookup key {lookup_key} was not found", "ent: price not found", lookup_key=lookup_key
    )


def add_prices(world: World, prices: list[Price]) -> list[Price]:
    """Several new prices, all or none (each already read and checked)."""
    world.make_room(len(prices) - 1)  # the request was checked for one
    for p in prices:
        usage.add_price(world, p)
    return prices


def update_price(world: World, p: Price, changes: dict[str, Any]) -> Price:
    """Fields that do not change what is charged (lookup key, names, metadata, an end)."""
    for name, value in changes.items():
        setattr(p, name, value)
    p.updated_at = world.now()
    return p


def _ends_at(p: Price, end: datetime, message: str, internal: str) -> None:
    if p.start_date is not None and end < p.start_date:
        raise errors.validation(message, internal, price_id=p.id, field="end_date")


def replace_price(world: World, old: Price, new: Price, effective: datetime | None) -> Price:
    """What changes a price's charge makes a new price: the old one ends when the new one starts
    (``effective``, or now)."""
    if old.end_date is not None:
        raise errors.validation(
            "Cannot update a terminated price", "price is already terminated", price_id=old.id
        )
    at = effective or world.now()
    _ends_at(
        old,
        at,
        "The effective date for terminating this price cannot be before the price's start date",
        "effective date must be on or after price start date",
    )
    new.start_date = at
    usage.add_price(world, new)  # checks first: nothing is ended when the new price is refused
    old.end_date, old.updated_at = at, world.now()
    return new


def terminate_price(world: World, p: Price, end: datetime | None) -> None:
    if p.end_date is not None:
        raise errors.validation(
            "Cannot terminate a price that has already been terminated",
            "price is already terminated",
            price_id=p.id,
        )
    at = end or world.now()
    _ends_at(
        p,
        at,
        "The termination date must be on or after the price's start date",
        "end date must be on or after start date",
    )
    p.end_date, p.updated_at = at, world.now()
