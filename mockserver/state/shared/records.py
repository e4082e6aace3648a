"""Objects kept in Redis as whole documents, each changed under a lock that every process honours.

A record is read, changed and written back as one unit: ``with record.hold() as value:`` takes
the record's lock in Redis (``SET NX PX`` with a token of this holder), brings the value up to
date, lets the caller change it, and writes it back only when its document changed, in the same
script that checks the lock is still ours and releases it. A version number beside the document
moves on every write, so a process keeps the last value it saw and reloads only when another
process wrote since. A holder that cannot get the lock within ``lock_wait`` seconds
(``WorldBusy``), or that finds Redis unreachable (``StoreUnavailable``), has changed nothing.

Features keep their own objects in Redis with these pieces (``Redis``, ``Record``, ``delete``,
``summary_key``): the fault rules (``mockserver/faults/shared.py``), the webhook mailboxes
(``mockserver/webhooks/shared.py``), besides the worlds here (``worlds.py``).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Generic, TypeVar, cast

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from ..errors import LockExpired, StoreUnavailable, WorldBusy

T = TypeVar("T")

# KEYS: lock, version. ARGV: token, lock ms. The version when the lock was taken, else nil.
_TAKE = """
if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return redis.call('get', KEYS[2]) or '0'
end
return false
"""
# KEYS: lock, version, document, summary. ARGV: token, document ('' when unchanged), summary.
# The new version (or the same one when nothing was written); -1 when the lock is no longer ours.
_COMMIT = """
if redis.call('get', KEYS[1]) ~= ARGV[1] then return -1 end
local version = tonumber(redis.call('get', KEYS[2]) or '0')
if ARGV[2] ~= '' then
  redis.call('set', KEYS[3], ARGV[2])
  if ARGV[3] ~= '' then redis.call('set', KEYS[4], ARGV[3]) end
  version = redis.call('incr', KEYS[2])
end
redis.call('del', KEYS[1])
return version
"""
# KEYS: lock, version, document, summary. ARGV: token, document, summary. As _COMMIT, but the
# lock stays held (a change written before the rest of the block).
_WRITE = """
if redis.call('get', KEYS[1]) ~= ARGV[1] then return -1 end
redis.call('set', KEYS[3], ARGV[2])
if ARGV[3] ~= '' then redis.call('set', KEYS[4], ARGV[3]) end
return redis.call('incr', KEYS[2])
"""
# KEYS: lock. ARGV: token. Let go of the lock if it is still ours.
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


class Redis:
    """One Redis server as the shared store sees it: a connection pool, a key prefix, the scripts."""

    def __init__(self, url: str, prefix: str, lock_wait: float = 5.0, lock_ttl: float = 10.0):
        # Short timeouts and one try: an unreachable Redis is a quick 503, not a hung request;
        # the pool reconnects by itself on the next call once Redis is back.
        self.client = redis.Redis.from_url(
            url,
            socket_connect_timeout=2,
            socket_timeout=5,
            retry=Retry(NoBackoff(), 0),
            retry_on_error=[],
        )
        self.url = url
        self.prefix = prefix
        self.lock_wait = lock_wait
        self.lock_ms = int(lock_ttl * 1000)
        self.take = self.client.register_script(_TAKE)
        self.commit = self.client.register_script(_COMMIT)
        self.write = self.client.register_script(_WRITE)
        self.release = self.client.register_script(_RELEASE)

    def key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    def ping(self) -> None:
        """Raise StoreUnavailable unless Redis answers."""
        try:
            self.client.ping()
        except redis.RedisError as exc:
            raise StoreUnavailable(exc) from None

    def close(self) -> None:
        self.client.close()


def summary_key(name: str) -> str:
    """Where the summary written beside the record ``name`` is (readable without loading it)."""
    return name + ":summary"


class Record(Generic[T]):
    """One object kept in Redis at ``name``, with this process's copy of it.

    ``decode`` turns a document (None when there is none yet) into the object; ``encode`` turns
    it back. ``summary``, when given, is written beside the document at each change (a small
    document others can read without loading the object).
    """

    def __init__(
        self,
        store: Redis,
        name: str,
        decode: Callable[[bytes | None], T],
        encode: Callable[[T], bytes],
        summary: Callable[[T], bytes] | None = None,
    ):
        self.store = store
        self.keys = [name + ":lock", name + ":version", name, summary_key(name)]
        self.decode = decode
        self.encode = encode
        self.summary = summary
        self._local = threading.Lock()  # this process's threads queue here, not on Redis
        self._version = -1
        self._value: T | None = None
        self._document = b""

    @contextmanager
    def hold(
        self,
        after: Callable[[T], None] | None = None,
        fingerprint: Callable[[T], Any] | None = None,
        first: Callable[[T], Callable[[], None] | None] | None = None,
    ) -> Iterator[T]:
        """The up-to-date object, this holder's alone until the block ends; then written back.

        ``after`` runs once the change is written and the lock released, still before any other
        thread of this process can hold the record (so it sees the object as it was kept).
        ``fingerprint``, for a block that rarely changes anything, is a cheap summary that moves
        with every change it may make: when it has not moved, the object is not encoded again.
        ``first`` is a change of its own made before the block's: when it changes the object it
        returns what to run once that change is written, and the change is kept whatever becomes
        of the block (the lock stays held between the two).
        """
        with self._queued():
            token = os.urandom(9).hex()
            try:
                version = self._take(token)
                value = self._current(version)
            except redis.RedisError as exc:
                self._release(token)
                raise StoreUnavailable(exc) from None
            except BaseException:
                self._release(token)
                raise
            try:
                done_first = first(value) if first is not None else None
                if done_first is not None:
                    self._write(token, value)
                    done_first()
                before = fingerprint(value) if fingerprint is not None else None
                yield value
                if fingerprint is not None and fingerprint(value) == before:
                    document, changed = self._document, False
                else:
                    document = self.encode(value)
                    changed = document != self._document
                summary = self.summary(value) if changed and self.summary else b""
                written = self.store.commit(
                    keys=self.keys, args=[token, document if changed else b"", summary]
                )
            except BaseException as exc:
                # The block (or the write) failed, maybe halfway through a change: this copy is
                # no longer trusted, and Redis still holds the state from before the block
                # (with ``first``'s change, written already).
                self._version, self._value = -1, None
                self._release(token)
                if isinstance(exc, redis.RedisError):
                    raise StoreUnavailable(exc) from None
                raise
            if written < 0:
                self._version, self._value = -1, None
                raise LockExpired()
            self._version, self._document = written, document
            if after is not None:
                after(value)

    @contextmanager
    def _queued(self) -> Iterator[None]:
        """This process's turn at the record: its threads queue here, as long as they would
        wait for the lock in Redis (a hot world must not take every thread of the pool while
        other worlds wait)."""
        if not self._local.acquire(timeout=self.store.lock_wait):
            raise WorldBusy(self.store.lock_wait)
        try:
            yield
        finally:
            self._local.release()

    def _write(self, token: str, value: T) -> None:
        """Write the object now, keeping the lock (see ``first``)."""
        document = self.encode(value)
        if document == self._document:
            return
        summary = self.summary(value) if self.summary else b""
        written = self.store.write(keys=self.keys, args=[token, document, summary])
        if written < 0:
            raise LockExpired()
        self._version, self._document = written, document

    def drop(self) -> None:
        """Forget this process's copy (the record was deleted or replaced)."""
        with self._local:
            self._version, self._value = -1, None

    def _take(self, token: str) -> int:
        deadline = time.monotonic() + self.store.lock_wait
        pause = 0.0005
        while True:
            version = self.store.take(keys=self.keys[:2], args=[token, self.store.lock_ms])
            if version is not None:
                return int(version)
            if time.monotonic() >= deadline:
                raise WorldBusy(self.store.lock_wait)
            time.sleep(pause)
            pause = min(pause * 2, 0.02)

    def _current(self, version: int) -> T:
        if version != self._version or self._value is None:
            document = cast(bytes | None, self.store.client.get(self.keys[2]))
            self._value = self.decode(document)
            self._document = document or b""
            self._version = version
        return self._value

    def _release(self, token: str) -> None:
        try:
            self.store.release(keys=self.keys[:1], args=[token])
        except redis.RedisError:
            pass  # the lock runs out by itself


def delete(store: Redis, name: str, *more: str) -> None:
    """Remove a record (and other keys with it); the version moves on so that copies reload."""
    pipe = store.client.pipeline()
    pipe.delete(name, summary_key(name), *more)
    pipe.incr(name + ":version")
    pipe.execute()
