"""What every container test shares: the engine (podman, with this machine's quirks) and the
project's image, built once per session on a base made with debootstrap (cached between runs).

Without an engine the tests fail (never skip), naming what to install: the README's test command
installs ``podman runc debootstrap`` from Debian.
"""

from __future__ import annotations

import pytest

from .engine import Engine, build_image, ensure_base_image, ensure_redis_image, find_engine

INSTALL = "apt-get install -y podman runc debootstrap"


@pytest.fixture(scope="session")
def engine() -> Engine:
    found = find_engine()
    if found is None:
        pytest.fail(
            f"the container tests need podman (or docker with a daemon); Debian: {INSTALL}", pytrace=False
        )
    return found


@pytest.fixture(scope="session")
def base_image(engine) -> str:
    return ensure_base_image(engine)


@pytest.fixture(scope="session")
def image(engine, base_image) -> str:
    """The project's image, built from this checkout's Containerfile."""
    return build_image(engine, base=base_image)


@pytest.fixture(scope="session")
def redis_image(engine, base_image) -> str:
    """Debian's redis-server on the same base (no registry to pull one from)."""
    return ensure_redis_image(engine, base=base_image)
