"""pytest plugin: a Flexprice sandbox for your test suite, with no conftest to write.

Installed with the package (entry point ``pytest11``), it offers:

- ``flexprice_server`` (session): one sandbox on a free loopback port, served by the sandbox's server in
  a thread (or the one at ``--flexprice-url``); ``.url``, ``.base_url``, ``.app``.
- ``flexprice`` (per test): a fresh API key, so an empty world of its own; ``.url``,
  ``.base_url``, ``.api_key``, ``.session`` (a ``requests.Session`` sending the key), and the
  controls: ``add_fault``, ``journal``, ``advance_clock``, ``set_clock``, ``load_fixture``,
  ``state``, ``load_state``, ``seed_ids``, ``reset``; and verification: ``assert_called``,
  ``assert_sequence``, ``assert_no_unexpected`` (``verify``, ``verify_sequence``, ``unexpected``);
  ``assert_no_unexpected(below="modelled")`` also fails on answers of a lower fidelity.
- ``flexprice_sandbox`` (per test): the same handle as ``flexprice``, by the name that reads
  best in assertions.
- ``flexprice_app`` (per test): the same controls in-process, over Flask's test client
  (``.client`` sends the key), for suites that do not want a socket.
- ``flexprice_settings`` (session): the sandbox's ``Settings``; override it in a conftest to
  load fixtures or seed ids.

``--flexprice-min-fidelity modelled`` (or the ``flexprice_min_fidelity`` ini setting) starts the
session's sandbox refusing (501) every operation answered below that level.

The key's world is reset when the test ends. Nothing is imported or started until a test asks
for one of these fixtures, so installing the package costs other suites nothing.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from .client import FlexpriceClient, FlexpriceControlError, SandboxControls, new_api_key
from .config import DEFAULT_API_VERSION, ENV_PREFIX, Settings
from .http.auth import ADMIN_TOKEN_HEADER
from .text import mask

# The controls' client lives in mockserver.client (no pytest needed); named here as well.
__all__ = ["FlexpriceClient", "FlexpriceControlError", "SandboxControls", "WebhookReceiver", "new_api_key"]


class FlexpriceInProcess(SandboxControls):
    """The same handle over Flask's test client: no socket, no thread."""

    def __init__(self, app, api_key: str):
        self.app = app
        self.api_key = api_key
        self.client = app.test_client()
        self.client.environ_base["HTTP_X_API_KEY"] = api_key

    def _send(self, method, path, body, headers):
        reply = self.client.open(path, method=method, data=body, headers=headers)
        return reply.status_code, reply.get_data()


class FlexpriceServer:
    """The session's sandbox: the app and the URL it answers on."""

    def __init__(self, url: str, app=None, admin_token: str | None = None):
        self.url = url.rstrip("/")
        self.base_url = self.url + "/v1"
        self.app = app
        self.admin_token = admin_token


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("flexprice-mock", "Flexprice wallet sandbox")
    group.addoption(
        "--flexprice-url",
        default=None,
        help="use the sandbox already running at this URL instead of starting one",
    )
    group.addoption(
        "--flexprice-admin-token",
        default=None,
        help=f"send this {ADMIN_TOKEN_HEADER} to the sandbox's /_mock/ controls",
    )
    group.addoption(
        "--flexprice-api-version",
        default=None,
        help="Flexprice API version the session's sandbox serves (default: the "
        "flexprice_api_version ini setting, FLEXPRICE_MOCK_API_VERSION, or the latest)",
    )
    parser.addini("flexprice_api_version", "Flexprice API version the session's sandbox serves")
    group.addoption(
        "--flexprice-min-fidelity",
        default=None,
        choices=("modelled", "stored", "schema", "none"),
        help="the session's sandbox refuses (501) every operation answered below this level, so no "
        "test passes on an answer without upstream's rules (default: the flexprice_min_fidelity "
        "ini setting, FLEXPRICE_MOCK_MIN_FIDELITY, or none)",
    )
    parser.addini("flexprice_min_fidelity", "lowest fidelity the session's sandbox answers at")


@pytest.fixture(scope="session")
def flexprice_settings(pytestconfig: pytest.Config) -> Settings:
    """How the session's sandbox is configured; override this fixture to change it."""
    version = (
        pytestconfig.getoption("--flexprice-api-version")
        or pytestconfig.getini("flexprice_api_version")
        or os.environ.get(ENV_PREFIX + "API_VERSION")
        or DEFAULT_API_VERSION
    )
    least = (
        pytestconfig.getoption("--flexprice-min-fidelity")
        or pytestconfig.getini("flexprice_min_fidelity")
        or os.environ.get(ENV_PREFIX + "MIN_FIDELITY")
        or "none"
    )
    return Settings(
        host="127.0.0.1",
        port=0,
        log_requests=False,
        validate_responses=True,
        api_version=version,
        min_fidelity=least,
    )


def _build_app(settings: Settings):
    from .http.app import create_app

    return create_app(settings)


@pytest.fixture(scope="session")
def flexprice_server(
    request: pytest.FixtureRequest, flexprice_settings: Settings
) -> Iterator[FlexpriceServer]:
    """One sandbox for the whole session, on a real socket."""
    yield from serve_sandbox(request.config, flexprice_settings)


def serve_sandbox(config: pytest.Config, settings: Settings) -> Iterator[FlexpriceServer]:
    """The sandbox at ``--flexprice-url``, or one started on a free port and stopped after:
    the body of ``flexprice_server``, for a conftest that wants one per package."""
    url = config.getoption("--flexprice-url")
    token = config.getoption("--flexprice-admin-token") or settings.admin_token
    if url:
        yield FlexpriceServer(url, admin_token=token)
        return
    from .http.server import BackgroundServer

    app = _build_app(settings)
    server = BackgroundServer(app, settings.host, settings.port)
    try:
        yield FlexpriceServer(server.url, app, token)
    finally:
        server.stop()


@pytest.fixture
def flexprice(flexprice_server: FlexpriceServer) -> Iterator[FlexpriceClient]:
    """A fresh API key (an empty world) on the session's sandbox, with its controls."""
    handle = FlexpriceClient(flexprice_server.url, new_api_key(), flexprice_server.admin_token)
    try:
        yield handle
    finally:
        _forget(handle)
        handle.close()


@pytest.fixture
def flexprice_sandbox(flexprice: FlexpriceClient) -> FlexpriceClient:
    """The test's sandbox handle under the name verification reads best with:
    ``flexprice_sandbox.assert_called("POST", "/v1/wallets/*/top-up", times=1)``. The same object
    as ``flexprice`` in the same test."""
    return flexprice


@pytest.fixture(scope="session")
def flexprice_wsgi_app(flexprice_settings: Settings):
    """The session's in-process sandbox (a Flask app), for ``flexprice_app``."""
    return _build_app(flexprice_settings)


@pytest.fixture
def flexprice_app(flexprice_wsgi_app) -> Iterator[FlexpriceInProcess]:
    """A fresh API key on an in-process sandbox: ``.client`` is a Flask test client sending it."""
    handle = FlexpriceInProcess(flexprice_wsgi_app, new_api_key())
    try:
        yield handle
    finally:
        _forget(handle)


class WebhookReceiver:
    """An HTTP receiver on a free loopback port, registered for one test's world: every delivery
    it gets is checked against the endpoint's secret (with the ``svix`` library when installed,
    as a real receiver would), answered with ``status``, and kept in ``events``."""

    def __init__(self, handle: SandboxControls, **endpoint: Any):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        receiver = self
        self.events: list[dict[str, Any]] = []  # verified payloads, in the order they came
        self.deliveries: list[dict[str, Any]] = []  # {"headers", "body", "verified"} of each POST
        self.status = 200
        self._arrived = threading.Condition()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver._receive({k.lower(): v for k, v in self.headers.items()}, body)
                self.send_response(receiver.status)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/webhooks"
        # A short poll: close() returns at once instead of after serve_forever's half second.
        threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="webhook-receiver",
            daemon=True,
        ).start()
        self.endpoint = handle.add_webhook(self.url, **endpoint)
        self.secret = self.endpoint["secret"]

    def _receive(self, headers: dict[str, str], body: bytes) -> None:
        verified = self.endpoint.get("mode") == "native" or _verify(self.secret, headers, body)
        with self._arrived:
            self.deliveries.append({"headers": headers, "body": body, "verified": verified})
            if verified:
                self.events.append(json.loads(body, parse_float=Decimal))
            self._arrived.notify_all()

    def of_type(self, event_type: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("event_type") == event_type]

    def wait_for(self, event_type: str, timeout: float = 5.0, count: int = 1) -> dict[str, Any]:
        """The ``count``-th event of ``event_type`` to arrive (waiting up to ``timeout`` s)."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while len(self.of_type(event_type)) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [e.get("event_type") for e in self.events]
                    raise AssertionError(f"no {event_type} (x{count}) within {timeout}s; received {seen}")
                self._arrived.wait(left)
            return self.of_type(event_type)[count - 1]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """Whether a delivery carries a valid signature for ``secret``."""
    try:
        from svix.webhooks import Webhook, WebhookVerificationError
    except ImportError:  # without svix: the same check, by hand
        from .webhooks import signing

        try:
            expected = signing.signature(secret, headers["svix-id"], int(headers["svix-timestamp"]), body)
        except (KeyError, ValueError):
            return False
        return expected in headers.get("svix-signature", "").split()
    try:
        Webhook(secret).verify(body, headers)
    except WebhookVerificationError:
        return False
    return True


@pytest.fixture
def flexprice_webhooks(flexprice: FlexpriceClient) -> Iterator[WebhookReceiver]:
    """A webhook receiver registered for the test's world (``flexprice``): ``.events``,
    ``.wait_for(event_type)``, ``.status`` (what it answers), ``.secret``, ``.endpoint``."""
    receiver = WebhookReceiver(flexprice)
    try:
        yield receiver
    finally:
        receiver.close()


def _forget(handle: SandboxControls) -> None:
    """Free what the test left: its world and its fault rules. A cleanup that fails is an error
    of the test's teardown, never silent: what it left would leak into the tests after it."""
    failed = []
    for cleanup in (handle.reset, handle.clear_faults):
        try:
            cleanup()
        except Exception as exc:  # the sandbox went away, or refused (an admin token missing)
            failed.append(f"{cleanup.__name__}: {type(exc).__name__}: {exc}")
    if failed:
        pytest.fail(
            f"flexprice: the world of {mask(handle.api_key)} could not be cleaned up after the test, "
            f"so it would leak into later tests ({'; '.join(failed)})",
            pytrace=False,
        )
