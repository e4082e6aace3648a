"""Usage drives the wallet: meters, plans, prices, subscriptions, events, and what the world's
clock does with them.

Events are counted as they arrive into each subscribed line item's running aggregate
(``charges``), which lowers the real-time balance of the customer's prepaid wallets. A customer
with new usage has its wallets evaluated ``world.alert_delay`` later on the world's clock (the
ongoing-balance alerts and auto top-up, as after a wallet operation); when the clock passes a
subscription's period end the period closes: its invoice is finalized, prepaid wallets pay its
usage (CREDIT_ADJUSTMENT debits, highest balance first), and usage starts again at zero.
``catch_up`` does whatever is due; the API calls it before each request, the clock controls after
each move, and a ticker for worlds whose clock runs.
"""

from __future__ import annotations

import calendar
import hashlib
import heapq
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from . import alerts, charges, errors, invoices, money, policies, wallets
from .clock import END_OF_TIME, format_timestamp
from .models import (
    SUBSCRIPTION,
    SUBSCRIPTION_CYCLE,
    Feature,
    Invoice,
    LineItem,
    Meter,
    Plan,
    Price,
    Subscription,
)
from .world import World

MONTHS = {"MONTHLY": 1, "QUARTERLY": 3, "HALF_YEARLY": 6, "ANNUAL": 12}
DAYS = {"DAILY": 1, "WEEKLY": 7}
SUBSCRIBABLE = tuple(MONTHS) + tuple(DAYS)
# Period ends one clock move may pass, and a new subscription may leave behind it: each close is
# an invoice, so a move of a thousand years on a daily subscription is refused, not done.
MAX_PERIODS_PER_MOVE = 1000
# Steps (closes, settlements, evaluations) one catch-up takes, at most: a move's closes and the
# settlement and evaluation each may bring; anything left is done by the next catch-up.
MAX_STEPS = 3 * MAX_PERIODS_PER_MOVE


# ---- catalog ------------------------------------------------------------------------------


def add_feature(world: World, feature: Feature, meter: Meter | None = None) -> Feature:
    """Add a feature, and the meter it brings (both or neither)."""
    if feature.lookup_key and any(
        f.lookup_key == feature.lookup_key and f.status == "published" for f in world.features.values()
    ):
        raise errors.conflict(
            "A feature with this lookup key already exists",
            "feature lookup key already exists",
            lookup_key=feature.lookup_key,
        )
    if meter is not None:
        world.meters[meter.id] = meter
    world.features[feature.id] = feature
    return feature


def add_plan(world: World, plan: Plan) -> Plan:
    world.plans[plan.id] = plan
    return plan


def add_price(world: World, price: Price) -> Price:
    if price.entity_type == "PLAN" and price.entity_id not in world.plans:
        raise errors.not_found("The specified plan does not exist", "plan not found", plan_id=price.entity_id)
    if price.meter_id and price.meter_id not in world.meters:
        raise errors.not_found("Meter not found", "meter not found", meter_id=price.meter_id)
    world.prices[price.id] = price
    return price


def _found(book: dict[str, Any], item_id: str, what: str) -> Any:
    item = book.get(item_id)
    if item is None:
        raise errors.not_found(
            f"{what.capitalize()} not found", f"ent: {what} not found", **{f"{what}_id": item_id}
        )
    return item


def meter(world: World, meter_id: str) -> Meter:
    return _found(world.meters, meter_id, "meter")


def plan(world: World, plan_id: str) -> Plan:
    found = world.plans.get(plan_id)
    if found is None:
        raise errors.not_found(
            f"Plan with ID {plan_id} was not found",
            "ent: plan not found",
            plan_id=plan_id,
        )
    return found


def price(world: World, price_id: str) -> Price:
    return _found(world.prices, price_id, "price")


def subscription(world: World, subscription_id: str) -> Subscription:
    return _found(world.subscriptions, subscription_id, "subscription")


def prices_of(world: World, plan_id: str) -> list[Price]:
    return [p for p in world.prices.values() if p.entity_type == "PLAN" and p.entity_id == plan_id]


# ---- billing periods ----------------------------------------------------------------------


def add_months(moment: datetime, months: int) -> datetime:
    """The same day and time ``months`` later; a day the month lacks becomes its last day."""
    year, month = divmod(moment.month - 1 + months, 12)
    year += moment.year
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def boundary(anchor: datetime, period: str, count: int, k: int) -> datetime:
    """The k-th period boundary from ``anchor`` (k = 0 is the anchor itself); END_OF_TIME when it
    is past what a datetime holds (a period so long it never ends)."""
    try:
        if period in MONTHS:
            return add_months(anchor, MONTHS[period] * count * k)
        return anchor + timedelta(days=DAYS[period] * count * k)
    except (OverflowError, ValueError):  # past year 9999
        return END_OF_TIME


def _index_after(anchor: datetime, period: str, count: int, after: datetime) -> int:
    """Which boundary from ``anchor`` is the first after ``after``."""
    if period in MONTHS:
        step = MONTHS[period] * count
        k = max(((after.year - anchor.year) * 12 + after.month - anchor.month) // step, 0)
    else:
        step_days = DAYS[period] * count
        k = max((after - anchor).days // step_days, 0)
    while (found := boundary(anchor, period, count, k)) <= after and found < END_OF_TIME:
        k += 1
    while k > 1 and boundary(anchor, period, count, k - 1) > after:
        k -= 1
    return k


def next_boundary(anchor: datetime, period: str, count: int, after: datetime) -> datetime:
    """The first period boundary after ``after`` (END_OF_TIME when none is representable)."""
    count = max(count, 1)  # a count below one is refused where it is given; never a zero step
    return boundary(anchor, period, count, _index_after(anchor, period, count, after))


def periods_to_close(sub: Subscription, until: datetime) -> int:
    """How many of the subscription's periods end by ``until``: the closes a clock at ``until``
    makes due (one more or less when the subscription ends between two boundaries)."""
    if sub.status not in charges.BILLED_STATUSES or sub.current_period_end > until:
        return 0
    ends = [moment for moment in (sub.cancel_at, sub.end_date) if moment is not None]
    last = min([until, *ends])
    count = max(sub.billing_period_count, 1)
    passed = _index_after(sub.billing_anchor, sub.billing_period, count, last) - _index_after(
        sub.billing_anchor, sub.billing_period, count, sub.current_period_end
    )
    return 1 + max(passed, 0)


def periods_due(world: World, until: datetime, enough: int = MAX_PERIODS_PER_MOVE) -> int:
    """The period closes a clock at ``until`` makes due in the world (counting stops past
    ``enough``: the caller only asks whether there are too many)."""
    total = 0
    for sub in world.subscriptions.values():
        total += periods_to_close(sub, until)
        if total > enough:
            break
    return total


def calendar_anchor(start: datetime, period: str) -> datetime:
    """Where calendar billing anchors: the start of the start's day, month or year."""
    day = start.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "ANNUAL":
        return day.replace(month=1, day=1)
    if period in MONTHS:
        return day.replace(day=1)
    if period == "WEEKLY":
        return day - timedelta(days=day.weekday())
    return day


# ---- subscriptions ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewSubscription:
    customer_id: str
    plan_id: str
    currency: str
    billing_period: str
    billing_period_count: int = 1
    start_date: datetime | None = None  # None: now
    end_date: datetime | None = None
    billing_cycle: str = "anniversary"
    billing_anchor: datetime | None = None
    lookup_key: str = ""
    metadata: dict[str, str] = field(default_factory=dict)


def subscribe(world: World, new: NewSubscription) -> Subscription:
    """Subscribe a customer to a plan: one line item per plan price of the subscription's billing
    period (and each ONETIME price) in its currency; the first period starts at the start date."""
    plan(world, new.plan_id)
    now = world.now()
    start = new.start_date or now
    start = start.replace(microsecond=start.microsecond // 1000 * 1000)  # upstream keeps milliseconds
    currency = new.currency.lower()
    periodic = [
        p
        for p in prices_of(world, new.plan_id)
        if p.billing_period in (new.billing_period, "ONETIME")
        # a price ended (or not yet begun) when the subscription starts is not subscribed to
        and (p.end_date is None or p.end_date > start)
        and (p.start_date is None or p.start_date <= max(start, now))
    ]
    missing = {"entity_id": new.plan_id, "entity_type": "PLAN"}
    if not periodic:
        raise errors.validation(
            "The entity must have at least one price to create a subscription",
            "no prices found for entity",
            **missing,
        )
    matching = [p for p in periodic if p.currency == currency]
    if not matching:
        raise errors.validation(
            "No prices match the subscription criteria", "no valid prices found for subscription", **missing
        )
    if new.billing_anchor is not None:
        anchor = new.billing_anchor
    elif new.billing_cycle == "calendar":  # the next calendar boundary (in UTC)
        first = calendar_anchor(start, new.billing_period)
        anchor = next_boundary(first, new.billing_period, 1, start)
    else:
        anchor = start
    sub = Subscription(
        id=world.new_id("subs_", now),
        customer_id=new.customer_id,
        plan_id=new.plan_id,
        currency=currency,
        billing_period=new.billing_period,
        billing_period_count=new.billing_period_count,
        billing_anchor=anchor,
        start_date=start,
        current_period_start=start,
        current_period_end=next_boundary(anchor, new.billing_period, new.billing_period_count, start),
        created_at=now,
        updated_at=now,
        billing_cycle=new.billing_cycle,
        end_date=new.end_date,
        lookup_key=new.lookup_key,
        metadata=dict(new.metadata),
    )
    if sub.end_date is not None and sub.end_date < sub.current_period_end:
        sub.current_period_end = sub.end_date
    if periods_to_close(sub, now) > MAX_PERIODS_PER_MOVE:  # each an invoice, made at once
        raise errors.validation(
            f"start_date leaves more than {MAX_PERIODS_PER_MOVE} billing periods ended before now, "
            "the most one request may close: start it later, or freeze the clock at its start and "
            "move it in steps",
            "too many periods in one move",
            start_date=format_timestamp(start),
            max_periods=MAX_PERIODS_PER_MOVE,
        )
    for p in matching:
        item = LineItem(
            id=world.new_id("subs_line_", now),
            subscription_id=sub.id,
            price_id=p.id,
            price_type=p.type,
            created_at=now,
            meter_id=p.meter_id,
            display_name=p.display_name,
        )
        world.line_items[item.id] = item
        sub.line_items.append(item.id)
    world.subscriptions[sub.id] = sub
    world.subscriptions_by_customer.setdefault(sub.customer_id, []).append(sub.id)
    reschedule(world)
    return sub


def subscriptions_of(world: World, customer_id: str) -> list[Subscription]:
    return [world.subscriptions[s] for s in world.subscriptions_by_customer.get(customer_id, ())]


def cancel(
    world: World, sub: Subscription, kind: str, at: datetime | None = None, invoice: bool = False
) -> datetime:
    """Cancel as upstream does, by ``kind``: ``immediate`` (now, or a past ``at``: the
    subscription ends there, its period invoiced only with ``invoice``), ``end_of_period`` or
    ``scheduled_date`` (``at``: the period is cut there). Returns when it takes effect."""
    if sub.status == "cancelled":
        raise errors.validation(
            "The subscription is already cancelled",
            "subscription is already cancelled",
            subscription_id=sub.id,
        )
    now = world.now()
    if kind != "immediate" and sub.cancel_at is not None:
        raise errors.validation(
            "The subscription already has a scheduled cancellation. Cancel the existing schedule before "
            "setting a new one.",
            "cancellation already scheduled",
            subscription_id=sub.id,
        )
    sub.cancelled_at, sub.updated_at = now, now
    if kind == "end_of_period":
        sub.cancel_at, sub.cancel_at_period_end = sub.current_period_end, True
        reschedule(world)
        return sub.current_period_end
    when = at or now
    if kind == "scheduled_date":
        sub.cancel_at = sub.end_date = when
        sub.cancel_at_period_end = True
        if when < sub.current_period_end:
            sub.current_period_end = when
        reschedule(world)
        return when
    sub.cancel_at = sub.end_date = when
    sub.status, sub.cancel_at_period_end = "cancelled", False
    if invoice:
        _close_period(world, sub, now, ends=when)
    else:
        for item_id in sub.line_items:
            charges.reset(world.line_items[item_id])
    reschedule(world)
    return when


def update(
    world: World,
    sub: Subscription,
    status: str = "",
    cancel_at: datetime | None = None,
    cancel_at_period_end: bool = False,
    parent_id: str | None = None,
) -> None:
    """Set a subscription's fields as upstream's UpdateSubscription does, nothing more: its status
    (no invoice, no proration), a cancel date (its end date too; a current period past it is cut
    there, as a scheduled cancellation's is), whether it cancels at the period end, its parent
    (``parent_id``: None leaves it, "" clears it)."""
    if parent_id:
        if parent_id == sub.id:
            raise errors.validation(
                "parent_subscription_id must be a different subscription ID",
                "subscription cannot be its own parent",
                subscription_id=sub.id,
            )
        parent = subscription(world, parent_id)
        if parent.status != "active":
            raise errors.validation(
                "The parent subscription must be active",
                "parent subscription must be active",
                parent_subscription_id=parent_id,
                subscription_status=parent.status,
            )
    if parent_id is not None:
        sub.parent_subscription_id = parent_id
    if status:
        sub.status = status
    if cancel_at is not None:
        sub.cancel_at = sub.end_date = cancel_at
        if sub.current_period_start < cancel_at < sub.current_period_end:
            sub.current_period_end = cancel_at
    sub.cancel_at_period_end = cancel_at_period_end
    sub.updated_at = world.now()
    reschedule(world)


# ---- events -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UsageEvent:
    event_name: str
    external_customer_id: str
    timestamp: datetime
    properties: dict[str, Any] = field(default_factory=dict)
    event_id: str = ""


def _digest(event_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(event_id.encode(), digest_size=8).digest(), "big")


def ingest(world: World, events: list[UsageEvent]) -> list[str]:
    """Accept events (their ids, made for those without): each counts once per event id, into
    the current period of every subscription of its customer whose meter it matches.

    All or nothing: what the events would add to the world (their ids, the future-dated ones,
    new distinct values) is counted first, and a request past the world's object limit is
    refused (429) before any of it is kept."""
    seen: set[int] = set()  # ids new to the world, in this request
    fresh: dict[str, set[str]] = {}  # line item id -> distinct values new to it, in this request
    planned: list[tuple[UsageEvent, str | None, list[tuple[LineItem, Meter]], list[dict[str, Any]]]] = []
    adding = 0
    for event in events:
        if event.event_id:
            digest = _digest(event.event_id)
            if digest in world.event_ids or digest in seen:
                planned.append((event, None, [], []))  # a repeat: accepted, counted once
                continue
            seen.add(digest)
        # Usage belongs to the external id, as upstream keeps it (a customer_id sent is not read).
        customer_id = world.customer_by_external_id.get(event.external_customer_id)
        counts: list[tuple[LineItem, Meter]] = []
        deferred: list[dict[str, Any]] = []
        if customer_id:
            _targets(world, customer_id, event, counts, deferred)
        for item, found in counts:
            if found.aggregation == "COUNT_UNIQUE":
                value = charges.distinct_value(found, event.properties)
                if value is not None and value not in item.uniques:
                    fresh.setdefault(item.id, set()).add(value)
        adding += len(deferred)
        planned.append((event, customer_id, counts, deferred))
    adding += len(seen) + sum(len(values) for values in fresh.values())
    world.make_room(adding)
    now = world.now()
    accepted = []
    touched: set[str] = set()
    for event, customer_id, counts, deferred in planned:
        if event.event_id:
            accepted.append(event.event_id)
        else:
            accepted.append(world.new_id("event_", now))
        world.deferred_events.extend(deferred)
        for item, found in counts:
            if charges.record(item, found, event.properties, event.timestamp):
                world.add_distinct(1)
        if counts and customer_id:
            touched.add(customer_id)
    world.event_ids.update(seen)
    for customer_id in touched:
        _schedule(world, customer_id, now)
    return accepted


def _targets(
    world: World,
    customer_id: str,
    event: UsageEvent,
    counts: list[tuple[LineItem, Meter]],
    deferred: list[dict[str, Any]],
) -> None:
    """Where an event of the customer counts: the line items (with their meters) of the current
    periods it falls in, and, kept for when its period begins, each subscription it is dated
    past the period of, with only the properties their meters read (what a period's replay
    needs, so a far-future event keeps a few values, not its whole body)."""
    at = event.timestamp
    for sub_id in world.subscriptions_by_customer.get(customer_id, ()):
        sub = world.subscriptions[sub_id]
        if sub.status not in charges.BILLED_STATUSES or at < sub.current_period_start:
            continue  # a closed period's invoice is final: late usage is not counted
        matching = _matching(world, sub, event.event_name, event.properties)
        if not matching:
            continue
        if at >= sub.current_period_end:  # usage of a later period: counted when it begins
            read = {key for _, found in matching for key in (*found.filters, found.field_name) if key}
            properties = {key: value for key, value in event.properties.items() if key in read}
            deferred.append(
                {
                    "subscription_id": sub.id,
                    "event_name": event.event_name,
                    "properties": properties,
                    "timestamp": at,
                }
            )
        else:
            counts.extend(matching)


def _matching(
    world: World, sub: Subscription, name: str, properties: dict[str, Any]
) -> list[tuple[LineItem, Meter]]:
    """The subscription's line items whose meter counts an event of ``name`` with ``properties``."""
    found_items = []
    for item_id in sub.line_items:
        item = world.line_items[item_id]
        found = world.meters.get(item.meter_id) if item.meter_id else None
        if found is not None and found.event_name == name and charges.passes(found, properties):
            found_items.append((item, found))
    return found_items


def _count_in(world: World, sub: Subscription, name: str, properties: dict[str, Any], at: datetime) -> bool:
    counted = False
    for item, found in _matching(world, sub, name, properties):
        if charges.record(item, found, properties, at):
            world.add_distinct(1)
        counted = True
    return counted


# ---- what the clock does ------------------------------------------------------------------


def _schedule(world: World, customer_id: str, now: datetime) -> None:
    """Evaluate the customer's wallets after the delay; one evaluation waits at a time."""
    if world.alert_delay <= timedelta(0):
        evaluate(world, customer_id)
        return
    if customer_id not in world.evaluations:
        world.evaluations[customer_id] = now + world.alert_delay
        reschedule(world)


def evaluate(world: World, customer_id: str) -> None:
    """What the cloud's usage alert workflow does: each active wallet watched (alerts enabled or
    auto top-up) has its ongoing balance evaluated, then its auto top-up."""
    for wallet in wallets.active_wallets_of(world, customer_id):
        alerts.evaluate_ongoing(world, wallet)
        wallets.auto_top_up(world, wallet)


def reschedule(world: World) -> None:
    """Note when the world next has something to do: an evaluation, a period end, or a pending
    invoice its policy settles."""
    soonest = min(world.evaluations.values(), default=None)
    for sub in world.subscriptions.values():
        if sub.status in charges.BILLED_STATUSES and (soonest is None or sub.current_period_end < soonest):
            soonest = sub.current_period_end
    settling = invoices.next_settlement(world)
    if settling is not None and (soonest is None or settling[0] < soonest):
        soonest = settling[0]
    world.usage_due = soonest


def set_alert_delay(world: World, delay: timedelta) -> None:
    """How long after usage the customer's wallets are evaluated (evaluations already waiting
    keep their time)."""
    world.alert_delay = delay


def set_policies(world: World, chosen: dict[str, policies.Policy]) -> None:
    """Put the world's policies in force: what already waits follows them from now on (settled
    now when its time has come, ``after`` counted from its creation)."""
    world.policies = dict(chosen)
    reschedule(world)
    catch_up(world)


def catch_up(world: World) -> None:
    """Do, in the order they fell due, the evaluations, period closes and settlements the clock
    has passed (MAX_STEPS of them at most; the next catch-up goes on where this one stopped).

    What is due is read once and kept in order (heaps), with only what each step adds looked at
    again: a catch-up costs its steps times their logarithm, not its steps times the world's
    invoices."""
    now = world.now()
    if world.usage_due is None or world.usage_due > now:
        return
    closings = Closings(world, now)
    settlements = invoices.Settlements(world)
    for _ in range(MAX_STEPS):
        evaluation = min(world.evaluations.items(), key=lambda pair: pair[1], default=None)
        closing = closings.first()
        settling = settlements.first()
        if (
            settling is not None
            and settling[0] <= now
            and (closing is None or settling[0] <= closing.current_period_end)
            and (evaluation is None or settling[0] <= evaluation[1])
        ):
            invoices.settle_by_policy(world, settling[1])
        elif closing is not None and (evaluation is None or closing.current_period_end < evaluation[1]):
            _close_period(world, closing, now)
            closings.add(closing)
        elif evaluation is not None and evaluation[1] <= now:
            del world.evaluations[evaluation[0]]
            evaluate(world, evaluation[0])
        else:
            break
    reschedule(world)


class Closings:
    """The world's subscriptions whose period ended by ``now``, soonest end first."""

    def __init__(self, world: World, now: datetime):
        self.world, self.now = world, now
        self._heap: list[tuple[datetime, str]] = []
        for sub in world.subscriptions.values():
            self.add(sub)

    def add(self, sub: Subscription) -> None:
        """Note ``sub`` (again, after a close) when its current period has ended by ``now``."""
        if sub.status in charges.BILLED_STATUSES and sub.current_period_end <= self.now:
            heapq.heappush(self._heap, (sub.current_period_end, sub.id))

    def first(self) -> Subscription | None:
        while self._heap:
            end, sub_id = self._heap[0]
            sub = self.world.subscriptions.get(sub_id)
            if sub is not None and sub.status in charges.BILLED_STATUSES and sub.current_period_end == end:
                return sub
            heapq.heappop(self._heap)  # closed (and noted again by add), or cancelled, since
        return None


def period_lines(world: World, sub: Subscription) -> tuple[list[dict[str, Any]], Decimal, Decimal]:
    """The current period's invoice lines so far (each line item's quantity and charge), and its
    usage and fixed amounts."""
    first = sub.current_period_start == sub.start_date
    lines, usage_amount, fixed_amount = [], money.ZERO, money.ZERO
    for item, units, charge in usage_of(world, sub):
        if not first and world.prices[item.price_id].billing_period == "ONETIME":
            continue  # a one-time charge is on the first invoice only
        lines.append(
            {
                "line_item_id": item.id,
                "price_id": item.price_id,
                "meter_id": item.meter_id,
                "display_name": item.display_name,
                "price_type": item.price_type,
                "quantity": str(money.normalize(units)),
                "amount": str(money.normalize(charge)),
            }
        )
        if item.price_type == "USAGE":
            usage_amount += charge
        else:
            fixed_amount += charge
    return lines, usage_amount, fixed_amount


def preview(world: World, sub: Subscription) -> Invoice:
    """The invoice the subscription's current period would close with now: a DRAFT of its usage
    so far and its fixed charges (upstream's invoice preview). Not kept: the world holds none of
    it (its id is made from the subscription's, so a preview takes no id either)."""
    lines, usage_amount, fixed_amount = period_lines(world, sub)
    now = world.now()
    return Invoice(
        id=f"inv_preview_{sub.id}",
        customer_id=sub.customer_id,
        currency=sub.currency,
        created_at=now,
        invoice_type=SUBSCRIPTION,
        billing_reason=SUBSCRIPTION_CYCLE,
        invoice_status="DRAFT",
        subscription_id=sub.id,
        period_start=sub.current_period_start,
        period_end=sub.current_period_end,
        usage_amount=usage_amount,
        fixed_amount=fixed_amount,
        lines=lines,
    )


def _close_period(world: World, sub: Subscription, now: datetime, ends: datetime | None = None) -> Invoice:
    """Finalize the period's invoice (up to ``ends``, its end by default), let prepaid wallets pay
    its usage, start the next period (or end the subscription) with usage back at zero."""
    lines, usage_amount, fixed_amount = period_lines(world, sub)
    for item_id in sub.line_items:
        item = world.line_items[item_id]
        if item.price_type == "USAGE":
            charges.reset(item)
    bill = Invoice(
        id=world.new_id("inv_", now),
        customer_id=sub.customer_id,
        currency=sub.currency,
        created_at=now,
        invoice_type=SUBSCRIPTION,
        billing_reason=SUBSCRIPTION_CYCLE,
        subscription_id=sub.id,
        period_start=sub.current_period_start,
        period_end=ends or sub.current_period_end,
        usage_amount=usage_amount,
        fixed_amount=fixed_amount,
        lines=lines,
    )
    if ends is None:  # (an immediate cancellation has ended the subscription itself)
        ended = sub.current_period_end
        if (sub.cancel_at is not None and ended >= sub.cancel_at) or (
            sub.end_date is not None and ended >= sub.end_date
        ):
            sub.status, sub.cancelled_at = "cancelled", sub.cancel_at or sub.end_date
        else:
            sub.current_period_start = ended
            sub.current_period_end = next_boundary(
                sub.billing_anchor, sub.billing_period, sub.billing_period_count, ended
            )
            if sub.end_date is not None and sub.end_date < sub.current_period_end:
                sub.current_period_end = sub.end_date
    sub.updated_at = now
    world.invoices[bill.id] = bill
    if bill.total == 0:  # upstream skips an invoice with nothing to charge, and says nothing
        bill.invoice_status = "SKIPPED"
    else:  # computed (a draft), then paid with credits and finalized, as upstream's events say
        world.emit("invoice.update", bill.id, {"draft": True})
        invoices.apply_prepaid(world, bill)
        if bill.remaining <= 0:
            bill.payment_status = "SUCCEEDED"
        world.emit("invoice.update.finalized", bill.id)
        if world.policies["subscription_invoices"].at_once:  # settled as it is finalized
            invoices.settle_bill_by_policy(world, bill)
    _replay_deferred(world, sub)
    return bill  # (its callers reschedule once, after all their closes)


def _replay_deferred(world: World, sub: Subscription) -> None:
    """Count the deferred usage of the subscription's new period; keep what is later still."""
    kept, counted = [], False
    billed = sub.status in charges.BILLED_STATUSES
    for event in world.deferred_events:
        at = event["timestamp"]
        if event["subscription_id"] != sub.id or (billed and at >= sub.current_period_end):
            kept.append(event)
        elif billed and at >= sub.current_period_start:
            counted = _count_in(world, sub, event["event_name"], event["properties"], at) or counted
    world.deferred_events[:] = kept
    if counted:
        _schedule(world, sub.customer_id, world.now())


def usage_of(world: World, sub: Subscription) -> list[tuple[LineItem, Decimal, Decimal]]:
    """Each line item of a subscription with its quantity and charge so far this period."""
    items = (world.line_items[item_id] for item_id in sub.line_items)
    return [(item, *charges.line_usage(world, item)) for item in items]
