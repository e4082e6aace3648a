"""What a world's clock makes due with no request to do it: a running clock that passes a usage
evaluation or a period end. A daemon thread looks, every ``TICK``, at the worlds it was told
have something due, and runs ``usage.catch_up`` in each world's unit of work once its clock
gets there, so the webhooks go out as they would in the cloud, without a request or a clock move.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime

from ..domain import usage
from ..domain.world import World, WorldKey
from .errors import StoreError
from .protocol import WorldStore

TICK = 0.1  # seconds between looks
log = logging.getLogger("mockserver.due")


class DueWork:
    def __init__(self, store: WorldStore):
        self.store = store
        self._due: dict[WorldKey, datetime] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._away = False  # the store was unreachable at the last look (said once, not each tick)

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
        """Catch up every world whose clock has reached what it has due."""
        with self._lock:
            waiting = list(self._due.items())
        for key, due in waiting:
            clock = self.store.clock(key)
            if clock is None:
                with self._lock:
                    self._due.pop(key, None)
                continue
            if clock() < due:
                continue
            with self.store.session(*key) as world:
                usage.catch_up(world)
                self.note(key, world)

    def _run(self) -> None:
        while not self._stop.wait(TICK):
            try:
                self.run_due()
                self._away = False
            except StoreError as failure:  # Redis away: try again at the next tick
                if not self._away:
                    log.warning("due work waits for the store: %s", failure)
                self._away = True
            except Exception:  # a bug must not stop the clock's work for every world
                log.exception("due work failed")

    def stop(self) -> None:
        self._stop.set()
