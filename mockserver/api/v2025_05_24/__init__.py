"""API version 2025-05-24 (the seed's): decimals as JSON numbers, the ``{"success": false,
"error": {...}}`` error body, top-up retries with a used idempotency key replayed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...domain.errors import ApiError
from ...domain.world import Rules
from .. import ApiVersion
from . import collections, coverage, wallets
from .handlers import GROWS_WORLD, HANDLERS


def error_body(error: ApiError) -> dict[str, Any]:
    body: dict[str, Any] = {"message": error.message, "internal_error": error.internal_error}
    if error.details:
        body["details"] = error.details
    return {"success": False, "error": body}


VERSION = ApiVersion(
    name="2025-05-24",
    spec_path=Path(__file__).with_name("openapi.yaml"),
    served_spec_path=Path(__file__).with_name("openapi.json"),
    handlers=HANDLERS,
    grows_world=GROWS_WORLD | collections.GROWS_WORLD,
    error_body=error_body,
    unauthorized={"error": "Unauthorized"},
    show_wallet=lambda world, wallet: wallets.wallet_view(wallet),
    show_transaction=lambda world, txn: wallets.transaction_view(txn),
    # Its invoiced top-ups are paid at once and it has no subscriptions: nothing waits.
    rules=Rules(pending_kinds=()),
    collections=collections.COLLECTIONS,
    not_modelled=coverage.NOT_MODELLED,
    unrouted=coverage.UNROUTED,
)
