"""What a world's clock makes due with no request to do it: a running clock that passes a usage
evaluation or a period end. A daemon thread looks, every ``TICK``, at the worlds it was told
have something due, and opens a unit of work on each once its clock gets there (a unit of work
begins with what its world has due: ``store.due_work``), so the webhooks go out as they would
in the cloud, without a request or a clock move.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime

from ..domain.world import World, WorldKey, world_id
from .errors import StoreError
from .protocol import WorldStore

TICK = 0.1  # seconds between looks
BACKOFF, MAX_BACKOFF = 1.0, 60.0  # seconds a world whose due work failed is left alone (doubling)
log = logging.getLogger("mockserver.due")


class DueWork:
    def __init__(self, store: WorldStore):
        self.store = store
        self._due: dict[WorldKey, datetime] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._away = False  # the store was unreachable at the last look (said once, not each tick)
        # worlds whose due work failed: when to try again, and how long the last wait was
        self._failing: dict[WorldKey, tuple[float, float]] = {}

    def note(self, key: WorldKey, world: World) -> None:
        """After a unit of work on ``world``: remember when it next has something due."""
        due = world.usage_due
        if due is not None and self._due.get(key) == due and self._thread is not None:
            return  # already known: most requests change nothing that is due
        with self._lock:
            if due is None:
                self._due.pop(key, None)
                return
            self._due[key] = due
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="due-work", daemon=True)
                self._thread.start()

    def run_due(self) -> None:
        """Catch up every world whose clock has reached what it has due. A world whose catch-up
        fails is said once and left alone for a while (longer each time it fails again); the
        others go on."""
        with self._lock:
            waiting = list(self._due.items())
        for key, due in waiting:
            if key in self._failing and time.monotonic() < self._failing[key][0]:
                continue
            clock = self.store.clock(key)
            if clock is None:
                with self._lock:
                    self._due.pop(key, None)
                self._failing.pop(key, None)
                continue
            if clock() < due:
                continue
            try:
                with self.store.session(*key) as world:  # which does what is due first
                    self.note(key, world)
            except StoreError:
                raise  # the store is away for every world: _run says so once
            except Exception:  # a bug in one world's work must not stop the others'
                self._failed(key)
            else:
                if self._failing.pop(key, None) is not None:
                    log.warning("due work of world %s runs again", world_id(key))

    def _failed(self, key: WorldKey) -> None:
        _, delay = self._failing.get(key, (0.0, 0.0))
        if not delay:
            log.exception("due work of world %s failed: it is tried again now and then", world_id(key))
        delay = min(max(delay * 2, BACKOFF), MAX_BACKOFF)
        self._failing[key] = (time.monotonic() + delay, delay)

    def _run(self) -> None:
        while not self._stop.wait(TICK):
            try:
                self.run_due()
                self._away = False
            except StoreError as failure:  # Redis away: try again at the next tick
                if not self._away:
                    log.warning("due work waits for the store: %s", failure)
                self._away = True
            except Exception:  # a bug outside any one world's work: said, and the ticker goes on
                log.exception("due work failed")

    def stop(self) -> None:
        self._stop.set()
