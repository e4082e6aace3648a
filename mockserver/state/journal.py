"""The request journal: what one world's key sent and what it got back, newest first, bounded.

Recording sits on every request's path, so an entry keeps raw values (bytes, the query string)
and only reading the journal turns them into JSON. The oldest entries fall off past the bound.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

from ..domain.clock import format_timestamp
from ..text import PathGlob  # the same path globs as fault rules

BODY_LIMIT = 64 * 1024  # bytes of a request body kept per entry; the rest is cut


@dataclass(slots=True)
class Entry:
    at: datetime  # wall-clock time the request arrived
    method: str
    path: str
    query: bytes
    body: bytes
    body_size: int
    status: int
    duration_ms: float
    request_id: str
    api_key: str  # masked
    fault: dict[str, Any] | None = None  # what fault injection applied (plain JSON values)
    # Why the API could not take the request as one of its operations (no route, refused as
    # invalid): what ``/_mock/verify/unexpected`` lists. None for every other answer.
    unexpected: str | None = None
    # The documented operation that answered and how faithfully (modelled, stored, schema,
    # none); None for a request that reached no operation.
    operation_id: str | None = None
    fidelity: str | None = None


class Journal:
    """A bounded, thread-safe list of entries; ``size`` 0 keeps nothing."""

    def __init__(self, size: int):
        self.size = size
        self._entries: deque[Entry] = deque(maxlen=size or None)
        self._lock = threading.Lock()

    def record(self, entry: Entry) -> None:
        if not self.size:
            return
        with self._lock:
            self._entries.append(entry)

    def clear(self) -> int:
        with self._lock:
            dropped = len(self._entries)
            self._entries.clear()
        return dropped

    def entries(
        self,
        method: str | None = None,
        path: str | None = None,
        status: str | None = None,
        limit: int | None = None,
    ) -> list[Entry]:
        """Newest first. ``path`` is a glob (``*`` one segment, ``**`` any depth); ``status`` is
        ``404`` or ``4xx``."""
        with self._lock:
            snapshot = list(self._entries)
        snapshot.reverse()
        return select(snapshot, method, path, status, limit)

    def __len__(self) -> int:
        return len(self._entries)


def select(
    newest_first: list[Entry],
    method: str | None = None,
    path: str | None = None,
    status: str | None = None,
    limit: int | None = None,
) -> list[Entry]:
    """The entries that pass the journal's filters, in the order given."""
    wanted_method = method.upper() if method else None
    path_glob = PathGlob(path) if path else None
    found = []
    for entry in newest_first:
        if wanted_method and entry.method != wanted_method:
            continue
        if path_glob and not path_glob.match(entry.path):
            continue
        if status and not status_matches(entry.status, status):
            continue
        found.append(entry)
        if limit is not None and len(found) >= limit:
            break
    return found


def status_matches(status: int, pattern: str) -> bool:
    """``201`` matches itself; ``2xx`` (any case) matches a whole class."""
    text = str(status)
    pattern = pattern.lower()
    return len(pattern) == 3 and all(p in ("x", s) for p, s in zip(pattern, text, strict=True))


def valid_status_pattern(pattern: str) -> bool:
    return len(pattern) == 3 and pattern[0] in "12345" and all(c.isdigit() or c in "xX" for c in pattern[1:])


def new_entry(
    at: datetime,
    method: str,
    path: str,
    query: bytes,
    body: bytes,
    status: int,
    duration_ms: float,
    request_id: str,
    api_key: str,
    fault: Any,
    unexpected: str | None = None,
    operation: tuple[str, str] | None = None,
) -> Entry:
    operation_id, fidelity = operation if operation is not None else (None, None)
    return Entry(
        at,
        method,
        path,
        query,
        body[:BODY_LIMIT],
        len(body),
        status,
        duration_ms,
        request_id,
        api_key,
        fault,
        unexpected,
        operation_id,
        fidelity,
    )


def as_json(entry: Entry) -> dict[str, Any]:
    """An entry as the journal endpoint shows it: the body parsed when it is JSON."""
    body: dict[str, Any] = {
        "time": format_timestamp(entry.at),
        "method": entry.method,
        "path": entry.path,
        "query": _query(entry.query),
        "body": body_of(entry),
        "status": entry.status,
        "duration_ms": round(entry.duration_ms, 3),
        "request_id": entry.request_id,
        "api_key": entry.api_key,
        "fault": entry.fault,
        "operation_id": entry.operation_id,
        "fidelity": entry.fidelity,
    }
    if entry.unexpected is not None:
        body["unexpected"] = entry.unexpected
    if entry.body_size > len(entry.body):
        body["body_truncated"] = True
        body["body_size"] = entry.body_size
    return body


def _query(raw: bytes) -> dict[str, Any]:
    parsed = parse_qs(raw.decode("latin-1"), keep_blank_values=True)
    return {name: values[0] if len(values) == 1 else values for name, values in parsed.items()}


def body_of(entry: Entry) -> Any:
    """The body as JSON when it is whole JSON (numbers with a fraction exact), else its text;
    None when there is none."""
    if not entry.body:
        return None
    text = entry.body.decode("utf-8", errors="replace")
    if entry.body_size == len(entry.body):
        try:
            return json.loads(text, parse_float=Decimal, parse_constant=_no_constant)
        except (ValueError, RecursionError):
            pass
    return text


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # NaN, Infinity: shown as text instead
