"""Events of version 2026-08-22: single and bulk ingestion, with upstream's decoding and checks
(what its JSON decoding refuses, then each event's fields and the quantities it gives meters)."""

from __future__ import annotations

import math
from datetime import datetime
from decimal import Decimal
from typing import Any

from ...domain import charges, errors, usage
from ...domain.world import World
from .. import Handler, Result, fields
from .common import trimmed

# Operations that add to what a world holds (World.object_count): refused (429) in a full world.
GROWS_WORLD = frozenset({"ingestEvent", "ingestEventsBulk"})


# ---- requests ----------------------------------------------------------------------------


def decoded_event(body: dict[str, Any], where: str = "") -> datetime | None:
    """What upstream's JSON decoding of an event refuses, before any check of its fields: a
    timestamp that is not RFC 3339 (Go's time.Time; "" included), a property number beyond
    float64. Returns the event's time, None when it has none."""
    moment = None
    if body.get("timestamp") is not None:
        try:
            moment = fields.rfc3339(body["timestamp"])
        except ValueError:
            raise errors.validation(
                "Invalid request payload",
                "timestamp is not RFC 3339",
                field=f"{where}timestamp",
                problem="must be an RFC 3339 timestamp (2026-09-01T12:00:00Z) within the years 1 to 9999 UTC",
            ) from None
    path = _beyond_float64(body.get("properties") or {}, f"{where}properties")
    if path is not None:
        raise errors.validation(
            "Invalid request payload",
            "number out of range",
            field=path,
            problem="is a number beyond float64's range",
        )
    return moment


def _beyond_float64(value: Any, path: str) -> str | None:
    """The path of the first number in ``value`` that a float64 cannot hold, if any."""
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    elif isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        try:
            return path if math.isinf(float(value)) else None
        except OverflowError:  # an int too large for a float
            return path
    else:
        return None
    for key, item in items:
        found = _beyond_float64(item, f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}")
        if found is not None:
            return found
    return None


def new_event(
    world: World, body: dict[str, Any], now: datetime, where: str = "", moment: datetime | None = None
) -> usage.UsageEvent:
    """An event: a single one missing its name or customer is an unreadable payload upstream, an
    element of a bulk request fails its validation (the details name the field either way)."""
    for name in ("event_name", "external_customer_id"):
        if not trimmed(body, name):
            message = "Request validation failed" if where else "Invalid request payload"
            raise errors.validation(
                message, f"{name} is required", field=f"{where}{name}", problem="is required"
            )
    properties = dict(body.get("properties") or {})
    name = body["event_name"].strip()
    _quantities_fit(world, name, properties, where)
    return usage.UsageEvent(
        event_name=name,
        external_customer_id=body["external_customer_id"],
        timestamp=moment or now,
        properties=properties,
        event_id=trimmed(body, "event_id"),
    )


def _quantities_fit(world: World, name: str, properties: dict[str, Any], where: str) -> None:
    """Each quantity the event gives a meter fits the column upstream stores it in (400 otherwise:
    upstream accepts the event and then cannot store its usage)."""
    for meter in world.meters.values():
        if meter.event_name != name or not charges.passes(meter, properties):
            continue
        quantity = charges.event_quantity(meter, properties)
        if quantity is not None and quantity > charges.MAX_QUANTITY:
            raise errors.validation(
                f"The quantity of meter {meter.name!r} must be at most {charges.MAX_QUANTITY} per event",
                "quantity out of range",
                field=f"{where}properties.{meter.field_name}",
                problem=f"gives a quantity above {charges.MAX_QUANTITY}",
                meter_id=meter.id,
            )


# ---- handlers ----------------------------------------------------------------------------


def ingest_event(world: World, params, body) -> Result:
    moment = decoded_event(body)
    (event_id,) = usage.ingest(world, [new_event(world, body, world.now(), moment=moment)])
    return 202, {"message": "Event accepted for processing", "event_id": event_id}


def ingest_events_bulk(world: World, params, body) -> Result:
    now = world.now()
    moments = [decoded_event(item, f"events[{i}].") for i, item in enumerate(body["events"])]
    events = [
        new_event(world, item, now, f"events[{i}].", moments[i]) for i, item in enumerate(body["events"])
    ]
    usage.ingest(world, events)
    return 202, {"message": "Events accepted for processing"}


HANDLERS: dict[str, Handler] = {
    "ingestEvent": ingest_event,
    "ingestEventsBulk": ingest_events_bulk,
}
