"""Seeded random numbers whose place in the sequence can be written down and taken up again.

Fault rules and webhook endpoints draw from a seeded generator so that a run can be repeated.
When their state lives in a shared store, another process must go on with the same sequence:
the generator is then (seed, draws made), and replaying the draws puts it back where it was.
"""

from __future__ import annotations

import random


class Draws(random.Random):
    """``random.Random`` that counts its draws; ``uniform`` and the like draw through ``random``."""

    def __init__(self, seed: int = 0, made: int = 0):
        super().__init__(seed)
        self.seed_value = seed
        self.made = 0
        for _ in range(made):
            self.random()

    def random(self) -> float:
        self.made += 1
        return super().random()
