"""What the resource groups of version 2026-08-22 share: decimals as trimmed JSON strings
(``"100"``, ``"0.5"``, as the cloud's decimal type prints them) and read from strings or
numbers, timestamps, ``expand`` lists, a list's limits and page, the fields every owned object
carries. (``searching.py`` holds the search bodies' filters and sort.)"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from ...domain import errors, money
from ...domain.clock import format_timestamp
from ...domain.models import SYSTEM_USER
from ...domain.world import World
from .. import fields

ZERO = "0"
_t = format_timestamp


# ---- requests ----------------------------------------------------------------------------


def decimal(
    body: dict[str, Any], name: str, default: Decimal | None = None, limit: Decimal = money.MAX_AMOUNT
) -> Decimal | None:
    """A decimal field sent as a string ("10.5") or a number, within what the ledger holds."""
    value = body.get(name)
    if value is None:
        return default
    try:
        number = Decimal(value) if isinstance(value, str) else money.to_decimal(value)
    except ArithmeticError:
        number = None
    if number is None or not number.is_finite():
        raise errors.validation(
            f'{name} must be a decimal such as "10.5"', "invalid decimal", **{name: str(value)}
        )
    return fields.within(name, number, limit)


def timestamp(body: dict[str, Any], name: str) -> datetime | None:
    value = body.get(name)
    if value is None:
        return None
    try:
        return fields.moment(value)
    except ValueError:
        raise errors.validation(
            f"{name} must be an RFC 3339 timestamp such as 2027-01-01T00:00:00Z",
            f"invalid {name}",
            **{name: value},
        ) from None


def expand(value: str | None, allowed: tuple[str, ...]) -> set[str]:
    """An ``expand`` list; a field that may not be expanded is a 400."""
    asked = {part.strip() for part in (value or "").split(",") if part.strip()}
    for name in sorted(asked):
        if name not in allowed:
            raise errors.validation("Field is not allowed to be expanded", "invalid expand", field=name)
    return asked


def page_limits(query: dict[str, Any], message: str) -> tuple[int, int]:
    """(limit, offset) of a list: limit 1..1000 (0 means 50), offset 0 or more."""
    limit, offset = query.get("limit") or 50, query.get("offset") or 0
    if not 1 <= limit <= 1000:
        raise errors.validation(message, "invalid limit", limit="must be between 1 and 1000")
    if offset < 0:
        raise errors.validation(message, "invalid offset", offset="must be non-negative")
    return limit, offset


def trimmed(body: dict[str, Any], name: str) -> str:
    """A text field without its surrounding spaces ("" when absent or not text)."""
    value = body.get(name)
    return value.strip() if isinstance(value, str) else ""


def metadata_of(value: Any) -> dict[str, str]:
    """Metadata as upstream keeps it: text keys and values."""
    return {str(k): str(v) for k, v in (value or {}).items()}


# ---- views -------------------------------------------------------------------------------


def dec(value: Decimal) -> str:
    """A decimal as the cloud writes it: no exponent, no trailing zeros."""
    return format(money.normalize(value), "f")


def owned(world: World) -> dict[str, Any]:
    return {
        "environment_id": world.environment_id,
        "tenant_id": world.tenant_id,
        "status": "published",
        "created_by": SYSTEM_USER,
        "updated_by": SYSTEM_USER,
    }


def page(items: list[Any], total: int, limit: int, offset: int) -> dict[str, Any]:
    return {"items": items, "pagination": {"total": total, "limit": limit, "offset": offset}}


def stamped(world: World, created: datetime, updated: datetime) -> dict[str, Any]:
    return {**owned(world), "created_at": _t(created), "updated_at": _t(updated)}
