"""The ``filters`` and ``sort`` of upstream's search bodies (``types.FilterCondition`` and
``types.SortCondition``), applied to what a modelled search found: catalog objects (attributes)
or records (keys, timestamps as RFC 3339 text)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
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
    name, operator = cond.get("field"), cond.get("operator", "eq")
    if name not in allowed + TIMES:
        raise errors.validation("Invalid filter", f"cannot filter {what} by {name!r}", field=name)
    value = next((v for v in (cond.get("value") or {}).values() if v is not None), None)
    if value is None:
        raise errors.validation("Invalid filter", f"filter on {name!r} has no value", field=name)
    tests: dict[str, Callable[[Any], bool]]
    if name in TIMES:
        moment = format_timestamp(fields.time_value(value, name))
        tests = {
            "before": lambda a: a < moment,
            "lt": lambda a: a < moment,
            "after": lambda a: a > moment,
            "gt": lambda a: a > moment,
            "eq": lambda a: a == moment,
        }
    else:
        options = {str(v) for v in value} if isinstance(value, list) else {str(value)}
        text = str(value).lower() if isinstance(value, bool) else str(value)
        tests = {
            "eq": lambda a: a == text,
            "contains": lambda a: text.lower() in a.lower(),
            "not_contains": lambda a: text.lower() not in a.lower(),
            "in": lambda a: a in options,
            "not_in": lambda a: a not in options,
            "gt": lambda a: a > text,
            "lt": lambda a: a < text,
        }
    if operator not in tests:
        raise errors.validation(
            "Invalid filter",
            f"operator {operator!r} does not apply to {name!r}",
            field=name,
            operator=operator,
        )
    test = tests[operator]

    def passes(item: Any) -> bool:
        found = _read(item, name)
        if isinstance(found, bool):
            found = str(found).lower()
        return found is not None and test(str(found))

    return passes


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
        kept.sort(
            key=lambda item: (_read(item, name) is None, str(_read(item, name) or "")), reverse=descending
        )
    return kept
