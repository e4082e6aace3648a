"""Seeded draws that another process takes up where this one left off, at no cost."""

from __future__ import annotations

import statistics

from mockserver.draws import Draws


def test_a_generator_taken_up_again_goes_on_with_the_same_sequence():
    first = Draws(42)
    drawn = [first.random() for _ in range(1000)]
    again = Draws(42, 600)
    assert [again.random() for _ in range(400)] == drawn[600:]
    assert again.made == first.made == 1000
    assert [Draws(43).random() for _ in range(3)] != drawn[:3]  # another seed, another sequence


def test_taking_a_generator_up_replays_nothing(monkeypatch):
    calls = []
    original = Draws.random
    monkeypatch.setattr(Draws, "random", lambda self: calls.append(1) or original(self))
    taken = Draws(7, 10**15)  # the millionth-billionth draw costs what the first does
    assert calls == []
    value = taken.random()
    assert 0 <= value < 1 and taken.made == 10**15 + 1 and len(calls) == 1


def test_the_draws_are_uniform_enough_for_probabilities():
    draws = Draws(2026)
    values = [draws.random() for _ in range(20_000)]
    assert all(0 <= v < 1 for v in values)
    assert abs(statistics.fmean(values) - 0.5) < 0.01
    assert abs(sum(v < 0.15 for v in values) / len(values) - 0.15) < 0.01
    assert len(set(values)) == len(values)
    assert draws.uniform(2, 3) >= 2 and draws.choice("abc") in "abc" and draws.made == 20_002
