"""The ``filters`` and ``sort`` of upstream's search bodies (``types.FilterCondition`` and
``types.SortCondition``), applied to what a modelled search found: catalog objects (attributes)
or records (keys, timestamps as RFC 3339 text)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from ...domain import errors
from ...domain.clock import format_timestamp
from .. import fields

TIMES = ("created_at", "updated_at")


def _read(item: Any, name: str) -> Any:
    value = item.get(name) if isinstance(item, dict) else getattr(item, name, None)
    return format_timestamp(value) if isinstance(value, datetime) else value


def condition(cond: dict[str, Any], allowed: tuple[str, ...], what: str) -> Callable[[Any], bool]:
    """One entry of ``filters``: field, operator and a value under the key of its kind."""
    return fields.filter_condition(cond, _value, allowed + TIMES, what)


def _value(item: Any, name: str) -> Any:
    return item.get(name) if isinstance(item, dict) else getattr(item, name, None)


def _order(value: Any) -> tuple[bool, int, Decimal | str]:
    """A sort key: unset last, numbers (amounts are shown as text) by value, the rest as text."""
    if value is None:
        return True, 1, ""
    text = str(value)
    try:
        number = Decimal(text)
    except ArithmeticError:
        return False, 1, text
    return (False, 0, number) if number.is_finite() else (False, 1, text)


def refine(items: list[Any], body: dict[str, Any], allowed: tuple[str, ...], what: str) -> list[Any]:
    """Keep the items every ``filters`` entry passes, then order them by ``sort`` (each rule a
    field and a direction; the search's own order breaks ties). Checked whole before any use."""
    tests = [condition(c, allowed, what) for c in body.get("filters") or ()]
    rules = []
    for rule in body.get("sort") or () if isinstance(body.get("sort"), list) else ():
        name = rule.get("field")
        if name not in allowed + TIMES:
            raise errors.validation("Invalid sort", f"cannot sort {what} by {name!r}", field=name)
        rules.append((name, rule.get("direction") == "desc"))
    kept = [item for item in items if all(test(item) for test in tests)]
    for name, descending in reversed(rules):  # stable sorts, the first rule last
        kept.sort(key=lambda item: _order(_read(item, name)), reverse=descending)
    return kept
