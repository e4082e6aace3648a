"""Subscriptions of version 2026-08-22: their requests, read with upstream's checks and words,
their handlers (create, get, cancel, search, a customer's) and their views, line items included.

The body has already passed the document's schema (types, enums, sizes); what is checked here
is what the schema cannot say.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ...domain import charges, customers, errors, money, usage
from ...domain.clock import END_OF_TIME, format_timestamp
from ...domain.models import Customer, LineItem, Subscription
from ...domain.world import World
from .. import Handler, Result, fields
from .common import dec, metadata_of, page, stamped, timestamp, trimmed

# Operations that add to what a world holds (World.object_count): refused (429) in a full world.
GROWS_WORLD = frozenset({"createSubscription"})
MAX_INT64 = 2**63 - 1

_t = format_timestamp


# ---- requests ----------------------------------------------------------------------------


def _customer_of(world: World, body: dict[str, Any]) -> Customer:
    customer_id, external_id = trimmed(body, "customer_id"), trimmed(body, "external_customer_id")
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
        lookup_key=trimmed(body, "lookup_key"),
        metadata=metadata_of(body.get("metadata")),
    )


def _period_fits(moment: datetime, period: str, count: int) -> bool:
    """Whether the period of ``count`` from ``moment`` ends on a date Python holds (year 9999 at most);
    upstream (Go's time, int64) has room for far more."""
    if count > MAX_INT64:
        return False
    return usage.boundary(moment, period, count, 1) < END_OF_TIME  # (the end of time: past 9999)


# ---- views -------------------------------------------------------------------------------


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
    return {**body, **stamped(world, item.created_at, item.created_at)}


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
    return {**body, **stamped(world, s.created_at, s.updated_at)}


# ---- handlers ----------------------------------------------------------------------------


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
    "createSubscription": create_subscription,
    "getSubscription": get_subscription,
    "cancelSubscription": cancel_subscription,
    "querySubscription": query_subscription,
    "getSubscriptionsForCustomer": get_subscriptions_for_customer,
}
