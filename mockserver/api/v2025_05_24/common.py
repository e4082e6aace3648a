"""What the resource groups of version 2025-05-24 share: the page of a list."""

from __future__ import annotations

from typing import Any


def page(items: list[dict[str, Any]], total: int, limit: int, offset: int) -> dict[str, Any]:
    return {"items": items, "pagination": {"total": total, "limit": limit, "offset": offset}}
