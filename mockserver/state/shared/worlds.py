"""Worlds kept in Redis: each one a record that is its state document (``statefile``, the one
description of what a world holds, as ``GET /_mock/state`` exports it and the state file keeps
it), its request journal a capped list, and an index of the worlds there are.

A record holds the document and nothing beside it: the clock (with its lead on real time), the id
generator's position and the cached balances are sections of the document, so that Redis, the
state file and the export cannot disagree on what a world is. A record written before that (the
document under ``state``, with the clock, ids and cached balances beside it) still loads
(``_from_older_record``) and is written in the document's shape at the world's next change.
Beside each record a small summary (the clock, counts) is readable without loading the world.

The store is a ``WorldStore`` (``state/protocol.py``), as the memory store is, so the app cannot
tell which one it runs on.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import fields
from datetime import datetime, timedelta, timezone
from operator import attrgetter
from typing import Any, cast

import redis
import simplejson
from simplejson import RawJSON

from ...domain.clock import Clock, format_timestamp, parse_timestamp
from ...domain.ids import IdGenerator
from ...domain.models import Event, TopUpRecord
from ...domain.world import Rules, World, WorldKey, in_scope, world_id
from .. import journal, statefile
from ..errors import StoreUnavailable, TooManyWorlds
from ..protocol import Listener
from ..store import due_work, overview_line, tenant_id_for
from .records import Record, Redis, delete, summary_key

# KEYS: index, journal. ARGV: world id, [key, environment], entry, journal size, most worlds.
# Journals an entry in its world, made (indexed) here when there is room for it, as the memory
# store makes a world for the journal of a request that never reached one.
_RECORD = """
if redis.call('hexists', KEYS[1], ARGV[1]) == 0 then
  if redis.call('hlen', KEYS[1]) >= tonumber(ARGV[5]) then return 0 end
  redis.call('hset', KEYS[1], ARGV[1], ARGV[2])
end
redis.call('lpush', KEYS[2], ARGV[3])
redis.call('ltrim', KEYS[2], 0, tonumber(ARGV[4]) - 1)
return 1
"""


class SharedStore:
    """All worlds, in Redis: the memory store's interface, over a shared truth."""

    def __init__(
        self,
        store: Redis,
        api_version: str,
        id_seed: int | None = None,
        journal_size: int = 1000,
        setup: Callable[[World, str], None] | None = None,
        max_worlds: int | None = None,
        rules: Rules | None = None,
    ):
        self.redis = store
        self.rules = rules  # the domain rules of the API version served
        self.api_version = api_version
        self.id_seed = id_seed
        self.journal_size = journal_size
        self.setup = setup
        self.max_worlds = max_worlds
        self.listeners: list[Listener] = []
        self.index = store.key("worlds")
        self.record_entry = store.client.register_script(_RECORD)
        self._records: dict[WorldKey, Record[World]] = {}
        self._reused: dict[WorldKey, _Reuse] = {}
        self._journals: dict[WorldKey, SharedJournal] = {}

    # ---- the unit of work --------------------------------------------------------------------

    def _name(self, key: WorldKey) -> str:
        return self.redis.key("world", world_id(key))

    def _record(self, key: WorldKey) -> Record[World]:
        record = self._records.get(key)
        if record is None:
            record = self._records.setdefault(
                key,
                Record(
                    self.redis,
                    self._name(key),
                    lambda document: self._decode(key, document),
                    lambda world: self._encode(key, world),
                    _summary,
                ),
            )
        return record

    @contextmanager
    def session(
        self, api_key: str, environment_id: str = "", reading: bool = False, atomic: bool = False
    ) -> Iterator[World]:
        """The unit of work on one world, as in the memory store (what its clock has made due
        first, written as a unit of its own); the events go to the listeners once the change is
        written to Redis. ``reading``: the block is a read (an API GET), which changes the world
        only by what moves its fingerprint, so the world is not encoded again to find out.
        ``atomic`` asks nothing more here: a block that fails is never written."""
        key = (api_key, environment_id)
        raised: list[Event] = []

        def announce(world: World) -> None:
            for listener in self.listeners if raised else ():
                listener(key, world, raised)

        def first(world: World) -> Callable[[], None] | None:
            if not due_work(world):
                return None
            raised[:], world.events = world.events, []
            return lambda: announce(world)

        with self._record(key).hold(announce, _fingerprint if reading else None, first) as world:
            try:
                yield world
            except BaseException:
                world.events.clear()
                raise
            raised[:], world.events = world.events, []

    def _decode(self, key: WorldKey, document: bytes | None) -> World:
        world = World(tenant_id_for(key[0]), key[1], self.id_seed, self.rules)
        if document is None:  # a new world: counted, indexed, filled from the fixtures
            if self.max_worlds is not None and self.redis.client.hlen(self.index) >= self.max_worlds:
                raise TooManyWorlds(self.max_worlds)
            self.redis.client.hsetnx(self.index, world_id(key), json.dumps(key))
            if self.setup is not None:
                self.setup(world, key[0])
                world.events.clear()
            return world
        saved = json.loads(document)
        if "state" in saved:
            saved = _from_older_record(saved)
        statefile.restore(world, saved, self.api_version)
        world.events.clear()
        return world

    def _encode(self, key: WorldKey, world: World) -> bytes:
        reuse = self._reused.get(key)
        if reuse is None or reuse.world is not world:  # a world loaded anew: nothing to reuse
            reuse = self._reused[key] = _Reuse(world)
        document = reuse.export(self.api_version)
        return simplejson.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()

    # ---- the rest of the store's interface -------------------------------------------------

    def clock(self, key: WorldKey) -> Callable[[], datetime] | None:
        """How to read a world's time from Redis (None when there is no such world)."""
        summary = summary_key(self._name(key))

        def now() -> datetime:
            try:
                document = self.redis.client.get(summary)
            except redis.RedisError as exc:
                raise StoreUnavailable(exc) from None
            clock = Clock()
            if document is not None:
                saved = json.loads(document)["clock"]
                if isinstance(saved, list):  # a summary written before it held the clock section
                    _resume_older_clock(clock, saved)
                else:
                    statefile.set_clock(clock, *statefile.check_clock(saved))
            return clock.now()

        return now

    def open(self, api_key: str, environment_id: str = "") -> None:
        with self.session(api_key, environment_id):
            pass

    def journal(self, api_key: str, environment_id: str = "") -> SharedJournal:
        key = (api_key, environment_id)
        book = self._journals.get(key)
        if book is None:
            book = self._journals.setdefault(key, SharedJournal(self, key))
        return book

    def keys(self) -> list[WorldKey]:
        """Every world's key and environment, from the index."""
        try:
            found = self.redis.client.hvals(self.index)
        except redis.RedisError as exc:
            raise StoreUnavailable(exc) from None
        return [tuple(json.loads(raw)) for raw in found]

    def each_world(self) -> Iterator[tuple[WorldKey, World]]:
        for key in self.keys():
            with self._record(key).hold() as world:
                yield key, world

    def reset(self, api_key: str | None = None, environment_id: str | None = None) -> list[WorldKey]:
        """Forget every world, or one key's worlds (all its environments, or one): their
        documents and journals. Returns them."""
        doomed = [key for key in self.keys() if in_scope(key, api_key, environment_id)]
        try:
            for key in doomed:
                delete(self.redis, self._name(key), self.redis.key("journal", world_id(key)))
                self.redis.client.hdel(self.index, world_id(key))
        except redis.RedisError as exc:
            raise StoreUnavailable(exc) from None
        for key in doomed:
            self._reused.pop(key, None)
            record = self._records.get(key)
            if record is not None:
                record.drop()
        return doomed

    def overview(self) -> list[dict[str, Any]]:
        """Every world in a line (for the dashboard), from the summaries beside the documents."""
        keys = self.keys()
        try:
            summaries = self.redis.client.mget([summary_key(self._name(key)) for key in keys]) if keys else []
        except redis.RedisError as exc:
            raise StoreUnavailable(exc) from None
        lines = []
        for key, raw in zip(keys, summaries, strict=True):
            seen = json.loads(raw) if raw else {}
            active = parse_timestamp(seen["changed_at"]).timestamp() if "changed_at" in seen else 0.0
            lines.append(
                overview_line(
                    key, seen.get("customers", 0), seen.get("wallets", 0), seen.get("transactions", 0), active
                )
            )
        return lines

    def describe(self) -> dict[str, Any]:
        """What the health check says of the store (StoreUnavailable when Redis does not answer)."""
        self.redis.ping()
        return {"store": "redis", "worlds": len(self)}

    def __len__(self) -> int:
        try:
            return int(self.redis.client.hlen(self.index))
        except redis.RedisError as exc:
            raise StoreUnavailable(exc) from None


class _Reuse:
    """Writes a world's state document again after a change, reusing the JSON it wrote for every
    record (customer, wallet, transaction, invoice, idempotency record) that did not change, so
    that a write costs what it changed, plus a look at each record's fields."""

    def __init__(self, world: World):
        self.world = world
        self._written: dict[int, tuple[Any, tuple, RawJSON]] = {}  # id -> (record, fields, JSON)
        self._top_ups: dict[int, tuple[TopUpRecord, RawJSON]] = {}

    def export(self, api_version: str) -> dict[str, Any]:
        """The state document, its unchanged records as the JSON text written before."""
        written, top_ups = self._written, self._top_ups
        self._written, self._top_ups = {}, {}

        def record(item: Any) -> RawJSON:
            values = _fields_of(item)
            seen = written.get(id(item))
            # Compared with a deep copy of the fields as written: a nested record or a dict
            # changed in place shows too.
            if seen is None or seen[0] is not item or seen[1] != values:
                seen = (item, copy.deepcopy(values), _raw(statefile.dump_record(item)))
            self._written[id(item)] = seen
            return seen[2]

        def idempotency(key: str, top_up: TopUpRecord) -> RawJSON:
            seen = top_ups.get(id(top_up))
            if seen is None or seen[0] is not top_up:  # a record of a top-up never changes
                seen = (top_up, _raw(statefile.dump_idempotency(key, top_up)))
            self._top_ups[id(top_up)] = seen
            return seen[1]

        return statefile.export(self.world, api_version, record, idempotency)


_GETTERS: dict[type, Callable[[Any], tuple]] = {}


def _fields_of(item: Any) -> tuple:
    getter = _GETTERS.get(type(item))
    if getter is None:
        getter = _GETTERS[type(item)] = attrgetter(*(f.name for f in fields(item)))
    return getter(item)


def _raw(value: dict[str, Any]) -> RawJSON:
    return RawJSON(simplejson.dumps(value, separators=(",", ":"), ensure_ascii=False))


def _fingerprint(world: World) -> tuple:
    """What moves whenever a read changes its world: a read that expires credits or tops up
    automatically writes transactions, and every new transaction, event or object takes an id
    (and ids never repeat); a cached balance or an alert state is kept in small maps."""
    return (
        world.ids.last,
        world.clock.snapshot(),
        len(world.events),
        world.transaction_count,
        len(world.customers),
        len(world.wallets),
        len(world.invoices),
        len(world.top_ups),
        tuple(world.balance_cache.items()),
        tuple(world.alert_states.items()),
        tuple(world.ongoing_published.items()),
        tuple(world.evaluations.items()),
    )


def _summary(world: World) -> bytes:
    """Beside each world's document: its clock, the document's section (read by webhook
    scheduling in any process), and its counts."""
    return json.dumps(
        {
            "clock": statefile.dump_clock(world.clock),
            "customers": len(world.customers),
            "wallets": len(world.wallets),
            "transactions": world.transaction_count,
            "changed_at": format_timestamp(datetime.now(timezone.utc)),
        }
    ).encode()


# ---- records of the older shape ---------------------------------------------------------------


def _from_older_record(saved: dict[str, Any]) -> dict[str, Any]:
    """The state document of a record written before the record was one: ``{"state": document,
    "clock": [lead on real time in µs, frozen instant or null], "ids": the id generator's
    snapshot, "balances": {wallet: [balance, computed at]}}``, and, before the document kept
    them, the alert states (``alerts``) and ongoing balances (``ongoing``) beside it too (the
    document's own win when both exist)."""
    document = dict(saved["state"])
    clock = Clock()
    _resume_older_clock(clock, saved["clock"])
    document["clock"] = statefile.dump_clock(clock)
    generator = IdGenerator()
    generator.resume(saved["ids"])
    document["ids"] = statefile.dump_ids(generator)
    document["cached_balances"] = [
        {"wallet_id": wallet_id, "balance": balance, "computed_at": at}
        for wallet_id, (balance, at) in saved.get("balances", {}).items()
    ]
    alerts = list(document.get("alerts") or ())
    known = {(a.get("wallet_id"), a.get("alert_type")) for a in alerts if isinstance(a, dict)}
    for wallet_id, kind, state in saved.get("alerts", ()):
        if (wallet_id, kind) not in known:
            alerts.append({"wallet_id": wallet_id, "alert_type": kind, "state": state})
    ongoing = list(document.get("ongoing_balances") or ())
    published = {o.get("wallet_id") for o in ongoing if isinstance(o, dict)}
    for wallet_id, value in saved.get("ongoing", {}).items():
        if wallet_id not in published:
            ongoing.append({"wallet_id": wallet_id, "published": value})
    document["alerts"], document["ongoing_balances"] = alerts, ongoing
    document["format"] = statefile.FORMAT
    return document


def _resume_older_clock(clock: Clock, saved: list[Any]) -> None:
    offset, frozen = saved
    clock.resume(timedelta(microseconds=offset), parse_timestamp(frozen) if frozen else None)


class SharedJournal:
    """One world's request journal as a Redis list, newest first, capped at the journal size."""

    def __init__(self, store: SharedStore, key: WorldKey):
        self.size = store.journal_size
        self._store = store
        self._client = store.redis.client
        self._wid = world_id(key)
        self._key_json = json.dumps(key)
        self._name = store.redis.key("journal", self._wid)

    def record(self, entry: journal.Entry) -> None:
        if not self.size:
            return
        most = self._store.max_worlds if self._store.max_worlds is not None else 2**62
        try:
            self._store.record_entry(
                keys=[self._store.index, self._name],
                args=[self._wid, self._key_json, _dump_entry(entry), self.size, most],
            )
        except redis.RedisError as exc:
            raise StoreUnavailable(exc) from None

    def clear(self) -> int:
        pipe = self._client.pipeline()
        pipe.llen(self._name)
        pipe.delete(self._name)
        try:
            return int(pipe.execute()[0])
        except redis.RedisError as exc:
            raise StoreUnavailable(exc) from None

    def entries(
        self,
        method: str | None = None,
        path: str | None = None,
        status: str | None = None,
        limit: int | None = None,
    ) -> list[journal.Entry]:
        try:
            raw = self._client.lrange(self._name, 0, -1)
        except redis.RedisError as exc:
            raise StoreUnavailable(exc) from None
        return journal.select([_load_entry(cast(bytes, item)) for item in raw], method, path, status, limit)

    def __len__(self) -> int:
        try:
            return int(self._client.llen(self._name))
        except redis.RedisError as exc:
            raise StoreUnavailable(exc) from None


def _dump_entry(entry: journal.Entry) -> bytes:
    return json.dumps(
        [
            format_timestamp(entry.at),
            entry.method,
            entry.path,
            entry.query.decode("latin-1"),
            entry.body.decode("latin-1"),  # bytes as they came, one character each
            entry.body_size,
            entry.status,
            entry.duration_ms,
            entry.request_id,
            entry.api_key,
            entry.fault,
            entry.unexpected,
            entry.operation_id,
            entry.fidelity,
        ],
        separators=(",", ":"),
        default=str,
    ).encode()


def _load_entry(raw: bytes) -> journal.Entry:
    at, method, path, query, body, size, status, duration, request_id, api_key, fault, *rest = json.loads(raw)
    return journal.Entry(
        parse_timestamp(at),
        method,
        path,
        query.encode("latin-1"),
        body.encode("latin-1"),
        size,
        status,
        duration,
        request_id,
        api_key,
        fault,
        # Entries written before unexpected requests, then operations, were marked have less.
        *(rest + [None, None, None])[:3],
    )
