"""What the stores raise when they cannot do what was asked, in the store's own terms.

The stores know nothing of HTTP: they say which limit was reached or why Redis could not serve,
and carry what a message needs. The app turns each into the API's error body
(``mockserver/http/store_errors.py``), the one place that decides their statuses and words.
"""

from __future__ import annotations


class StoreError(Exception):
    """A store could not do what was asked; nothing was changed."""


class TooManyWorlds(StoreError):
    """A new world would pass the store's limit (``--max-worlds``)."""

    def __init__(self, limit: int):
        super().__init__(f"at most {limit} worlds at once")
        self.limit = limit


class StoreUnavailable(StoreError):
    """The shared store (Redis) could not be reached, or answered with an error."""

    def __init__(self, cause: Exception):
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.cause = f"{type(cause).__name__}: {cause}"


class WorldBusy(StoreError):
    """A record stayed locked by another holder for longer than the store waits (``waited`` s)."""

    def __init__(self, waited: float):
        super().__init__(f"locked elsewhere for {waited:g} s")
        self.waited = waited


class LockExpired(StoreError):
    """The holder's lock ran out before its change was written: the change was not kept."""

    def __init__(self) -> None:
        super().__init__("the lock ran out before the change was written")


class UnitBroken(AssertionError):
    """A refused unit of work had changed its world (a bug: an operation must check before it
    changes); seen only when the store checks its units (``check_units``), which puts the world back."""

    def __init__(self, changed: list[str]):
        super().__init__("a refused unit of work changed " + ", ".join(changed) + " (put back)")
        self.changed = changed
