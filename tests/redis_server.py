"""A real ``redis-server`` for the tests: started on a free loopback port, nothing saved to disk,
stopped at the end. The Debian package ``redis-server`` provides it (``.ci/run`` installs it)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import redis


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    def __init__(self, directory: Path, port: int | None = None, persist: bool = False):
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError(
                "the Redis suites need redis-server on PATH (Debian: apt-get install -y redis-server)"
            )
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.directory = directory
        self.persist = persist  # keep the data on disk (append-only file) across a stop and start
        self._binary = binary
        self.process: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        """Start (or start again, on the same port) and wait until it answers."""
        self.process = subprocess.Popen(
            [self._binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory)]
            + ["--save", "", "--appendonly", "yes" if self.persist else "no", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError(f"redis-server did not start on port {self.port}") from None
                time.sleep(0.02)
        client.close()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None
