"""Answers shaped by the document alone (fidelity ``schema``): deterministic, nothing kept.

An operation's answer is its first documented 2xx status with a body built from that status's
schema: objects with their properties, ``id`` with upstream's prefix for the path, enums their
first value, strings ``""`` (date-times the world's clock), numbers 0, booleans false, arrays
empty, null only where nothing else fits, a list shape ``{items: [], pagination}`` with the
request's page. Request fields (body, path and query parameters) of the same name as a property
of the answer are echoed where their value fits that property's schema.

The skeleton (the body with its holes: ids, date-times, the page) is built once per operation on
its first answer; each answer copies it and fills the holes. The world is only read: ids are
ULIDs whose time is the world's clock and whose other 80 bits are a digest of the request, so
the same request at the same instant gets the same id, and the id generator does not move.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from jsonschema import Draft4Validator

from ..domain.clock import format_timestamp, millis
from ..domain.ids import ulid_text
from .prefixes import prefix_for

if TYPE_CHECKING:
    from . import Handler

# Objects nested deeper than this below the answer keep only their required properties:
# upstream's answers expand relations (an invoice's subscription's plan's prices ...) that a
# schema answer need not invent, and the document's recursive schemas stop here.
MAX_DEPTH = 3
DEFAULT_LIMIT = 50  # upstream's page size when a list is asked without one (types/filter.go)
_EPOCH = "1970-01-01T00:00:00Z"  # stands for the clock's now until an answer fills it in
_NOTHING = object()  # no value fits: the property is left out
# Where an answer differs from the skeleton: (path in the body, "id" or "now", the id's prefix).
Holes = list[tuple[tuple[str, ...], str, str]]


def bind(op: Any) -> Handler:
    """A handler answering ``op`` (an ``http.spec.Operation``) with a body built from its
    document: its first 2xx status, ids with ``op``'s prefix, request fields of the same name
    echoed, enums their first value; never random."""
    status, schema = documented_answer(op)
    names = {p.name for p in getattr(op, "parameters", ()) if p.location in ("path", "query")}
    shape: list[Skeleton] = []  # built on the first answer
    lock = threading.Lock()

    def answer(world: Any, params: dict[str, Any], body: Any) -> tuple[int, Any]:
        if schema is None:
            return status, None
        if not shape:
            with lock:
                if not shape:
                    shape.append(Skeleton(schema, prefix_for(op.path)))
        request = {name: value for name, value in params.items() if name in names}
        return status, shape[0].fill(world, op.operation_id, request, body)

    return answer


def documented_answer(op: Any) -> tuple[int, dict[str, Any] | None]:
    """The operation's first 2xx status and its schema (None: documented without a body)."""
    statuses = sorted(int(code) for code in op.responses if code.isdigit() and 200 <= int(code) < 300)
    if not statuses:
        return 200, None
    return statuses[0], op.responses[str(statuses[0])]


class Skeleton:
    """An answer's body with its holes, from a resolved response schema."""

    def __init__(self, schema: dict[str, Any], prefix: str | None):
        self.schema = schema
        self.holes: Holes = []  # (path, kind, id prefix)
        body = _build(schema, 0, (), self.holes, prefix or "")
        if body is _NOTHING:  # a schema nothing satisfies: the plainest body
            body, self.holes = {}, []
        self.body = body
        top = _object_branch(schema)
        self.properties: dict[str, Any] = top.get("properties", {}) if top else {}
        self.is_page = isinstance(self.body, dict) and _is_page(top or {})
        if self.is_page:  # a list's items are the collection's, never the request's
            self.properties = {k: v for k, v in self.properties.items() if k not in ("items", "pagination")}
        # each nested id's own 80 bits: the request's digest mixed with its place in the body
        self.salts = {path: _digest("", list(path), None) for path, kind, _ in self.holes if kind == "id"}
        self._fits: dict[str, Callable[[Any], bool]] = {}

    def fill(self, world: Any, operation_id: str, request: dict[str, Any], body: Any) -> Any:
        """This answer's body: the skeleton copied, the request echoed, the holes filled."""
        value = _copy(self.body)
        echoed: set[str] = set()
        if isinstance(value, dict):
            sent = {**request, **body} if isinstance(body, dict) else request
            for name, given in sent.items():
                if name in self.properties and self._fits_property(name, given):
                    value[name] = given
                    echoed.add(name)
            page = value.get("pagination") if self.is_page else None
            if isinstance(page, dict):
                limit, offset = sent.get("limit"), sent.get("offset")
                if "limit" in page:
                    page["limit"] = limit if _count(limit) and limit else DEFAULT_LIMIT
                if "offset" in page:
                    page["offset"] = offset if _count(offset) else 0
        now = world.now()
        stamp: str | None = None
        digest: int | None = None
        for path, kind, prefix in self.holes:
            if path and path[0] in echoed:
                continue
            if kind == "now":
                stamp = stamp or format_timestamp(now)
                filled: Any = stamp
            else:
                if digest is None:
                    digest = _digest(operation_id, request, body)
                filled = prefix + ulid_text(millis(now), digest ^ self.salts[path] if path[:-1] else digest)
            value = _put(value, path, filled)
        return value

    def _fits_property(self, name: str, given: Any) -> bool:
        check = self._fits.get(name)
        if check is None:
            check = self._fits[name] = _checker(self.properties[name])
        return check(given)


_ANNOTATIONS = {"type", "description", "example", "title", "readOnly", "format"}


def _checker(schema: Any) -> Callable[[Any], bool]:
    """Whether a value fits ``schema``: a type test where the schema is only a type (most
    properties), jsonschema's validator otherwise."""
    if isinstance(schema, dict) and set(schema) <= _ANNOTATIONS and isinstance(schema.get("type"), str):
        kinds = [schema["type"]]
        return lambda value: _of_type(value, kinds)
    validator = Draft4Validator(schema)
    return lambda value: bool(validator.is_valid(value))


def _digest(operation_id: str, request: Any, body: Any) -> int:
    """80 bits of the request: the random part of its ids."""
    text = json.dumps([operation_id, request, body], sort_keys=True, default=str, separators=(",", ":"))
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=10).digest(), "big")


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _put(value: Any, path: tuple[str, ...], filled: Any) -> Any:
    if not path:
        return filled
    node = value
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = filled
    return value


def _copy(value: Any) -> Any:
    """A deep copy of JSON values, several times faster than copy.deepcopy."""
    if isinstance(value, dict):
        return {key: _copy(item) if isinstance(item, (dict, list)) else item for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


def _is_page(schema: dict[str, Any]) -> bool:
    properties = schema.get("properties", {})
    items, page = properties.get("items"), properties.get("pagination")
    return isinstance(items, dict) and isinstance(page, dict)


# Nested objects named after a collection get that collection's prefix (an invoice's
# ``customer`` is ``cust_...``); others' ids are left empty.
@functools.lru_cache(maxsize=1024)
def _nested_prefix(name: str) -> str:
    for base in (f"/{name}s", f"/{name}", f"/{name}es"):
        prefix = prefix_for(base)
        if prefix is not None:
            return prefix
    return ""


def _of_type(value: Any, kinds: list[str]) -> bool:
    """Whether a JSON value is of one of the JSON Schema types (an integer is a number too)."""
    if value is None:
        return "null" in kinds
    if isinstance(value, bool):
        return "boolean" in kinds
    if isinstance(value, (int, float)):
        whole = isinstance(value, int) or value.is_integer()
        return "number" in kinds or (whole and "integer" in kinds)
    if isinstance(value, str):
        return "string" in kinds
    return ("object" if isinstance(value, dict) else "array") in kinds


def _types(schema: dict[str, Any]) -> list[str]:
    kind = schema.get("type")
    kinds = [kind] if isinstance(kind, str) else list(kind) if isinstance(kind, list) else []
    if not kinds:
        if "properties" in schema or "additionalProperties" in schema:
            kinds = ["object"]
        elif "items" in schema:
            kinds = ["array"]
    if schema.get("nullable") is True and "null" not in kinds:
        kinds.append("null")
    # null last: it is the answer only where nothing else fits
    return sorted(kinds, key=lambda k: k == "null")


def _merged(schema: dict[str, Any]) -> dict[str, Any]:
    """``allOf`` folded into one schema (properties and required joined, the rest overlaid)."""
    parts = schema.get("allOf")
    if not isinstance(parts, list):
        return schema
    merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
    for part in parts:
        part = _merged(part) if isinstance(part, dict) else {}
        for key, item in part.items():
            if key == "properties":
                merged["properties"] = {**merged.get("properties", {}), **item}
            elif key == "required":
                merged["required"] = sorted({*merged.get("required", []), *item})
            elif key not in merged:
                merged[key] = item
    return merged


def _object_branch(schema: dict[str, Any]) -> dict[str, Any] | None:
    """The object schema an answer's top level is, through allOf, anyOf and oneOf."""
    schema = _merged(schema)
    if "object" in _types(schema):
        return schema
    for key in ("anyOf", "oneOf"):
        for branch in schema.get(key) or ():
            found = _object_branch(branch) if isinstance(branch, dict) else None
            if found is not None:
                return found
    return None


def _build(
    schema: Any,
    depth: int,
    path: tuple[str, ...],
    holes: Holes,
    prefix: str,
) -> Any:
    """The plainest value ``schema`` allows, recording the holes to fill per answer;
    _NOTHING when none is found (an unresolved ``$ref``, a contradiction)."""
    if not isinstance(schema, dict):
        return _NOTHING if schema is False else {}
    schema = _merged(schema)
    if "$ref" in schema:
        return _NOTHING
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        # the first value of the schema's type (null last); none: the document contradicts
        # itself (upstream's types.Duration is an object whose enum is a string)
        kinds = _types(schema)
        fitting = [v for v in schema["enum"] if not kinds or _of_type(v, kinds)]
        fitting.sort(key=lambda v: v is None)
        return fitting[0] if fitting else _NOTHING
    for key in ("oneOf", "anyOf"):
        if isinstance(schema.get(key), list):
            return _choose(schema, key, depth, path, holes, prefix)
    kinds = _types(schema)
    if not kinds:
        return {}  # any value: swag's interface{}
    for kind in kinds:
        value = _typed(kind, schema, depth, path, holes, prefix)
        if value is not _NOTHING:
            return value
    return _NOTHING


def _choose(
    schema: dict[str, Any],
    key: str,
    depth: int,
    path: tuple[str, ...],
    holes: Holes,
    prefix: str,
) -> Any:
    """The first branch (null ones last) whose value the whole schema accepts: under ``oneOf``
    a value two branches accept is refused."""
    rest = {k: v for k, v in schema.items() if k != key}
    branches = sorted(schema[key], key=lambda b: isinstance(b, dict) and _types(b) == ["null"])
    whole = Draft4Validator(schema)
    for branch in branches:
        trial: Holes = []
        joined = _merged({"allOf": [rest, branch]}) if rest else branch
        value = _build(joined, depth, path, trial, prefix)
        if value is not _NOTHING and whole.is_valid(value):
            holes.extend(trial)
            return value
    return _NOTHING


def _typed(
    kind: str,
    schema: dict[str, Any],
    depth: int,
    path: tuple[str, ...],
    holes: Holes,
    prefix: str,
) -> Any:
    if kind == "object":
        return _object(schema, depth, path, holes, prefix)
    if kind == "array":
        count = int(schema.get("minItems") or 0)
        if not count:
            return []
        item = _build(schema.get("items", {}), depth + 1, path, [], "")
        return _NOTHING if item is _NOTHING else [_copy(item) for _ in range(count)]
    if kind == "string":
        return _string(schema, path, holes)
    if kind in ("integer", "number"):
        return _number(schema, kind == "integer")
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    return _NOTHING


def _object(
    schema: dict[str, Any],
    depth: int,
    path: tuple[str, ...],
    holes: Holes,
    prefix: str,
) -> Any:
    properties = schema.get("properties") or {}
    required = set(schema.get("required") or ())
    body: dict[str, Any] = {}
    own: Holes = []  # the caller's only once this object has a value
    for name, sub in properties.items():
        if depth >= MAX_DEPTH and name not in required:
            continue
        if name == "id" and _plain_string(sub):
            body[name] = ""
            own.append(((*path, name), "id", prefix))
            continue
        inner = _nested_prefix(name) if isinstance(sub, dict) else ""
        value = _build(sub, depth + 1, (*path, name), own, inner)
        if value is not _NOTHING:
            body[name] = value
        elif name in required:
            return _NOTHING
    holes.extend(own)
    return body


def _plain_string(schema: Any) -> bool:
    if not isinstance(schema, dict):
        return False
    schema = _merged(schema)
    keys = set(schema) - {"type", "description", "example", "title", "readOnly", "nullable"}
    return "string" in _types(schema) and not keys


def _string(schema: dict[str, Any], path: tuple[str, ...], holes: Holes) -> Any:
    if schema.get("format") == "date-time":
        holes.append((path, "now", ""))
        return _EPOCH
    low = int(schema.get("minLength") or 0)
    high = schema.get("maxLength")
    pattern = schema.get("pattern")
    example = schema.get("example")
    # "" where it fits; else a short text that does (a decimal's pattern takes "0")
    for text in ("", example, "0", "x" * max(low, 1)):
        if not isinstance(text, str) or len(text) < low or (high is not None and len(text) > high):
            continue
        if pattern is None or re.search(pattern, text):
            return text
    return _NOTHING


def _number(schema: dict[str, Any], integer: bool) -> Any:
    """0, or the bound nearest to it (Draft 4's exclusive bounds are booleans)."""
    low, high = schema.get("minimum"), schema.get("maximum")
    value: float = 0
    if isinstance(low, (int, float)) and low >= 0:
        value = low + (1 if schema.get("exclusiveMinimum") is True else 0)
    elif isinstance(high, (int, float)) and high <= 0:
        value = high - (1 if schema.get("exclusiveMaximum") is True else 0)
    if integer:
        return math.ceil(value)
    return int(value) if float(value).is_integer() else value
