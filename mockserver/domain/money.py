"""Decimal arithmetic with the precision the cloud's ledger keeps (Postgres numeric columns).

Balances and amounts keep 9 decimal places (numeric(20,9)), ``credits_available`` 8, the
conversion rate 5 (numeric(10,5)). Rounding is half away from zero, as Postgres rounds.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Context, Decimal

ZERO = Decimal(0)
ONE = Decimal(1)
AMOUNT_PLACES = Decimal("1e-9")
AVAILABLE_PLACES = Decimal("1e-8")
RATE_PLACES = Decimal("1e-5")
MAX_AMOUNT = Decimal("99999999999.999999999")  # numeric(20,9)
MAX_RATE = Decimal("99999.99999")  # numeric(10,5)

# Enough digits for any product of two stored values; division uses 16 digits like the cloud.
_EXACT = Context(prec=60)
_DIVISION = Context(prec=16)


# Decimals are immutable, and a world holds several per wallet and per transaction, mostly the
# same few values (0, 1, 100, ...): stored amounts share one object per value, up to a bound.
_SHARED: dict[Decimal, Decimal] = {}
_SHARED_MAX = 4096


def amount(value: Decimal) -> Decimal:
    rounded = value.quantize(AMOUNT_PLACES, rounding=ROUND_HALF_UP, context=_EXACT)
    shared = _SHARED.get(rounded)
    if shared is None and len(_SHARED) < _SHARED_MAX:
        shared = _SHARED.setdefault(rounded, rounded)
    return shared if shared is not None else rounded


def available(value: Decimal) -> Decimal:
    return value.quantize(AVAILABLE_PLACES, rounding=ROUND_HALF_UP, context=_EXACT)


def rate(value: Decimal) -> Decimal:
    return value.quantize(RATE_PLACES, rounding=ROUND_HALF_UP, context=_EXACT)


def multiply(a: Decimal, b: Decimal) -> Decimal:
    return _EXACT.multiply(a, b)


def divide(a: Decimal, b: Decimal) -> Decimal:
    return _DIVISION.divide(a, b)


def normalize(value: Decimal) -> Decimal:
    """Shortest form without an exponent: 100.000 -> 100, 2.50 -> 2.5 (as the cloud prints them).

    The result depends on the value alone, and responses repeat the same few values: remembered.
    """
    known = _NORMALIZED.get(value)
    if known is not None:
        return known
    if value == 0:
        return ZERO
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    shortest = Decimal(text)
    if len(_NORMALIZED) < _SHARED_MAX:
        _NORMALIZED[value] = shortest
    return shortest


_NORMALIZED: dict[Decimal, Decimal] = {}


def to_decimal(value) -> Decimal:
    """A JSON number (int, Decimal) as a Decimal; callers have already checked the type."""
    if isinstance(value, Decimal):
        return value
    return Decimal(value)
