"""Moving a world's clock, as Stripe's test clocks do, but locally and synchronously.

After a move every wallet of the world is swept, so credits whose expiry has passed are
expired at once (a CREDIT_EXPIRED debit each), not on the next time the wallet is touched, and
the usage evaluations and period closes the move passed happen at once.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import isodate

from ..domain import errors, ledger, usage
from ..domain.clock import (
    EARLIEST,
    LATEST,
    OutOfRange,
    clock_range,
    format_timestamp,
    in_range,
    parse_timestamp,
)
from ..domain.models import Transaction
from ..domain.world import World


def parse_duration(value: Any, name: str = "by") -> timedelta | isodate.Duration:
    """Seconds (a number) or an ISO 8601 duration (``P30D``, ``PT1H30M``, ``P1M``: calendar months)."""
    wrong = errors.validation(
        f"{name} must be seconds (a number) or an ISO 8601 duration such as P30D",
        "invalid duration",
        **{name: value if isinstance(value, str) else repr(value)},
    )
    if isinstance(value, bool):
        raise wrong
    if isinstance(value, (int, Decimal)):
        try:
            return timedelta(seconds=float(value))
        except (OverflowError, ValueError):  # past timedelta's days, or NaN
            raise errors.validation(
                f"{name} is too large", "duration out of range", **{name: str(value)}
            ) from None
    if isinstance(value, str):
        try:
            duration = isodate.parse_duration(value.strip())
        except (ValueError, InvalidOperation, OverflowError):
            raise wrong from None
        if isinstance(duration, isodate.Duration) and (
            duration.years % 1 or duration.months % 1
        ):  # isodate cannot add P1.5Y to a date
            raise errors.validation(
                f"{name} must give whole years and months (P1Y6M, or days: P547D)",
                "invalid duration",
                **{name: value},
            )
        return duration
    raise wrong


def parse_instant(value: Any, name: str = "now") -> datetime:
    try:
        moment = parse_timestamp(value)
    except OutOfRange:
        raise _out_of_range(name, value) from None
    except (ValueError, TypeError):
        raise errors.validation(
            f"{name} must be an RFC 3339 timestamp such as 2027-01-01T00:00:00Z",
            "invalid timestamp",
            **{name: value if isinstance(value, str) else repr(value)},
        ) from None
    if not in_range(moment):
        raise _out_of_range(name, value)
    return moment


def _out_of_range(name: str, value: Any) -> errors.ApiError:
    return errors.validation(
        f"{name} puts the clock outside the range a world's clock may show ({clock_range()})",
        "clock out of range",
        **{name: str(value), "earliest": format_timestamp(EARLIEST), "latest": format_timestamp(LATEST)},
    )


def _within_reach(world: World, target: datetime, name: str, value: Any) -> None:
    """Refuse a move past more period ends than one move may close (each is an invoice)."""
    due = usage.periods_due(world, target)
    if due > usage.MAX_PERIODS_PER_MOVE:
        raise errors.validation(
            f"{name} passes more than {usage.MAX_PERIODS_PER_MOVE} billing period ends, the most one "
            "clock move may close: move the clock in several smaller steps",
            "too many periods in one move",
            **{name: str(value), "max_periods": usage.MAX_PERIODS_PER_MOVE},
        )


def advance(world: World, by: Any) -> list[Transaction]:
    """Move the clock forward by ``by``; returns the expiry transactions the move caused."""
    duration = parse_duration(by)
    now = world.now()
    try:
        target = now + duration
    except (OverflowError, ValueError):  # past year 9999 (isodate says so with a ValueError)
        raise _out_of_range("by", by) from None
    if target < now:
        raise errors.validation(
            "by must not be negative (set the clock with PUT /_mock/clock instead)",
            "negative duration",
            by=str(by),
        )
    if not in_range(target):
        raise _out_of_range("by", by)
    _within_reach(world, target, "by", by)
    world.clock.set(target, freeze=world.clock.frozen)
    return sweep(world)


def set_clock(world: World, instant: datetime | None, frozen: bool | None) -> list[Transaction]:
    """Put the clock at ``instant`` (or keep its time) and freeze or unfreeze it."""
    target = world.now() if instant is None else instant
    if instant is not None:
        _within_reach(world, target, "now", format_timestamp(instant))
    world.clock.set(target, freeze=world.clock.frozen if frozen is None else frozen)
    return sweep(world)


def sweep(world: World) -> list[Transaction]:
    """Expire whatever is due in every wallet of the world, now; then run the usage evaluations
    and period closes the move has passed."""
    now = world.now()
    expired: list[Transaction] = []
    for wallet in world.wallets.values():
        expired.extend(ledger.expire_due(world, wallet, now))
    usage.catch_up(world)
    return expired


def view(world: World) -> dict[str, Any]:
    return {"now": format_timestamp(world.now()), "frozen": world.clock.frozen}
