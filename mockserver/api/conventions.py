"""Stored collections by upstream's conventions, over the document (fidelity ``stored``).

A version's table (``Collection`` rows) names each stored collection: its paths, its id prefix,
its alternative keys and the fields naming other objects. The operation's shape (create, get,
update, delete, search, list, lookup) comes from its method and path; its answer from the
document's schemas. The rules are upstream's repositories': a create keeps the request's fields
the answer has, plus id, tenant, environment, ``published``, timestamps on the world's clock and
the system user; an update merges; a delete archives (a get still answers it, searches leave it
out unless asked); searches and lists apply the common filters and answer ``{items,
pagination}``. Objects live in ``world.records[collection][id]`` as JSON values. Nothing here
has an effect on another object: that is what ``stored`` says.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ..domain import errors
from ..domain.clock import format_timestamp
from ..domain.models import SYSTEM_USER
from . import fields

if TYPE_CHECKING:
    from ..domain.world import World
    from . import Handler

SHAPES = ("create", "get", "update", "delete", "search", "list", "lookup", "latest")
# Keys of a search or list that say how to page, sort or show, not what to find.
NOT_FILTERS = frozenset({"limit", "offset", "order", "sort", "filters", "expand", "start_time", "end_time"})


@dataclass(frozen=True)
class Ref:
    """A request field naming another object: the book or collection it must be in, found by
    ``by`` (its id, or another key such as a code); ``keep`` is the field the object's id is
    kept under (the same field when None)."""

    field: str
    target: str
    by: str = "id"
    keep: str | None = None
    missing: str = ""  # upstream's hint when none is found, {id} the key (else the target's)


@dataclass(frozen=True)
class Collection:
    """One stored collection of a version's table."""

    name: str  # its key in world.records
    paths: tuple[str, ...]  # path bases (/coupons, /taxes/rates)
    prefix: str  # upstream's id prefix, with its underscore (coupon_)
    not_found: str  # upstream's hint, {id} the id asked for
    internal: str  # upstream's raw error
    keys: dict[str, str] = field(default_factory=dict)  # path segment -> field (/coupons/code/{code})
    refs: tuple[Ref, ...] = ()
    # entity_type value -> the book or collection entity_id must name
    entities: dict[str, str] = field(default_factory=dict)
    shapes: frozenset[str] = frozenset(SHAPES)  # the shapes that are stored (the rest: not bound)
    deleted: str = ""  # a delete's message where the answer has one
    key_not_found: str = ""  # the hint for a lookup by key, {key} the key
    # a field no two published objects share, and upstream's hint (409) when a create repeats it
    unique: tuple[str, str] | None = None
    # a path segment answering the newest published object (GET /costs/active), and upstream's
    # hint and raw error when there is none
    latest: tuple[str, str, str] | None = None
    # fields a create must give when another has a value: (field, value, required field, hint, raw)
    requires: tuple[tuple[str, str, str, str, str], ...] = ()


# The modelled books a reference may name (World attributes), with upstream's words when the
# object is missing.
BOOKS: dict[str, tuple[str, str]] = {
    "customers": ("Customer with ID {id} was not found", "ent: customer not found"),
    "features": ("Feature with ID {id} was not found", "ent: feature not found"),
    "plans": ("Plan with ID {id} was not found", "ent: plan not found"),
    "prices": ("Price with ID {id} was not found", "ent: price not found"),
    "subscriptions": ("Subscription not found", "ent: subscription not found"),
    "wallets": ("Wallet not found", "ent: wallet not found"),
    "invoices": ("Invoice {id} was not found", "invoice not found"),
    "meters": ("Meter not found", "ent: meter not found"),
}
# Kept as records by the modelled operations that add them (entitlements): found there too.
RECORD_BOOKS: dict[str, tuple[str, str]] = {
    "entitlements": ("Entitlement not found", "ent: entitlement not found"),
}


def bind(op: Any, collections: Any) -> Handler | None:
    """The handler of ``op`` (an ``http.spec.Operation``) if it is one of a stored collection's
    operations in ``collections`` (the version's table), else None."""
    found = shape_of(op, collections or ())
    if found is None:
        return None
    shape, collection, key = found
    return _HANDLERS[shape](op, collection, key, collections)


def shape_of(op: Any, collections: Any) -> tuple[str, Collection, str] | None:
    """(shape, collection, the key field of a lookup) of an operation, from its method and path
    under the longest base of the table that holds it; None when it has no stored shape."""
    best: tuple[str, Collection, str] | None = None
    longest = -1
    for collection in collections:
        for base in collection.paths:
            if op.path != base and not op.path.startswith(base + "/"):
                continue
            if len(base) <= longest:
                continue
            parts = [p for p in op.path[len(base) :].split("/") if p]
            shape, key = _shape(op.method, parts, collection)
            if shape is not None and shape in collection.shapes:
                best, longest = (shape, collection, key), len(base)
            elif shape is not None or not parts:
                best, longest = None, len(base)  # the base's own operation, not stored
    return best


def _shape(method: str, parts: list[str], collection: Collection) -> tuple[str | None, str]:
    param = len(parts) == 1 and parts[0].startswith("{")
    if not parts:
        return {"POST": "create", "GET": "list"}.get(method), ""
    if parts == ["search"] and method == "POST":
        return "search", ""
    if param:
        return {"GET": "get", "PUT": "update", "DELETE": "delete"}.get(method), ""
    if collection.latest and parts == [collection.latest[0]] and method == "GET":
        return "latest", ""
    if len(parts) == 2 and parts[0] in collection.keys and parts[1].startswith("{") and method == "GET":
        return "lookup", collection.keys[parts[0]]
    return None, ""


# ---- fitting values to the document's schemas -------------------------------------------------

_MISSING = object()


def fit(value: Any, schema: dict[str, Any] | None) -> Any:
    """``value`` as ``schema`` takes it: numbers as strings where it says string, objects cut to
    its properties, items that fit; ``_MISSING`` when it cannot (the field is left out, which
    every answer of the document allows: none has required fields)."""
    if not schema:
        return value
    for combined in ("anyOf", "oneOf"):
        if combined in schema:
            for option in schema[combined]:
                fitted = fit(value, option)
                if fitted is not _MISSING:
                    return fitted
            return _MISSING
    if "allOf" in schema:
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            merged = {
                **merged,
                **part,
                "properties": {**merged.get("properties", {}), **part.get("properties", {})},
            }
        return fit(value, {k: v for k, v in merged.items() if v or k != "properties"})
    kinds = schema.get("type")
    kinds = [kinds] if isinstance(kinds, str) else list(kinds or [])
    if not kinds:
        kinds = ["object"] if "properties" in schema else []
    if value is None:
        return None if "null" in kinds or not kinds else _MISSING
    if "enum" in schema and value not in schema["enum"]:
        return _MISSING
    if not kinds:
        return value
    for kind in kinds:
        fitted = _fit_kind(value, kind, schema)
        if fitted is not _MISSING:
            return fitted
    return _MISSING


def _fit_kind(value: Any, kind: str, schema: dict[str, Any]) -> Any:
    number = isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)
    if kind == "string":
        if isinstance(value, str):
            return value
        return fields.shown(Decimal(str(value))) if number and _finite(value) else _MISSING
    if kind == "integer":
        return value if isinstance(value, int) and not isinstance(value, bool) else _MISSING
    if kind == "number":
        return plain(value) if number else _MISSING
    if kind == "boolean":
        return value if isinstance(value, bool) else _MISSING
    if kind == "array":
        if not isinstance(value, list):
            return _MISSING
        items = [fit(item, schema.get("items")) for item in value]
        return [item for item in items if item is not _MISSING]
    if kind == "object":
        if not isinstance(value, dict):
            return _MISSING
        properties = schema.get("properties")
        extra = schema.get("additionalProperties", True)
        out = {}
        for name, item in value.items():
            inner = properties.get(name) if properties else None
            if inner is None and (properties or extra is False):
                continue  # a field the answer does not have
            fitted = fit(item, inner if inner is not None else (extra if isinstance(extra, dict) else None))
            if fitted is not _MISSING:
                out[name] = fitted
        return out
    return _MISSING


def _finite(value: Any) -> bool:
    return math.isfinite(value) if isinstance(value, (float, Decimal)) else True


# What a record may hold, as the state document takes it back (``state.codec.load_json``): a body
# past these is refused, not kept in a shape that a world's own document could not load again.
MAX_DEPTH = 32
INT64 = 2**63


def plain(value: Any, where: str = "", depth: int = 0) -> Any:
    """A request's JSON value as a record holds it: decimals (how bodies are read) as integers or
    floats, as JSON reads them back from Redis. Raises a 400 naming the field for an integer past
    64 bits, a number past a float's range or nesting deeper than MAX_DEPTH."""
    if depth > MAX_DEPTH:
        raise errors.validation("Invalid request body", f"nested deeper than {MAX_DEPTH} levels", field=where)
    if isinstance(value, dict):
        return {k: plain(v, f"{where}.{k}" if where else k, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(value)]
    if isinstance(value, Decimal):
        if not value.is_finite() or abs(value.adjusted()) > 400:
            raise errors.validation("Invalid request body", "must be a finite number", field=where)
        value = int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, int) and not isinstance(value, bool) and not -INT64 <= value < 2**64:
        raise errors.validation("Invalid request body", "must be a 64-bit integer", field=where)
    if isinstance(value, float) and not math.isfinite(value):
        raise errors.validation("Invalid request body", "must be a finite number", field=where)
    return value


def _success(op: Any) -> tuple[int, dict[str, Any] | None]:
    """The operation's documented success: its first 2xx status and that answer's schema."""
    for code in sorted(op.responses):
        if code.startswith("2"):
            return int(code), op.responses[code]
    return 200, None


def _object_schema(schema: dict[str, Any] | None) -> tuple[dict[str, Any], str | None]:
    """The object's own schema in an answer, and the envelope's field when the answer wraps it
    (``{"costsheet": {...}}``)."""
    schema = schema or {}
    properties = schema.get("properties") or {}
    if "id" not in properties and len(properties) == 1:
        ((name, inner),) = properties.items()
        if "id" in (inner.get("properties") or {}):
            return inner, name
    return schema, None


def _show(record: dict[str, Any], schema: dict[str, Any] | None) -> Any:
    if schema is None:  # an answer documented without a body
        return None
    inner, envelope = _object_schema(schema)
    shown = fit(record, inner)
    return {envelope: shown} if envelope else shown


# ---- finding objects -----------------------------------------------------------------------


def _book(world: World, name: str) -> dict[str, Any]:
    if name in BOOKS:
        return getattr(world, name)
    return world.records.get(name, {})


def _status(item: Any) -> Any:
    return item.get("status") if isinstance(item, dict) else getattr(item, "status", None)


def _value(item: Any, name: str) -> Any:
    return item.get(name) if isinstance(item, dict) else getattr(item, name, None)


def _missing(target: str, key: str, collections: Any) -> errors.ApiError:
    words = BOOKS.get(target) or RECORD_BOOKS.get(target)
    for collection in collections or ():
        if collection.name == target:
            words = (collection.not_found, collection.internal)
    hint, internal = words or (f"{target} not found", f"{target} not found")
    return errors.not_found(hint.format(id=key), internal, **{"id": key})


def find(world: World, target: str, key: str, by: str = "id") -> Any:
    """The object of book or collection ``target`` whose ``by`` is ``key`` (by another key than
    the id: a published one), or None."""
    book = _book(world, target)
    if by == "id":  # (world.invoices holds every invoice, a period's too)
        return book.get(key)
    if target == "customers" and by == "external_id":
        found = world.customer_by_external_id.get(key)
        return world.customers.get(found) if found else None
    for item in book.values():
        if _value(item, by) == key and _status(item) == "published":
            return item
    return None


def _check_refs(
    world: World, collection: Collection, body: dict[str, Any], collections: Any
) -> dict[str, Any]:
    """The fields naming other objects, each naming one that exists (else upstream's 404); the
    ids of those named by another key, under the field they are kept as."""
    found: dict[str, Any] = {}
    for ref in collection.refs:
        key = body.get(ref.field)
        if not key:
            continue
        item = find(world, ref.target, key, ref.by)
        if item is None:
            if ref.missing:
                raise errors.not_found(
                    ref.missing.format(id=key), f"{ref.target} not found", **{ref.field: key}
                )
            raise _missing(ref.target, key, collections)
        if ref.keep:
            found[ref.keep] = _value(item, "id")
    kind, entity_id = body.get("entity_type"), body.get("entity_id")
    target = collection.entities.get(kind) if isinstance(kind, str) else None
    if target and entity_id and find(world, target, entity_id) is None:
        raise _missing(target, entity_id, collections)
    return found


def _get(world: World, collection: Collection, object_id: str, collections: Any) -> dict[str, Any]:
    record = world.records.get(collection.name, {}).get(object_id)
    if record is None:
        raise _missing(collection.name, object_id, collections)
    return record


# ---- the shapes -----------------------------------------------------------------------------


def _stamp(world: World) -> tuple[datetime, str]:
    now = world.now()
    return now, format_timestamp(now)


def _create(op: Any, collection: Collection, key: str, collections: Any) -> Handler:
    status, schema = _success(op)
    inner, _ = _object_schema(schema)
    properties = inner.get("properties") or {}

    def handle(world: World, params: dict[str, Any], body: Any) -> tuple[int, Any]:
        body = plain(body or {})
        for name, value, needed, hint, internal in collection.requires:
            if body.get(name) == value and not body.get(needed):
                raise errors.validation(hint, internal, **{name: value})
        kept = _check_refs(world, collection, body, collections)
        if collection.unique and body.get(collection.unique[0]):
            name, hint = collection.unique
            if find(world, collection.name, body[name], name) is not None:
                raise errors.conflict(
                    hint.format(value=body[name]), "ent: constraint failed", **{name: body[name]}
                )
        now, stamp = _stamp(world)
        record = fit({name: value for name, value in body.items() if name in properties}, inner)
        record.update(kept)
        object_id = world.new_id(collection.prefix, now)
        made: dict[str, Any] = {
            "id": object_id,
            "tenant_id": world.tenant_id,
            "environment_id": world.environment_id,
            "status": "published",
            "created_at": stamp,
            "updated_at": stamp,
            "created_by": SYSTEM_USER,
            "updated_by": SYSTEM_USER,
            "metadata": record.get("metadata") or {},
        }
        # status and times are kept whatever the answer shows: searches filter and sort by them
        record.update({name: value for name, value in made.items() if name in properties or name in _KEPT})
        record = {"id": object_id, **{k: v for k, v in record.items() if k != "id"}}
        world.records.setdefault(collection.name, {})[object_id] = record
        return status, _show(record, schema)

    return handle


def _read(op: Any, collection: Collection, key: str, collections: Any) -> Handler:
    status, schema = _success(op)

    def handle(world: World, params: dict[str, Any], body: Any) -> tuple[int, Any]:
        if key:  # a lookup by another key: a published object
            value = str(next(iter(params.values()), ""))
            record = find(world, collection.name, value, key)
            if record is None:
                hint = collection.key_not_found or collection.not_found
                raise errors.not_found(hint.format(key=value, id=value), collection.internal, **{key: value})
        else:
            record = _get(world, collection, params["id"], collections)
        return status, _show(record, schema)

    return handle


def _update(op: Any, collection: Collection, key: str, collections: Any) -> Handler:
    status, schema = _success(op)
    inner, _ = _object_schema(schema)
    properties = inner.get("properties") or {}

    def handle(world: World, params: dict[str, Any], body: Any) -> tuple[int, Any]:
        record = _get(world, collection, params["id"], collections)
        body = plain(body or {})
        kept = _check_refs(world, collection, body, collections)
        changes = fit({k: v for k, v in body.items() if k in properties and k not in _OWN}, inner)
        record.update(changes)
        record.update(kept)
        _, stamp = _stamp(world)
        record.update({k: v for k, v in (("updated_at", stamp), ("updated_by", SYSTEM_USER)) if k in record})
        return status, _show(record, schema)

    return handle


_KEPT = frozenset({"status", "created_at", "updated_at"})
_OWN = frozenset({"id", "tenant_id", "environment_id", "status", "created_at", "created_by"})


def _delete(op: Any, collection: Collection, key: str, collections: Any) -> Handler:
    status, schema = _success(op)
    properties = (schema or {}).get("properties") or {}

    def handle(world: World, params: dict[str, Any], body: Any) -> tuple[int, Any]:
        record = _get(world, collection, params["id"], collections)
        _, stamp = _stamp(world)
        record["status"] = "archived"
        record.update({k: v for k, v in (("updated_at", stamp), ("updated_by", SYSTEM_USER)) if k in record})
        if schema is None:
            return status, None
        if set(properties) <= {"message", "id"}:  # a message (and the id), not the object
            answer = {"message": collection.deleted or f"{collection.name} deleted successfully"}
            if "id" in properties:
                answer["id"] = record["id"]
            return status, fit(answer, schema)
        return status, _show(record, schema)

    return handle


def _search(op: Any, collection: Collection, key: str, collections: Any) -> Handler:
    status, schema = _success(op)
    item_schema = (((schema or {}).get("properties") or {}).get("items") or {}).get("items")
    known = frozenset((item_schema or {}).get("properties") or ())
    from_query = op.method == "GET"

    def handle(world: World, params: dict[str, Any], body: Any) -> tuple[int, Any]:
        query = plain(dict(params) if from_query else (body or {}))
        limit, offset = _page(query)
        found = [r for r in world.records.get(collection.name, {}).values() if _matches(r, query, known)]
        found = _sorted(found, query)
        items = [fit(r, item_schema) for r in found[offset : offset + limit]]
        return status, {"items": items, "pagination": {"total": len(found), "limit": limit, "offset": offset}}

    return handle


def _latest(op: Any, collection: Collection, key: str, collections: Any) -> Handler:
    status, schema = _success(op)
    _, hint, internal = collection.latest or ("", "", "")

    def handle(world: World, params: dict[str, Any], body: Any) -> tuple[int, Any]:
        published = [r for r in world.records.get(collection.name, {}).values() if _matches(r, {})]
        if not published:
            raise errors.not_found(hint, internal)
        return status, _show(_sorted(published, {})[0], schema)

    return handle


_HANDLERS: dict[str, Callable[[Any, Collection, str, Any], Handler]] = {
    "latest": _latest,
    "create": _create,
    "get": _read,
    "lookup": _read,
    "update": _update,
    "delete": _delete,
    "search": _search,
    "list": _search,
}


# ---- searches ---------------------------------------------------------------------------------


def _page(query: dict[str, Any]) -> tuple[int, int]:
    limit, offset = query.get("limit") or 50, query.get("offset") or 0
    if not isinstance(limit, int) or not 1 <= limit <= 1000:
        raise errors.validation(
            "Invalid filter parameters", "invalid limit", limit="must be between 1 and 1000"
        )
    if not isinstance(offset, int) or offset < 0:
        raise errors.validation("Invalid filter parameters", "invalid offset", offset="must be non-negative")
    return limit, offset


def _matches(record: dict[str, Any], query: dict[str, Any], known: frozenset[str] = frozenset()) -> bool:
    """Whether a record passes a search's common filters: ``X_ids`` (the field ``X_id``, or the
    record's own id), ``X_codes`` and ``lookup_keys``, ``status`` (published unless asked), any
    other field asked by name, the created time range and ``filters[]``. ``known``: the fields
    the collection's objects have (a filter on one a record leaves out excludes it)."""
    if record.get("status", "published") != (query.get("status") or "published"):
        return False
    for name, wanted in query.items():
        if name in NOT_FILTERS or name == "status" or wanted is None or wanted == "" or wanted == []:
            continue
        if isinstance(wanted, list):
            single = name[:-1] if name.endswith("s") else name
            if single in known:
                field_name = single  # entity_ids, coupon_codes, lookup_keys
            elif single.endswith("_id"):
                field_name = "id"  # the collection's own ids (coupon_ids)
            elif single.endswith("_code") and "code" in known:
                field_name = "code"
            else:
                continue  # a filter on what the collection does not hold
            if record.get(field_name) not in wanted:
                return False
        elif name in known and not isinstance(wanted, dict) and record.get(name) != wanted:
            return False
    start, end = query.get("start_time"), query.get("end_time")
    if start or end:
        created = (
            fields.time_value(record.get("created_at"), "created_at") if record.get("created_at") else None
        )
        if created is None:
            return False
        if start and created < fields.time_value(start, "start_time"):
            return False
        if end and created > fields.time_value(end, "end_time"):
            return False
    return all(_condition(c)(record) for c in query.get("filters") or ())


def _condition(cond: dict[str, Any]) -> Callable[[dict[str, Any]], bool]:
    """One entry of ``filters[]``, on any field the record has."""
    return fields.filter_condition(cond, dict.get)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, Decimal)):
        return fields.shown(Decimal(str(value)))
    return value if isinstance(value, str) else str(value)


def _sorted(found: list[dict[str, Any]], query: dict[str, Any]) -> list[dict[str, Any]]:
    """Newest first (``order``: asc for oldest), then each ``sort[]`` rule, the first deciding."""
    found = sorted(found, key=lambda r: (str(r.get("created_at", "")), r.get("id", "")))
    if query.get("order", "desc") != "asc":
        found.reverse()
    rules = query.get("sort") or []
    if isinstance(rules, list):
        for rule in reversed(rules):
            if isinstance(rule, dict) and isinstance(rule.get("field"), str):
                name = rule["field"]
                found.sort(
                    key=lambda r: (r.get(name) is None, _text(r.get(name) or "")),
                    reverse=rule.get("direction") == "desc",
                )
    return found
