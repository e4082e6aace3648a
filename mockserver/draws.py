"""Seeded random numbers whose place in the sequence can be written down and taken up again.

Fault rules and webhook endpoints draw from a seeded generator so that a run can be repeated.
When their state lives in a shared store, another process must go on with the same sequence:
the generator is then (seed, draws made). Each draw is a function of those two numbers alone
(SplitMix64 of the seed and the draw's place), so taking a generator up again costs the same at
the millionth draw as at the first: nothing is replayed.
"""

from __future__ import annotations

import random

_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15  # SplitMix64's step: 2**64 divided by the golden ratio


def _mix(state: int) -> int:
    """SplitMix64's finaliser: 64 well-mixed bits from any 64-bit state."""
    z = state & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


class Draws(random.Random):
    """``random.Random`` whose ``random()`` is the ``made``-th draw of ``seed``; ``uniform`` and the
    like draw through it."""

    def __init__(self, seed: int = 0, made: int = 0):
        super().__init__(seed)
        self.seed_value = seed
        self.made = made
        self._start = _mix(hash(seed) & _MASK)  # any int seed, negative or wide, to 64 bits

    def random(self) -> float:
        self.made += 1
        return (_mix(self._start + self.made * _GOLDEN) >> 11) / (1 << 53)
