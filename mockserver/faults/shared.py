"""Fault rules kept in Redis: one record holding every rule with its counters and where its
random sequence is, so that ``nth: 3`` fires on the third matching request whichever process
gets it.

Built on the shared store's records (``mockserver/state/shared/records.py``): the rule book is
this feature's, so its holder lives here, beside ``LocalRules``, and the store knows nothing of it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import fields
from typing import Any

import redis

from ..state.errors import StoreUnavailable
from ..state.shared.records import Record, Redis, summary_key
from .rules import Rule, RuleBook

_KEPT = [f.name for f in fields(Rule) if not f.name.startswith("_")]


class SharedRules:
    """The fault engine's rule book, in Redis (the engine's ``rules`` holder)."""

    def __init__(self, store: Redis):
        name = store.key("faults")
        self._record = Record(store, name, _decode, _encode, lambda book: str(len(book.rules)).encode())
        self._count_key = summary_key(name)
        self._client = store.client

    @contextmanager
    def hold(self, fingerprint: Callable[[RuleBook], Any] | None = None) -> Iterator[RuleBook]:
        with self._record.hold(fingerprint=fingerprint) as book:
            yield book

    def empty(self) -> bool:
        """Whether there are no rules at all (one read: every API request asks)."""
        try:
            return self._client.get(self._count_key) in (None, b"0")
        except redis.RedisError as exc:
            raise StoreUnavailable(exc) from None


def _encode(book: RuleBook) -> bytes:
    return json.dumps(
        {"next_id": book.next_id, "rules": [_dump(rule) for rule in book.rules]}, separators=(",", ":")
    ).encode()


def _dump(rule: Rule) -> dict[str, Any]:
    kept: dict[str, Any] = {name: getattr(rule, name) for name in _KEPT}
    kept["methods"] = sorted(rule.methods) if rule.methods is not None else None
    kept["draws"] = rule.draws
    return kept


def _decode(document: bytes | None) -> RuleBook:
    if document is None:
        return RuleBook()
    saved = json.loads(document)
    return RuleBook([_load(item) for item in saved["rules"]], saved["next_id"])


def _load(item: dict[str, Any]) -> Rule:
    draws = item.pop("draws")
    if item["methods"] is not None:
        item["methods"] = frozenset(item["methods"])
    if item["latency"] is not None:
        item["latency"] = tuple(item["latency"])
    rule = Rule(**item)
    rule.go_on_from(draws)
    return rule
