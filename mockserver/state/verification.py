"""Verification: did the app make this request, this many times, in this order? Read from a world's
request journal.

A ``Pattern`` names what a request must be: its method, a path glob, query parameters and body
fields it must carry (a subset: anything else may be there too), and the status it got. Each
journal entry is compared field by field, so a request that almost matched says exactly where it
differs: those are the near misses a failed verification shows, nearest first.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

from ..text import PathGlob
from .journal import Entry, as_json, body_of, status_matches

NEAR_MISSES = 3
_MISSING = object()  # a field the request does not carry (distinct from a JSON null)
ANY_BODY = _MISSING  # a pattern's body when the body is not looked at


@dataclass(frozen=True)
class Pattern:
    """What a request must be. ``method`` None matches any; ``status`` is ``201`` or ``2xx``."""

    method: str | None
    path: str
    query: dict[str, list[str]] | None = None
    body: Any = ANY_BODY  # a JSON value the body must contain
    status: str | None = None
    path_glob: PathGlob = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "path_glob", PathGlob(self.path))

    def describe(self) -> str:
        """One line a person reads: ``POST /v1/wallets/*/top-up with body {...} answered 2xx``."""
        words = [self.method or "any method", self.path]
        if self.query:
            words.append(
                "with query " + _compact({k: v[0] if len(v) == 1 else v for k, v in self.query.items()})
            )
        if self.body is not _MISSING:
            words.append("with body " + _compact(self.body))
        if self.status:
            words.append(f"answered {self.status}")
        return " ".join(words)


@dataclass(frozen=True)
class Count:
    """How many matching requests are expected: ``exactly`` or a range (``at_least``, ``at_most``)."""

    at_least: int = 1
    at_most: int | None = None

    def allows(self, count: int) -> bool:
        return count >= self.at_least and (self.at_most is None or count <= self.at_most)

    def as_json(self) -> dict[str, int]:
        if self.at_most == self.at_least:
            return {"exactly": self.at_least}
        shown = {"at_least": self.at_least}
        if self.at_most is not None:
            shown["at_most"] = self.at_most
        return shown


@dataclass
class _Seen:
    """A journal entry with its query and body parsed once."""

    entry: Entry
    query: dict[str, list[str]]
    body: Any  # parsed JSON, the text when it is not JSON, _MISSING when there is none


def _seen(entry: Entry) -> _Seen:
    query = parse_qs(entry.query.decode("latin-1"), keep_blank_values=True)
    return _Seen(entry, query, body_of(entry) if entry.body else _MISSING)  # as the journal shows it


def differences(pattern: Pattern, seen: _Seen) -> tuple[list[dict[str, Any]], float]:
    """Where a request differs from the pattern, and how far it is (0: it matches; each of method,
    path, query, body and status adds up to 1, in proportion to how much of it differs)."""
    entry = seen.entry
    found: list[dict[str, Any]] = []
    distance = 0.0
    if pattern.method is not None and entry.method != pattern.method:
        found.append(_difference("method", pattern.method, entry.method))
        distance += 1
    if not pattern.path_glob.match(entry.path):
        found.append(_difference("path", pattern.path, entry.path))
        distance += _path_distance(pattern.path, entry.path)
    if pattern.query:
        missed = []
        for name, wanted in pattern.query.items():
            actual = seen.query.get(name)
            if actual != wanted:
                shown = _MISSING if actual is None else (actual[0] if len(actual) == 1 else actual)
                missed.append(_difference(f"query.{name}", wanted[0] if len(wanted) == 1 else wanted, shown))
        found += missed
        distance += len(missed) / len(pattern.query)
    if pattern.body is not _MISSING:
        missed, leaves = [], _leaves(pattern.body)
        _compare("body", pattern.body, seen.body, missed)
        found += missed
        distance += min(1.0, len(missed) / leaves)
    if pattern.status and not status_matches(entry.status, pattern.status):
        found.append(_difference("status", pattern.status, entry.status))
        distance += 1
    return found, distance


def matches(pattern: Pattern, seen: _Seen) -> bool:
    return not differences(pattern, seen)[0]


def verify(pattern: Pattern, count: Count, newest_first: Sequence[Entry]) -> dict[str, Any]:
    """``{ok, count, expected}``; when too few matched, the nearest requests that did not (with
    where they differ); when too many, the matching requests themselves (newest first)."""
    matched: list[_Seen] = []
    missed: list[tuple[_Seen, list[dict[str, Any]], float]] = []  # with where each differs
    for entry in newest_first:
        seen = _seen(entry)
        found, distance = differences(pattern, seen)
        if found:
            missed.append((seen, found, distance))
        else:
            matched.append(seen)
    answer: dict[str, Any] = {
        "ok": count.allows(len(matched)),
        "count": len(matched),
        "expected": count.as_json(),
        "request": pattern.describe(),
    }
    if not answer["ok"]:
        if len(matched) < count.at_least:
            answer["near_misses"] = _nearest(pattern, missed)
        else:
            answer["matches"] = [_shown(s.entry) for s in matched[: NEAR_MISSES + 2]]
    return answer


def verify_sequence(patterns: Sequence[Pattern], newest_first: Sequence[Entry]) -> dict[str, Any]:
    """Were requests matching ``patterns`` made in this order (others may come between)? The
    earliest match of each step after the previous step's is taken, which finds the order
    whenever it exists. When a step is missing, the near misses are looked for after the last
    step found."""
    chronological = [_seen(e) for e in reversed(newest_first)]
    found: list[dict[str, Any]] = []
    position = 0
    for step, pattern in enumerate(patterns):
        for index in range(position, len(chronological)):
            if matches(pattern, chronological[index]):
                found.append(_shown(chronological[index].entry))
                position = index + 1
                break
        else:
            later = chronological[position:]
            later.reverse()  # near misses newest first, as everywhere else
            return {
                "ok": False,
                "matched": found,
                "expected": len(patterns),
                "failed_at": step,
                "request": pattern.describe(),
                "near_misses": near_misses(pattern, later),
            }
    return {"ok": True, "matched": found, "expected": len(patterns)}


def near_misses(pattern: Pattern, candidates: Sequence[_Seen]) -> list[dict[str, Any]]:
    """The requests nearest to the pattern (ties: the newest first), at most ``NEAR_MISSES``, each
    with where it differs. A request with nothing in common with the pattern is not one."""
    compared = [(seen, *differences(pattern, seen)) for seen in candidates]
    return _nearest(pattern, [(seen, found, distance) for seen, found, distance in compared if found])


def _nearest(
    pattern: Pattern, missed: Sequence[tuple[_Seen, list[dict[str, Any]], float]]
) -> list[dict[str, Any]]:
    """``near_misses`` of requests already compared (each with its differences and distance)."""
    criteria = 2 + (pattern.query is not None) + (pattern.body is not _MISSING) + (pattern.status is not None)
    ranked = [
        (distance, order, seen, found)
        for order, (seen, found, distance) in enumerate(missed)
        if distance < criteria - (pattern.method is None)
    ]
    ranked.sort(key=lambda item: (item[0], item[1]))
    return [
        {"request": _shown(seen.entry), "differences": found} for _, _, seen, found in ranked[:NEAR_MISSES]
    ]


def unexpected(
    newest_first: Sequence[Entry], below: str | None = None, levels: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """Requests the API could not take as one of its operations: no route, or refused as invalid;
    and, when ``below`` names a fidelity, those answered at one of ``levels`` (the ones under it)."""
    found = []
    for entry in newest_first:
        if entry.unexpected is not None:
            found.append(_shown(entry))
        elif below is not None and entry.fidelity in levels:
            shown = _shown(entry)
            shown["unexpected"] = f"{entry.operation_id} answered at fidelity {entry.fidelity}, below {below}"
            found.append(shown)
    return found


# ---- comparing ---------------------------------------------------------------------------------


def _compare(where: str, expected: Any, actual: Any, found: list[dict[str, Any]]) -> None:
    """Subset match: an object's expected fields must be there (others may be too); a list must
    have as many items, each matching in turn; numbers compare by value (``10`` is ``10.0``), a
    string stays a string (``"10"`` is not ``10``), true is not 1."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            found.append(_difference(where, expected, actual))
            return
        for name, wanted in expected.items():
            _compare(f"{where}.{name}", wanted, actual.get(name, _MISSING), found)
    elif isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            found.append(_difference(where, expected, actual))
            return
        for index, (wanted, item) in enumerate(zip(expected, actual, strict=True)):
            _compare(f"{where}[{index}]", wanted, item, found)
    elif not _same(expected, actual):
        found.append(_difference(where, expected, actual))


def _same(expected: Any, actual: Any) -> bool:
    if isinstance(expected, bool) or isinstance(actual, bool) or expected is None or actual is None:
        return expected is actual
    if isinstance(expected, int | float | Decimal) and isinstance(actual, int | float | Decimal):
        return Decimal(str(expected)) == Decimal(str(actual))
    return type(expected) is type(actual) and expected == actual


def _leaves(value: Any) -> int:
    if isinstance(value, dict):
        return max(1, sum(_leaves(v) for v in value.values()))
    if isinstance(value, list):
        return max(1, sum(_leaves(v) for v in value))
    return 1


def _path_distance(glob: str, path: str) -> float:
    """How much of a path differs from a glob, segment by segment (a different number of
    segments counts whole)."""
    wanted, actual = glob.strip("/").split("/"), path.strip("/").split("/")
    if "**" in glob or len(wanted) != len(actual):
        return 1.0
    differing = sum(not PathGlob(w).match(a) for w, a in zip(wanted, actual, strict=True))
    return differing / len(wanted)


def _difference(where: str, expected: Any, actual: Any) -> dict[str, Any]:
    if actual is _MISSING:
        return {"field": where, "expected": expected, "actual": None, "problem": "missing"}
    return {"field": where, "expected": expected, "actual": actual}


def _shown(entry: Entry) -> dict[str, Any]:
    shown = as_json(entry)
    del shown["api_key"], shown["duration_ms"]
    return shown


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(", ", ": "), default=str)
