"""The sandbox in a container for your tests, with Testcontainers: ``FlexpriceSandbox``.

For suites that want the sandbox as a real container (the image your CI also runs) rather than
the in-process pytest plugin. Needs the image (``docker build -t flexprice-mock .`` in a clone)
and ``pip install 'flexprice-wallet-sandbox[testcontainers]'``::

    from flexprice import Flexprice
    from mockserver.testing import FlexpriceSandbox

    with FlexpriceSandbox() as sandbox:                    # waits until /_mock/health answers
        key = sandbox.api_key()                            # a fresh key: an empty world
        with Flexprice(server_url=sandbox.base_url, api_key_auth=key) as fp:
            customer = fp.customers.create_customer(external_id="acme-42", name="Acme Inc.")
        controls = sandbox.controls(key)                   # faults, journal, clock, state, reset
        controls.add_fault(method="GET", path="/v1/customers/*", status=503, first=1)

Requests through a port mapping do not come from loopback inside the container, so the controls
(``/_mock/``) need an admin token: one is generated unless given, and ``controls()`` sends it.
Everything is configured with ``FLEXPRICE_MOCK_*`` variables, as the README's Configuration lists.
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

try:
    from docker.errors import NotFound
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.exceptions import ContainerStartException
except ImportError as exc:  # pragma: no cover - depends on what is installed
    raise ImportError(
        "mockserver.testing needs Testcontainers: pip install 'flexprice-wallet-sandbox[testcontainers]' "
        "(or pip install testcontainers)"
    ) from exc

if TYPE_CHECKING:
    from typing_extensions import Self

    from .client import FlexpriceClient

__all__ = ["FlexpriceSandbox", "SandboxStartError"]

IMAGE_VARIABLE = "FLEXPRICE_SANDBOX_IMAGE"
DEFAULT_IMAGE = "flexprice-mock:latest"
PORT = 8080
FIXTURES_DIR = "/fixtures"
HEALTH_PATH = "/_mock/health"
ENV = "FLEXPRICE_MOCK_"


class SandboxStartError(ContainerStartException):
    """The sandbox did not become healthy; the message ends with the container's logs."""


def _fixtures_mount(path: Path) -> tuple[str, str]:
    """(host path, container path) of fixtures: a directory is /fixtures, a file goes inside it."""
    path = path.resolve()
    if not path.exists():
        raise FileNotFoundError(f"fixtures: {path} does not exist")
    return str(path), FIXTURES_DIR if path.is_dir() else f"{FIXTURES_DIR}/{path.name}"


class FlexpriceSandbox(DockerContainer):
    """The Flexprice wallet sandbox in a container, healthy once ``start()`` returns."""

    def __init__(
        self,
        image: str | None = None,
        *,
        api_version: str | None = None,
        fixtures: str | Path | None = None,
        webhook_url: str | None = None,
        store: str | None = None,
        workers: int | None = None,
        admin_token: str | None = None,
        env: Mapping[str, str | int] | None = None,
        startup_timeout: float = 30,
        **kwargs: Any,
    ) -> None:
        """``image``: else ``$FLEXPRICE_SANDBOX_IMAGE``, else flexprice-mock:latest. ``fixtures``: a
        directory (or one file) of fixture YAML, mounted read-only; the container's user (uid
        10001) must be able to read it. ``env``: any other FLEXPRICE_MOCK_* variable. Other
        keyword arguments go to ``DockerContainer`` (``docker_client_kw``, ...)."""
        mount = None if fixtures is None else _fixtures_mount(Path(fixtures))  # before the engine is asked
        super().__init__(image or os.environ.get(IMAGE_VARIABLE) or DEFAULT_IMAGE, **kwargs)
        given = {k: str(v) for k, v in (env or {}).items()}
        # Explicit arguments win over ``env``; a token given in ``env`` is the one sent.
        self._admin_token = admin_token or given.get(ENV + "ADMIN_TOKEN") or secrets.token_urlsafe(24)
        settings = {
            "HOST": "0.0.0.0",  # reached through a port mapping, never on the container's loopback
            "PORT": str(PORT),
            "ADMIN_TOKEN": self._admin_token,
            "API_VERSION": api_version,
            "WEBHOOK_URL": webhook_url,
            "STORE": store,
            "WORKERS": None if workers is None else str(workers),
        }
        self.env.update(given)
        self.env.update({ENV + k: v for k, v in settings.items() if v is not None})
        if mount is not None:
            self.with_volume_mapping(*mount, "ro")
            self.with_env(ENV + "FIXTURES", FIXTURES_DIR)
        self.with_exposed_ports(PORT)
        self.startup_timeout = startup_timeout
        self._url: str | None = None

    # ---- life cycle --------------------------------------------------------------------------

    def start(self) -> Self:
        """Start the container and wait until ``/_mock/health`` answers 200 through the mapped
        port; on a timeout or an exit, remove the container and raise with its logs."""
        try:
            try:
                super().start()
            except NotFound as exc:  # the image is neither here nor in a registry
                raise SandboxStartError(
                    f"image {self.image} not found: build it in a clone with "
                    f"`docker build -t flexprice-mock .`, or name yours in {IMAGE_VARIABLE} ({exc})"
                ) from exc
            self._wait_healthy()
        except BaseException:
            self.stop()  # a start that failed leaves no container behind, with or without `with`
            raise
        return self

    def _wait_healthy(self) -> None:
        container = self.get_wrapped_container()
        deadline = time.monotonic() + self.startup_timeout
        last = "not started"
        while True:
            container.reload()
            if container.status in ("exited", "dead"):
                code = container.attrs.get("State", {}).get("ExitCode")
                raise SandboxStartError(self._failure(f"the container {container.status} (code {code})"))
            if container.status == "running":
                try:
                    self._url = self._url or self._mapped_url()
                    with urllib.request.urlopen(self._url + HEALTH_PATH, timeout=2) as answer:
                        if answer.status == 200:
                            return
                        last = f"health answered {answer.status}"
                except (OSError, http.client.HTTPException) as exc:  # URLError and HTTPError too
                    last = str(exc)
            if time.monotonic() >= deadline:
                raise SandboxStartError(self._failure(f"not healthy within {self.startup_timeout}s ({last})"))
            time.sleep(0.1)

    def _mapped_url(self) -> str:
        host = self.get_container_host_ip()
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.get_exposed_port(PORT)}"

    def _failure(self, what: str) -> str:
        container = self.get_wrapped_container()
        logs = container.logs().decode("utf-8", "replace")[-4000:]
        return f"Flexprice sandbox {container.short_id} ({self.image}): {what}\n{logs}"

    def stop(self, force: bool = True, delete_volume: bool = True) -> None:
        """Remove the container (and its anonymous /data volume); calling it twice is harmless."""
        if self._container is None:
            return
        try:
            super().stop(force=force, delete_volume=delete_volume)
        finally:
            self._container = None
            self._url = None

    # ---- what tests use ----------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The sandbox's root on the host, e.g. ``http://localhost:32768``."""
        if self._url is None:
            raise SandboxStartError("the sandbox is not started")
        return self._url

    @property
    def base_url(self) -> str:
        """The API's root (``url`` + ``/v1``): what an SDK's ``server_url`` takes."""
        return self.url + "/v1"

    @property
    def admin_token(self) -> str:
        """The ``X-Mock-Admin-Token`` the controls require (generated unless given)."""
        return self._admin_token

    @staticmethod
    def api_key(prefix: str = "sk_test_") -> str:
        """A fresh, unique API key: every key is a world of its own, empty until used."""
        return f"{prefix}{uuid.uuid4().hex}"

    def controls(self, api_key: str | None = None) -> FlexpriceClient:
        """The ``/_mock/`` controls of ``api_key``'s world (a fresh key when None), sending the
        admin token: ``add_fault``, ``journal``, ``advance_clock``, ``load_fixture``, ``state``,
        ``reset``, ... (``.api_key`` and ``.session`` too). Needs ``requests``."""
        from .client import FlexpriceClient

        return FlexpriceClient(self.url, api_key or self.api_key(), admin_token=self.admin_token)

    def health(self) -> dict[str, Any]:
        """``GET /_mock/health``: ``{"status": "ok", "api_version": ..., "store": ..., ...}``, or
        the 503's ``{"status": "unavailable", "problem": ...}`` when its Redis cannot be reached."""
        try:
            with urllib.request.urlopen(self.url + HEALTH_PATH, timeout=10) as answer:
                return json.loads(answer.read())
        except urllib.error.HTTPError as refused:
            return json.loads(refused.read())
