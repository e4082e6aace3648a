"""Each world's clock: real UTC time, optionally frozen or shifted, so tests can travel in time."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

UTC = timezone.utc

# The moments a world's clock may show. Ids carry milliseconds since 1970 (never negative), and
# everything the domain computes from the clock (a period's end, an expiry, an alert's delay, a
# policy's ``after`` of up to ten years) must stay within datetime's years 1-9999: the clock stops
# a thousand years short of that.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
# Where a computed moment past datetime's range is clamped: a period end the clock never reaches.
END_OF_TIME = datetime.max.replace(tzinfo=UTC)


def in_range(moment: datetime) -> bool:
    """Whether a world's clock may show ``moment`` (EARLIEST to LATEST, both included)."""
    return EARLIEST <= moment <= LATEST


def clock_range() -> str:
    """The range in words, for the messages that refuse a moment outside it."""
    return f"{EARLIEST:%Y-%m-%dT%H:%M:%SZ} to {LATEST:%Y-%m-%dT%H:%M:%SZ}"


class OutOfRange(ValueError):
    """A timestamp well written whose UTC form is outside years 1-9999."""


def later(moment: datetime, delta: timedelta) -> datetime:
    """``moment + delta``, or END_OF_TIME when that is past what a datetime can hold."""
    try:
        return moment + delta
    except OverflowError:
        return END_OF_TIME if delta > timedelta(0) else datetime.min.replace(tzinfo=UTC)


def utc_now() -> datetime:
    return datetime.now(UTC)


class Clock:
    """Real time plus an offset, or a frozen instant. Moving it never goes through the wall clock."""

    def __init__(self):
        self._offset = timedelta(0)
        self._frozen: datetime | None = None

    def now(self) -> datetime:
        if self._frozen is not None:
            return self._frozen
        try:
            return utc_now() + self._offset
        except OverflowError:  # a lead kept from a state written without the clock's range
            return LATEST if self._offset > timedelta(0) else EARLIEST

    def set(self, instant: datetime, freeze: bool = False) -> None:
        instant = instant.astimezone(UTC)
        if freeze:
            self._frozen = instant
        else:
            self._frozen = None
            self._offset = instant - utc_now()

    def advance(self, delta: timedelta) -> None:
        if self._frozen is not None:
            self._frozen += delta
        else:
            self._offset += delta

    def reset(self) -> None:
        self._offset = timedelta(0)
        self._frozen = None

    @property
    def frozen(self) -> bool:
        return self._frozen is not None

    def snapshot(self) -> tuple[timedelta, datetime | None]:
        """Exactly where the clock is (its lead on real time, or its frozen instant)."""
        return self._offset, self._frozen

    def resume(self, offset: timedelta, frozen: datetime | None) -> None:
        self._offset, self._frozen = offset, frozen


def format_timestamp(moment: datetime) -> str:
    """RFC 3339 in UTC with microseconds and a ``Z``, the way the cloud renders stored times."""
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    # isoformat is C code and gives "...T07:06:56.419508+00:00": swap the offset for "Z".
    return moment.isoformat(timespec="microseconds")[:-6] + "Z"


def parse_timestamp(text: str) -> datetime:
    """Parse an RFC 3339 timestamp; a naive one is taken as UTC. Raises ValueError when unreadable."""
    if not isinstance(text, str) or "T" not in text.upper():
        raise ValueError(f"not an RFC 3339 timestamp: {text!r}")
    moment = datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+01:00: its UTC form is before year 1
        raise OutOfRange(f"{text!r} is outside years 1-9999 in UTC") from None


def millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
