"""The webhook outbox: every event a world raises, for every endpoint that wants it, delivered
in the background and retried on the world's clock, every attempt journalled.

Delivery never runs on a request's thread: ``publish`` (the store's listener, called once a
change is kept) only queues. A scheduler thread hands due deliveries to a pool of senders,
one at a time per endpoint, so a slow or dead receiver holds up its own queue and nobody
else's. A failed attempt is retried on the Svix schedule, measured on the world's clock: moving
the clock makes the due retries happen at once.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol
from urllib.parse import urlsplit

from ..domain.ids import IdGenerator
from ..domain.models import RETRY_EVENT, Event
from ..domain.world import World, WorldKey, in_scope
from . import endpoints, signing

# Seconds before each attempt, counted from when the previous failed attempt was sent (Svix: at
# once, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h); after the last one the delivery is failed.
SCHEDULE = (0, 5, 300, 1800, 7200, 18000, 36000, 36000)
KEPT_DELIVERIES = 1000  # finished deliveries kept per world, newest
# Unfinished deliveries per endpoint, at most: past it the oldest is failed unsent (a dead
# receiver and a world clock that does not move would otherwise keep every event's body forever).
MAX_PENDING = 1000
EXCERPT = 1024  # bytes of a receiver's answer kept per attempt
TICK = 0.05  # seconds between looks at what is due, when nothing wakes the scheduler


@dataclass
class Attempt:
    at: datetime  # wall-clock time it was sent (taken before the request left)
    world_at: datetime  # the world's time then: the next attempt is scheduled from it
    status: int | None  # the receiver's status; None: no answer (refused, timed out)
    latency_ms: float
    error: str | None
    headers: dict[str, str]
    body: str
    response: str
    duplicate: bool = False
    answered_at: datetime | None = None  # wall-clock time its outcome was known
    world_answered_at: datetime | None = None  # the world's time then

    def describe(self) -> dict[str, Any]:
        return {
            "at": _stamp(self.at),
            "world_at": _stamp(self.world_at),
            "answered_at": _stamp(self.answered_at) if self.answered_at else None,
            "world_answered_at": _stamp(self.world_answered_at) if self.world_answered_at else None,
            "status_code": self.status,
            "latency_ms": round(self.latency_ms, 3),
            "error": self.error,
            "request": {"headers": self.headers, "body": self.body},
            "response_excerpt": self.response,
            "duplicate": self.duplicate,
        }


@dataclass
class Delivery:
    id: str  # msg_<ULID>: the svix-id, the same on every attempt
    event_id: str  # sys_event_<ULID>
    event_type: str
    endpoint_id: str
    body: bytes
    created_at: datetime  # world time
    next_due: datetime | None  # world time of the next attempt; None when finished
    status: str = "pending"  # pending | delivered | failed
    attempts: list[Attempt] = field(default_factory=list)
    round_start: int = 0  # attempts before the last redelivery
    in_flight: bool = False

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "event_id": self.event_id,
            "event_type": self.event_type,
            "endpoint_id": self.endpoint_id,
            "status": self.status,
            "created_at": _stamp(self.created_at),
            "next_attempt_at": _stamp(self.next_due) if self.next_due else None,
            "payload": json.loads(self.body),
            "attempts": [a.describe() for a in self.attempts],
        }


class Mailbox:
    """One world's endpoints and deliveries."""

    def __init__(self) -> None:
        self.endpoints: dict[str, endpoints.Endpoint] = {}
        self.deliveries: list[Delivery] = []  # oldest first, finished ones too (the journal)
        self.pending: dict[str, list[Delivery]] = {}  # endpoint id -> its unfinished, oldest first
        self.finished = 0
        # endpoints with an attempt in flight -> wall-clock time after which it counts as lost
        # (the process sending it died): then the delivery is taken up again
        self.busy: dict[str, float] = {}

    def waiting(self, now: datetime) -> list[Delivery]:
        """Deliveries in flight or due by ``now``, of the endpoints still registered."""
        return [
            d
            for endpoint_id in self.endpoints
            for d in self.pending.get(endpoint_id, ())
            if d.in_flight or (d.next_due is not None and d.next_due <= now)
        ]

    def find(self, delivery_id: str) -> Delivery | None:
        return next((d for d in reversed(self.deliveries) if d.id == delivery_id), None)

    def idle(self, endpoint_id: str) -> bool:
        deadline = self.busy.get(endpoint_id)
        return deadline is None or deadline < time.time()

    def finish(self, delivery: Delivery) -> None:
        """A delivery is done: out of its queue; the journal keeps the newest finished ones."""
        self.pending[delivery.endpoint_id].remove(delivery)
        self.finished += 1
        if self.finished > KEPT_DELIVERIES + KEPT_DELIVERIES // 10:  # trimmed now and then, not each time
            done = [d for d in self.deliveries if d.status != "pending"]
            dropped = {id(d) for d in done[: len(done) - KEPT_DELIVERIES]}
            self.deliveries = [d for d in self.deliveries if id(d) not in dropped]
            self.finished = KEPT_DELIVERIES

    def make_room(self, endpoint_id: str, world_now: datetime) -> None:
        """Fail the oldest deliveries of an endpoint that has more than MAX_PENDING unfinished
        (never one in flight), each with an attempt that says why it was not sent."""
        queue = self.pending.get(endpoint_id, [])
        while len(queue) > MAX_PENDING:
            oldest = next((d for d in queue if not d.in_flight), None)
            if oldest is None:
                return
            now = _now()
            reason = (
                f"not sent: the endpoint had more than {MAX_PENDING} deliveries pending, and the "
                "oldest fails to make room (a receiver that answers, or a world clock moved on, lets "
                "them through)"
            )
            oldest.attempts.append(
                Attempt(
                    now,
                    world_now,
                    None,
                    0.0,
                    reason,
                    {},
                    "",
                    "",
                    answered_at=now,
                    world_answered_at=world_now,
                )
            )
            oldest.status, oldest.next_due = "failed", None
            self.finish(oldest)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


class MailboxHolder(Protocol):
    """Where an outbox keeps every world's mailbox: this process's memory, or a shared store."""

    def hold(self, key: WorldKey) -> AbstractContextManager[Mailbox]:
        """The world's mailbox (made on first use), this holder's alone until the block ends."""
        ...

    def has(self, key: WorldKey) -> bool: ...

    def known(self) -> list[WorldKey]:
        """The worlds whose mailboxes may have something to send."""
        ...

    def forget(self, api_key: str | None, environment_id: str | None) -> None: ...


class LocalMailboxes:
    """Every world's mailbox in this process's memory, behind the outbox's lock."""

    def __init__(self, new_box: Callable[[], Mailbox], lock: threading.Condition):
        self._new_box = new_box
        self._lock = lock
        self._boxes: dict[WorldKey, Mailbox] = {}

    @contextmanager
    def hold(self, key: WorldKey) -> Iterator[Mailbox]:
        with self._lock:
            box = self._boxes.get(key)
            if box is None:
                box = self._boxes[key] = self._new_box()
            yield box

    def has(self, key: WorldKey) -> bool:
        return key in self._boxes

    def known(self) -> list[WorldKey]:
        with self._lock:
            return list(self._boxes)

    def forget(self, api_key: str | None, environment_id: str | None) -> None:
        with self._lock:
            for key in [k for k in self._boxes if in_scope(k, api_key, environment_id)]:
                del self._boxes[key]


class Outbox:
    def __init__(
        self,
        payload: Callable[[World, Event], dict[str, Any]] | None,
        event_types: tuple[str, ...],
        clock_of: Callable[[WorldKey], Callable[[], datetime] | None],
        *,
        default_url: str | None = None,
        default_secret: str | None = None,
        timeout: float = 15.0,
        workers: int = 8,
        mailboxes: Callable[[Callable[[], Mailbox]], MailboxHolder] | None = None,
    ):
        self.payload = payload
        self.event_types = event_types
        self.clock_of = clock_of
        self.default_url = default_url
        self.default_secret = default_secret or signing.new_secret()
        self.timeout = timeout
        self.ids = IdGenerator()
        self._lock = threading.Condition()  # wakes the scheduler and those waiting on a drain
        self.boxes: MailboxHolder = (
            mailboxes(self._new_box) if mailboxes else LocalMailboxes(self._new_box, self._lock)
        )
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="webhook")
        self._scheduler: threading.Thread | None = None
        if mailboxes and self._known():
            self._start()  # mailboxes kept from before this process began may have work due

    # ---- endpoints -------------------------------------------------------------------------

    def _new_box(self) -> Mailbox:
        box = Mailbox()
        if self.default_url:
            endpoint = endpoints.parse(
                {"url": self.default_url, "secret": self.default_secret},
                "ep_default",
                _now(),
                self.event_types,
            )
            box.endpoints[endpoint.id] = endpoint
            self._start()
        return box

    def register(self, key: WorldKey, raw: Any) -> endpoints.Endpoint:
        endpoint = endpoints.parse(raw, self.ids.new("ep_", _millis()), _now(), self.event_types)
        with self.boxes.hold(key) as box:
            box.endpoints[endpoint.id] = endpoint
        self._start()
        return endpoint

    def endpoints_of(self, key: WorldKey) -> list[endpoints.Endpoint]:
        with self.boxes.hold(key) as box:
            return list(box.endpoints.values())

    def remove(self, key: WorldKey, endpoint_id: str) -> endpoints.Endpoint | None:
        with self.boxes.hold(key) as box:
            return box.endpoints.pop(endpoint_id, None)

    def reset(self, api_key: str | None = None, environment_id: str | None = None) -> None:
        """Forget the mailboxes of the worlds a store reset forgot."""
        self.boxes.forget(api_key, environment_id)

    # ---- publishing ------------------------------------------------------------------------

    def publish(self, key: WorldKey, world: World, events: list[Event]) -> None:
        """Queue a delivery of each event for each endpoint that wants it (the store's listener,
        called inside the unit of work once its change is kept: payloads show that state)."""
        if self.payload is None:
            return
        for retry in [e for e in events if e.name == RETRY_EVENT]:
            self.redeliver(key, event_id=retry.entity_id)
        events = [e for e in events if e.name != RETRY_EVENT]
        if not events or not (self.default_url or self.boxes.has(key)):
            return
        ready = False
        self._start()
        with self.boxes.hold(key) as box:
            if not box.endpoints:
                return
            now = world.now()
            for event in events:
                wanting = [e for e in box.endpoints.values() if e.wants(event.name)]
                if not wanting:
                    continue
                body = json.dumps(
                    self.payload(world, event), separators=(",", ":"), ensure_ascii=False
                ).encode()
                for endpoint in wanting:
                    delivery = Delivery(
                        self.ids.new("msg_", _millis()), event.id, event.name, endpoint.id, body, now, now
                    )
                    box.deliveries.append(delivery)
                    box.pending.setdefault(endpoint.id, []).append(delivery)
                    box.make_room(endpoint.id, now)
                    ready = ready or box.idle(endpoint.id)
        if ready:  # a busy endpoint's queue moves when its attempt ends, not now
            self.wake()

    # ---- reading and steering --------------------------------------------------------------

    def deliveries(
        self,
        key: WorldKey,
        event_type: str | None = None,
        status: str | None = None,
        endpoint_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """The world's deliveries, newest first, with every attempt."""
        with self.boxes.hold(key) as box:
            return [
                d.describe()
                for d in reversed(box.deliveries)
                if event_type in (None, d.event_type)
                and status in (None, d.status)
                and endpoint_id in (None, d.endpoint_id)
            ]

    def redeliver(
        self, key: WorldKey, delivery_id: str | None = None, event_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Send a delivery (or every delivery of an event) again, from the first attempt."""
        clock = self.clock_of(key)
        with self.boxes.hold(key) as box:
            chosen = [
                d for d in box.deliveries if d.id == delivery_id or (event_id and d.event_id == event_id)
            ]
            for delivery in chosen:
                if delivery.status != "pending":
                    box.pending.setdefault(delivery.endpoint_id, []).append(delivery)
                    box.finished -= 1
                delivery.status, delivery.round_start = "pending", len(delivery.attempts)
                delivery.next_due = clock() if clock else _now()
            described = [d.describe() for d in chosen]
        self.wake()
        return described

    def wake(self) -> None:
        """Something may be due now (a delivery queued, a world's clock moved): look at once."""
        with self._lock:
            self._lock.notify_all()

    def drain(self, key: WorldKey, timeout: float) -> dict[str, Any]:
        """Wait (at most ``timeout`` seconds) until nothing of the world is due or in flight."""
        deadline = time.monotonic() + timeout
        clock = self.clock_of(key)
        self._start()
        while True:
            with self.boxes.hold(key) as box:
                waiting = box.waiting(clock() if clock else _now())
                counts = {
                    s: sum(d.status == s for d in box.deliveries) for s in ("pending", "delivered", "failed")
                }
            left = deadline - time.monotonic()
            if not waiting or left <= 0:
                return {"drained": not waiting, **counts}
            with self._lock:
                self._lock.wait(min(left, TICK))

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    # ---- sending ---------------------------------------------------------------------------

    def _start(self) -> None:
        with self._lock:
            if self._scheduler is None:
                self._scheduler = threading.Thread(
                    target=self._schedule, name="webhook-scheduler", daemon=True
                )
                self._scheduler.start()

    def _schedule(self) -> None:
        while True:
            with self._lock:
                self._lock.wait(TICK)
            for key in self._known():
                try:
                    due = self._due(key)
                except Exception:  # the shared store unreachable: look again at the next tick
                    continue
                for endpoint, delivery, injected in due:
                    try:
                        self._pool.submit(self._attempt, key, endpoint, delivery, injected)
                    except RuntimeError:
                        # The pool is shut down (close(), or the interpreter exiting with
                        # deliveries due): stop scheduling, instead of dying with a traceback.
                        return

    def _known(self) -> list[WorldKey]:
        try:
            return self.boxes.known()
        except Exception:  # the shared store unreachable: nothing to look at until it is back
            return []

    def _due(self, key: WorldKey) -> list[tuple[endpoints.Endpoint, Delivery, bool]]:
        """The next delivery of each idle endpoint of a world whose time has come (oldest first,
        or newest first for an endpoint whose faults deliver out of order); marked in flight,
        with whether a ``fail_first`` fault fails the attempt unsent."""
        clock = self.clock_of(key)
        if clock is None:
            return []
        chosen = []
        with self.boxes.hold(key) as box:
            now = clock()
            for endpoint in box.endpoints.values():
                if not box.idle(endpoint.id):
                    continue
                queue = box.pending.get(endpoint.id, ())
                faults = endpoint.faults
                newest_first = faults is not None and faults.out_of_order
                delivery = next(
                    (
                        d
                        for d in (reversed(queue) if newest_first else queue)
                        if d.next_due is not None and d.next_due <= now
                    ),
                    None,
                )
                if delivery is None:
                    continue
                injected = faults is not None and faults.attempts < faults.fail_first
                if faults is not None:
                    faults.attempts += 1
                delivery.in_flight = True
                box.busy[endpoint.id] = time.time() + self._longest_attempt(endpoint)
                chosen.append((endpoint, delivery, injected))
        return chosen

    def _longest_attempt(self, endpoint: endpoints.Endpoint) -> float:
        """Seconds an attempt may take before it counts as lost (a duplicate is sent twice)."""
        delay = endpoint.faults.delay if endpoint.faults is not None else 0.0
        return delay + 2 * self.timeout + 30

    def _attempt(
        self, key: WorldKey, endpoint: endpoints.Endpoint, delivery: Delivery, injected: bool
    ) -> None:
        world_clock = self.clock_of(key) or _now
        try:
            faults = endpoint.faults
            if faults is not None and faults.delay:
                time.sleep(faults.delay)
            attempt = self._send(endpoint, delivery, world_clock, injected=injected)
            sent = [attempt]
            if faults is not None and attempt.status is not None and faults.duplicate:
                with self.boxes.hold(key) as box:  # the draw moves the endpoint's sequence
                    kept = box.endpoints.get(endpoint.id)
                    twice = kept is not None and kept.faults is not None and kept.faults.draw_duplicate()
                if twice:
                    sent.append(self._send(endpoint, delivery, world_clock, duplicate=True))
        except Exception as exc:  # never lose a delivery to a bug in sending it
            now = _now()
            sent = [Attempt(now, world_clock(), None, 0.0, f"{type(exc).__name__}: {exc}", {}, "", "")]
        try:
            with self.boxes.hold(key) as box:
                self._record(box, endpoint.id, delivery.id, sent, world_clock())
        except Exception:  # the shared store unreachable: the claim runs out and it is sent again
            return
        self.wake()

    @staticmethod
    def _record(
        box: Mailbox, endpoint_id: str, delivery_id: str, sent: list[Attempt], world_now: datetime
    ) -> None:
        """What an attempt came to: delivered, due again on the schedule, or failed.

        The next attempt is due a step after the failed one was *sent*, on the world's clock. A
        clock moved while it was in flight is thereby counted: if the step is already past, the
        next attempt is due at once (a test that advances the clock once its receiver has seen an
        attempt never waits on the time the answer took to be recorded).
        """
        box.busy.pop(endpoint_id, None)
        delivery = box.find(delivery_id)
        if delivery is None:  # forgotten meanwhile (its world was reset)
            return
        answered = _now()
        for attempt in sent:
            attempt.answered_at = attempt.answered_at or answered
            attempt.world_answered_at = world_now
        delivery.attempts.extend(sent)
        delivery.in_flight = False
        if any(a.status is not None and 200 <= a.status < 300 for a in sent):
            delivery.status, delivery.next_due = "delivered", None
        else:
            made = len([a for a in delivery.attempts[delivery.round_start :] if not a.duplicate])
            if made >= len(SCHEDULE):
                delivery.status, delivery.next_due = "failed", None
            else:
                delivery.next_due = sent[0].world_at + timedelta(seconds=SCHEDULE[made])
        if delivery.status != "pending":
            box.finish(delivery)

    def _send(
        self,
        endpoint: endpoints.Endpoint,
        delivery: Delivery,
        world_clock: Callable[[], datetime],
        duplicate: bool = False,
        injected: bool = False,
    ) -> Attempt:
        body = delivery.body
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "flexprice-mock-webhooks",
            **endpoint.headers,
        }
        if endpoint.mode == "svix":
            headers.update(signing.headers(endpoint.secret, delivery.id, int(time.time()), body))
        text = body.decode()
        world_at = world_clock()  # before the request leaves: what the schedule counts from
        started, at = time.perf_counter(), _now()
        faults = endpoint.faults
        if injected and faults is not None:
            return Attempt(
                at, world_at, faults.fail_status, 0.0, "injected: faults.fail_first", headers, text, ""
            )
        parts = urlsplit(endpoint.url)
        connection_class = (
            http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        )
        connection = connection_class(parts.hostname or "", parts.port, timeout=self.timeout)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            connection.request("POST", path, body, headers)
            answer = connection.getresponse()
            excerpt = answer.read(EXCERPT).decode("utf-8", errors="replace")
            status, error = answer.status, None
            if not 200 <= status < 300:
                error = f"the receiver answered {status}"
        except (OSError, http.client.HTTPException) as exc:
            status, error, excerpt = None, f"{type(exc).__name__}: {exc}", ""
        finally:
            connection.close()
        latency = (time.perf_counter() - started) * 1000
        return Attempt(
            at, world_at, status, latency, error, headers, text, excerpt, duplicate, answered_at=_now()
        )


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _millis() -> int:
    return int(time.time() * 1000)
