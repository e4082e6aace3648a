"""A world as a JSON document and back: customers, wallets, ledger, idempotency records, clock.

The export is exact: decimals are written as strings (no JSON tool can round them), timestamps
with microseconds, ids as they are. Importing checks the whole document before touching the
world, so a bad document changes nothing; errors name the field (``wallets[0].balance``).
Field lists come from the store's dataclasses, so a field added there is exported too.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import MISSING, fields
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from ..domain import alerts
from ..domain.clock import format_timestamp, parse_timestamp
from ..domain.models import (
    AlertLevel,
    AlertSettings,
    AutoTopup,
    Customer,
    Invoice,
    TopUpRecord,
    Transaction,
    Wallet,
)
from ..domain.world import World

FORMAT = "flexprice-mock-state/2"
SECTIONS = (
    "format",
    "api_version",
    "environment_id",
    "clock",
    "customers",
    "wallets",
    "transactions",
    "invoices",
    "idempotency",
    "alerts",
    "ongoing_balances",
)
ALERT_STATES = ("ok", "info", "warning", "in_alarm")
# Values that are records of their own, written as nested objects.
NESTED = {cls.__name__: cls for cls in (AutoTopup, AlertSettings, AlertLevel)}


class StateError(ValueError):
    """A state document that cannot be imported: which field, and what is wrong with it."""

    def __init__(self, field: str, problem: str):
        super().__init__(f"{field} {problem}")
        self.field = field
        self.problem = problem


# ---- export --------------------------------------------------------------------------------


def export(
    world: World,
    api_version: str,
    record: Callable[[Any], Any] | None = None,
    idempotency: Callable[[str, TopUpRecord], Any] | None = None,
) -> dict[str, Any]:
    """Everything in the world, as plain JSON values, saying which API version wrote it.

    ``record`` (customers, wallets, transactions, invoices) and ``idempotency`` may replace how
    each entry is written (the shared store reuses what it wrote for those that did not change)."""
    dump = record or dump_record
    dump_top_up = idempotency or dump_idempotency
    transactions = [t for wallet_id in world.wallets for t in world.transactions.get(wallet_id, ())]
    return {
        "format": FORMAT,
        "api_version": api_version,
        "environment_id": world.environment_id,
        "clock": {"now": format_timestamp(world.now()), "frozen": world.clock.frozen},
        "customers": [dump(c) for c in world.customers.values()],
        "wallets": [dump(w) for w in world.wallets.values()],
        "transactions": [dump(t) for t in transactions],
        "invoices": [dump(i) for i in world.invoices.values()],
        "idempotency": [dump_top_up(key, record) for key, record in world.top_ups.items()],
        # What the world last announced, so that a world loaded again raises no alert twice.
        "alerts": [
            {"wallet_id": wallet_id, "alert_type": kind, "state": state}
            for (wallet_id, kind), state in world.alert_states.items()
        ],
        "ongoing_balances": [
            {"wallet_id": wallet_id, "published": str(value)}
            for wallet_id, value in world.ongoing_published.items()
        ],
    }


def dump_record(record: Any) -> dict[str, Any]:
    """A customer, wallet, transaction or invoice as the state document writes it."""
    return _dump(record)


def dump_idempotency(key: str, record: TopUpRecord) -> dict[str, Any]:
    return {
        "key": key,
        "wallet_id": record.wallet_id,
        "fingerprint": [list(pair) for pair in record.fingerprint],
        "result": _dump(record.result),
    }


def _dump(record: Any) -> dict[str, Any]:
    """A record's fields as JSON values: decimals as strings, times in RFC 3339, nested records."""
    plan = _PLANS.get(type(record)) or _plan(type(record))
    out = {}
    for name, convert in plan:
        value = getattr(record, name)
        out[name] = value if convert is None or value is None else convert(value)
    return out


# How each record type's fields are written, worked out once per type from its annotations.
_PLANS: dict[type, list[tuple[str, Callable[[Any], Any] | None]]] = {}


def _plan(cls: type) -> list[tuple[str, Callable[[Any], Any] | None]]:
    plan = _PLANS[cls] = [(f.name, _converter(str(f.type))) for f in fields(cls)]
    return plan


def _converter(kind: str) -> Callable[[Any], Any] | None:
    if kind.split("|")[0].strip() in NESTED:
        return _dump
    if kind.startswith("Decimal"):
        return str
    if kind.startswith("datetime"):
        return format_timestamp
    if kind.startswith("dict"):
        return _copy
    return None


def _copy(value: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(value) if value else {}


# ---- import --------------------------------------------------------------------------------


def restore(world: World, document: Any, api_version: str) -> None:
    """Replace the world's contents with ``document``. Raises StateError, leaving the world as it was.

    The document must come from the same API version. The journal and the id generator are not
    part of the state.
    """
    parsed = _parse(document, api_version)
    world.clear()
    world.customers.update(parsed.customers)
    world.customer_by_external_id.update(parsed.customer_by_external_id)
    world.wallets.update(parsed.wallets)
    world.wallets_by_customer.update(parsed.wallets_by_customer)
    world.transactions.update(parsed.transactions)
    world.transaction_count = sum(map(len, parsed.transactions.values()))
    for txns in parsed.transactions.values():
        for txn in txns:
            if txn.idempotency_key:
                world.transaction_keys.setdefault(txn.idempotency_key, txn.id)
    world.top_ups.update(parsed.top_ups)
    world.next_expiry.update(parsed.next_expiry)
    world.invoices.update(parsed.invoices)
    world.alert_states.update(parsed.alert_states)
    world.ongoing_published.update(parsed.ongoing_published)
    if parsed.clock is not None:
        now, frozen = parsed.clock
        world.clock.set(now, freeze=frozen)


class _Parsed:
    def __init__(self):
        self.clock: tuple[datetime, bool] | None = None
        self.customers: dict[str, Customer] = {}
        self.customer_by_external_id: dict[str, str] = {}
        self.wallets: dict[str, Wallet] = {}
        self.wallets_by_customer: dict[str, list[str]] = {}
        self.transactions: dict[str, list[Transaction]] = {}
        self.top_ups: dict[str, TopUpRecord] = {}
        self.next_expiry: dict[str, datetime] = {}
        self.invoices: dict[str, Invoice] = {}
        self.alert_states: dict[tuple[str, str], str] = {}
        self.ongoing_published: dict[str, Decimal] = {}


def _parse(document: Any, api_version: str) -> _Parsed:
    if not isinstance(document, dict):
        raise StateError("<document>", "must be a JSON object")
    for name in document:
        if name not in SECTIONS:
            raise StateError(name, "is not part of a state document (expected: " + ", ".join(SECTIONS) + ")")
    if document.get("format", FORMAT) != FORMAT:
        raise StateError("format", f"must be {FORMAT!r}")
    written_by = document.get("api_version", api_version)
    if written_by != api_version:
        raise StateError(
            "api_version",
            f"is {written_by!r}, but this sandbox serves API version "
            f"{api_version!r}: a state document is loaded by the version that wrote it",
        )
    parsed = _Parsed()
    if document.get("clock") is not None:
        parsed.clock = _parse_clock(document["clock"])

    for where, customer in _records(document, "customers", Customer):
        _unique(parsed.customers, customer.id, where)
        parsed.customers[customer.id] = customer
        if customer.status == "published":
            if customer.external_id in parsed.customer_by_external_id:
                raise StateError(
                    f"{where}.external_id", f"{customer.external_id!r} is used by two published customers"
                )
            parsed.customer_by_external_id[customer.external_id] = customer.id

    for where, wallet in _records(document, "wallets", Wallet):
        _unique(parsed.wallets, wallet.id, where)
        parsed.wallets[wallet.id] = wallet
        parsed.wallets_by_customer.setdefault(wallet.customer_id, []).append(wallet.id)

    seen_transactions: set[str] = set()
    for where, txn in _records(document, "transactions", Transaction):
        _unique(seen_transactions, txn.id, where)
        seen_transactions.add(txn.id)
        if txn.wallet_id not in parsed.wallets:
            raise StateError(f"{where}.wallet_id", f"names no wallet of the document: {txn.wallet_id!r}")
        parsed.transactions.setdefault(txn.wallet_id, []).append(txn)
        if txn.type == "credit" and txn.expiry_date is not None and txn.credits_available > 0:
            due = parsed.next_expiry.get(txn.wallet_id)
            if due is None or txn.expiry_date < due:
                parsed.next_expiry[txn.wallet_id] = txn.expiry_date

    for where, invoice in _records(document, "invoices", Invoice):
        _unique(parsed.invoices, invoice.id, where)
        if invoice.wallet_id not in parsed.wallets:
            raise StateError(f"{where}.wallet_id", f"names no wallet of the document: {invoice.wallet_id!r}")
        parsed.invoices[invoice.id] = invoice

    for index, item in enumerate(_section(document, "idempotency")):
        where = f"idempotency[{index}]"
        key, record = _parse_top_up(item, where)
        if key in parsed.top_ups:
            raise StateError(f"{where}.key", f"{key!r} appears twice")
        if record.wallet_id not in parsed.wallets:
            raise StateError(f"{where}.wallet_id", f"names no wallet of the document: {record.wallet_id!r}")
        parsed.top_ups[key] = record

    for index, item in enumerate(_section(document, "alerts")):
        where = f"alerts[{index}]"
        wallet_id = _wallet_of(item, where, parsed)
        kind, state = item.get("alert_type"), item.get("state")
        if not isinstance(kind, str) or kind not in alerts.EVENTS:
            raise StateError(f"{where}.alert_type", f"must be one of: {', '.join(alerts.EVENTS)}")
        if state not in ALERT_STATES:
            raise StateError(f"{where}.state", f"must be one of: {', '.join(ALERT_STATES)}")
        parsed.alert_states[(wallet_id, kind)] = state

    for index, item in enumerate(_section(document, "ongoing_balances")):
        where = f"ongoing_balances[{index}]"
        wallet_id = _wallet_of(item, where, parsed)
        try:
            parsed.ongoing_published[wallet_id] = Decimal(str(item.get("published")))
        except InvalidOperation:
            raise StateError(f"{where}.published", "must be a decimal string") from None
    return parsed


def _wallet_of(item: Any, where: str, parsed: _Parsed) -> str:
    """The wallet an entry of the document names (one of the document's own)."""
    if not isinstance(item, dict):
        raise StateError(where, "must be an object")
    wallet_id = item.get("wallet_id")
    if not isinstance(wallet_id, str) or wallet_id not in parsed.wallets:
        raise StateError(f"{where}.wallet_id", f"names no wallet of the document: {wallet_id!r}")
    return wallet_id


def _section(document: dict[str, Any], name: str) -> list[Any]:
    items = document.get(name)
    if items is None:
        return []
    if not isinstance(items, list):
        raise StateError(name, "must be an array")
    return items


def _records(document: dict[str, Any], name: str, cls: type):
    for index, item in enumerate(_section(document, name)):
        where = f"{name}[{index}]"
        yield where, _load(cls, item, where)


def _unique(seen, record_id: str, where: str) -> None:
    if record_id in seen:
        raise StateError(f"{where}.id", f"{record_id!r} appears twice")


def _parse_clock(clock: Any) -> tuple[datetime, bool]:
    if not isinstance(clock, dict):
        raise StateError("clock", "must be an object with now and frozen")
    for name in clock:
        if name not in ("now", "frozen"):
            raise StateError(f"clock.{name}", "is not a clock field (expected: now, frozen)")
    now = _load_value("datetime", clock.get("now"), "clock.now")
    frozen = clock.get("frozen", False)
    if not isinstance(frozen, bool):
        raise StateError("clock.frozen", "must be true or false")
    return now, frozen


def _parse_top_up(item: Any, where: str) -> tuple[str, TopUpRecord]:
    if not isinstance(item, dict):
        raise StateError(where, "must be an object")
    for name in item:
        if name not in ("key", "wallet_id", "fingerprint", "result"):
            raise StateError(
                f"{where}.{name}",
                "is not a field of an idempotency record (key, wallet_id, fingerprint, result)",
            )
    key = _load_value("str", item.get("key"), f"{where}.key")
    wallet_id = _load_value("str", item.get("wallet_id"), f"{where}.wallet_id")
    pairs = item.get("fingerprint")
    if not isinstance(pairs, list) or not all(
        isinstance(p, list) and len(p) == 2 and all(isinstance(s, str) for s in p) for p in pairs
    ):
        raise StateError(f"{where}.fingerprint", "must be an array of [name, value] string pairs")
    result = _load(Wallet, item.get("result"), f"{where}.result")
    return key, TopUpRecord(wallet_id, tuple(tuple(p) for p in pairs), result)


def _load(cls: type, item: Any, where: str) -> Any:
    if not isinstance(item, dict):
        raise StateError(where, "must be an object")
    known = {f.name: f for f in fields(cls)}
    for name in item:
        if name not in known:
            raise StateError(f"{where}.{name}", f"is not a field of {cls.__name__.lower()}")
    values = {}
    for name, f in known.items():
        if name not in item:
            if f.default is MISSING and f.default_factory is MISSING:
                raise StateError(f"{where}.{name}", "is required")
            continue
        values[name] = _load_value(str(f.type), item[name], f"{where}.{name}")
    return cls(**values)


def _load_value(kind: str, value: Any, where: str) -> Any:
    optional = kind.endswith("| None")
    if value is None:
        if optional:
            return None
        raise StateError(where, "is required" if kind != "bool" else "must be true or false")
    base = kind.split("|")[0].strip()
    if base in NESTED:
        return _load(NESTED[base], value, where)
    if base == "str":
        if not isinstance(value, str):
            raise StateError(where, "must be a string")
        return value
    if base == "bool":
        if not isinstance(value, bool):
            raise StateError(where, "must be true or false")
        return value
    if base == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise StateError(where, "must be an integer")
        return value
    if base == "Decimal":
        return _decimal(value, where)
    if base == "datetime":
        try:
            return parse_timestamp(value)
        except (ValueError, TypeError):
            raise StateError(where, "must be an RFC 3339 timestamp") from None
    if base.startswith("dict"):
        if not isinstance(value, dict):
            raise StateError(where, "must be an object")
        if base == "dict[str, str]" and not all(isinstance(v, str) for v in value.values()):
            raise StateError(where, "must map names to strings")
        return copy.deepcopy(value)
    return value


def _decimal(value: Any, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise StateError(where, 'must be a decimal (a string such as "10.5", or a number)')
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise StateError(where, f"must be a decimal, not {value!r}") from None
    if not number.is_finite():
        raise StateError(where, "must be a finite decimal")
    return number
