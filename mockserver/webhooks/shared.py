"""Webhook mailboxes kept in Redis: each world's endpoints and deliveries one record, so that a
delivery is claimed (marked in flight) by one process and sent once, whichever process queued it.

An index lists the worlds that have a mailbox, for every process's scheduler to look at.

Built on the shared store's records (``mockserver/state/shared/records.py``): a mailbox is this
feature's, so its holder lives here, beside ``LocalMailboxes``, and the store knows nothing of it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import redis

from ..domain.clock import format_timestamp, parse_timestamp
from ..domain.world import WorldKey, in_scope, world_id
from ..draws import Draws
from ..state.errors import StoreUnavailable
from ..state.shared.records import Record, Redis, delete
from .endpoints import Endpoint, EndpointFaults
from .outbox import Attempt, Delivery, Mailbox

_FAULTS = ("fail_first", "fail_status", "delay", "duplicate", "out_of_order", "seed", "attempts")
_ATTEMPT = ("status", "latency_ms", "error", "headers", "body", "response", "duplicate")
_ATTEMPT_TIMES = ("at", "world_at", "answered_at", "world_answered_at")


class SharedMailboxes:
    """The outbox's mailboxes, in Redis (the outbox's ``mailboxes`` holder)."""

    def __init__(self, store: Redis, new_box: Callable[[], Mailbox]):
        self.redis = store
        self._new_box = new_box
        self.index = store.key("mailboxes")
        self._records: dict[WorldKey, Record[Mailbox]] = {}

    def _record(self, key: WorldKey) -> Record[Mailbox]:
        record = self._records.get(key)
        if record is None:
            record = self._records.setdefault(
                key,
                Record(self.redis, self._name(key), lambda document: self._decode(key, document), _encode),
            )
        return record

    def _name(self, key: WorldKey) -> str:
        return self.redis.key("mailbox", world_id(key))

    @contextmanager
    def hold(self, key: WorldKey) -> Iterator[Mailbox]:
        with self._record(key).hold() as box:
            yield box

    def _decode(self, key: WorldKey, document: bytes | None) -> Mailbox:
        if document is None:
            self.redis.client.hset(self.index, world_id(key), json.dumps(key))
            return self._new_box()
        return _decode(document)

    def has(self, key: WorldKey) -> bool:
        try:
            return bool(self.redis.client.exists(self._name(key)))
        except redis.RedisError as exc:
            raise StoreUnavailable(exc) from None

    def known(self) -> list[WorldKey]:
        return [tuple(json.loads(raw)) for raw in self.redis.client.hvals(self.index)]

    def forget(self, api_key: str | None, environment_id: str | None) -> None:
        try:
            for key in self.known():
                if in_scope(key, api_key, environment_id):
                    delete(self.redis, self._name(key))
                    self.redis.client.hdel(self.index, world_id(key))
                    record = self._records.get(key)
                    if record is not None:
                        record.drop()
        except redis.RedisError as exc:
            raise StoreUnavailable(exc) from None


# ---- the mailbox as a document -------------------------------------------------------------


def _stamp(moment: Any) -> str | None:
    return format_timestamp(moment) if moment is not None else None


def _time(text: str | None) -> Any:
    return parse_timestamp(text) if text is not None else None


def _encode(box: Mailbox) -> bytes:
    return json.dumps(
        {
            "endpoints": [_dump_endpoint(e) for e in box.endpoints.values()],
            "deliveries": [_dump_delivery(d) for d in box.deliveries],
            "pending": {eid: [d.id for d in queue] for eid, queue in box.pending.items()},
            "finished": box.finished,
            "busy": box.busy,
        },
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()


def _dump_endpoint(endpoint: Endpoint) -> dict[str, Any]:
    faults = endpoint.faults
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "secret": endpoint.secret,
        "created_at": _stamp(endpoint.created_at),
        "events": sorted(endpoint.events) if endpoint.events is not None else None,
        "mode": endpoint.mode,
        "headers": endpoint.headers,
        "faults": None
        if faults is None
        else {**{name: getattr(faults, name) for name in _FAULTS}, "draws": faults.rng.made},
    }


def _dump_delivery(delivery: Delivery) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "event_id": delivery.event_id,
        "event_type": delivery.event_type,
        "endpoint_id": delivery.endpoint_id,
        "body": delivery.body.decode(),
        "created_at": _stamp(delivery.created_at),
        "next_due": _stamp(delivery.next_due),
        "status": delivery.status,
        "attempts": [
            {**{n: _stamp(getattr(a, n)) for n in _ATTEMPT_TIMES}, **{n: getattr(a, n) for n in _ATTEMPT}}
            for a in delivery.attempts
        ],
        "round_start": delivery.round_start,
        "in_flight": delivery.in_flight,
    }


def _decode(document: bytes) -> Mailbox:
    saved = json.loads(document)
    box = Mailbox()
    for item in saved["endpoints"]:
        endpoint = _load_endpoint(item)
        box.endpoints[endpoint.id] = endpoint
    by_id = {}
    for item in saved["deliveries"]:
        delivery = _load_delivery(item)
        box.deliveries.append(delivery)
        by_id[delivery.id] = delivery
    box.pending = {eid: [by_id[i] for i in ids if i in by_id] for eid, ids in saved["pending"].items()}
    box.finished = saved["finished"]
    box.busy = saved["busy"]
    return box


def _load_endpoint(item: dict[str, Any]) -> Endpoint:
    faults = None
    if item["faults"] is not None:
        kept = dict(item["faults"])
        draws = kept.pop("draws")
        faults = EndpointFaults(**kept)
        faults.rng = Draws(faults.seed, draws)
    return Endpoint(
        item["id"],
        item["url"],
        item["secret"],
        _time(item["created_at"]),
        frozenset(item["events"]) if item["events"] is not None else None,
        item["mode"],
        item["headers"],
        faults,
    )


def _load_delivery(item: dict[str, Any]) -> Delivery:
    return Delivery(
        item["id"],
        item["event_id"],
        item["event_type"],
        item["endpoint_id"],
        item["body"].encode(),
        _time(item["created_at"]),
        _time(item["next_due"]),
        item["status"],
        [
            Attempt(**{n: _time(a.get(n)) for n in _ATTEMPT_TIMES}, **{n: a[n] for n in _ATTEMPT})
            for a in item["attempts"]
        ],
        item["round_start"],
        item["in_flight"],
    )
