"""The records of a world (dataclasses of ``domain.models``) as JSON values and back, from their
type hints: every nested generic is checked on the way in (dict keys and values, lists, sets,
tuples, optional values, decimals, timestamps, nested records), as are the ranges the API keeps
values in, so a state document cannot give a world a value its later requests fail on.

How each type is read and written is worked out once per type (a state document is read on every
request of a world kept in Redis). A field whose declared type says less than the domain relies on
(``Wallet.config: dict[str, Any]``) is read by the narrower type ``NARROWER`` gives it."""

from __future__ import annotations

import copy
import dataclasses
import math
import types
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import (
    Annotated,
    Any,
    NotRequired,
    TypedDict,
    Union,
    get_args,
    get_origin,
    get_type_hints,
    is_typeddict,
)

from ..domain import money
from ..domain.clock import format_timestamp, parse_timestamp
from ..domain.models import (
    AutoTopup,
    Invoice,
    LineItem,
    Meter,
    Price,
    Subscription,
    Tier,
    Transaction,
    Wallet,
)
from ..text import excerpt

INT64 = 2**63
# The largest decimal a document may hold: 20 digits before the point, beyond any balance or
# usage total the API lets a world reach, and small enough for the exact arithmetic (60 digits).
MAX_DECIMAL = Decimal("1e20")
MAX_DECIMAL_TEXT = 100  # characters of a decimal written as a string
# Periods in one billing period: what the API takes (the domain ends a period that would pass
# year 9999 at the end of time).
MAX_PERIOD_COUNT = INT64 - 1
UINT64 = 2**64  # the widest integer the API takes (a tier's up_to)


class StateError(ValueError):
    """A state document that cannot be imported: which field, and what is wrong with it."""

    def __init__(self, field: str, problem: str):
        super().__init__(f"{field} {problem}")
        self.field = field
        self.problem = problem


@dataclass(frozen=True)
class Check:
    """A range a value must be in (used in ``Annotated``): ``test`` says whether it is."""

    problem: str
    test: Callable[[Any], bool]


def _at_least(low: int) -> Check:
    return Check(f"must be at least {low}", lambda v: v is None or v >= low)


def _at_most(high: int) -> Check:
    return Check(f"must be at most {high}", lambda v: v is None or v <= high)


def _within(limit: Decimal) -> Check:
    return Check(f"must be within ±{limit}", lambda v: v is None or abs(v) <= limit)


def _one_of(*choices: str) -> Check:
    return Check(f"must be one of: {', '.join(choices)}", lambda v: v in choices)


NOT_NEGATIVE = _at_least(0)
POSITIVE = Check("must be greater than 0", lambda v: v is None or v > 0)
PRICE_TYPES = ("ALL", "USAGE", "FIXED")
# the meter aggregations charges.quantity counts (the API's enum)
AGGREGATIONS = ("COUNT", "SUM", "AVG", "COUNT_UNIQUE", "LATEST", "SUM_WITH_MULTIPLIER", "MAX", "WEIGHTED_SUM")


class WalletConfig(TypedDict):
    allowed_price_types: NotRequired[
        Annotated[
            list[str],
            Check(f"must hold only {', '.join(PRICE_TYPES)}", lambda v: all(t in PRICE_TYPES for t in v)),
        ]
    ]


# Objects that may hold keys beyond their declared ones, kept as they are (a 2025-05-24 wallet's
# config takes any key besides allowed_price_types).
OPEN: frozenset[type] = frozenset({WalletConfig})


def _decimal_text(value: str) -> bool:
    try:
        _decimal(value, "")
    except StateError:
        return False
    return True


DECIMAL_TEXT = Annotated[str, Check("must be a decimal string", _decimal_text)]


class _LineId(TypedDict, total=False):
    id: str  # a one-off line's own id (a period's line is its line item's)


class InvoiceLine(_LineId):
    """One line of an invoice, as ``usage._close_period`` writes it (a top-up's or a one-off's
    names no line item, price or meter: "")."""

    line_item_id: str
    price_id: str
    meter_id: str
    display_name: str
    price_type: str
    quantity: DECIMAL_TEXT
    amount: DECIMAL_TEXT


MONEY = _within(money.MAX_AMOUNT)
RATE = _within(money.MAX_RATE)
# Fields whose declared type says less than the domain relies on: (record type, field) -> the
# type a document's value is read by.
NARROWER: dict[tuple[type, str], Any] = {
    (Wallet, "config"): WalletConfig,
    (Wallet, "conversion_rate"): Annotated[Decimal, RATE, POSITIVE],
    (Wallet, "topup_conversion_rate"): Annotated[Decimal, RATE, POSITIVE],
    (Meter, "aggregation"): Annotated[str, _one_of(*AGGREGATIONS)],
    (Transaction, "conversion_rate"): Annotated[Decimal | None, RATE],
    (Transaction, "topup_conversion_rate"): Annotated[Decimal | None, RATE],
    (AutoTopup, "threshold"): Annotated[Decimal, MONEY],
    (AutoTopup, "amount"): Annotated[Decimal, MONEY, NOT_NEGATIVE],
    (AutoTopup, "cooldown_value"): Annotated[int | None, NOT_NEGATIVE],
    (Invoice, "lines"): list[InvoiceLine],
    (Invoice, "invoice_type"): Annotated[str, _one_of("SUBSCRIPTION", "ONE_OFF", "CREDIT")],
    (Invoice, "invoice_status"): Annotated[str, _one_of("DRAFT", "FINALIZED", "VOIDED", "SKIPPED")],
    (Invoice, "payment_status"): Annotated[
        str, _one_of("INITIATED", "PENDING", "PROCESSING", "SUCCEEDED", "OVERPAID", "FAILED", "REFUNDED")
    ],
    (Price, "amount"): Annotated[Decimal, MONEY],
    (Price, "billing_period_count"): Annotated[int, _at_least(1), _at_most(MAX_PERIOD_COUNT)],
    (Subscription, "billing_period_count"): Annotated[int, _at_least(1), _at_most(MAX_PERIOD_COUNT)],
    (Price, "divide_by"): Annotated[int | None, _at_least(1)],
    (Tier, "unit_amount"): Annotated[Decimal, MONEY, NOT_NEGATIVE],
    (Tier, "flat_amount"): Annotated[Decimal, MONEY, NOT_NEGATIVE],
    (Tier, "up_to"): Annotated[int | None, NOT_NEGATIVE],
    (LineItem, "count"): Annotated[int, NOT_NEGATIVE],
}


# ---- writing ---------------------------------------------------------------------------------


def dump(record: Any) -> dict[str, Any]:
    """A record's fields as JSON values: decimals as strings, times in RFC 3339, nested records."""
    out = {}
    plan = _WRITERS.get(type(record)) or _writers(type(record))
    for name, write in plan:
        value = getattr(record, name)
        out[name] = value if write is None or value is None else write(value)
    return out


_WRITERS: dict[type, list[tuple[str, Callable[[Any], Any] | None]]] = {}


def _writers(cls: type) -> list[tuple[str, Callable[[Any], Any] | None]]:
    hints = get_type_hints(cls)
    plan = _WRITERS[cls] = [(f.name, _writer(hints[f.name])) for f in dataclasses.fields(cls)]
    return plan


def _writer(kind: Any) -> Callable[[Any], Any] | None:
    origin, args = get_origin(kind), get_args(kind)
    if origin in (Union, types.UnionType):
        present = [a for a in args if a is not type(None)]
        return _writer(present[0]) if len(present) == 1 else None
    if dataclasses.is_dataclass(kind):
        return dump
    if origin is list:
        item = _writer(args[0])
        return (lambda items: [item(x) for x in items]) if item else list
    if origin is set:
        return sorted
    if kind is Decimal:
        return str
    if kind is datetime:
        return format_timestamp
    if origin is dict or kind is dict:
        return lambda value: copy.deepcopy(value) if value else {}
    return None


# ---- reading ---------------------------------------------------------------------------------

Reader = Callable[[Any, str], Any]


def load(cls: type, item: Any, where: str) -> Any:
    """A record of type ``cls`` from a document's object, every field checked. Raises StateError
    naming the field (``meters[0].filters.plan``)."""
    return _reader(cls)(item, where)


def load_value(kind: Any, value: Any, where: str) -> Any:
    """One value of type ``kind`` (``datetime``, ``Decimal | None``...) from a document."""
    return _reader(kind)(value, where)


@cache
def _reader(kind: Any) -> Reader:
    origin, args = get_origin(kind), get_args(kind)
    if origin is Annotated:
        return _checked(_reader(args[0]), args[1:])
    if origin in (Union, types.UnionType):
        present = [a for a in args if a is not type(None)]
        if len(present) != 1 or len(present) == len(args):
            raise TypeError(f"no reader for {kind!r}")
        inner = _reader(present[0])
        return lambda value, where: None if value is None else inner(value, where)
    if dataclasses.is_dataclass(kind) and isinstance(kind, type):
        return _record_reader(kind)
    if is_typeddict(kind):
        return _typed_dict_reader(kind)
    if origin in (list, set):
        return _list_reader(_reader(args[0]), kind, origin is set)
    if origin is tuple:
        return _tuple_reader(args, kind)
    if origin is dict:
        return _dict_reader(_reader(args[0]), _reader(args[1]), kind)
    simple = _SIMPLE.get(kind)
    if simple is None:
        raise TypeError(f"no reader for {kind!r}")
    return simple


def describe(kind: Any, plural: bool = False) -> str:
    """A type as a person reads it: ``a list of strings``, ``an object of lists of strings``."""
    origin, args = get_origin(kind), get_args(kind)
    if origin is Annotated:
        return describe(args[0], plural)
    if origin in (Union, types.UnionType):
        present = [a for a in args if a is not type(None)]
        return describe(present[0], plural) + (" or null" if not plural else "")
    if origin in (list, set, tuple) or kind is tuple:
        inner = "values" if not args or (args[-1] is Ellipsis and len(args) == 1) else describe(args[0], True)
        return f"arrays of {inner}" if plural else f"an array of {inner}"
    if origin is dict or kind is dict:
        inner = describe(args[1], True) if len(args) == 2 and args[1] is not Any else "values"
        return f"objects of {inner}" if plural else f"an object of {inner}"
    if dataclasses.is_dataclass(kind) or is_typeddict(kind):
        return "objects" if plural else "an object"
    words = {
        str: ("a string", "strings"),
        bool: ("true or false", "booleans"),
        int: ("an integer", "integers"),
        Decimal: ("a decimal", "decimals"),
        datetime: ("an RFC 3339 timestamp", "RFC 3339 timestamps"),
        Any: ("any value", "values"),
    }.get(kind, ("a value", "values"))
    return words[1] if plural else words[0]


def _required(value: Any, where: str, kind: Any) -> None:
    if value is None:
        raise StateError(where, "is required" if kind is not bool else "must be true or false")


def _checked(inner: Reader, checks: tuple[Any, ...]) -> Reader:
    def read(value: Any, where: str) -> Any:
        loaded = inner(value, where)
        for check in checks:
            if isinstance(check, Check) and not check.test(loaded):
                raise StateError(where, check.problem)
        return loaded

    return read


def _record_reader(cls: type) -> Reader:
    hints = get_type_hints(cls)
    known = {}
    for f in dataclasses.fields(cls):
        kind = NARROWER.get((cls, f.name), hints[f.name])
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        known[f.name] = (_reader(kind), required)
    what = cls.__name__.lower()

    def read(item: Any, where: str) -> Any:
        if not isinstance(item, dict):
            raise StateError(where, "must be an object")
        for name in item:
            if name not in known:
                raise StateError(f"{where}.{_key(name)}", f"is not a field of {what}")
        values = {}
        for name, (field_reader, required) in known.items():
            if name not in item:
                if required:
                    raise StateError(f"{where}.{name}", "is required")
                continue
            values[name] = field_reader(item[name], f"{where}.{name}")
        return cls(**values)

    return read


def _typed_dict_reader(cls: type) -> Reader:
    hints = get_type_hints(cls, include_extras=True)
    optional: frozenset[str] = getattr(cls, "__optional_keys__", frozenset())
    known = {}
    for name, kind in hints.items():
        if get_origin(kind) is NotRequired:
            kind = get_args(kind)[0]
        known[name] = (_reader(kind), name not in optional)
    names = ", ".join(known)
    closed = cls not in OPEN

    def read(item: Any, where: str) -> Any:
        if not isinstance(item, dict):
            raise StateError(where, f"must be an object with {names}")
        values = {}
        for name in item:
            if name not in known:
                if closed:
                    raise StateError(f"{where}.{_key(name)}", f"is not one of: {names}")
                values[name] = copy.deepcopy(item[name])
        for name, (field_reader, required) in known.items():
            if name not in item:
                if required:
                    raise StateError(f"{where}.{name}", "is required")
                continue
            values[name] = field_reader(item[name], f"{where}.{name}")
        return values

    return read


def _list_reader(item: Reader, kind: Any, as_set: bool) -> Reader:
    what = describe(kind)

    def read(value: Any, where: str) -> Any:
        _required(value, where, kind)
        if not isinstance(value, list):
            raise StateError(where, f"must be {what}")
        items = [item(x, f"{where}[{i}]") for i, x in enumerate(value)]
        return set(items) if as_set else items

    return read


def _tuple_reader(args: tuple[Any, ...], kind: Any) -> Reader:
    readers = [_reader(a) for a in args if a is not Ellipsis]
    repeated = len(args) == 2 and args[1] is Ellipsis

    def read(value: Any, where: str) -> Any:
        _required(value, where, kind)
        if not isinstance(value, list) or (not repeated and len(value) != len(readers)):
            raise StateError(where, f"must be {describe(kind)}")
        if repeated:
            return tuple(readers[0](x, f"{where}[{i}]") for i, x in enumerate(value))
        return tuple(r(x, f"{where}[{i}]") for i, (r, x) in enumerate(zip(readers, value, strict=True)))

    return read


def _dict_reader(key: Reader, item: Reader, kind: Any) -> Reader:
    what = describe(kind)

    def read(value: Any, where: str) -> Any:
        _required(value, where, kind)
        if not isinstance(value, dict):
            raise StateError(where, f"must be {what}")
        out = {}
        for name, x in value.items():
            inner = f"{where}.{_key(name)}"
            out[key(name, inner)] = item(x, inner)
        return out

    return read


def _key(name: Any) -> str:
    """A key of the document as a field path shows it (cut, should it be long)."""
    text = name if isinstance(name, str) else repr(name)
    return text if len(text) <= 100 else excerpt(text)


def _string(value: Any, where: str) -> str:
    _required(value, where, str)
    if not isinstance(value, str):
        raise StateError(where, "must be a string")
    return value


def _boolean(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise StateError(where, "must be true or false")
    return value


def _integer(value: Any, where: str) -> int:
    _required(value, where, int)
    if isinstance(value, bool) or not isinstance(value, int):
        raise StateError(where, "must be an integer")
    if not -INT64 <= value < UINT64:  # int64, or uint64 as a tier's up_to
        raise StateError(where, "must be a 64-bit integer")
    return value


def _decimal(value: Any, where: str) -> Decimal:
    _required(value, where, Decimal)
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise StateError(where, 'must be a decimal (a string such as "10.5", or a number)')
    if isinstance(value, str) and len(value) > MAX_DECIMAL_TEXT:
        raise StateError(where, f"must be a decimal of at most {MAX_DECIMAL_TEXT} characters")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise StateError(where, f"must be a decimal string, not {excerpt(value)}") from None
    if not number.is_finite():
        raise StateError(where, "must be a finite decimal")
    if abs(number) >= MAX_DECIMAL:
        raise StateError(where, f"must be below {MAX_DECIMAL:f} in size")
    return number


def check_numbers(value: Any, where: str) -> None:
    """Every number in a JSON value (an event's properties), and every string that reads as one,
    finite and below MAX_DECIMAL in size: what a meter may add up. Raises StateError."""
    pending = [(value, where)]
    while pending:
        item, at = pending.pop()
        if isinstance(item, dict):
            pending.extend((v, f"{at}.{_key(k)}") for k, v in item.items())
        elif isinstance(item, list):
            pending.extend((v, f"{at}[{i}]") for i, v in enumerate(item))
        elif isinstance(item, (int, float, Decimal, str)) and not isinstance(item, bool):
            try:
                number = Decimal(str(item)) if len(str(item)) <= MAX_DECIMAL_TEXT else None
            except InvalidOperation:
                continue  # a word, not a number: no meter adds it up
            if number is None or not number.is_finite() or abs(number) >= MAX_DECIMAL:
                raise StateError(at, f"must be a finite number below {MAX_DECIMAL:f} in size")


# ---- stored objects: plain JSON values ---------------------------------------------------------

# How deep a stored object may nest (a document's JSON is parsed already; this keeps a copy's
# recursion far from Python's limit).
MAX_JSON_DEPTH = 64


def json_copy(value: Any) -> Any:
    """A copy of a JSON value (objects, arrays, strings, numbers, true, false, null): faster than
    ``copy.deepcopy`` for the plain values stored objects are made of."""
    if isinstance(value, dict):
        return {key: json_copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [json_copy(item) for item in value]
    return value


def load_json(value: Any, where: str, depth: int = 0) -> Any:
    """A JSON value as a stored object may hold it, copied: object keys are strings, numbers are
    finite (a document may spell NaN), integers 64-bit, other numbers floats (what JSON numbers
    read back as from Redis). Raises StateError naming the field."""
    if depth > MAX_JSON_DEPTH:
        raise StateError(where, f"nests deeper than {MAX_JSON_DEPTH} levels")
    if isinstance(value, dict):
        out = {}
        for name, item in value.items():
            if not isinstance(name, str):
                raise StateError(where, "must have string keys")
            out[name] = load_json(item, f"{where}.{_key(name)}", depth + 1)
        return out
    if isinstance(value, list):
        return [load_json(item, f"{where}[{i}]", depth + 1) for i, item in enumerate(value)]
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, int):
        if not -INT64 <= value < UINT64:
            raise StateError(where, "must be a 64-bit integer")
        return value
    if isinstance(value, (float, Decimal)):
        # a document read with decimals (PUT /_mock/state) holds what Redis's JSON reads as floats
        if not math.isfinite(value):
            raise StateError(where, "must be a finite number")
        if isinstance(value, Decimal):
            return load_json(int(value), where) if value == value.to_integral_value() else float(value)
        return value
    raise StateError(where, "must be a JSON value")


def load_records(value: Any, where: str) -> dict[str, dict[str, dict[str, Any]]]:
    """Stored objects by collection and id (``{"coupons": {"coupon_1": {...}}}``), each an
    object whose ``id``, when it has one, is the id it is kept under. Raises StateError."""
    if not isinstance(value, dict):
        raise StateError(where, "must be an object of collections (each an object of objects by id)")
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for name, collection in value.items():
        inner = f"{where}.{_key(name)}"
        if not name:
            raise StateError(where, "must name each collection (an empty name)")
        if not isinstance(collection, dict):
            raise StateError(inner, "must be an object of objects by id")
        kept = out[name] = {}
        for object_id, item in collection.items():
            at = f"{inner}.{_key(object_id)}"
            if not object_id:
                raise StateError(inner, "must key each object by its id (an empty key)")
            if not isinstance(item, dict):
                raise StateError(at, "must be an object")
            if "id" in item and item["id"] != object_id:
                raise StateError(f"{at}.id", f"must be the id it is kept under ({_key(object_id)!r})")
            kept[object_id] = load_json(item, at, 1)
    return out


def _timestamp(value: Any, where: str) -> datetime:
    _required(value, where, datetime)
    try:
        moment = parse_timestamp(value)
    except (ValueError, TypeError, OverflowError):
        raise StateError(where, "must be an RFC 3339 timestamp, in years 1 to 9999 once in UTC") from None
    return moment


def _anything(value: Any, where: str) -> Any:
    return copy.deepcopy(value)


_SIMPLE: dict[Any, Reader] = {
    str: _string,
    bool: _boolean,
    int: _integer,
    Decimal: _decimal,
    datetime: _timestamp,
    Any: _anything,
}
