"""API version 2026-08-22 (the current one): decimals as trimmed JSON strings, the flat
``{"code", "message", "http_status_code", "details"}`` error body, a reused idempotency key
refused with 409, invoiced top-ups pending until their invoice is settled."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...domain.errors import ApiError
from ...domain.world import Rules
from .. import ApiVersion
from . import collections, coverage, wallets, webhooks
from .handlers import GROWS_WORLD, HANDLERS


def error_body(error: ApiError) -> dict[str, Any]:
    body: dict[str, Any] = {"code": error.code, "message": error.message, "http_status_code": error.status}
    if error.details:
        body["details"] = error.details
    return body


VERSION = ApiVersion(
    name="2026-08-22",
    spec_path=Path(__file__).with_name("openapi.yaml"),
    served_spec_path=Path(__file__).with_name("openapi.json"),
    handlers=HANDLERS,
    grows_world=GROWS_WORLD | collections.GROWS_WORLD,
    error_body=error_body,
    unauthorized={"error": "Unauthorized"},
    show_wallet=wallets.wallet_view,
    show_transaction=wallets.transaction_view,
    webhook_events=webhooks.EVENT_TYPES,
    webhook_payload=webhooks.payload,
    # The cloud now sends *.dropped for warning and info too (flexprice#2724, SDK 2.1.43's server).
    rules=Rules(dropped_states=frozenset({"in_alarm", "warning", "info"})),
    collections=collections.COLLECTIONS,
    not_modelled=coverage.NOT_MODELLED,
    unrouted=coverage.UNROUTED,
)
