"""What the app, the controls and the dashboard ask of a store: one interface, two stores.

``Store`` (memory, ``store.py``) and ``SharedStore`` (Redis, ``shared/worlds.py``) both are a
``WorldStore``; everything above ``state/`` is written against this Protocol, never against one of
them, so a request cannot tell which store it runs on (and mypy checks both keep to it).
A store that cannot do what was asked raises a ``state.errors.StoreError``.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any, Protocol

from ..domain.models import Event
from ..domain.world import World, WorldKey
from .journal import Entry

# Told of the events of every kept change, with the world they happened in (the webhook outbox).
Listener = Callable[[WorldKey, World, list[Event]], None]


class JournalBook(Protocol):
    """One world's request journal, newest first, at most ``size`` entries (0: keeps nothing)."""

    size: int

    def record(self, entry: Entry) -> None: ...

    def clear(self) -> int:
        """Forget every entry; how many there were."""
        ...

    def entries(
        self,
        method: str | None = None,
        path: str | None = None,
        status: str | None = None,
        limit: int | None = None,
    ) -> list[Entry]: ...

    def __len__(self) -> int: ...


class WorldStore(Protocol):
    """Every world, keyed by (API key, environment id), each changed only in its unit of work."""

    listeners: list[Listener]

    def session(
        self, api_key: str, environment_id: str = "", reading: bool = False, atomic: bool = False
    ) -> AbstractContextManager[World]:
        """The unit of work on one world (made, and filled from the fixtures, on first use): its
        lock held; first what its clock has made due, kept as a unit of its own whatever becomes
        of the block; once the block succeeds, the events it raised go to the listeners; when it
        fails, nothing of it is kept. ``reading``: the block is a read, no news unless it raised
        events. ``atomic``: the block may fail halfway through a change (several operations)."""
        ...

    def open(self, api_key: str, environment_id: str = "") -> None:
        """Make sure the world exists (a new one is filled from the fixtures)."""
        ...

    def clock(self, key: WorldKey) -> Callable[[], datetime] | None:
        """How to read a world's time without its lock (None: no such world)."""
        ...

    def journal(self, api_key: str, environment_id: str = "") -> JournalBook: ...

    def reset(self, api_key: str | None = None, environment_id: str | None = None) -> list[WorldKey]:
        """Forget every world, or one key's worlds (all its environments, or one). Returns them."""
        ...

    def overview(self) -> list[dict[str, Any]]:
        """Every world in a line (for the dashboard): its key, counts and last activity."""
        ...

    def describe(self) -> dict[str, Any]:
        """What the health check says of the store."""
        ...
