"""Serving the app with waitress, a production WSGI server that runs in one process.

One process matters: every world lives in this process's memory, so a pre-forking server
(several processes) would split the state. Waitress serves from a pool of threads instead.
"""

from __future__ import annotations

import gc
import logging
import signal
import socket
import struct
import threading

from waitress.channel import HTTPChannel
from waitress.server import create_server
from waitress.task import WSGITask

from .. import api
from ..config import Settings

# The application may call ``environ[DROP_CONNECTION](reset=...)`` to end the connection instead
# of answering: nothing it returns is sent; ``reset`` ends it with a TCP RST, otherwise with FIN.
from .faults import DROP_CONNECTION

log = logging.getLogger("mockserver")


class _DroppableTask(WSGITask):
    """A WSGI task whose application can drop the connection (fault injection needs a real one)."""

    drop = None  # None: answer as usual; "reset" or "close": send nothing, end the socket

    def get_environment(self):
        environ = super().get_environment()
        environ[DROP_CONNECTION] = self._request_drop
        return environ

    def _request_drop(self, reset: bool = False) -> None:
        self.drop = "reset" if reset else "close"
        self.content_length = None  # nothing will be written: no "too few bytes" warning

    def write(self, data):
        if self.drop is None:
            super().write(data)

    def finish(self):
        if self.drop is None:
            return super().finish()
        if self.drop == "reset":
            # Linger on, timeout 0: close() sends RST instead of FIN, so the client sees a reset.
            self.channel.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        # The channel closes the socket from waitress's own loop once this task is done.
        self.close_on_finish = True


class _DroppableChannel(HTTPChannel):
    task_class = _DroppableTask


def make_server(app, host: str, port: int, threads: int, max_body_bytes: int = Settings.max_body_bytes):
    # channel_timeout bounds idle sockets. The app answers an oversized body with 413 in the API's
    # envelope; waitress's own cap (8x larger) only stops absurd bodies before they are buffered.
    server = create_server(
        app,
        host=host,
        port=port,
        threads=threads,
        ident="flexprice-mock",
        channel_timeout=120,
        max_request_body_size=8 * max_body_bytes,
    )
    server.channel_class = _DroppableChannel
    return server


def tune_garbage_collector() -> None:
    """Keep collector pauses short while the worlds grow.

    Everything loaded at start (Flask, the compiled spec) is frozen out of collections, and so is
    whatever survives a full collection (the worlds' state, acyclic): a full pass then scans what
    is new since the last one, not every wallet ever made (measured: the longest pause while
    creating 100,000 wallets went from 215 ms to 10 ms). Frozen objects are still freed by
    reference counting when nothing refers to them.
    """
    gc.collect()
    gc.freeze()
    if _freeze_survivors not in gc.callbacks:
        gc.callbacks.append(_freeze_survivors)


def _freeze_survivors(phase: str, info: dict) -> None:
    if phase == "stop" and info["generation"] == 2:
        gc.freeze()


class BackgroundServer:
    """The app served on a socket from a daemon thread: for test suites (and the pytest plugin)."""

    def __init__(self, app, host: str = "127.0.0.1", port: int = 0, threads: int = 8):
        settings = app.extensions["mockserver"].settings
        self._server = make_server(app, host, port, threads, settings.max_body_bytes)
        self.url = f"http://{host}:{self._server.effective_port}"
        self._thread = threading.Thread(target=self._server.run, name="flexprice-mock", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        # Let requests still held (e.g. by a timeout fault) finish before the sockets close,
        # so no worker thread writes to a closed descriptor.
        self._server.task_dispatcher.shutdown(timeout=timeout)
        self._server.close()


class ListenError(Exception):
    """The server could not open its listening socket."""


def serve(app, settings: Settings) -> None:
    """Serve until Ctrl-C or SIGTERM, then close the listening socket and return."""
    host = settings.host
    try:
        server = make_server(app, host, settings.port, settings.threads, settings.max_body_bytes)
    except OSError as exc:  # the port is taken, the address is not this machine's, ...
        raise ListenError(f"cannot listen on {host}:{settings.port}: {exc.strerror}") from None
    tune_garbage_collector()

    def stop(signum, frame):
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, stop)
    log.info(
        "flexprice-mock serving Flexprice API %s on http://%s:%s/v1 (health: /_mock/health)",
        api.resolve(settings.api_version),
        host,
        server.effective_port,
    )
    try:
        server.run()  # returns (waitress stops its threads) on KeyboardInterrupt or SystemExit
    except KeyboardInterrupt:
        pass
    finally:
        log.info("shutting down")
        server.close()
