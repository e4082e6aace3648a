"""``/_mock/webhooks``: a world's webhook endpoints, its deliveries with every attempt,
redelivery, and a wait until its outbox is drained (so tests need no sleep).

Like every control, it names its world with the ``x-api-key`` header (and ``X-Environment-ID``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from flask import Blueprint, Response, request

from ..domain import errors
from ..domain.world import WorldKey
from ..http import jsonio, validation
from ..webhooks.endpoints import WebhookError
from .requests import caller, only_filters

if TYPE_CHECKING:
    from ..http.app import Sandbox

PREFIX = "/_mock/webhooks"
WAIT_PATH = PREFIX + "/wait"  # waits on the outbox: the server runs it off its event loop
DELIVERY_FILTERS = ("event_type", "status", "endpoint")
MAX_WAIT = 60.0  # seconds


def webhook_blueprint(sandbox: Sandbox) -> Blueprint:
    bp = Blueprint("mock_webhooks", __name__, url_prefix=PREFIX)
    outbox = sandbox.outbox

    def world() -> WorldKey:
        key = caller()
        sandbox.store.open(*key)  # a new world gets its fixtures (and their endpoints) first
        return key

    @bp.post("")
    def register() -> Response:
        if not outbox.event_types:
            raise errors.validation(
                f"API version {sandbox.version.name} sends no webhooks here; serve 2026-08-22 "
                "(--api-version 2026-08-22) to receive them",
                "webhooks not available",
            )
        body = validation.parse_json(request.get_data())
        key = world()
        try:
            endpoint = outbox.register(key, body)
        except WebhookError as error:
            raise errors.validation(
                f"Invalid webhook endpoint: {error}",
                "invalid webhook endpoint",
                field=error.field,
                problem=error.problem,
            ) from None
        return jsonio.response(201, endpoint.describe())

    @bp.get("")
    def list_endpoints() -> Response:
        items = [e.describe() for e in outbox.endpoints_of(world())]
        return jsonio.response(200, {"items": items, "total": len(items)})

    @bp.get("/<endpoint_id>")
    def get_endpoint(endpoint_id: str) -> Response:
        found = next((e for e in outbox.endpoints_of(world()) if e.id == endpoint_id), None)
        if found is None:
            raise _not_found(endpoint_id)
        return jsonio.response(200, found.describe())

    @bp.delete("/<endpoint_id>")
    def remove_endpoint(endpoint_id: str) -> Response:
        removed = outbox.remove(world(), endpoint_id)
        if removed is None:
            raise _not_found(endpoint_id)
        return jsonio.response(200, removed.describe())

    @bp.get("/deliveries")
    def deliveries() -> Response:
        only_filters("delivery", DELIVERY_FILTERS)
        args = request.args
        items = outbox.deliveries(world(), args.get("event_type"), args.get("status"), args.get("endpoint"))
        return jsonio.response(200, {"items": items, "total": len(items)})

    @bp.post("/deliveries/<delivery_id>/redeliver")
    def redeliver(delivery_id: str) -> Response:
        again = outbox.redeliver(world(), delivery_id)
        if not again:
            raise errors.not_found(f"Delivery {delivery_id} not found", "delivery not found", id=delivery_id)
        return jsonio.response(202, again[0])

    @bp.post(WAIT_PATH.removeprefix(PREFIX))
    def wait() -> Response:
        raw = request.get_data()
        body = validation.parse_json(raw) if raw.strip() else {}
        timeout = body.get("timeout", 5) if isinstance(body, dict) else None
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float, Decimal)):
            timeout = -1  # not seconds at all
        if not 0 <= timeout <= MAX_WAIT:
            raise errors.validation(f"timeout must be seconds from 0 to {MAX_WAIT:g}", "invalid timeout")
        return jsonio.response(200, outbox.drain(world(), float(timeout)))

    return bp


def _not_found(endpoint_id: str) -> errors.ApiError:
    return errors.not_found(f"Webhook endpoint {endpoint_id} not found", "endpoint not found", id=endpoint_id)
