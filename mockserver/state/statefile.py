"""A world as a JSON document and back: the one description of what a world holds.

``SECTIONS`` below is the only list of what a world holds, each section with how it is written
(``export``), checked (``check``) and put back (``restore``). Every way a world is kept derives
from it, so that they cannot disagree:

- ``GET /_mock/state`` exports this document and ``PUT /_mock/state`` imports it;
- the state file (``--state-file``, ``persist.py``) keeps one per world;
- the Redis store's record of a world is this document, nothing beside it (``shared/worlds.py``:
  it used to keep the clock, the id generator and the cached balances next to it, one change
  away from disagreeing with the file and the export; a record of that older shape still loads);
- the memory store holds the ``World`` itself: every attribute of a world is held by a section,
  derived from one, or not the world's state (``DERIVED``, ``NOT_STATE``; a test checks it).

What the sections hold: the clock (its time, whether it is frozen; a running clock also says
``at`` what wall-clock time it read ``now``, so that it comes back with its exact lead on real time
and keeps running while the world is away: in Redis, in a file); the id generator's position (the
last id made, so later ids sort after every id of the document; a seeded generator's random
state, with which it goes on with the same sequence; without one, a world's generator stays as
seeded or random as it was, so ``--id-seed`` survives importing a document of an unseeded world);
customers, wallets, transactions, invoices, idempotency records; what the world last
announced (alert states, ongoing balances: a world loaded again raises no alert twice); and the
cached balances, what each wallet's last real-time read computed and when (what a cached read
answers for 30 minutes): they cannot be derived from the ledger (a read and a top-up at one
frozen instant cannot be told apart afterwards), so they are kept. Webhook endpoints and
deliveries are the outbox's (its mailboxes: ``webhooks/outbox.py``, ``webhooks/shared.py``), not
the world's; neither are fault rules nor the request journal.

The export is exact: decimals are written as strings (no JSON tool can round them), timestamps
with microseconds, ids as they are. Importing checks the whole document before touching the
world, so a bad document changes nothing; errors name the field (``wallets[0].balance``).
Field lists come from the store's dataclasses, so a field added there is exported too.

Format ``flexprice-mock-state/4``: ``/3`` plus the usage sections (meters, features, plans,
prices, line items with their period's running usage, subscriptions, their invoices, and the
usage schedule: the alert delay, evaluations due, usage dated in a later period, the digests of
event ids seen); ``/5`` adds the world's policies (how its pending invoices settle by
themselves), and an older document loads with every policy manual; ``/6`` keeps every invoice
in one section (``invoices``: subscriptions' invoices, top-ups' and one-offs; an older document's
top-up invoices and ``bills``, its subscription invoices, load into it) and adds the stored
objects (``records``: collection -> id -> the object as JSON values, as ``World.records`` holds
them; an older document loads with none); a ``/3`` document loads as a world without usage, and
a ``/2`` document (no ``ids``, no ``cached_balances``, a clock without ``at``: it is put at
``now``) still loads, and leaves the id generator as it was.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

from ..domain import alerts, money, payments, policies, usage
from ..domain.clock import Clock, clock_range, format_timestamp, in_range, utc_now
from ..domain.ids import IdGenerator, ulid_parts, ulid_text
from ..domain.models import (
    ONE_OFF,
    SUBSCRIPTION,
    SUBSCRIPTION_CYCLE,
    WALLET_AUTO_TOPUP,
    Customer,
    Feature,
    Invoice,
    LineItem,
    Meter,
    Plan,
    Price,
    Subscription,
    TopUpRecord,
    Transaction,
    Wallet,
)
from ..domain.world import World
from . import codec
from .codec import StateError

FORMAT = "flexprice-mock-state/6"
READABLE = (FORMAT, *(f"flexprice-mock-state/{n}" for n in (5, 4, 3, 2)))
ALERT_STATES = ("ok", "info", "warning", "in_alarm")
# A world's attributes that no section writes: indexes rebuilt from a section when it is put back
# (attribute -> section), and what is not the world's state (the store names the world; events
# raised are sent when their unit of work ends, so there are none between units of work; the
# domain rules are the API version's).
DERIVED = {
    "customer_by_external_id": "customers",
    "wallets_by_customer": "wallets",
    "transaction_count": "transactions",
    "transaction_keys": "transactions",
    "next_expiry": "transactions",
    "subscriptions_by_customer": "subscriptions",
    "usage_due": "usage_schedule",
    "distinct_values": "line_items",  # counted again (World.object_count) once they are loaded
}
NOT_STATE = ("tenant_id", "environment_id", "events", "rules", "max_objects")


@dataclass(frozen=True)
class Writer:
    """How a document is written: for which API version, and how each customer, wallet,
    transaction or invoice (``record``) and idempotency record is (the Redis store reuses what it
    wrote for those that did not change)."""

    api_version: str
    record: Callable[[Any], Any]
    idempotency: Callable[[str, TopUpRecord], Any]


class Loaded:
    """A document read and checked, before any of it touches the world: its records in a world of
    their own, the clock and the id generator's position when the document gives them."""

    def __init__(self, api_version: str):
        self.api_version = api_version
        self.world = World("", "")
        self.clock: tuple[datetime, bool, datetime | None] | None = None  # now, frozen, at
        self.ids: dict[str, Any] | None = None  # an IdGenerator snapshot
        self.format: str | None = None  # the document's, when it says


@dataclass(frozen=True)
class Section:
    """One part of what a world holds: the ``World`` attributes it holds, how it is written,
    checked (the document's value, None when it has none: raises StateError, fills ``Loaded``)
    and put back into a world that was cleared."""

    name: str
    holds: tuple[str, ...]
    export: Callable[[World, Writer], Any]
    check: Callable[[Any, Loaded], None]
    restore: Callable[[World, Loaded], None]
    written: bool = True  # False: read from older documents only


def _nothing(world: World, loaded: Loaded) -> None:
    """Put back nothing: the section says something of the document, not of the world."""


# ---- the document's own sections -------------------------------------------------------------


def _check_format(value: Any, loaded: Loaded) -> None:
    if value is not None and value not in READABLE:
        older = " or ".join(repr(name) for name in READABLE[1:])
        raise StateError("format", f"must be {FORMAT!r} (or the older {older})")
    loaded.format = value


def _check_version(value: Any, loaded: Loaded) -> None:
    if value is not None and value != loaded.api_version:
        raise StateError(
            "api_version",
            f"is {value!r}, but this sandbox serves API version "
            f"{loaded.api_version!r}: a state document is loaded by the version that wrote it",
        )


# ---- the clock and the ids ------------------------------------------------------------------


def dump_clock(clock: Clock) -> dict[str, Any]:
    """Where a clock is: its time and whether it is frozen; a running one says ``at`` what
    wall-clock time its time was read, so that it is put back with its lead on real time."""
    offset, frozen = clock.snapshot()
    if frozen is not None:
        return {"now": format_timestamp(frozen), "frozen": True}
    at = utc_now()
    return {"now": format_timestamp(at + offset), "frozen": False, "at": format_timestamp(at)}


def check_clock(value: Any, where: str = "clock") -> tuple[datetime, bool, datetime | None]:
    """A clock section as (now, frozen, at). Raises StateError."""
    if not isinstance(value, dict):
        raise StateError(where, "must be an object with now and frozen")
    for name in value:
        if name not in ("now", "frozen", "at"):
            raise StateError(f"{where}.{name}", "is not a clock field (expected: now, frozen, at)")
    now = codec.load_value(datetime, value.get("now"), f"{where}.now")
    frozen = value.get("frozen", False)
    if not isinstance(frozen, bool):
        raise StateError(f"{where}.frozen", "must be true or false")
    at = codec.load_value(datetime | None, value.get("at"), f"{where}.at")
    if not in_range(now):  # a clock past it would make the world's own dates overflow
        raise StateError(f"{where}.now", f"must be within {clock_range()}, as the clock controls allow")
    return now, frozen, at


def set_clock(clock: Clock, now: datetime, frozen: bool, at: datetime | None) -> None:
    """Put a clock where a clock section says: frozen at ``now``; running with the lead it had
    ``at`` that wall-clock time; or, with no ``at``, running from ``now``."""
    if frozen or at is None:
        clock.set(now, freeze=frozen)
    else:
        clock.resume(now - at, None)


def _check_clock(value: Any, loaded: Loaded) -> None:
    if value is not None:
        loaded.clock = check_clock(value)


def _restore_clock(world: World, loaded: Loaded) -> None:
    if loaded.clock is not None:
        set_clock(world.clock, *loaded.clock)


def dump_ids(ids: IdGenerator) -> dict[str, Any]:
    """The id generator's position: the last id it made (None before the first), and a seeded
    generator's random state."""
    state = ids.snapshot()
    last = ulid_text(state["last_ms"], state["last_random"]) if state["last_ms"] >= 0 else None
    return {"last": last, **({"random": state["random"]} if "random" in state else {})}


def _check_ids(value: Any, loaded: Loaded) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        raise StateError("ids", "must be an object with last (and random, for a seeded generator)")
    for name in value:
        if name not in ("last", "random"):
            raise StateError(f"ids.{name}", "is not a field of the ids (expected: last, random)")
    last = value.get("last")
    state: dict[str, Any] = {"last_ms": -1, "last_random": 0}
    if last is not None:
        try:
            state["last_ms"], state["last_random"] = ulid_parts(last if isinstance(last, str) else "")
        except ValueError:
            raise StateError("ids.last", "must be a ULID (26 Crockford base32 characters) or null") from None
    if "random" in value:
        try:
            version, words, gauss = value["random"]
            random.Random().setstate((version, tuple(words), gauss))
        except (TypeError, ValueError, OverflowError):
            raise StateError("ids.random", "must be a random generator's state, as exported") from None
        state["random"] = [version, list(words), gauss]
    loaded.ids = state


def _restore_ids(world: World, loaded: Loaded) -> None:
    if loaded.ids is not None:
        world.ids.resume(loaded.ids)


# ---- customers, wallets, the ledger, invoices, idempotency ----------------------------------


def _check_customers(value: Any, loaded: Loaded) -> None:
    into = loaded.world
    for where, customer in _records(value, "customers", Customer):
        _unique(into.customers, customer.id, where)
        into.customers[customer.id] = customer
        if customer.status == "published":
            if customer.external_id in into.customer_by_external_id:
                raise StateError(
                    f"{where}.external_id", f"{customer.external_id!r} is used by two published customers"
                )
            into.customer_by_external_id[customer.external_id] = customer.id


def _restore_customers(world: World, loaded: Loaded) -> None:
    world.customers.update(loaded.world.customers)
    world.customer_by_external_id.update(loaded.world.customer_by_external_id)


def _check_wallets(value: Any, loaded: Loaded) -> None:
    into = loaded.world
    for where, wallet in _records(value, "wallets", Wallet):
        _unique(into.wallets, wallet.id, where)
        into.wallets[wallet.id] = wallet
        into.wallets_by_customer.setdefault(wallet.customer_id, []).append(wallet.id)


def _restore_wallets(world: World, loaded: Loaded) -> None:
    world.wallets.update(loaded.world.wallets)
    world.wallets_by_customer.update(loaded.world.wallets_by_customer)


def _export_transactions(world: World, out: Writer) -> list[Any]:
    return [out.record(t) for wallet_id in world.wallets for t in world.transactions.get(wallet_id, ())]


def _check_transactions(value: Any, loaded: Loaded) -> None:
    into = loaded.world
    seen: set[str] = set()
    for where, txn in _records(value, "transactions", Transaction):
        _unique(seen, txn.id, where)
        seen.add(txn.id)
        if txn.wallet_id not in into.wallets:
            raise StateError(f"{where}.wallet_id", f"names no wallet of the document: {txn.wallet_id!r}")
        into.transactions.setdefault(txn.wallet_id, []).append(txn)
        into.transaction_count += 1
        if txn.idempotency_key:
            into.transaction_keys.setdefault(txn.idempotency_key, txn.id)
        if txn.type == "credit" and txn.expiry_date is not None and txn.credits_available > 0:
            due = into.next_expiry.get(txn.wallet_id)
            if due is None or txn.expiry_date < due:
                into.next_expiry[txn.wallet_id] = txn.expiry_date


def _restore_transactions(world: World, loaded: Loaded) -> None:
    world.transactions.update(loaded.world.transactions)
    world.transaction_count = loaded.world.transaction_count
    world.transaction_keys.update(loaded.world.transaction_keys)
    world.next_expiry.update(loaded.world.next_expiry)


def _check_invoices(value: Any, loaded: Loaded) -> None:
    into = loaded.world
    for index, item in enumerate(_section(value, "invoices")):
        where = f"invoices[{index}]"
        if _older(loaded, item):
            invoice = _top_up_invoice(codec.load(LegacyTopUpInvoice, item, where), into)
        else:
            invoice = codec.load(Invoice, item, where)
        _unique(into.invoices, invoice.id, where)
        if invoice.wallet_id and invoice.wallet_id not in into.wallets:
            raise StateError(f"{where}.wallet_id", f"names no wallet of the document: {invoice.wallet_id!r}")
        if not invoice.wallet_id:  # a top-up's is its wallet's customer, which may be only an id
            _named(into.customers, invoice.customer_id, f"{where}.customer_id", "customer")
        into.invoices[invoice.id] = invoice


def _older(loaded: Loaded, item: Any) -> bool:
    """An invoice written before ``/6`` (a document without a format: one without invoice_type)."""
    if loaded.format is not None:
        return loaded.format != FORMAT
    return isinstance(item, dict) and "invoice_type" not in item


@dataclass(slots=True)
class LegacyTopUpInvoice:
    """A top-up's invoice as documents before ``/6`` wrote it."""

    id: str
    wallet_id: str
    transaction_id: str
    amount: Decimal
    currency: str
    created_at: datetime
    status: str = "pending"  # pending | paid | failed | voided
    settled_at: datetime | None = None
    auto_topup: bool = False


@dataclass(slots=True)
class LegacyBill:
    """A subscription's invoice for one period as documents before ``/6`` wrote it (``bills``)."""

    id: str
    subscription_id: str
    customer_id: str
    currency: str
    period_start: datetime
    period_end: datetime
    created_at: datetime
    usage_amount: Decimal
    fixed_amount: Decimal
    lines: list[dict[str, Any]] = field(default_factory=list)
    credits_applied: Decimal = Decimal(0)
    status: str = "FINALIZED"
    payment_status: str = "PENDING"
    amount_paid: Decimal = Decimal(0)
    settled_at: datetime | None = None
    refunded: Decimal = Decimal(0)


_TOP_UP_STATUSES = ("pending", "paid", "failed", "voided")
codec.NARROWER[(LegacyBill, "lines")] = list[codec.InvoiceLine]
codec.NARROWER[(LegacyTopUpInvoice, "status")] = Annotated[
    str, codec.Check("must be one of: pending, paid, failed, voided", lambda v: v in _TOP_UP_STATUSES)
]


def _top_up_invoice(old: LegacyTopUpInvoice, into: World) -> Invoice:
    """An older document's top-up invoice as the one invoice model holds it (as a top-up of
    today writes it, but for the metadata the older one did not keep)."""
    wallet = into.wallets.get(old.wallet_id)
    paid = old.status == "paid"
    return Invoice(
        id=old.id,
        customer_id=wallet.customer_id if wallet is not None else "",
        currency=old.currency,
        created_at=old.created_at,
        invoice_type=ONE_OFF,
        billing_reason=WALLET_AUTO_TOPUP if old.auto_topup else "",
        invoice_status="VOIDED" if old.status == "voided" else "FINALIZED",
        payment_status={"paid": "SUCCEEDED", "failed": "FAILED"}.get(old.status, "PENDING"),
        wallet_id=old.wallet_id,
        transaction_id=old.transaction_id,
        fixed_amount=old.amount,
        amount_paid=old.amount if paid else Decimal(0),
        settled_at=old.settled_at,
        updated_at=old.settled_at,
        due_date=old.created_at,
        lines=[
            {
                "line_item_id": "",
                "price_id": "",
                "meter_id": "",
                "display_name": "Purchase credits",
                "price_type": "",
                "quantity": "1",
                "amount": str(money.normalize(old.amount)),
            }
        ],
    )


def _check_idempotency(value: Any, loaded: Loaded) -> None:
    into = loaded.world
    for index, item in enumerate(_section(value, "idempotency")):
        where = f"idempotency[{index}]"
        key, record = _parse_top_up(item, where)
        if key in into.top_ups:
            raise StateError(f"{where}.key", f"{key!r} appears twice")
        if record.wallet_id not in into.wallets:
            raise StateError(f"{where}.wallet_id", f"names no wallet of the document: {record.wallet_id!r}")
        into.top_ups[key] = record


# ---- what the world last announced, and what its cached reads answer ---------------------


def _export_alerts(world: World, out: Writer) -> list[Any]:
    return [
        {"wallet_id": wallet_id, "alert_type": kind, "state": state}
        for (wallet_id, kind), state in world.alert_states.items()
    ]


def _check_alerts(value: Any, loaded: Loaded) -> None:
    for index, item in enumerate(_section(value, "alerts")):
        where = f"alerts[{index}]"
        wallet_id = _wallet_of(item, where, loaded)
        kind, state = item.get("alert_type"), item.get("state")
        if not isinstance(kind, str) or kind not in alerts.EVENTS:
            raise StateError(f"{where}.alert_type", f"must be one of: {', '.join(alerts.EVENTS)}")
        if state not in ALERT_STATES:
            raise StateError(f"{where}.state", f"must be one of: {', '.join(ALERT_STATES)}")
        loaded.world.alert_states[(wallet_id, kind)] = state


def _export_ongoing(world: World, out: Writer) -> list[Any]:
    return [
        {"wallet_id": wallet_id, "published": str(value)}
        for wallet_id, value in world.ongoing_published.items()
    ]


def _check_ongoing(value: Any, loaded: Loaded) -> None:
    for index, item in enumerate(_section(value, "ongoing_balances")):
        where = f"ongoing_balances[{index}]"
        wallet_id = _wallet_of(item, where, loaded)
        published = item.get("published")
        if not isinstance(published, str):
            raise StateError(f"{where}.published", "must be a decimal string")
        loaded.world.ongoing_published[wallet_id] = codec.load_value(Decimal, published, f"{where}.published")


def _export_cached(world: World, out: Writer) -> list[Any]:
    return [
        {"wallet_id": wallet_id, "balance": str(balance), "computed_at": format_timestamp(at)}
        for wallet_id, (balance, at) in world.balance_cache.items()
    ]


def _check_cached(value: Any, loaded: Loaded) -> None:
    for index, item in enumerate(_section(value, "cached_balances")):
        where = f"cached_balances[{index}]"
        wallet_id = _wallet_of(item, where, loaded)
        for name in item:
            if name not in ("wallet_id", "balance", "computed_at"):
                raise StateError(f"{where}.{name}", "is not a field of a cached balance")
        balance = codec.load_value(Decimal, item.get("balance"), f"{where}.balance")
        at = codec.load_value(datetime, item.get("computed_at"), f"{where}.computed_at")
        loaded.world.balance_cache[wallet_id] = (balance, at)


# ---- usage: the catalog, subscriptions, their periods' usage and invoices, what is due ---------


def _named(book: dict[str, Any], item_id: str, where: str, what: str, required: bool = False) -> None:
    """``item_id`` names a record of ``book`` (or is empty, where that is allowed: a fixed
    price has no meter)."""
    if (item_id or required) and item_id not in book:
        raise StateError(where, f"names no {what} of the document: {item_id!r}")


def _check_catalog(name: str, cls: type) -> Callable[[Any, Loaded], None]:
    def check(value: Any, loaded: Loaded) -> Any:
        book = getattr(loaded.world, name)
        for where, item in _records(value, name, cls):
            _unique(book, item.id, where)
            book[item.id] = item

    return check


_check_meters = _check_catalog("meters", Meter)
_check_plans = _check_catalog("plans", Plan)


def _check_features(value: Any, loaded: Loaded) -> None:
    _check_catalog("features", Feature)(value, loaded)
    for index, item in enumerate(loaded.world.features.values()):
        _named(loaded.world.meters, item.meter_id, f"features[{index}].meter_id", "meter")


def _check_prices(value: Any, loaded: Loaded) -> None:
    _check_catalog("prices", Price)(value, loaded)
    for index, item in enumerate(loaded.world.prices.values()):
        _named(loaded.world.meters, item.meter_id, f"prices[{index}].meter_id", "meter")


def _check_line_items(value: Any, loaded: Loaded) -> None:
    _check_catalog("line_items", LineItem)(value, loaded)
    for index, item in enumerate(loaded.world.line_items.values()):
        _named(loaded.world.prices, item.price_id, f"line_items[{index}].price_id", "price", required=True)


def _check_subscriptions(value: Any, loaded: Loaded) -> None:
    into = loaded.world
    _check_catalog("subscriptions", Subscription)(value, loaded)
    for index, sub in enumerate(into.subscriptions.values()):
        _named(into.customers, sub.customer_id, f"subscriptions[{index}].customer_id", "customer")
        for item_id in sub.line_items:
            _named(into.line_items, item_id, f"subscriptions[{index}].line_items", "line item", required=True)
        into.subscriptions_by_customer.setdefault(sub.customer_id, []).append(sub.id)


def _restore_subscriptions(world: World, loaded: Loaded) -> None:
    world.subscriptions.update(loaded.world.subscriptions)
    world.subscriptions_by_customer.update(loaded.world.subscriptions_by_customer)


def _check_bills(value: Any, loaded: Loaded) -> None:
    """The subscriptions the invoices name, then an older document's subscription invoices
    (``bills``), into the one book of invoices."""
    into = loaded.world
    for index, invoice in enumerate(into.invoices.values()):
        _named(
            into.subscriptions, invoice.subscription_id, f"invoices[{index}].subscription_id", "subscription"
        )
    if value is not None and loaded.format == FORMAT:
        raise StateError("bills", f"is not part of a {FORMAT!r} document: its invoices hold every invoice")
    for where, bill in _records(value, "bills", LegacyBill):
        _unique(into.invoices, bill.id, where)
        _named(into.subscriptions, bill.subscription_id, f"{where}.subscription_id", "subscription")
        if bill.status not in ("FINALIZED", "SKIPPED", "VOIDED"):
            raise StateError(f"{where}.status", "must be one of: FINALIZED, SKIPPED, VOIDED")
        into.invoices[bill.id] = Invoice(
            id=bill.id,
            customer_id=bill.customer_id,
            currency=bill.currency,
            created_at=bill.created_at,
            invoice_type=SUBSCRIPTION,
            billing_reason=SUBSCRIPTION_CYCLE,
            invoice_status=bill.status,
            payment_status=bill.payment_status,
            subscription_id=bill.subscription_id,
            period_start=bill.period_start,
            period_end=bill.period_end,
            usage_amount=bill.usage_amount,
            fixed_amount=bill.fixed_amount,
            lines=bill.lines,
            credits_applied=bill.credits_applied,
            amount_paid=bill.amount_paid,
            settled_at=bill.settled_at,
            updated_at=bill.settled_at,
            refunded=bill.refunded,
        )


def _export_records(world: World, out: Writer) -> dict[str, Any]:
    # copied: a snapshot must not change with the world it was taken of
    return {name: codec.json_copy(collection) for name, collection in world.records.items()}


def _check_records(value: Any, loaded: Loaded) -> None:
    if value is not None:
        loaded.world.records = codec.load_records(value, "records")
        for key, record in loaded.world.records.get(payments.COLLECTION, {}).items():
            wrong = payments.problem(record)  # modelled: read by its rules, so checked now
            if wrong is not None:
                raise StateError(f"records.{payments.COLLECTION}.{key}", wrong)


def _restore_records(world: World, loaded: Loaded) -> None:
    world.records.update(loaded.world.records)


def _export_schedule(world: World, out: Writer) -> dict[str, Any]:
    return {
        # exact, as the document's other decimals: a string
        "alert_delay_seconds": str(money.normalize(Decimal(str(world.alert_delay.total_seconds())))),
        "evaluations": [
            {"customer_id": c, "at": format_timestamp(at)} for c, at in world.evaluations.items()
        ],
        "deferred_events": [
            {**event, "timestamp": format_timestamp(event["timestamp"])} for event in world.deferred_events
        ],
        "event_ids": sorted(world.event_ids),
    }


def _check_schedule(value: Any, loaded: Loaded) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        raise StateError("usage_schedule", "must be an object")
    for name in value:
        if name not in ("alert_delay_seconds", "evaluations", "deferred_events", "event_ids"):
            raise StateError(f"usage_schedule.{name}", "is not a field of the usage schedule")
    into = loaded.world
    where = "usage_schedule.alert_delay_seconds"
    delay = codec.load_value(Decimal, value.get("alert_delay_seconds", "2"), where)
    if not 0 <= delay <= 31536000:
        raise StateError(where, "must be 0 to a year's seconds")
    into.alert_delay = timedelta(seconds=float(delay))
    for index, item in enumerate(_section(value.get("evaluations"), "usage_schedule.evaluations")):
        where = f"usage_schedule.evaluations[{index}]"
        if not isinstance(item, dict):
            raise StateError(where, "must be an object")
        customer_id = codec.load_value(str, item.get("customer_id"), f"{where}.customer_id")
        _named(into.customers, customer_id, f"{where}.customer_id", "customer")
        into.evaluations[customer_id] = codec.load_value(datetime, item.get("at"), f"{where}.at")
    for index, item in enumerate(_section(value.get("deferred_events"), "usage_schedule.deferred_events")):
        where = f"usage_schedule.deferred_events[{index}]"
        if not isinstance(item, dict) or not isinstance(item.get("properties"), dict):
            raise StateError(
                where, "must be an object with subscription_id, event_name, properties, timestamp"
            )
        _named(
            into.subscriptions, item.get("subscription_id") or "?", f"{where}.subscription_id", "subscription"
        )
        codec.check_numbers(item["properties"], f"{where}.properties")
        into.deferred_events.append(
            {
                "subscription_id": item["subscription_id"],
                "event_name": codec.load_value(str, item.get("event_name"), f"{where}.event_name"),
                "properties": copy.deepcopy(item["properties"]),
                "timestamp": codec.load_value(datetime, item.get("timestamp"), f"{where}.timestamp"),
            }
        )
    digests = _section(value.get("event_ids"), "usage_schedule.event_ids")
    if not all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d < 2**64 for d in digests):
        raise StateError("usage_schedule.event_ids", "must be an array of event id digests (integers)")
    into.event_ids.update(digests)


def _check_policies(value: Any, loaded: Loaded) -> None:
    if value is None:
        return  # an older document: every policy manual
    try:
        loaded.world.policies = policies.update(policies.defaults(), value)
    except policies.PolicyError as error:
        where = "policies" if error.field == "<body>" else f"policies.{error.field}"
        raise StateError(where, error.problem) from None


def _restore_policies(world: World, loaded: Loaded) -> None:
    world.policies = dict(loaded.world.policies)


def _restore_schedule(world: World, loaded: Loaded) -> None:
    world.alert_delay = loaded.world.alert_delay
    world.evaluations.update(loaded.world.evaluations)
    world.deferred_events.extend(loaded.world.deferred_events)
    world.event_ids.update(loaded.world.event_ids)
    usage.reschedule(world)


def _each(name: str) -> Callable[[World, Writer], list[Any]]:
    """Write a section that is one map of the world's records (customers, wallets, invoices)."""

    def export(world: World, out: Writer) -> list[Any]:
        return [out.record(item) for item in getattr(world, name).values()]

    return export


def _export_idempotency(world: World, out: Writer) -> list[Any]:
    return [out.idempotency(key, record) for key, record in world.top_ups.items()]


def _unchecked(value: Any, loaded: Loaded) -> None:
    """Any value will do: the section says something of the document, not of the world."""


def _copy_into(name: str) -> Callable[[World, Loaded], None]:
    """Put back a section held in one map of the world, as it was checked."""

    def restore(world: World, loaded: Loaded) -> None:
        getattr(world, name).update(getattr(loaded.world, name))

    return restore


# ---- what a world holds -------------------------------------------------------------------

# fmt: off
# name, the World attributes it holds, export, check, restore (in this order: a section is checked
# after those it names, such as wallets before their transactions).
SECTIONS: tuple[Section, ...] = (
    Section("format", (), lambda world, out: FORMAT, _check_format, _nothing),
    Section("api_version", (), lambda world, out: out.api_version, _check_version, _nothing),
    Section("environment_id", (), lambda world, out: world.environment_id, _unchecked, _nothing),
    Section("clock", ("clock",), lambda world, out: dump_clock(world.clock), _check_clock, _restore_clock),
    Section("ids", ("ids",), lambda world, out: dump_ids(world.ids), _check_ids, _restore_ids),
    Section("customers", ("customers",), _each("customers"), _check_customers, _restore_customers),
    Section("wallets", ("wallets",), _each("wallets"), _check_wallets, _restore_wallets),
    Section("transactions", ("transactions",), _export_transactions, _check_transactions,
            _restore_transactions),
    Section("invoices", ("invoices",), _each("invoices"), _check_invoices, _copy_into("invoices")),
    Section("idempotency", ("top_ups",), _export_idempotency, _check_idempotency, _copy_into("top_ups")),
    Section("alerts", ("alert_states",), _export_alerts, _check_alerts, _copy_into("alert_states")),
    Section("ongoing_balances", ("ongoing_published",), _export_ongoing, _check_ongoing,
            _copy_into("ongoing_published")),
    Section("cached_balances", ("balance_cache",), _export_cached, _check_cached,
            _copy_into("balance_cache")),
    Section("meters", ("meters",), _each("meters"), _check_meters, _copy_into("meters")),
    Section("features", ("features",), _each("features"), _check_features, _copy_into("features")),
    Section("plans", ("plans",), _each("plans"), _check_plans, _copy_into("plans")),
    Section("prices", ("prices",), _each("prices"), _check_prices, _copy_into("prices")),
    Section("line_items", ("line_items",), _each("line_items"), _check_line_items, _copy_into("line_items")),
    Section("subscriptions", ("subscriptions",), _each("subscriptions"), _check_subscriptions,
            _restore_subscriptions),
    Section("bills", (), lambda world, out: None, _check_bills, _nothing, written=False),
    Section("records", ("records",), _export_records, _check_records, _restore_records),
    Section("policies", ("policies",), lambda world, out: policies.dump(world.policies), _check_policies,
            _restore_policies),
    Section("usage_schedule", ("evaluations", "alert_delay", "deferred_events", "event_ids"),
            _export_schedule, _check_schedule, _restore_schedule),
)
# fmt: on
NAMES = tuple(section.name for section in SECTIONS)


# ---- export and import ----------------------------------------------------------------------


def export(
    world: World,
    api_version: str,
    record: Callable[[Any], Any] | None = None,
    idempotency: Callable[[str, TopUpRecord], Any] | None = None,
) -> dict[str, Any]:
    """Everything in the world, as plain JSON values, saying which API version wrote it.

    ``record`` (customers, wallets, transactions, invoices) and ``idempotency`` may replace how
    each entry is written (the shared store reuses what it wrote for those that did not change)."""
    out = Writer(api_version, record or dump_record, idempotency or dump_idempotency)
    return {section.name: section.export(world, out) for section in SECTIONS if section.written}


def restore(world: World, document: Any, api_version: str) -> None:
    """Replace the world's contents with ``document``. Raises StateError, leaving the world as it was.

    The document must come from the same API version. The request journal is not part of it.
    """
    loaded = load(document, api_version)
    world.clear()
    for section in SECTIONS:
        section.restore(world, loaded)


def load(document: Any, api_version: str) -> Loaded:
    """The whole document checked, section by section, before any world is touched."""
    if not isinstance(document, dict):
        raise StateError("<document>", "must be a JSON object")
    for name in document:
        if name not in NAMES:
            raise StateError(name, "is not part of a state document (expected: " + ", ".join(NAMES) + ")")
    loaded = Loaded(api_version)
    for section in SECTIONS:
        section.check(document.get(section.name), loaded)
    return loaded


def dump_record(record: Any) -> dict[str, Any]:
    """A customer, wallet, transaction or invoice as the state document writes it."""
    return codec.dump(record)


def dump_idempotency(key: str, record: TopUpRecord) -> dict[str, Any]:
    return {
        "key": key,
        "wallet_id": record.wallet_id,
        "fingerprint": [list(pair) for pair in record.fingerprint],
        "result": codec.dump(record.result),
    }


# ---- checking values ----------------------------------------------------------------------


def _wallet_of(item: Any, where: str, loaded: Loaded) -> str:
    """The wallet an entry of the document names (one of the document's own)."""
    if not isinstance(item, dict):
        raise StateError(where, "must be an object")
    wallet_id = item.get("wallet_id")
    if not isinstance(wallet_id, str) or wallet_id not in loaded.world.wallets:
        raise StateError(f"{where}.wallet_id", f"names no wallet of the document: {wallet_id!r}")
    return wallet_id


def _section(items: Any, name: str) -> list[Any]:
    """A section that is a list of entries (none when the document has no such section)."""
    if items is None:
        return []
    if not isinstance(items, list):
        raise StateError(name, "must be an array")
    return items


def _records(items: Any, name: str, cls: type):
    for index, item in enumerate(_section(items, name)):
        where = f"{name}[{index}]"
        yield where, codec.load(cls, item, where)


def _unique(seen, record_id: str, where: str) -> None:
    if record_id in seen:
        raise StateError(f"{where}.id", f"{record_id!r} appears twice")


def _parse_top_up(item: Any, where: str) -> tuple[str, TopUpRecord]:
    if not isinstance(item, dict):
        raise StateError(where, "must be an object")
    for name in item:
        if name not in ("key", "wallet_id", "fingerprint", "result"):
            raise StateError(
                f"{where}.{name}",
                "is not a field of an idempotency record (key, wallet_id, fingerprint, result)",
            )
    key = codec.load_value(str, item.get("key"), f"{where}.key")
    wallet_id = codec.load_value(str, item.get("wallet_id"), f"{where}.wallet_id")
    pairs = item.get("fingerprint")
    if not isinstance(pairs, list) or not all(
        isinstance(p, list) and len(p) == 2 and all(isinstance(s, str) for s in p) for p in pairs
    ):
        raise StateError(f"{where}.fingerprint", "must be an array of [name, value] string pairs")
    result = codec.load(Wallet, item.get("result"), f"{where}.result")
    return key, TopUpRecord(wallet_id, tuple(tuple(p) for p in pairs), result)
