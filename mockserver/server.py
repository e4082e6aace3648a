"""Serving the app with waitress, a production WSGI server that runs in one process.

One process matters: every world lives in this process's memory, so a pre-forking server
(several processes) would split the state. Waitress serves from a pool of threads instead.
"""
from __future__ import annotations

import logging
import signal
import threading

from waitress.server import create_server

log = logging.getLogger("mockserver")


def make_server(app, host: str, port: int, threads: int):
    # No proxy headers, no long URIs: the defaults are fine; channel_timeout bounds idle sockets.
    return create_server(app, host=host, port=port, threads=threads, ident="flexprice-mock",
                         channel_timeout=120)


def serve(app, host: str, port: int, threads: int) -> None:
    """Serve until Ctrl-C or SIGTERM, then close the listening socket and return."""
    server = make_server(app, host, port, threads)

    def stop(signum, frame):
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, stop)
    log.info("flexprice-mock listening on http://%s:%s/v1 (health: /_mock/health)",
             host, server.effective_port)
    try:
        server.run()   # returns (waitress stops its threads) on KeyboardInterrupt or SystemExit
    except KeyboardInterrupt:
        pass
    finally:
        log.info("shutting down")
        server.close()
