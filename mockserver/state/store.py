"""The memory store: one world per (API key, environment), created on first use, and the unit
of work through which every change to a world goes.

``with store.session(key, env) as world:`` takes the world's lock, lets the caller change it,
and, once the block ends without an error, hands the domain events it raised to the listeners
(the webhook outbox): events never leave for a change that was not kept. It is a ``WorldStore``
(``protocol.py``), as the Redis store is.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

from ..domain.clock import format_timestamp
from ..domain.world import Rules, World, WorldKey, in_scope
from .errors import TooManyWorlds
from .journal import Journal
from .protocol import Listener


def overview_line(
    key: tuple[str, str], customers: int, wallets: int, transactions: int, active_at: float
) -> dict[str, Any]:
    return {
        "api_key": key[0],
        "environment_id": key[1],
        "customers": customers,
        "wallets": wallets,
        "transactions": transactions,
        "active_at": format_timestamp(datetime.fromtimestamp(active_at, timezone.utc)),
    }


def tenant_id_for(api_key: str) -> str:
    """A stable tenant id derived from the key, so the key itself is never echoed back."""
    return "tenant_" + hashlib.sha256(api_key.encode()).hexdigest()[:26]


class Slot:
    """A world with what the store keeps beside it: its lock, its request journal, and when a unit
    of work last ended on it."""

    __slots__ = ("active_at", "journal", "lock", "world")

    def __init__(self, world: World, journal_size: int):
        self.world = world
        self.lock = threading.RLock()
        self.journal = Journal(journal_size)
        self.active_at: float = time.time()


class Store:
    """All worlds, keyed by (API key, environment id)."""

    def __init__(
        self,
        id_seed: int | None = None,
        journal_size: int = 1000,
        setup: Callable[[World, str], None] | None = None,
        max_worlds: int | None = None,
        rules: Rules | None = None,
    ):
        self.rules = rules  # the domain rules of the API version served
        self._slots: dict[tuple[str, str], Slot] = {}
        self.max_worlds = max_worlds  # None: no limit
        self._lock = threading.Lock()
        self.id_seed = id_seed
        self.journal_size = journal_size
        self.setup = setup  # fills a new world (fixtures) before anyone can see it
        self.listeners: list[Listener] = []
        self.changes = 0  # grows with every change (not a read) and reset: whether there is news to save

    def _slot(self, api_key: str, environment_id: str) -> Slot:
        key = (api_key, environment_id)
        slot = self._slots.get(key)
        if slot is None:
            with self._lock:
                slot = self._slots.get(key)
                if slot is None:
                    self._ensure_room()
                    world = World(tenant_id_for(api_key), environment_id, self.id_seed, self.rules)
                    if self.setup is not None:
                        self.setup(world, api_key)
                        world.events.clear()  # fixtures are the world's starting point
                    slot = self._slots[key] = Slot(world, self.journal_size)
                    self.changes += 1
        return slot

    @contextmanager
    def session(self, api_key: str, environment_id: str = "", reading: bool = False) -> Iterator[World]:
        """The unit of work on one world: its lock held; once the block succeeds, the events it
        raised go to the listeners, still under the lock, so they see the state they describe.
        ``reading``: the block is a read (an API GET), which changes the world only when it raises
        events (credits expired on the way): other reads are no news for the state file."""
        slot = self._slot(api_key, environment_id)
        with slot.lock:
            world = slot.world
            try:
                yield world
            except BaseException:
                world.events.clear()
                raise
            slot.active_at = time.time()
            events, world.events = world.events, []
            if events or not reading:
                self.changes += 1
            for listener in self.listeners if events else ():
                listener((api_key, environment_id), world, events)

    def clock(self, key: tuple[str, str]) -> Callable[[], datetime] | None:
        """How to read a world's time (None once the world is gone), without its lock."""
        slot = self._slots.get(key)
        return slot.world.now if slot is not None else None

    def open(self, api_key: str, environment_id: str = "") -> None:
        """Make sure the world exists (a new one is filled from the fixtures)."""
        self._slot(api_key, environment_id)

    def journal(self, api_key: str, environment_id: str = "") -> Journal:
        return self._slot(api_key, environment_id).journal

    def _ensure_room(self) -> None:
        if self.max_worlds is not None and len(self._slots) >= self.max_worlds:
            raise TooManyWorlds(self.max_worlds)

    def each_world(self) -> Iterator[tuple[tuple[str, str], World]]:
        """Every world in turn, its lock held while the caller looks at it (to save it)."""
        with self._lock:
            slots = list(self._slots.items())
        for key, slot in slots:
            with slot.lock:
                yield key, slot.world

    def reset(self, api_key: str | None = None, environment_id: str | None = None) -> list[WorldKey]:
        """Forget every world, or one key's worlds (all its environments, or one). Returns them."""
        with self._lock:
            doomed = [k for k in self._slots if in_scope(k, api_key, environment_id)]
            for k in doomed:
                del self._slots[k]
            self.changes += 1
        return doomed

    def overview(self) -> list[dict[str, Any]]:
        """Every world in a line (for the dashboard): its key, counts and last activity."""
        with self._lock:
            slots = list(self._slots.items())
        return [
            overview_line(
                key, len(s.world.customers), len(s.world.wallets), s.world.transaction_count, s.active_at
            )
            for key, s in slots
        ]

    def describe(self) -> dict[str, Any]:
        """What the health check says of the store."""
        return {"store": "memory", "worlds": len(self._slots)}

    def __len__(self) -> int:
        return len(self._slots)
