"""The in-memory state: one isolated world per (API key, environment), created on first use.

A world holds the customers, wallets and ledger of one tenant, its clock and id generator, and
one lock: every operation on a world runs under it, so concurrent requests never lose an update.
"""
from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Callable

from . import errors
from .clock import Clock, millis
from .ids import IdGenerator
from .journal import Journal

SYSTEM_USER = "00000000-0000-0000-0000-000000000000"


@dataclass(slots=True)
class Customer:
    id: str
    external_id: str
    name: str
    created_at: datetime
    updated_at: datetime
    email: str = ""
    address_line1: str = ""
    address_line2: str = ""
    address_city: str = ""
    address_state: str = ""
    address_postal_code: str = ""
    address_country: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    status: str = "published"


@dataclass(slots=True)
class Wallet:
    id: str
    customer_id: str
    currency: str
    wallet_type: str
    name: str
    conversion_rate: Decimal
    created_at: datetime
    updated_at: datetime
    description: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=lambda: {"allowed_price_types": ["ALL"]})
    auto_topup_trigger: str = "disabled"
    auto_topup_min_balance: Decimal = Decimal(0)
    auto_topup_amount: Decimal = Decimal(0)
    balance: Decimal = Decimal(0)
    credit_balance: Decimal = Decimal(0)
    wallet_status: str = "active"


@dataclass(slots=True)
class Transaction:
    id: str
    wallet_id: str
    type: str                      # credit | debit
    credit_amount: Decimal
    amount: Decimal
    credit_balance_before: Decimal
    credit_balance_after: Decimal
    transaction_reason: str
    reference_type: str
    reference_id: str
    created_at: datetime
    credits_available: Decimal = Decimal(0)
    transaction_status: str = "completed"
    expiry_date: datetime | None = None
    priority: int | None = None
    description: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    idempotency_key: str = ""


@dataclass(slots=True)
class TopUpRecord:
    """What a top-up with an idempotency key did, so a retry can get the same answer."""
    wallet_id: str
    fingerprint: tuple
    result: Wallet


class World:
    """Everything one API key (in one environment) can see."""

    def __init__(self, tenant_id: str, environment_id: str, id_seed: int | None = None,
                 journal_size: int = 1000):
        self.tenant_id = tenant_id
        self.environment_id = environment_id
        self.lock = threading.RLock()
        self.clock = Clock()
        self.ids = IdGenerator(id_seed)
        self.journal = Journal(journal_size)                   # requests made in this world
        self.customers: dict[str, Customer] = {}
        self.customer_by_external_id: dict[str, str] = {}     # published customers only
        self.wallets: dict[str, Wallet] = {}
        self.wallets_by_customer: dict[str, list[str]] = {}
        self.transactions: dict[str, list[Transaction]] = {}  # wallet id -> oldest first
        self.transaction_count = 0                             # kept, so counting costs nothing
        self.top_ups: dict[str, TopUpRecord] = {}              # idempotency key -> first result
        self.next_expiry: dict[str, datetime] = {}             # wallet id -> soonest unexpired grant

    def now(self) -> datetime:
        return self.clock.now()

    def new_id(self, prefix: str, moment: datetime) -> str:
        return self.ids.new(prefix, millis(moment))

    def object_count(self) -> int:
        """Customers, wallets and transactions held: what a world's memory grows with."""
        return len(self.customers) + len(self.wallets) + self.transaction_count

    def ensure_room(self, limit: int) -> None:
        """Refuse (429) to add objects to a world that already holds ``limit`` of them."""
        held = self.object_count()
        if held >= limit:
            raise errors.ApiError(
                429, f"Sandbox limit reached: a world holds at most {limit} customers, wallets "
                     "and transactions; reset it to start again", "too many objects in this world",
                {"limit": "max_objects_per_world", "max": limit, "held": held})

    def clear(self) -> None:
        self.customers.clear()
        self.customer_by_external_id.clear()
        self.wallets.clear()
        self.wallets_by_customer.clear()
        self.transactions.clear()
        self.transaction_count = 0
        self.top_ups.clear()
        self.next_expiry.clear()


def tenant_id_for(api_key: str) -> str:
    """A stable tenant id derived from the key, so the key itself is never echoed back."""
    return "tenant_" + hashlib.sha256(api_key.encode()).hexdigest()[:26]


class Store:
    """All worlds, keyed by (API key, environment id); a world is created the first time it is used."""

    def __init__(self, id_seed: int | None = None, journal_size: int = 1000,
                 setup: Callable[[World, str], None] | None = None, max_worlds: int | None = None):
        self._worlds: dict[tuple[str, str], World] = {}
        self.max_worlds = max_worlds    # None: no limit
        self._lock = threading.Lock()
        self.id_seed = id_seed
        self.journal_size = journal_size
        self.setup = setup          # fills a new world (fixtures) before anyone can see it

    def world(self, api_key: str, environment_id: str = "") -> World:
        key = (api_key, environment_id)
        world = self._worlds.get(key)
        if world is None:
            with self._lock:
                world = self._worlds.get(key)
                if world is None:
                    self._ensure_room()
                    world = World(tenant_id_for(api_key), environment_id, self.id_seed,
                                  self.journal_size)
                    if self.setup is not None:
                        self.setup(world, api_key)
                    self._worlds[key] = world
        return world

    def _ensure_room(self) -> None:
        if self.max_worlds is not None and len(self._worlds) >= self.max_worlds:
            raise errors.ApiError(
                429, f"Sandbox limit reached: at most {self.max_worlds} worlds (API key and "
                     "environment pairs) at once; reset the sandbox or reuse a key",
                "too many worlds", {"limit": "max_worlds", "max": self.max_worlds})

    def worlds(self) -> list[tuple[tuple[str, str], World]]:
        with self._lock:
            return list(self._worlds.items())

    def reset(self, api_key: str | None = None, environment_id: str | None = None) -> int:
        """Forget every world, or one key's worlds (all its environments, or one). Returns how many."""
        with self._lock:
            doomed = [k for k in self._worlds if (api_key is None or k[0] == api_key)
                      and (environment_id is None or k[1] == environment_id)]
            for k in doomed:
                del self._worlds[k]
        return len(doomed)

    def __len__(self) -> int:
        return len(self._worlds)
