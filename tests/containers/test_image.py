"""The container image, built from this checkout's ``Containerfile`` and run on a real engine
(podman): what it is made of, what it serves through a port mapping, who may use its controls,
how it stops and keeps its state, both API versions, Redis with two workers in one pod.

Sizes and start times are measured by ``bench/container.py``, not here.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from ..support import Suite, sdk_wallet_flow
from .engine import (
    Container,
    Engine,
    added_size,
    create_pod,
    exit_code,
    logs,
    pod_port,
    remove_container,
    remove_pod,
    run_container,
    run_healthcheck,
    running,
    stop_container,
    wait_healthy,
)

MAX_ADDED_BYTES = 60 * 1000 * 1000
SUITES = {version: Suite(version) for version in ("2025-05-24", "2026-08-22")}


def api(box: Container, version: str = "2026-08-22", session: requests.Session | None = None):
    """A client of the container's API as a fresh key, every /v1 reply checked by the document."""
    return SUITES[version].http_client(box.url, session or requests.Session())


def last_line(output: str) -> str:
    """What a command in the container printed last (the engine may log warnings before it)."""
    return output.strip().splitlines()[-1]


def inspect(engine: Engine, image: str) -> dict:
    return json.loads(engine.run("image", "inspect", image).stdout)[0]


# ---- what the image is ----------------------------------------------------------------------------


def test_the_image_adds_at_most_60_mb_and_runs_as_a_user_on_port_8080(engine, image, base_image):
    assert added_size(engine, image, base_image) <= MAX_ADDED_BYTES
    described = inspect(engine, image)
    config = described["Config"]
    assert config["User"] == "sandbox"
    assert "8080/tcp" in config["ExposedPorts"]
    assert "/data" in config["Volumes"]
    assert "FLEXPRICE_MOCK_HOST=0.0.0.0" in config["Env"]
    assert config["Entrypoint"] == ["flexprice-mock"]
    healthcheck = config.get("Healthcheck") or described["Healthcheck"]  # docker / podman
    assert healthcheck["Test"] == ["CMD", "flexprice-mock", "health"]
    probe = "id -u; command -v pip pip3 || echo no-pip"
    listed = engine.run("run", "--rm", *engine.ulimit_args, "--entrypoint", "sh", image, "-c", probe)
    uid, found = listed.stdout.strip().splitlines()[-2:]
    assert (uid, found) == ("10001", "no-pip")  # not root; no installer left in the image


# ---- serving --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def box(engine, image) -> Iterator[Container]:
    """One container on the image's defaults, the API reached through a port mapping."""
    with running(engine, image) as container:
        yield container


def test_the_api_answers_through_the_port_mapping_with_the_official_sdk(box):
    sdk_wallet_flow(box.url + "/v1", f"sk_test_{uuid.uuid4().hex}")
    health = requests.get(box.url + "/_mock/health", timeout=10).json()
    assert health == {"status": "ok", "api_version": "2026-08-22", "store": "memory", "worlds": 1}


def test_the_health_check_needs_no_curl_and_follows_the_configured_port(engine, image, box):
    assert run_healthcheck(engine, box.id)
    done = engine.run("exec", box.id, "flexprice-mock", "health")
    assert last_line(done.stdout).startswith("ok: Flexprice API 2026-08-22 on http://127.0.0.1:8080 (memory")
    with running(engine, image, env={"FLEXPRICE_MOCK_PORT": "9090"}, publish=9090) as moved:
        assert run_healthcheck(engine, moved.id)
        assert "on http://127.0.0.1:9090 " in engine.run("exec", moved.id, "flexprice-mock", "health").stdout
    # A container whose server is gone is unhealthy, and says why in one line.
    done = engine.run("exec", box.id, "flexprice-mock", "health", "--port", "9", check=False)
    assert done.returncode == 1
    assert (
        last_line(done.stdout)
        == "flexprice-mock health: nothing answers on http://127.0.0.1:9 (Connection refused)"
    )


def test_controls_through_the_mapping_are_refused_until_the_admin_setting_admits_them(engine, image, box):
    client = api(box)
    assert client.post("/v1/customers", {"external_id": "a", "name": "A"}).status == 201
    refused = client.post("/_mock/reset?all=true")
    assert refused.status == 403
    seen = refused.json["details"]["client"]  # the engine's side of the mapping, as the sandbox saw it
    assert refused.json["message"].startswith(f"Sandbox controls refuse {seen}: they answer loopback clients")
    assert client.get("/_mock/health").json["worlds"] >= 1
    # Inside the container, loopback is admitted.
    inside = engine.run("exec", box.id, "python3", "-c", _LOCAL_JOURNAL.format(key=client.api_key))
    assert last_line(inside.stdout) == "200"

    with running(engine, image, env={"FLEXPRICE_MOCK_ADMIN_FROM": f"{seen}/32"}) as admitted:
        client = api(admitted)
        assert (
            client.post("/_mock/faults", {"path": "/v1/customers", "method": "GET", "status": 503}).status
            == 201
        )
        assert client.get("/v1/customers").status == 503
        assert client.post("/v1/customers", {"external_id": "a", "name": "A"}).status == 201
        reset = client.post("/_mock/reset")
        assert (reset.status, reset.json["reset"]) == (200, 1)
    with running(engine, image, env={"FLEXPRICE_MOCK_ADMIN_TOKEN": "s3cret"}) as tokened:
        client = api(tokened)
        assert client.post("/_mock/reset").status == 403
        assert client.post("/_mock/reset", headers={"X-Mock-Admin-Token": "s3cret"}).status == 200


_LOCAL_JOURNAL = """
import urllib.request
request = urllib.request.Request("http://127.0.0.1:8080/_mock/journal", headers={{"x-api-key": "{key}"}})
print(urllib.request.urlopen(request).status)
"""


def test_the_older_api_version_is_chosen_by_environment(engine, image):
    with running(engine, image, env={"FLEXPRICE_MOCK_API_VERSION": "2025-05-24"}) as old:
        client = api(old, "2025-05-24")
        assert client.get("/_mock/health").json["api_version"] == "2025-05-24"
        wallet = client.post(
            "/v1/wallets", {"customer_id": "cust_1", "currency": "USD", "initial_credits_to_load": 10}
        )
        assert wallet.status == 200 and wallet.json["balance"] == 10  # numbers, as that version writes them


def test_fixtures_mounted_at_fixtures_fill_every_new_world(engine, image, tmp_path: Path):
    (tmp_path / "acme.yaml").write_text("customers:\n  - external_id: acme-42\n    name: Acme Inc.\n")
    tmp_path.chmod(0o755)
    with running(engine, image, volumes=[f"{tmp_path}:/fixtures:ro"]) as box:
        customers = api(box).get("/v1/customers").json["items"]
        assert [c["external_id"] for c in customers] == ["acme-42"]


# ---- stopping, and state kept in the volume --------------------------------------------------------


def test_sigterm_stops_it_at_once_and_a_new_container_on_the_volume_keeps_the_wallet(engine, image):
    volume = f"flexprice-state-{uuid.uuid4().hex[:8]}"
    engine.run("volume", "create", volume)
    state = {"FLEXPRICE_MOCK_STATE_FILE": "/data/state.json", "FLEXPRICE_MOCK_STATE_SAVE_INTERVAL": "0"}
    first = run_container(engine, image, env=state, volumes=[f"{volume}:/data"])
    try:
        wait_healthy(first.url, 30, engine, first.id)
        client = api(first)
        customer = client.post("/v1/customers", {"external_id": "keep", "name": "Kept"}).json
        wallet = client.post(
            "/v1/wallets", {"customer_id": customer["id"], "currency": "usd", "initial_credits_to_load": "75"}
        ).json
        # SIGTERM, and SIGKILL two seconds later: exit code 0 means it stopped by itself in time.
        stop_container(engine, first.id, timeout=2)
        assert exit_code(engine, first.id) == 0, logs(engine, first.id)
        assert "state file /data/state.json" in logs(engine, first.id)
        second = run_container(engine, image, env=state, volumes=[f"{volume}:/data"])
        try:
            wait_healthy(second.url, 30, engine, second.id)
            again = api(second).as_key(client.api_key).get(f"/v1/wallets/{wallet['id']}")
            assert (again.status, again.json["credit_balance"]) == (200, "75")
        finally:
            remove_container(engine, second.id)
    finally:
        remove_container(engine, first.id)
        engine.run("volume", "rm", "-f", volume, check=False)


# ---- the Redis store, two workers, one pod --------------------------------------------------------


def test_two_workers_on_redis_in_a_pod_share_every_world(engine, image, redis_image):
    pod = create_pod(engine, f"flexprice-pod-{uuid.uuid4().hex[:8]}")
    try:
        run_container(engine, redis_image, pod=pod, publish=None)
        env = {"FLEXPRICE_MOCK_STORE": "redis://127.0.0.1:6379/0", "FLEXPRICE_MOCK_WORKERS": "2"}
        sandbox = run_container(engine, image, env=env, pod=pod, publish=None)
        box = Container(sandbox.id, pod_port(engine, pod))
        wait_healthy(box.url, 30, engine, sandbox.id)
        assert requests.get(box.url + "/_mock/health", timeout=10).json()["store"] == "redis"
        customer_id = None
        for n in range(20):  # new connections, spread over both workers by the kernel
            with requests.Session() as session:
                client = api(box, session=session)
                if customer_id is None:
                    customer_id = client.post("/v1/customers", {"external_id": "shared", "name": "S"}).json[
                        "id"
                    ]
                    key = client.api_key
                    continue
                got = client.as_key(key).get(f"/v1/customers/{customer_id}")
                assert got.status == 200, n
        assert "2 workers" in logs(engine, sandbox.id)
    finally:
        remove_pod(engine, pod)
