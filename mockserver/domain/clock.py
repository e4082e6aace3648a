"""Each world's clock: real UTC time, optionally frozen or shifted, so tests can travel in time."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

UTC = timezone.utc


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
        return utc_now() + self._offset

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
    return moment.astimezone(UTC)


def millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
