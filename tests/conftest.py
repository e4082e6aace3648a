"""Fixtures every API version's suite shares; a suite's own conftest names its version by
overriding ``suite``. Every reply a test gets through ``api`` or ``http`` is checked against
that version's document."""
from __future__ import annotations

import pytest
import requests

from mockserver import api as versions
from mockserver.http.server import BackgroundServer

from .support import Suite


@pytest.fixture(scope="session")
def suite() -> Suite:
    return Suite(versions.DEFAULT)


@pytest.fixture(autouse=True)
def _serve_the_suites_version(monkeypatch, suite):
    """Sandboxes started from the environment (the command line, the plugin) serve it too."""
    monkeypatch.setenv("FLEXPRICE_MOCK_API_VERSION", suite.version)


@pytest.fixture(scope="session")
def flexprice_settings(suite):
    """The plugin's sandbox (``flexprice`` fixtures) serves the suite's version."""
    return suite.settings()


@pytest.fixture(scope="session")
def app(suite):
    return suite.create_app(validate_responses=True, log_requests=False)


@pytest.fixture(scope="session")
def live_url(app):
    """The same app served by waitress on a free loopback port, for tests that need a socket."""
    server = BackgroundServer(app)
    yield server.url
    server.stop()


@pytest.fixture
def api(app, suite):
    """In-process client of the session's app with a fresh API key: an empty world per test."""
    return suite.client_of(app)


@pytest.fixture
def http(live_url, suite):
    """Real HTTP client (requests over a socket) with a fresh API key."""
    with requests.Session() as session:
        yield suite.http_client(live_url, session)
