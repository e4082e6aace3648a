"""``mockserver.testing.FlexpriceSandbox``: the Testcontainers class the package ships, run on
this checkout's image through podman's Docker-compatible API (``podman system service``).

Three containers in all: one with the defaults shared by most tests, one for an older API
version with fixtures (start, use, stop), and one that exits at start."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from mockserver.testing import FlexpriceSandbox, SandboxStartError

from ..support import docs_example, sdk_wallet_flow
from .engine import Engine, start_api_service


@pytest.fixture(scope="module")
def docker_api(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """podman's Docker-compatible socket, and the environment that points Testcontainers at it."""
    from testcontainers.core.config import ConnectionMode, testcontainers_config

    service, env = start_api_service(engine, tmp_path_factory.mktemp("podman-api") / "docker.sock")
    try:
        with pytest.MonkeyPatch.context() as patch:
            # Testcontainers reads these two variables once, maybe before this fixture (this module
            # imports it): its configuration gets them too. No Ryuk: its image is in no registry
            # here; the docker host's mapped ports: /.dockerenv would make it guess it runs in a
            # container and look for a gateway.
            patch.setattr(testcontainers_config, "ryuk_disabled", True)
            patch.setattr(testcontainers_config, "connection_mode_override", ConnectionMode.docker_host)
            for name, value in env.items():
                patch.setenv(name, value)
            yield env
    finally:
        service.terminate()
        service.wait(timeout=30)


@pytest.fixture(scope="module")
def sandbox(docker_api: dict[str, str], image: str) -> Iterator[FlexpriceSandbox]:
    """One sandbox with the defaults for the module; each test uses keys of its own."""
    with FlexpriceSandbox(image) as started:
        yield started


def listed(engine: Engine, container_id: str) -> str:
    """What ``ps -a`` lists for the container: empty once it is gone."""
    return engine.run("ps", "-a", "-q", "--no-trunc", "--filter", f"id={container_id}").stdout.strip()


def test_defaults_serve_the_latest_api_on_a_mapped_port(sandbox: FlexpriceSandbox) -> None:
    health = sandbox.health()
    assert health["status"] == "ok" and health["api_version"] == "2026-08-22"
    assert health["store"] == "memory"
    assert sandbox.url.startswith("http://") and sandbox.url.rsplit(":", 1)[1] != "8080"
    assert sandbox.base_url == sandbox.url + "/v1"
    assert len(sandbox.admin_token) >= 24  # generated, never empty
    keys = {sandbox.api_key() for _ in range(3)}
    assert len(keys) == 3 and all(k.startswith("sk_test_") for k in keys)
    assert sandbox.api_key("sk_live_").startswith("sk_live_")


def test_the_official_sdk_creates_and_tops_up_a_wallet(sandbox: FlexpriceSandbox) -> None:
    key = sandbox.api_key()
    wallet = sdk_wallet_flow(sandbox.base_url, key)

    world = sandbox.controls(key).state()
    assert [c["external_id"] for c in world["customers"]] == ["acme-42"]
    assert [w["id"] for w in world["wallets"]] == [wallet.id]
    assert len(world["transactions"]) == 2
    # Another key is another world: it sees none of this.
    assert sandbox.controls().state()["customers"] == []


def test_controls_inject_a_fault_and_reset_the_world(sandbox: FlexpriceSandbox) -> None:
    key = sandbox.api_key()
    controls = sandbox.controls(key)
    assert controls.api_key == key
    api = requests.Session()
    api.headers["x-api-key"] = key
    created = api.post(f"{sandbox.base_url}/customers", json={"external_id": "c-1", "name": "C One"})
    assert created.status_code == 201

    rule = controls.add_fault(method="GET", path="/v1/customers", status=503)
    assert rule["status"] == 503
    failed = api.get(f"{sandbox.base_url}/customers")
    assert failed.status_code == 503 and failed.headers["X-Mock-Fault"].startswith("status 503")
    other = requests.get(f"{sandbox.base_url}/customers", headers={"x-api-key": sandbox.api_key()})
    assert other.status_code == 200  # the rule is this key's alone
    assert [e["status"] for e in controls.journal(path="/v1/customers")] == [503, 201]

    controls.reset()
    controls.clear_faults()  # a reset keeps fault rules: they go on their own
    assert controls.state()["customers"] == []
    listing = api.get(f"{sandbox.base_url}/customers")
    assert listing.status_code == 200 and listing.json()["items"] == []


def test_controls_need_the_admin_token_through_the_port_mapping(sandbox: FlexpriceSandbox) -> None:
    key = {"x-api-key": sandbox.api_key()}
    without = requests.get(f"{sandbox.url}/_mock/state", headers=key, timeout=10)
    assert without.status_code == 403
    wrong = requests.get(
        f"{sandbox.url}/_mock/state", headers={**key, "X-Mock-Admin-Token": "not-it"}, timeout=10
    )
    assert wrong.status_code == 403
    right = requests.get(
        f"{sandbox.url}/_mock/state", headers={**key, "X-Mock-Admin-Token": sandbox.admin_token}, timeout=10
    )
    assert right.status_code == 200 and right.json()["customers"] == []
    # The API itself needs only a key, and the health check nothing.
    assert requests.get(f"{sandbox.base_url}/customers", headers=key, timeout=10).status_code == 200
    assert requests.get(f"{sandbox.url}/_mock/health", timeout=10).status_code == 200


FIXTURE = """\
customers:
  - external_id: globex
    name: Globex Corp.
    wallets:
      - currency: usd
        initial_credits_to_load: 40
"""


def test_an_older_version_with_fixtures_then_stopped(
    docker_api: dict[str, str], image: str, engine: Engine, tmp_path: Path
) -> None:
    fixtures = tmp_path / "fixtures"
    fixtures.mkdir()
    (fixtures / "globex.yaml").write_text(FIXTURE)
    # The container runs as uid 10001: pytest's temporary directories are private (0700).
    fixtures.chmod(0o755)
    (fixtures / "globex.yaml").chmod(0o644)

    box = FlexpriceSandbox(image, api_version="2025-05-24", fixtures=fixtures, admin_token="s3cret")
    box.start()
    try:
        container_id = box.get_wrapped_container().id
        assert box.health()["api_version"] == "2025-05-24"
        assert box.admin_token == "s3cret"
        for key in (box.api_key(), box.api_key()):  # every new world starts with the fixture
            found = requests.get(f"{box.base_url}/customers/lookup/globex", headers={"x-api-key": key})
            assert found.status_code == 200 and found.json()["name"] == "Globex Corp."
            wallets = box.controls(key).state()["wallets"]
            assert [w["credit_balance"] for w in wallets] == ["40.000000000"]
        # 2025-05-24's error body, not 2026-08-22's.
        missing = requests.get(f"{box.base_url}/wallets/wallet_x", headers={"x-api-key": box.api_key()})
        assert missing.status_code == 404 and missing.json()["success"] is False
        assert listed(engine, container_id) != ""
    finally:
        box.stop()
    assert listed(engine, container_id) == ""
    box.stop()  # twice is harmless
    with pytest.raises(SandboxStartError, match="not started"):
        box.url  # noqa: B018


def test_a_start_that_fails_says_why_and_leaves_nothing(
    docker_api: dict[str, str], image: str, engine: Engine
) -> None:
    name = f"flexprice-tc-{uuid.uuid4().hex[:12]}"  # found by name: other suites may run containers
    box = FlexpriceSandbox(image, workers=2, startup_timeout=20).with_name(name)  # 2 workers need Redis
    with pytest.raises(SandboxStartError) as failure, box:
        pass
    assert "exited (code 2)" in str(failure.value)
    assert "needs a shared store" in str(failure.value)  # the server's own line, from its logs
    assert engine.run("ps", "-a", "-q", "--filter", f"name=^{name}$").stdout.strip() == ""


def test_a_missing_fixtures_path_is_refused_before_any_container(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        FlexpriceSandbox("unused", fixtures=tmp_path / "nope")


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60
    )


def test_without_testcontainers_the_import_error_says_what_to_install() -> None:
    done = run_python(
        """
        import sys
        sys.modules["testcontainers"] = None  # as if it were not installed
        try:
            import mockserver.testing
        except ImportError as exc:
            print(exc)
        """
    )
    assert "pip install 'flexprice-wallet-sandbox[testcontainers]'" in done.stdout, done.stderr


def test_the_rest_of_the_package_never_imports_it() -> None:
    done = run_python(
        """
        import sys
        import mockserver, mockserver.cli, mockserver.pytest_plugin, mockserver.http.app, mockserver.health
        print(sorted(m for m in sys.modules if m == "mockserver.testing" or m.startswith("testcontainers")))
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_docs_example_runs_as_written(docker_api: dict[str, str], image: str) -> None:
    """docs/container.md's Testcontainers example, on the image under test: it starts a sandbox,
    creates a customer with the SDK and adds a fault through the controls (each step raises if
    it is refused)."""
    example = docs_example("docs/container.md", "testcontainers")
    assert 'image="flexprice-mock"' in example
    namespace: dict = {}
    exec(
        compile(example.replace('image="flexprice-mock"', f"image={image!r}"), "docs/container.md", "exec"),
        namespace,
    )
