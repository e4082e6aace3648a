"""The server's log: one line per request on stderr, written in batches.

Flushing stderr after every line costs a system call per request: at a few thousand requests a
second that was the largest single cost of a request. Lines are buffered instead and flushed a
few times a second (and at once for warnings and errors, and at exit).
"""

from __future__ import annotations

import io
import logging
import sys
import threading
import time

FLUSH_EVERY = 0.2  # seconds a line may wait in the buffer


class BatchedStreamHandler(logging.StreamHandler):
    def __init__(self, stream, interval: float = FLUSH_EVERY):
        super().__init__(stream)
        self.interval = interval
        threading.Thread(target=self._flush_regularly, name="log-flush", daemon=True).start()

    def emit(self, record: logging.LogRecord) -> None:
        super().emit(record)
        if record.levelno >= logging.WARNING:
            self.flush_now()

    def flush(self) -> None:
        """Called by StreamHandler after every record: deliberately nothing (see the module doc)."""

    def flush_now(self) -> None:
        with self.lock:  # type: ignore[union-attr]   # created by Handler.__init__
            try:
                self.stream.flush()
            except (OSError, ValueError):  # stderr closed under us: nothing to save
                pass

    def close(self) -> None:
        self.flush_now()
        super().close()

    def _flush_regularly(self) -> None:
        while True:
            time.sleep(self.interval)
            self.flush_now()


class Formatter(logging.Formatter):
    """``asctime level message``; the time is formatted once a second, not once a line."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(message)s")
        self._second = -1
        self._stamp = ""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        second = int(record.created)
        if second != self._second:  # a race between threads writes the same text twice: harmless
            self._stamp = time.strftime("%Y-%m-%d %H:%M:%S", self.converter(second))
            self._second = second
        return f"{self._stamp},{int(record.msecs):03d}"


def configure() -> None:
    """INFO and up to stderr, batched; no caller, thread or process details are gathered for
    records (the logging documentation's own advice when speed matters)."""
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    try:
        # Our own buffered writer on stderr's descriptor: sys.stderr writes through on every line.
        raw = io.FileIO(sys.stderr.fileno(), "w", closefd=False)
    except (AttributeError, OSError, ValueError):  # stderr replaced, e.g. captured by a test
        handler = logging.StreamHandler(sys.stderr)
    else:
        stream = io.TextIOWrapper(
            io.BufferedWriter(raw, buffer_size=64 * 1024), encoding="utf-8", errors="backslashreplace"
        )
        handler = BatchedStreamHandler(stream)
    handler.setFormatter(Formatter())
    logging.basicConfig(level=logging.INFO, handlers=[handler])
