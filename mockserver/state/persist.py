"""Every world kept in one file across restarts (``--state-file``).

The file holds each world's state document (``statefile``: what ``GET /_mock/state`` exports and
what the Redis store keeps as a world's record) under its API key and environment: its clock with
its lead on real time, its id generator's position, its cached balances, and what it last
announced, so that a restarted world goes on where it was and raises no alert twice.

It is written whole to a temporary file beside it, flushed to disk, then renamed over the old
one: a reader sees the old file or the new one, never half of one. A file that cannot be read
stops the start, naming the file and the problem, and is never overwritten.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from ..domain.clock import format_timestamp, parse_timestamp
from . import statefile
from .store import Store

FORMAT = "flexprice-mock-worlds/1"
log = logging.getLogger("mockserver")


class PersistError(Exception):
    """The state file cannot be loaded (or written): which file, and what is wrong."""


def save(store: Store, api_version: str, path: Path) -> int:
    """Write every world to ``path`` atomically; returns how many worlds were written."""
    worlds = [
        {"api_key": key, "environment_id": env, "state": statefile.export(world, api_version)}
        for (key, env), world in store.each_world()
    ]
    document = {
        "format": FORMAT,
        "api_version": api_version,
        "saved_at": datetime.now(timezone.utc).isoformat(),
        "worlds": worlds,
    }
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "w", encoding="utf-8") as out:
            json.dump(document, out, separators=(",", ":"), ensure_ascii=False)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise PersistError(f"state file {path}: cannot write: {exc.strerror or exc}") from None
    return len(worlds)


def load(store: Store, api_version: str, path: Path) -> int:
    """Fill the store from ``path`` (nothing when there is no such file); returns how many worlds."""
    if not path.exists():
        return 0
    where = f"state file {path}"
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PersistError(f"{where}: cannot read: {exc.strerror or exc}") from None
    except ValueError as exc:  # not UTF-8, not JSON, cut short
        raise PersistError(f"{where}: not a state file, or a damaged one ({exc})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise PersistError(f"{where}: not a state file (its format is not {FORMAT})")
    if document.get("api_version") != api_version:
        raise PersistError(
            f"{where}: written by API version {document.get('api_version')}, this sandbox serves "
            f"{api_version} (start it with --api-version {document.get('api_version')}, or use another file)"
        )
    worlds = document.get("worlds")
    if not isinstance(worlds, list):
        raise PersistError(f"{where}: worlds must be a list")
    downtime = _since(document.get("saved_at"))
    for n, item in enumerate(worlds):
        key, env, state = _world(item, f"{where}: worlds[{n}]")
        _keep_running(state, downtime)
        with store.session(key, env) as world:
            try:
                statefile.restore(world, state, api_version)
            except statefile.StateError as exc:
                raise PersistError(f"{where}: worlds[{n}].state.{exc}") from None
            world.events.clear()  # a restored world is where it was: nothing happened to announce
    return len(worlds)


def _since(saved_at: Any) -> timedelta:
    try:
        return max(timedelta(0), datetime.now(timezone.utc) - parse_timestamp(saved_at))
    except (TypeError, ValueError):  # no time written: the clocks go on from where they were
        return timedelta(0)


def _keep_running(state: Any, downtime: timedelta) -> None:
    """A running clock kept running while the sandbox was down (a moved one keeps its lead on
    real time); a frozen one stays where it was. A clock that says ``at`` what wall-clock time it
    was read keeps its lead by itself; one written before clocks said so is moved on here."""
    clock = state.get("clock") if isinstance(state, dict) else None
    if isinstance(clock, dict) and clock.get("frozen") is False and "at" not in clock and downtime:
        try:
            clock["now"] = format_timestamp(parse_timestamp(clock["now"]) + downtime)
        except (KeyError, TypeError, ValueError):
            pass  # restore() names what is wrong with it


def _world(item: Any, where: str) -> tuple[str, str, Any]:
    if not isinstance(item, dict):
        raise PersistError(f"{where} must be an object")
    key, env = item.get("api_key"), item.get("environment_id", "")
    if not isinstance(key, str) or not key:
        raise PersistError(f"{where}.api_key must be a non-empty string")
    if not isinstance(env, str):
        raise PersistError(f"{where}.environment_id must be a string")
    return key, env, item.get("state")


class Keeper:
    """Saves the store to its file every ``interval`` seconds when something changed, and at stop."""

    def __init__(self, store: Store, api_version: str, path: str | Path, interval: float):
        self.store = store
        self.api_version = api_version
        self.path = Path(path)
        self.interval = interval
        self._saved_at_change = -1
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._said: str | None = None  # the failure last logged, while it lasts

    def load(self) -> int:
        count = load(self.store, self.api_version, self.path)
        self._saved_at_change = self.store.changes
        return count

    def start(self) -> None:
        if self.interval > 0:
            self._thread = threading.Thread(target=self._run, name="flexprice-mock-state", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the timer and save what changed since the last save."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.save_if_changed()

    def save_if_changed(self) -> None:
        change = self.store.changes
        if change != self._saved_at_change:
            count = save(self.store, self.api_version, self.path)
            self._saved_at_change = change
            log.debug("saved %d worlds to %s", count, self.path)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.save_if_changed()
            except PersistError as exc:  # a full disk: say so, keep serving, try again later
                if str(exc) != self._said:
                    log.error("%s (tried again every %ss)", exc, self.interval)
                self._said = str(exc)
            except Exception as exc:  # a bug must not end the saving for the rest of the run
                if repr(exc) != self._said:
                    log.exception("state file %s not saved (tried again every %ss)", self.path, self.interval)
                self._said = repr(exc)
            else:
                self._said = None  # (a failure is said once while it lasts, not at every interval)
