"""A world: everything one API key (in one environment) can see, and its own clock and ids.

The domain functions read and change a world; they never lock it. The store hands a world out
inside a unit of work (``store.session``) that holds its lock and sends the events it raised.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from . import errors, policies
from .clock import Clock, millis
from .ids import IdGenerator
from .models import (
    Customer,
    Event,
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

# How long after usage arrives a customer's wallets are evaluated (the cloud: 5m30s).
ALERT_DELAY = timedelta(seconds=2)

# What --max-objects-per-world counts (World.object_count), as the 429 past it names them.
OBJECT_KINDS = (
    "customers, wallets, transactions, invoices, idempotency keys, features, meters, plans, "
    "prices, subscriptions, line items, event ids, future-dated events, distinct values and stored objects"
)

# A world is named by its API key and environment id ("" when none).
WorldKey = tuple[str, str]


def world_id(key: WorldKey) -> str:
    """A world's name that does not write out its key: the key and environment, hashed (the
    world's name in Redis, and how the dashboard asks for one world)."""
    return hashlib.sha256(f"{key[0]}\0{key[1]}".encode()).hexdigest()[:32]


def in_scope(key: WorldKey, api_key: str | None, environment_id: str | None) -> bool:
    """Whether a world is among one key's worlds (all its environments, or one); None: any."""
    return (api_key is None or key[0] == api_key) and (environment_id is None or key[1] == environment_id)


@dataclass(frozen=True, slots=True)
class Rules:
    """Where the cloud's servers of the API versions differ in a domain rule: the version serving
    a world chooses (the domain never reads an API version). Not the world's state."""

    # Alert states whose arrival raises ``*.dropped``; later servers add warning and info.
    dropped_states: frozenset[str] = frozenset({"in_alarm"})
    # The kinds of pending things its server has (policies.KINDS), which a world's policies settle.
    pending_kinds: tuple[str, ...] = policies.KINDS


class World:
    def __init__(
        self, tenant_id: str, environment_id: str, id_seed: int | None = None, rules: Rules | None = None
    ):
        self.tenant_id = tenant_id
        self.environment_id = environment_id
        self.rules = rules or Rules()
        self.clock = Clock()
        self.ids = IdGenerator(id_seed)
        self.customers: dict[str, Customer] = {}
        self.customer_by_external_id: dict[str, str] = {}  # published customers only
        self.wallets: dict[str, Wallet] = {}
        self.wallets_by_customer: dict[str, list[str]] = {}
        self.transactions: dict[str, list[Transaction]] = {}  # wallet id -> oldest first
        self.transaction_count = 0  # kept, so counting costs nothing
        self.top_ups: dict[str, TopUpRecord] = {}  # idempotency key -> first result
        self.transaction_keys: dict[str, str] = {}  # idempotency key -> transaction id
        self.next_expiry: dict[str, datetime] = {}  # wallet id -> soonest unexpired grant
        self.invoices: dict[str, Invoice] = {}  # every invoice: subscriptions', top-ups', one-offs
        # wallet id -> (real-time balance, when it was computed): what "cached" balance reads see
        self.balance_cache: dict[str, tuple[Decimal, datetime]] = {}
        self.events: list[Event] = []  # raised, not yet sent
        self.alert_states: dict[tuple[str, str], str] = {}  # (wallet id, alert type) -> state
        self.ongoing_published: dict[str, Decimal] = {}  # wallet id -> last ongoing balance sent
        # Usage: what meters count, prices, subscriptions and their periods' running usage.
        self.meters: dict[str, Meter] = {}
        self.features: dict[str, Feature] = {}
        self.plans: dict[str, Plan] = {}
        self.prices: dict[str, Price] = {}
        self.subscriptions: dict[str, Subscription] = {}
        self.subscriptions_by_customer: dict[str, list[str]] = {}
        self.line_items: dict[str, LineItem] = {}
        # Objects kept as plain records (coupons, tax rates, entitlements...): collection -> id ->
        # the object as JSON values (decimals as strings, timestamps in RFC 3339), one place for all.
        self.records: dict[str, dict[str, dict[str, Any]]] = {}
        self.event_ids: set[int] = set()  # digests of the event ids clients gave (dedup)
        # dated past their period: counted later (only the properties their meters read)
        self.deferred_events: list[dict[str, Any]] = []
        # Distinct values the line items hold (COUNT_UNIQUE), kept as they are added; at least
        # the true number (a closed period lets its values go uncounted), None: count them again.
        self.distinct_values: int | None = None
        # The limit of --max-objects-per-world, as the last growing request was checked against
        # (a setting, not state): what lets a request that adds many objects be refused whole.
        self.max_objects: int | None = None
        self.evaluations: dict[str, datetime] = {}  # customer id -> when its wallets are evaluated
        self.alert_delay = ALERT_DELAY
        # How pending things settle by themselves, by kind (policies.KINDS).
        self.policies: dict[str, policies.Policy] = policies.defaults()
        # The soonest evaluation, period end or settlement a policy has due.
        self.usage_due: datetime | None = None

    def now(self) -> datetime:
        return self.clock.now()

    def new_id(self, prefix: str, moment: datetime) -> str:
        return self.ids.new(prefix, millis(moment))

    def emit(self, name: str, entity_id: str, data: dict[str, Any] | None = None) -> None:
        now = self.now()
        self.events.append(Event(name, entity_id, now, data, self.new_id("sys_event_", now)))

    def object_count(self) -> int:
        """Every object a world holds that its clients make grow (OBJECT_KINDS); the indexes and
        per-wallet or per-customer states beside them are bounded by those. Constant time: each
        book knows its size, and transactions and distinct values are counted as they come."""
        if self.distinct_values is None:
            self.distinct_values = sum(len(item.uniques) for item in self.line_items.values())
        return (
            len(self.customers)
            + len(self.wallets)
            + self.transaction_count
            + len(self.invoices)
            + len(self.top_ups)
            + len(self.features)
            + len(self.meters)
            + len(self.plans)
            + len(self.prices)
            + len(self.subscriptions)
            + len(self.line_items)
            + len(self.event_ids)
            + len(self.deferred_events)
            + self.distinct_values
            + sum(len(collection) for collection in self.records.values())  # a few collections
        )

    def ensure_room(self, limit: int, adding: int = 1) -> None:
        """Refuse (429) a request that would take the world past ``limit`` objects (it adds
        ``adding``; the world is left as it was). Remembers ``limit`` for ``make_room``."""
        self.max_objects = limit
        held = self.object_count()
        if held + adding > limit and self.distinct_values:
            self.distinct_values = None  # closed periods may have let some go: count them exactly
            held = self.object_count()
        if held + adding > limit:
            more = f" (it holds {held}, the request adds {adding})" if adding > 1 else ""
            raise errors.ApiError(
                429,
                f"Sandbox limit reached: a world holds at most {limit} objects ({OBJECT_KINDS}){more}; "
                "reset it to start again, or start the sandbox with a higher --max-objects-per-world",
                "too many objects in this world",
                {"limit": "max_objects_per_world", "max": limit, "held": held},
            )

    def make_room(self, adding: int) -> None:
        """Refuse (429) a request whose objects, counted once it has read them (the events of a
        bulk ingest, say), would take the world past the limit its request was checked against."""
        if adding > 0 and self.max_objects is not None:
            self.ensure_room(self.max_objects, adding)

    def add_distinct(self, added: int) -> None:
        """Count distinct values a line item took (COUNT_UNIQUE)."""
        if self.distinct_values is not None:
            self.distinct_values += added

    def clear(self) -> None:
        self.customers.clear()
        self.customer_by_external_id.clear()
        self.wallets.clear()
        self.wallets_by_customer.clear()
        self.transactions.clear()
        self.transaction_count = 0
        self.top_ups.clear()
        self.transaction_keys.clear()
        self.next_expiry.clear()
        self.invoices.clear()
        self.balance_cache.clear()
        self.events.clear()
        self.alert_states.clear()
        self.ongoing_published.clear()
        for book in (self.meters, self.features, self.plans, self.prices, self.subscriptions):
            book.clear()
        self.subscriptions_by_customer.clear()
        self.line_items.clear()
        self.records.clear()
        self.event_ids.clear()
        self.deferred_events.clear()
        self.distinct_values = None  # (a state document restored next brings its own)
        self.evaluations.clear()
        self.alert_delay = ALERT_DELAY
        self.policies = policies.defaults()
        self.usage_due = None
