"""The memory store: one world per (API key, environment), created on first use, and the unit
of work through which every change to a world goes.

``with store.session(key, env) as world:`` takes the world's lock, lets the caller change it,
and, once the block ends without an error, hands the domain events it raised to the listeners
(the webhook outbox): events never leave for a change that was not kept. It is a ``WorldStore``
(``protocol.py``), as the Redis store is.

Whole or nothing, as on Redis: what the world's clock has made due runs first, as a unit of work
of its own (``due_work``), so a block that is then refused neither loses it nor keeps half of it;
a refused block changes nothing, since every operation checks before it changes (the test suite
runs with ``check_units``, which holds the store to that), and a block that mixes several
operations (``atomic``) is undone from a snapshot when it fails.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

from ..domain import usage
from ..domain.clock import format_timestamp
from ..domain.world import Rules, World, WorldKey, in_scope
from . import statefile
from .errors import TooManyWorlds, UnitBroken
from .journal import Entry, Journal
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


def due_work(world: World) -> bool:
    """Do what the world's clock has made due (evaluations, period closes, settlements by
    policy); whether there was any. Every unit of work begins with it, as a unit of its own."""
    due = world.usage_due
    if due is None or due > world.now():
        return False
    usage.catch_up(world)
    return True


def snapshot(world: World, api_version: str) -> dict[str, Any]:
    """The world as it is, to put back if a block fails (the clock stays where it has run to)."""
    document = statefile.export(world, api_version)
    del document["clock"]
    return document


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


class Unopened:
    """The journal of a world not made yet: empty, until a request is recorded in it."""

    def __init__(self, size: int, opened: Callable[[], Journal]):
        self.size = size
        self._opened = opened

    def record(self, entry: Entry) -> None:
        self._opened().record(entry)

    def clear(self) -> int:
        return 0

    def entries(
        self,
        method: str | None = None,
        path: str | None = None,
        status: str | None = None,
        limit: int | None = None,
    ) -> list[Entry]:
        return []

    def __len__(self) -> int:
        return 0


class Store:
    """All worlds, keyed by (API key, environment id)."""

    def __init__(
        self,
        id_seed: int | None = None,
        journal_size: int = 1000,
        setup: Callable[[World, str], None] | None = None,
        max_worlds: int | None = None,
        rules: Rules | None = None,
        api_version: str = "",
        check_units: bool = False,
    ):
        self.rules = rules  # the domain rules of the API version served
        self.api_version = api_version  # what a snapshot of a world says wrote it
        # Compare each refused block's world with a snapshot taken before it (a cost per unit of
        # work: for test suites, to prove a refusal changes nothing).
        self.check_units = check_units
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
    def session(
        self, api_key: str, environment_id: str = "", reading: bool = False, atomic: bool = False
    ) -> Iterator[World]:
        """The unit of work on one world: its lock held; first what its clock has made due, kept
        as a unit of its own; then the block; once it succeeds, the events it raised go to the
        listeners, still under the lock, so they see the state they describe.
        ``reading``: the block is a read (an API GET), which changes the world only when it raises
        events: other reads are no news for the state file. ``atomic``: the block may fail halfway
        through a change (several operations in one), so the world is put back as it was."""
        key = (api_key, environment_id)
        slot = self._slot(api_key, environment_id)
        with slot.lock:
            world = slot.world
            if due_work(world):
                self._kept(key, slot, reading=False)
            before = snapshot(world, self.api_version) if atomic or self.check_units else None
            clock, ids = world.clock.snapshot(), world.ids.mark()
            try:
                yield world
            except BaseException:
                world.events.clear()
                world.ids.rewind(ids)  # ids a refused change took are not used up (as on Redis)
                if before is not None:
                    self._put_back(world, before, clock, atomic)
                raise
            self._kept(key, slot, reading)

    def _kept(self, key: tuple[str, str], slot: Slot, reading: bool) -> None:
        """A unit of work ended well: its events to the listeners, its change news to save."""
        world = slot.world
        slot.active_at = time.time()
        events, world.events = world.events, []
        if events or not reading:
            self.changes += 1
        for listener in self.listeners if events else ():
            listener(key, world, events)

    def _put_back(self, world: World, before: dict[str, Any], clock: tuple, atomic: bool) -> None:
        """Undo a failed block (``atomic``), or prove that a refused one changed nothing."""
        if atomic:
            statefile.restore(world, before, self.api_version)
            return
        after = snapshot(world, self.api_version)
        changed = sorted(name for name in before if before[name] != after.get(name))
        if world.clock.snapshot() != clock:
            changed.append("clock")
        if changed:
            statefile.restore(world, before, self.api_version)
            world.clock.resume(*clock)
            raise UnitBroken(changed)

    def clock(self, key: tuple[str, str]) -> Callable[[], datetime] | None:
        """How to read a world's time (None once the world is gone), without its lock."""
        slot = self._slots.get(key)
        return slot.world.now if slot is not None else None

    def open(self, api_key: str, environment_id: str = "") -> None:
        """Make sure the world exists (a new one is filled from the fixtures)."""
        self._slot(api_key, environment_id)

    def journal(self, api_key: str, environment_id: str = "") -> Journal | Unopened:
        """The world's journal; a world not made yet is made only once a request is recorded
        in it (as on Redis), not by reading or verifying its empty journal."""
        slot = self._slots.get((api_key, environment_id))
        if slot is not None:
            return slot.journal
        return Unopened(self.journal_size, lambda: self._slot(api_key, environment_id).journal)

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
