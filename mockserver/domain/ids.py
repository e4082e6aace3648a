"""ULID-based identifiers, as the cloud issues them: ``wallet_``/``wtxn_``/``cust_`` + 26 characters.

A ULID is 48 bits of milliseconds followed by 80 random bits, in Crockford base32. Ids made
within the same millisecond keep increasing (the random part is bumped), so sorting ids sorts by
creation. A seeded generator gives the same sequence on every run, for stable test snapshots.
"""

from __future__ import annotations

import os
import random
import threading
from typing import Any

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_RANDOM_BITS = 80
# Every 10-bit value as its two Crockford digits: a 26-digit ULID is 13 table lookups.
_PAIRS = [a + b for a in CROCKFORD for b in CROCKFORD]


def encode(value: int, length: int) -> str:
    """``value`` as ``length`` (even) Crockford base32 digits, most significant first."""
    return "".join([_PAIRS[(value >> shift) & 1023] for shift in range(5 * length - 10, -1, -10)])


_DIGITS = {c: n for n, c in enumerate(CROCKFORD)}


def decode(text: str) -> int:
    """The number that ``encode`` wrote as ``text``. Raises ValueError on a character it never writes."""
    value = 0
    for char in text:
        digit = _DIGITS.get(char)
        if digit is None:
            raise ValueError(f"not a Crockford base32 digit: {char!r}")
        value = value * 32 + digit
    return value


def ulid_text(ms: int, rand: int) -> str:
    """The ULID of a time (ms) and random part."""
    return encode((ms << _RANDOM_BITS) | rand, 26)


def ulid_parts(ulid: str) -> tuple[int, int]:
    """A ULID's time (ms) and random parts. Raises ValueError when it is not 26 such digits."""
    if len(ulid) != 26:
        raise ValueError("a ULID has 26 characters")
    value = decode(ulid)
    if value >> (_RANDOM_BITS + 48):
        raise ValueError("a ULID is at most 128 bits")
    return value >> _RANDOM_BITS, value & ((1 << _RANDOM_BITS) - 1)


class IdGenerator:
    """Makes monotonic ULIDs; random by default, reproducible when given a seed."""

    def __init__(self, seed: int | None = None):
        self._random = random.Random(seed) if seed is not None else None
        self._lock = threading.Lock()
        self._last_ms = -1
        self._last_random = 0

    def _random_part(self) -> int:
        if self._random is not None:
            return self._random.getrandbits(_RANDOM_BITS)
        return int.from_bytes(os.urandom(10), "big")

    def ulid(self, ms: int) -> str:
        with self._lock:
            if ms <= self._last_ms:
                ms = self._last_ms
                rand = (self._last_random + 1) % (1 << _RANDOM_BITS)
            else:
                rand = self._random_part()
            self._last_ms, self._last_random = ms, rand
        return encode((ms << _RANDOM_BITS) | rand, 26)

    @property
    def last(self) -> tuple[int, int]:
        """The last id made (its time and random parts): it moves with every new id."""
        return self._last_ms, self._last_random

    def mark(self) -> tuple[int, int, Any]:
        """Where the sequence is now, cheaply, to ``rewind`` to (a refused change's ids unmade)."""
        with self._lock:
            return self._last_ms, self._last_random, self._random.getstate() if self._random else None

    def rewind(self, mark: tuple[int, int, Any]) -> None:
        with self._lock:
            self._last_ms, self._last_random, state = mark
            if state is not None and self._random is not None:
                self._random.setstate(state)

    def snapshot(self) -> dict[str, Any]:
        """Where the sequence is, as JSON values, so that another process can go on with it."""
        with self._lock:
            state: dict[str, Any] = {"last_ms": self._last_ms, "last_random": self._last_random}
            if self._random is not None:
                version, words, gauss = self._random.getstate()
                state["random"] = [version, list(words), gauss]
            return state

    def resume(self, state: dict[str, Any]) -> None:
        """Go on from a ``snapshot``: after its last id; a seeded one's random sequence where it
        was (this generator becomes seeded); without one, this generator stays seeded or random."""
        with self._lock:
            self._last_ms, self._last_random = state["last_ms"], state["last_random"]
            if "random" in state:
                version, words, gauss = state["random"]
                self._random = self._random or random.Random()
                self._random.setstate((version, tuple(words), gauss))

    def new(self, prefix: str, ms: int) -> str:
        return prefix + self.ulid(ms)
