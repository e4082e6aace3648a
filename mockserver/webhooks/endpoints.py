"""Webhook endpoints: where a world's events go, how they are sent, and the faults they meet.

A registration is ``{"url", "secret"?, "events"?, "mode"?, "headers"?, "faults"?}``: checked
whole before anything is kept, each problem a ``WebhookError`` naming the field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from ..draws import Draws
from ..text import duration
from . import signing

MODES = ("svix", "native")
FAULT_FIELDS = ("fail_first", "fail_status", "delay", "duplicate", "out_of_order", "seed")


class WebhookError(ValueError):
    """A registration that cannot be kept: ``field`` says where, ``problem`` what."""

    def __init__(self, field: str, problem: str):
        super().__init__(f"{field} {problem}")
        self.field = field
        self.problem = problem


@dataclass
class EndpointFaults:
    """How deliveries to one endpoint misbehave, on purpose, reproducibly (``seed``)."""

    fail_first: int = 0  # the first N attempts fail with fail_status, unsent
    fail_status: int = 500
    delay: float = 0.0  # seconds before each attempt is sent
    duplicate: float = 0.0  # probability of sending a message twice (same svix-id)
    out_of_order: bool = False  # each message waits for the next one and goes after it
    seed: int = 0
    attempts: int = 0  # attempts made so far (counts against fail_first)
    rng: Draws = field(default_factory=Draws, repr=False)

    def draw_duplicate(self) -> bool:
        """Whether this answered attempt is sent twice (one draw from the endpoint's sequence)."""
        return self.rng.random() < self.duplicate

    def describe(self) -> dict[str, Any]:
        return {
            "fail_first": self.fail_first,
            "fail_status": self.fail_status,
            "delay_ms": round(self.delay * 1000, 3),
            "duplicate": self.duplicate,
            "out_of_order": self.out_of_order,
            "seed": self.seed,
        }


@dataclass
class Endpoint:
    id: str
    url: str
    secret: str
    created_at: datetime
    events: frozenset[str] | None = None  # None: every event
    mode: str = "svix"
    headers: dict[str, str] = field(default_factory=dict)
    faults: EndpointFaults | None = None

    def wants(self, event_type: str) -> bool:
        return self.events is None or event_type in self.events

    def describe(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "url": self.url,
            "secret": self.secret,
            "events": sorted(self.events) if self.events is not None else None,
            "mode": self.mode,
            "headers": self.headers,
            "created_at": self.created_at.isoformat().replace("+00:00", "Z"),
        }
        if self.faults is not None:
            body["faults"] = self.faults.describe()
        return body


def parse(raw: Any, endpoint_id: str, now: datetime, known_events: tuple[str, ...]) -> Endpoint:
    """A registration as an Endpoint; WebhookError names the first wrong field."""
    if not isinstance(raw, dict):
        raise WebhookError("body", 'must be an object such as {"url": "http://127.0.0.1:9000/hooks"}')
    for name in raw:
        if name not in ("url", "secret", "events", "mode", "headers", "faults"):
            raise WebhookError(
                name, "is not a field of an endpoint (url, secret, events, mode, headers, faults)"
            )
    url = raw.get("url")
    if not isinstance(url, str) or not url:
        raise WebhookError("url", "is required: the http(s) address deliveries are sent to")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookError("url", f"must be an http or https URL with a host, not {url!r}")
    secret = raw.get("secret")
    if secret is None:
        secret = signing.new_secret()
    elif not isinstance(secret, str):
        raise WebhookError("secret", "must be a string such as whsec_<base64>")
    else:
        try:
            signing.secret_key(secret)
        except ValueError as exc:
            raise WebhookError("secret", str(exc)) from None
    events = raw.get("events")
    if events is not None:
        if not isinstance(events, list) or not all(isinstance(e, str) for e in events) or not events:
            raise WebhookError("events", "must be a non-empty list of event types (or left out: all)")
        unknown = [e for e in events if e not in known_events]
        if unknown:
            raise WebhookError(
                "events", f"has unknown event types {unknown} (known: {', '.join(known_events)})"
            )
    mode = raw.get("mode", "svix")
    if mode not in MODES:
        raise WebhookError("mode", f"must be one of {', '.join(MODES)}")
    headers = raw.get("headers") or {}
    if not isinstance(headers, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and k and "\n" not in k + v for k, v in headers.items()
    ):
        raise WebhookError("headers", "must map header names to string values")
    faults = _faults(raw["faults"]) if raw.get("faults") is not None else None
    return Endpoint(
        endpoint_id,
        url,
        secret,
        now,
        frozenset(events) if events is not None else None,
        mode,
        dict(headers),
        faults,
    )


def _faults(raw: Any) -> EndpointFaults:
    if not isinstance(raw, dict):
        raise WebhookError("faults", 'must be an object, e.g. {"fail_first": 2}')
    for name in raw:
        if name not in FAULT_FIELDS:
            raise WebhookError(f"faults.{name}", f"is not a webhook fault (known: {', '.join(FAULT_FIELDS)})")
    faults = EndpointFaults()
    for name in ("fail_first", "seed"):
        if name in raw:
            value = raw[name]
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise WebhookError(f"faults.{name}", "must be an integer, 0 or more")
            setattr(faults, name, value)
    if "fail_status" in raw:
        status = raw["fail_status"]
        if isinstance(status, bool) or not isinstance(status, int) or not 400 <= status <= 599:
            raise WebhookError("faults.fail_status", "must be a status from 400 to 599")
        faults.fail_status = status
    if "delay" in raw:
        try:
            faults.delay = duration(raw["delay"])
        except ValueError as exc:
            raise WebhookError("faults.delay", str(exc)) from None
    if "duplicate" in raw:
        value = raw["duplicate"]
        probability = 1.0 if value is True else 0.0 if value is False else value
        if (
            isinstance(probability, bool)
            # A fraction arrives as a Decimal (the controls parse JSON numbers exactly).
            or not isinstance(probability, (int, float, Decimal))
            or not 0 <= probability <= 1
        ):
            raise WebhookError("faults.duplicate", "must be true, false or a probability from 0 to 1")
        faults.duplicate = float(probability)
    if "out_of_order" in raw:
        if not isinstance(raw["out_of_order"], bool):
            raise WebhookError("faults.out_of_order", "must be true or false")
        faults.out_of_order = raw["out_of_order"]
    faults.rng = Draws(faults.seed)
    return faults
