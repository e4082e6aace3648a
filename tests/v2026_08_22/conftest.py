"""The suite of API version 2026-08-22 (the default): one sandbox per session, in-process and
over a real socket, a fresh world per test; every reply is checked against the version's
document."""
from __future__ import annotations

from typing import Any

import pytest
import requests

import mockserver
from mockserver import Settings
from mockserver.http.server import BackgroundServer

from .. import support
from ..support import Reply, new_key

API_VERSION = "2026-08-22"
CONTRACT = support.Contract(API_VERSION)

__all__ = ["Api", "Reply", "new_key", "create_app", "client_of", "make_customer", "make_wallet",
           "CONTRACT", "API_VERSION"]


class Api(support.Api):
    """A client of this suite's version, checking replies against its document."""

    def __init__(self, send, api_key: str | None, contract: support.Contract = CONTRACT):
        super().__init__(send, api_key, contract)


def create_app(**settings: Any):
    """A sandbox of this suite's API version."""
    return mockserver.create_app(api_version=API_VERSION, **settings)


@pytest.fixture(autouse=True)
def _serve_this_version(monkeypatch):
    """Sandboxes started from the environment (the command line, the plugin) serve it too."""
    monkeypatch.setenv("FLEXPRICE_MOCK_API_VERSION", API_VERSION)


@pytest.fixture(scope="session")
def flexprice_settings() -> Settings:
    """The plugin's sandbox (``flexprice`` fixtures) serves this suite's version too."""
    return Settings(host="127.0.0.1", port=0, log_requests=False, validate_responses=True,
                    api_version=API_VERSION)


@pytest.fixture(scope="session")
def app():
    return create_app(validate_responses=True, log_requests=False)


@pytest.fixture(scope="session")
def live_url(app):
    """The same app served by waitress on a free loopback port, for tests that need a socket."""
    server = BackgroundServer(app)
    yield server.url
    server.stop()


def client_of(app, environ: dict | None = None) -> Api:
    """An in-process client (Flask test client) of ``app`` with a fresh API key; ``environ``
    sets WSGI values such as REMOTE_ADDR."""
    client = app.test_client()

    def send(method, path, data, headers):
        r = client.open(path, method=method, data=data, headers=headers, environ_base=environ or {})
        return Reply(r.status_code, r.headers, r.get_data())

    return Api(send, new_key())


@pytest.fixture
def api(app) -> Api:
    """In-process client of the session's app with a fresh API key: an empty world per test."""
    return client_of(app)


@pytest.fixture
def http(live_url) -> Api:
    """Real HTTP client (requests over a socket) with a fresh API key."""
    session = requests.Session()

    def send(method, path, data, headers):
        r = session.request(method, live_url + path, data=data, headers=headers, timeout=10)
        return Reply(r.status_code, r.headers, r.content)

    yield Api(send, new_key())
    session.close()


def make_customer(api: Api, external_id: str = "acme-1", **fields) -> dict:
    reply = api.post("/v1/customers", {"external_id": external_id, "name": "Acme Inc.", **fields})
    assert reply.status == 201, reply.json
    return reply.json


def make_wallet(api: Api, customer_id: str = "cust_test", **fields) -> dict:
    reply = api.post("/v1/wallets", {"customer_id": customer_id, "currency": "usd", **fields})
    assert reply.status == 200, reply.json
    return reply.json
