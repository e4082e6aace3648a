"""Fixtures every API version's suite shares; a suite's own conftest names its version by
overriding ``suite``. Every reply a test gets through ``api`` or ``http`` is checked against
that version's document.

The sandboxes are made once per package (each version's folder is one), so two versions'
suites can run in one session, each against its own version.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from mockserver import api as versions
from mockserver.http.server import BackgroundServer
from mockserver.pytest_plugin import serve_sandbox

from .redis_server import RedisServer
from .support import Suite


@pytest.fixture(scope="package")
def suite() -> Suite:
    return Suite(versions.DEFAULT)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory) -> Iterator[RedisServer]:
    """One real redis-server for the whole session."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


STORES = ("memory", "redis")


def pytest_generate_tests(metafunc):
    """Every test that runs on a store runs on each (unittest-style cases stay on memory)."""
    if "store" in metafunc.fixturenames:
        metafunc.parametrize("store", STORES, indirect=True, scope="package")


@pytest.fixture(scope="package")
def store(request, suite) -> Iterator[str]:
    """The store a version's suite runs on: "memory" or the session's Redis URL."""
    kind = getattr(request, "param", "memory")
    url = request.getfixturevalue("redis_server").url if kind == "redis" else "memory"
    previous, suite.store = suite.store, url
    yield url
    suite.store = previous


@pytest.fixture(autouse=True)
def _serve_the_suites_version(monkeypatch, suite):
    """Sandboxes started from the environment (the command line, the plugin) serve it too."""
    monkeypatch.setenv("FLEXPRICE_MOCK_API_VERSION", suite.version)


@pytest.fixture(scope="package")
def flexprice_settings(suite, store):
    """The plugin's sandbox (``flexprice`` fixtures) serves the suite's version."""
    return suite.settings()


@pytest.fixture(scope="package")
def flexprice_server(request, flexprice_settings):
    yield from serve_sandbox(request.config, flexprice_settings)


@pytest.fixture(scope="package")
def flexprice_wsgi_app(suite, store, flexprice_settings):
    return suite.create_app(validate_responses=True, log_requests=False)


@pytest.fixture(scope="package")
def app(suite, store):
    return suite.create_app(validate_responses=True, log_requests=False)


@pytest.fixture(scope="package")
def live_url(app):
    """The same app served by the sandbox's server on a free loopback port, for tests that need a socket."""
    server = BackgroundServer(app)
    yield server.url
    server.stop()


@pytest.fixture
def api(app, suite):
    """In-process client of the package's app with a fresh API key: an empty world per test."""
    return suite.client_of(app)


@pytest.fixture
def http(live_url, suite):
    """Real HTTP client (requests over a socket) with a fresh API key."""
    with requests.Session() as session:
        yield suite.http_client(live_url, session)
