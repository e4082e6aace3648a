"""The recipes in examples/ run as users run them, on real containers.

- ``examples/docker-compose.yml`` is brought up with podman-compose (``docker compose`` where the
  engine is docker), only its ``${VAR:-default}`` images and host ports set from outside: the
  project's image (not built again), Debian's Redis and the Debian base as the receiver's Python,
  and free ports instead of 8080/9000. Then the sandbox is used as the file promises: healthy on
  Redis, controls behind the admin token, a wallet flow whose requests alternate between the two
  worker processes, and every webhook verified by the receiver.
- ``examples/github-actions.yml``'s job runs as a runner would run it: its service container started
  from the workflow's image, env, ports and options (health flags included), waited for by its
  health check, then its ``run:`` steps in bash with the job's environment, against tests written
  here into the job's working directory.
"""

from __future__ import annotations

import contextlib
import http.client
import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from .engine import Engine, free_port, health_status, logs, run_healthcheck

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
COMPOSE_FILE = EXAMPLES / "docker-compose.yml"
WORKFLOW_FILE = EXAMPLES / "github-actions.yml"
PLACEHOLDER = "your-org"  # what the recipes say a user replaces


# ---- helpers -------------------------------------------------------------------------------------


def wait_healthy(engine: Engine, container: str, interval: float, timeout: float) -> float:
    """Wait until the engine says ``container`` is healthy; returns the seconds waited.

    podman 4.3 runs health checks from systemd timers, absent here: the check is run every
    ``interval`` as the engine would. Docker runs them itself: its status is only read."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        time.sleep(interval)
        if engine.is_podman:
            run_healthcheck(engine, container)
        status = health_status(engine, container)
        if status == "healthy":
            return time.monotonic() - start
        if status == "unhealthy":  # as many failures in a row as the check's retries
            break
    raise AssertionError(
        f"{container} not healthy after {time.monotonic() - start:.0f}s "
        f"({health_status(engine, container)}):\n{logs(engine, container)[-3000:]}"
    )


def call(
    conn: http.client.HTTPConnection, method: str, path: str, body=None, headers=None
) -> tuple[int, dict]:
    """One request on a kept-alive connection: (status, JSON body)."""
    data = json.dumps(body).encode() if body is not None else None
    sent = {"Content-Type": "application/json"} if data is not None else {}
    conn.request(method, path, body=data, headers={**sent, **(headers or {})})
    reply = conn.getresponse()
    raw = reply.read()
    return reply.status, json.loads(raw) if raw else {}


def get_json(port: int, path: str, headers=None) -> tuple[int, dict | list]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        return call(conn, "GET", path, headers=headers)
    finally:
        conn.close()


# Run inside the sandbox container: which worker process (a child of PID 1, the parent) holds each
# established connection on port 8080, by the client's port: {pid: [client ports]}.
WORKER_CONNECTIONS = r"""
import json, os
clients = {}
for table in ("tcp", "tcp6"):
    try:
        rows = open("/proc/net/" + table).read().splitlines()[1:]
    except OSError:
        continue
    for row in rows:
        f = row.split()
        if f[3] == "01" and f[1].rsplit(":", 1)[1] == "1F90":
            clients[f[9]] = int(f[2].rsplit(":", 1)[1], 16)
held = {}
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        if open(f"/proc/{pid}/status").read().split("PPid:")[1].split()[0] != "1":
            continue
        links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
    except OSError:
        continue
    held[pid] = sorted(clients[x[8:-1]] for x in links if x.startswith("socket:[") and x[8:-1] in clients)
print(json.dumps(held))
"""


def one_connection_per_worker(
    engine: Engine, container: str, port: int, workers: int, tries: int = 60
) -> list[http.client.HTTPConnection]:
    """Kept-alive connections to the sandbox, one served by each of its ``workers`` processes.

    A connection stays with the worker that accepted it; which one does is the kernel's choice, so
    connections are opened (each answering one request) until every worker holds one. Spare ones
    are closed. The mapping needs the client's port preserved by the port forwarding (podman's is)."""
    opened: list[http.client.HTTPConnection] = []
    chosen: dict[str, http.client.HTTPConnection] = {}
    try:
        for _ in range(tries):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
            assert call(conn, "GET", "/_mock/health")[0] == 200
            opened.append(conn)
            held = json.loads(engine.run("exec", container, "python3", "-c", WORKER_CONNECTIONS).stdout)
            assert len(held) == workers, f"expected {workers} worker processes, found {held}"
            by_port = {c.sock.getsockname()[1]: c for c in opened}
            for pid, ports in held.items():
                for client_port in ports:
                    if pid not in chosen and client_port in by_port:
                        chosen[pid] = by_port[client_port]
            if len(chosen) == workers:
                return list(chosen.values())
        raise AssertionError(f"{tries} connections did not reach all {workers} workers: {held}")
    finally:
        for conn in opened:
            if conn not in chosen.values():
                conn.close()


def call_wait(port: int, headers: dict[str, str]) -> tuple[int, dict]:
    """POST /_mock/webhooks/wait: until nothing is due or in flight for the key's world."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        return call(conn, "POST", "/_mock/webhooks/wait", {"timeout": 15}, headers)
    finally:
        conn.close()


# ---- docker-compose.yml --------------------------------------------------------------------------


def compose_command(engine: Engine) -> list[str]:
    """podman-compose (a PyPI package) for podman, the compose plugin for docker."""
    if engine.is_podman:
        if importlib.util.find_spec("podman_compose") is None:
            pytest.fail("the compose example needs podman-compose: pip install podman-compose", pytrace=False)
        command = [sys.executable, "-m", "podman_compose"]
        if engine.global_args:  # --runtime runc where crun refuses (also in engine.env's containers.conf)
            command.append("--podman-args=" + shlex.join(engine.global_args))
        if engine.ulimit_args:  # rlimits that cannot be raised here
            command.append("--podman-run-args=" + shlex.join(engine.ulimit_args))
        # `down -v` removes the project's named volumes; -v on rm also removes the anonymous ones
        # the images declare (the sandbox's /data), which podman-compose leaves behind otherwise.
        return [*command, "--podman-rm-args=-v"]
    if engine.run("compose", "version", check=False).returncode != 0:
        pytest.fail("the compose example needs the docker compose plugin", pytrace=False)
    return [engine.exe, "compose"]


def compose_default(service: dict, variable: str) -> str:
    """The default a ``${VARIABLE:-default}`` of ``service``'s environment falls back to."""
    for value in service["environment"].values():
        found = re.search(r"\$\{" + variable + r":-([^}]*)\}", str(value))
        if found:
            return found.group(1)
    raise AssertionError(f"no ${{{variable}:-...}} in {service['environment']}")


class ComposeProject:
    """examples/docker-compose.yml brought up under a project name of its own."""

    def __init__(self, engine: Engine, env: dict[str, str]):
        self.engine = engine
        self.name = f"fpx-examples-{uuid.uuid4().hex[:8]}"
        self.command = [*compose_command(engine), "-f", str(COMPOSE_FILE), "-p", self.name]
        # The file's ${VAR:-default}s take their defaults unless set below, whatever this shell has.
        unset = set(re.findall(r"\$\{(\w+)", COMPOSE_FILE.read_text())) - set(env)
        self.env = {**{k: v for k, v in os.environ.items() if k not in unset}, **engine.env, **env}

    def run(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [*self.command, *args],
            env=self.env,
            cwd=EXAMPLES,
            text=True,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
        )
        assert done.returncode == 0, (
            f"compose {' '.join(args)} exited {done.returncode}:\n" + (done.stdout + done.stderr)[-4000:]
        )
        return done

    def containers(self) -> dict[str, str]:
        """{service: container id} of the project's containers, running or not."""
        out = self.engine.run(
            "ps",
            "-a",
            "--filter",
            f"label=com.docker.compose.project={self.name}",
            "--format",
            '{{.ID}} {{index .Labels "com.docker.compose.service"}}',
        ).stdout
        return {service: cid for cid, service in (line.split() for line in out.splitlines() if line.strip())}

    def volumes(self, container: str) -> list[str]:
        mounts = json.loads(self.engine.run("inspect", "--format", "{{json .Mounts}}", container).stdout)
        return [m["Name"] for m in mounts if m.get("Type") == "volume"]

    def leftovers(self) -> list[str]:
        """What of the project the engine still has: containers, pods and networks."""
        found = [f"container {c}" for c in self.containers().values()]
        if self.engine.is_podman:
            pods = self.engine.run("pod", "ps", "--format", "{{.Name}}", check=False).stdout.split()
            found += [f"pod {p}" for p in pods if p == f"pod_{self.name}"]
        networks = self.engine.run("network", "ls", "--format", "{{.Name}}", check=False).stdout.split()
        return found + [f"network {n}" for n in networks if n.startswith((f"{self.name}_", f"{self.name}-"))]

    def force_remove(self) -> None:
        """Remove whatever ``down`` left (it failed, or was never reached); never raises."""
        for cid in self.containers().values():
            self.engine.run("rm", "-f", "-v", cid, check=False, timeout=120)
        if self.engine.is_podman:
            self.engine.run("pod", "rm", "-f", f"pod_{self.name}", check=False, timeout=120)
        for kind, name in (item.split(" ", 1) for item in self.leftovers()):
            if kind == "network":
                self.engine.run("network", "rm", "-f", name, check=False, timeout=120)


def test_the_receiver_verifies_what_svix_signs():
    """examples/receiver.py's check against the svix library's own signatures (no container)."""
    from svix.webhooks import Webhook

    spec = importlib.util.spec_from_file_location("example_receiver", EXAMPLES / "receiver.py")
    receiver = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(receiver)
    secret = yaml.safe_load(COMPOSE_FILE.read_text())["x-webhook-secret"]
    body = json.dumps({"event_type": "wallet.created", "wallet": {"id": "wallet_1"}})
    now = datetime.now(timezone.utc)
    headers = {
        "svix-id": "msg_1",
        "svix-timestamp": str(int(now.timestamp())),
        "svix-signature": "v1,bm90IGl0 " + Webhook(secret).sign("msg_1", now, body),  # rotated: any one
    }
    assert receiver.verify(secret, headers, body.encode())
    assert not receiver.verify(secret, headers, body.encode() + b" ")
    assert not receiver.verify(secret, {**headers, "svix-id": "msg_2"}, body.encode())
    assert not receiver.verify("whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUE=", headers, body.encode())
    then = now - timedelta(hours=1)  # well signed, but too old: a replay
    old = {**headers, "svix-timestamp": str(int(then.timestamp()))}
    old["svix-signature"] = Webhook(secret).sign("msg_1", then, body)
    assert not receiver.verify(secret, old, body.encode())


@pytest.fixture
def compose_project(engine, image, redis_image, base_image):
    sandbox_port, receiver_port = free_port(), free_port()
    project = ComposeProject(
        engine,
        {
            "SANDBOX_IMAGE": image,
            "REDIS_IMAGE": redis_image,
            "PYTHON_IMAGE": base_image,  # Debian's python3 runs the receiver as python:3.12-slim would
            "SANDBOX_PORT": str(sandbox_port),
            "RECEIVER_PORT": str(receiver_port),
        },
    )
    project.sandbox_port, project.receiver_port = sandbox_port, receiver_port
    try:
        yield project
    finally:
        with contextlib.suppress(Exception):
            project.run("down", "-v", "-t", "5", timeout=180)
        project.force_remove()


def test_the_compose_example_runs_a_shared_sandbox_with_a_verifying_receiver(engine, compose_project):
    spec = yaml.safe_load(COMPOSE_FILE.read_text())
    sandbox_env = spec["services"]["sandbox"]["environment"]
    token = compose_default(spec["services"]["sandbox"], "SANDBOX_ADMIN_TOKEN")
    workers = int(sandbox_env["FLEXPRICE_MOCK_WORKERS"])
    project, port = compose_project, compose_project.sandbox_port

    started = time.monotonic()
    project.run("up", "-d", "--no-build")
    boxes = project.containers()
    assert set(boxes) == {"sandbox", "redis", "receiver"}
    # podman-compose before podman 4.6 cannot wait for a dependency to be healthy (it says so and
    # starts the sandbox anyway, which answers 503 until Redis is up): each health check is run here.
    for service in ("redis", "receiver", "sandbox"):
        wait_healthy(engine, boxes[service], interval=0.5, timeout=60)
    up = time.monotonic() - started

    status, health = get_json(port, "/_mock/health")
    assert status == 200, health
    assert health["status"] == "ok" and health["store"] == "redis" and health["api_version"] == "2026-08-22"

    # The controls answer only with the token: through the port mapping nobody is on loopback.
    key = {"x-api-key": f"sk_test_{uuid.uuid4().hex}"}
    admin = {**key, "X-Mock-Admin-Token": token}
    assert get_json(port, "/_mock/webhooks", key)[0] == 403
    assert get_json(port, "/_mock/webhooks", {**key, "X-Mock-Admin-Token": "wrong"})[0] == 403
    status, endpoints = get_json(port, "/_mock/webhooks", admin)
    assert status == 200
    assert [e["url"] for e in endpoints["items"]] == [sandbox_env["FLEXPRICE_MOCK_WEBHOOK_URL"]]

    # The wallet flow, its requests alternating between the two workers (one kept-alive connection
    # each): the second worker sees what the first wrote, through Redis.
    first, second = one_connection_per_worker(engine, boxes["sandbox"], port, workers)
    top_up = {
        "credits_to_add": "50",
        "transaction_reason": "PURCHASED_CREDIT_DIRECT",
        "idempotency_key": "o-1",
    }
    try:
        status, customer = call(first, "POST", "/v1/customers", {"external_id": "acme", "name": "Acme"}, key)
        assert status == 201, customer
        status, wallet = call(
            second,
            "POST",
            "/v1/wallets",
            {"customer_id": customer["id"], "currency": "usd", "initial_credits_to_load": "100"},
            key,
        )
        assert status == 200, wallet
        assert wallet["customer_id"] == customer["id"] and wallet["credit_balance"] == "100"
        status, topped = call(first, "POST", f"/v1/wallets/{wallet['id']}/top-up", top_up, key)
        assert status == 200, topped
        assert topped["wallet"]["credit_balance"] == "150"
        assert topped["wallet_transaction"]["credit_balance_after"] == "150"
        status, again = call(second, "POST", f"/v1/wallets/{wallet['id']}/top-up", top_up, key)
        assert status == 409 and again["code"] == "already_exists"  # the other worker knows the key
        for conn in (first, second):
            status, read = call(conn, "GET", f"/v1/wallets/{wallet['id']}", headers=key)
            assert status == 200 and read["credit_balance"] == "150" and read["balance"] == "150"
        status, balance = call(second, "GET", f"/v1/wallets/{wallet['id']}/balance/real-time", headers=key)
        assert status == 200 and balance["real_time_credit_balance"] == "150"
        # A control on a worker's connection, with the token: the world's journal has all of it.
        status, journal = call(first, "GET", "/_mock/journal?limit=20", headers=admin)
        assert status == 200
        assert len([e for e in journal["items"] if e["path"].startswith("/v1/")]) == 7
    finally:
        first.close()
        second.close()

    # Every delivery reached the receiver by its service name, signed with the shared secret.
    status, waited = call_wait(port, admin)
    assert status == 200, waited
    expected = Counter(
        {"customer.created": 1, "wallet.created": 1, "wallet.transaction.created": 2}  # initial + top-up
    )
    deadline = time.monotonic() + 20
    while True:
        status, received = get_json(project.receiver_port, "/received")
        assert status == 200
        if Counter(r["event_type"] for r in received) == expected or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert Counter(r["event_type"] for r in received) == expected, received
    assert all(r["verified"] for r in received), received
    assert len({r["svix_id"] for r in received}) == len(received)
    status, deliveries = get_json(port, "/_mock/webhooks/deliveries", admin)
    assert status == 200
    answered = [a["status_code"] for d in deliveries["items"] for a in d["attempts"]]
    assert answered and set(answered) == {204}, deliveries
    # ...and `compose logs receiver` shows them arriving.
    receiver_log = logs(engine, boxes["receiver"])
    for r in received:
        assert f"webhook {r['event_type']} {r['svix_id']} verified" in receiver_log

    # Down takes everything: containers, the pod, the network and the anonymous volumes.
    volumes = [v for box in boxes.values() for v in project.volumes(box)]
    assert volumes, "the sandbox's image declares a /data volume"
    project.run("down", "-v", "-t", "5", timeout=180)
    assert project.leftovers() == []
    present = engine.run("volume", "ls", "--format", "{{.Name}}").stdout.split()
    assert not set(volumes) & set(present), f"volumes left behind: {set(volumes) & set(present)}"
    print(f"compose: up and healthy in {up:.1f}s, whole test {time.monotonic() - started:.1f}s")


# ---- github-actions.yml --------------------------------------------------------------------------

EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def evaluate(text: str, context: dict) -> str:
    """The ``${{ ... }}`` expressions of ``text``, as far as the workflow uses them: context
    lookups (``vars.X``, ``job.services.flexprice.ports['8080']``) and quoted literals joined by
    ``||`` (the first non-empty one wins). Anything else fails, rather than run something else."""

    def one(match: re.Match) -> str:
        for term in (t.strip() for t in match.group(1).split("||")):
            if len(term) >= 2 and term[0] == term[-1] == "'":
                value = term[1:-1].replace("''", "'")
            elif re.fullmatch(r"[A-Za-z_][\w-]*(\.[A-Za-z_][\w-]*|\['[^']*'\])*", term):
                value = context
                for bracketed, name in re.findall(r"\['([^']*)'\]|([A-Za-z_][\w-]*)", term):
                    value = value.get(bracketed or name, "") if isinstance(value, dict) else ""
            else:
                raise AssertionError(f"an expression this test does not evaluate: {match.group(0)}")
            if value:
                return str(value)
        return ""

    return EXPRESSION.sub(one, text)


# What the workflow's job runs, written into its working directory as the checkout would bring it:
# a user's tests, on the plugin's `flexprice` fixture and the official SDK.
USER_TESTS = """\
from flexprice import Flexprice


def test_a_customer_and_a_wallet_through_the_sdk(flexprice):
    with Flexprice(server_url=flexprice.base_url, api_key_auth=flexprice.api_key) as fp:
        customer = fp.customers.create_customer(external_id="acme-ci", name="Acme CI")
        wallet = fp.wallets.create_wallet(
            customer_id=customer.id, currency="usd", initial_credits_to_load="100"
        )
        topped = fp.wallets.top_up_wallet(
            id=wallet.id, credits_to_add="50", transaction_reason="PURCHASED_CREDIT_DIRECT"
        )
    assert str(topped.wallet.credit_balance) == "150"


def test_a_fault_reaches_the_client_once(flexprice):
    wallet = flexprice.session.post(
        f"{flexprice.base_url}/wallets", json={"customer_id": "cust_1", "currency": "usd"}
    ).json()
    flexprice.add_fault(operation="getWallet", status=503, first=1)  # a control: needs the token

    first = flexprice.session.get(f"{flexprice.base_url}/wallets/{wallet['id']}")
    second = flexprice.session.get(f"{flexprice.base_url}/wallets/{wallet['id']}")

    assert first.status_code == 503 and first.headers["X-Mock-Fault"].startswith("status 503")
    assert second.status_code == 200 and second.json()["id"] == wallet["id"]
    assert [e["status"] for e in flexprice.journal(path="/v1/wallets/*")] == [200, 503]
"""


def sandbox_source(into: Path) -> Path:
    """The package's sources as its build context has them (.containerignore), copied so that
    pip builds it without writing into the checkout another process may be using."""
    into.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(REPO / name, into / name)
    shutil.copytree(
        REPO / "mockserver", into / "mockserver", ignore=shutil.ignore_patterns("__pycache__", "*.py[cod]")
    )
    return into


def runner_env(job_env: dict[str, str], extra: dict[str, str]) -> dict[str, str]:
    """A step's environment: this machine's, less what would leak this session's Python, sandbox
    settings or pytest options into the job; then what the runner and the job set."""
    leaks = ("FLEXPRICE_MOCK_", "PYTEST_", "VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PIP_REQUIRE_")
    base = {k: v for k, v in os.environ.items() if not k.startswith(leaks)}
    return {**base, "CI": "true", "GITHUB_ACTIONS": "true", **job_env, **extra}


def read_github_env(path: Path) -> dict[str, str]:
    """NAME=value lines a step appended to $GITHUB_ENV (the multi-line form is not used here)."""
    values = {}
    for line in path.read_text().splitlines():
        if line.strip():
            name, sep, value = line.partition("=")
            assert sep and "<<" not in name, f"a $GITHUB_ENV line this test does not read: {line}"
            values[name] = value
    return values


def test_the_github_actions_example_runs_its_steps_against_the_service_container(engine, image, tmp_path):
    workflow = yaml.safe_load(WORKFLOW_FILE.read_text())
    [(job_name, job)] = workflow["jobs"].items()
    [(service_name, service)] = job["services"].items()
    context: dict = {"secrets": {}, "vars": {}, "github": {"workspace": str(tmp_path / "work")}}

    # The service container, as the runner creates it: on the job's network under the service's
    # name, the workflow's ports (a free loopback port for 8080 here), env and options verbatim.
    image_name = evaluate(service["image"], context)
    if PLACEHOLDER in image_name:
        image_name = image
    env = {k: evaluate(str(v), context) for k, v in service.get("env", {}).items()}
    container_ports = [str(p).rsplit(":", 1)[-1] for p in service.get("ports", [])]
    host_ports = {p: free_port() for p in container_ports}
    options = shlex.split(service.get("options", ""))
    network = f"fpx-actions-{uuid.uuid4().hex[:8]}"
    name = f"{network}-{service_name}"
    command = ["run", "-d", *engine.ulimit_args, "--name", name, "--network", network]
    command += ["--network-alias", service_name]
    for port, host in host_ports.items():
        command += ["-p", f"127.0.0.1:{host}:{port}"]
    command += options
    for key, value in env.items():
        command += ["-e", f"{key}={value}"]
    interval = float(options[options.index("--health-interval") + 1].rstrip("s"))
    retries = int(options[options.index("--health-retries") + 1])
    context["job"] = {"services": {service_name: {"ports": host_ports}}}

    work = tmp_path / "work"  # the checkout: the user's tests
    (work / "tests").mkdir(parents=True)
    (work / "tests" / "test_with_the_sandbox.py").write_text(USER_TESTS)
    github_env = tmp_path / "github_env"
    github_env.touch()
    engine.run("network", "create", network)
    started = time.monotonic()
    try:
        engine.run(*command, image_name)
        waited = wait_healthy(engine, name, interval, timeout=interval * (retries + 2) + 10)
        health = engine.run("inspect", "--format", "{{json .Config.Healthcheck}}", name).stdout
        assert "flexprice-mock health" in health  # the options' check replaced the image's

        job_env = {k: evaluate(str(v), context) for k, v in job.get("env", {}).items()}
        for key, value in job_env.items():
            if PLACEHOLDER in value:  # the sandbox's package: from this checkout, as a user's fork
                source = sandbox_source(tmp_path / "flexprice-wallet-sandbox")
                job_env[key] = f"flexprice-wallet-sandbox @ {source.as_uri()}"
        context["env"] = job_env
        path = os.environ["PATH"]
        outputs = []
        for number, step in enumerate(job["steps"], 1):
            if "uses" in step:
                if step["uses"].startswith("actions/setup-python"):
                    # A fresh Python on PATH, as setup-python gives (this machine's version, not
                    # the one asked for: nothing is downloaded).
                    subprocess.run([sys.executable, "-m", "venv", str(tmp_path / "python")], check=True)
                    path = f"{tmp_path / 'python' / 'bin'}{os.pathsep}{path}"
                continue  # checkout: the working directory already holds the tests
            step_env = {k: evaluate(str(v), context) for k, v in step.get("env", {}).items()}
            script = tmp_path / f"step-{number}.sh"
            script.write_text(evaluate(step["run"], context))
            extra = {**read_github_env(github_env), **step_env, "GITHUB_ENV": str(github_env)}
            done = subprocess.run(
                ["bash", "-e", str(script)],  # the runner's default shell
                cwd=work,
                env=runner_env(job_env, {"PATH": path, "GITHUB_WORKSPACE": str(work), **extra}),
                text=True,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=900,
            )
            output = done.stdout + done.stderr
            label = step.get("name", step["run"].splitlines()[0])
            assert done.returncode == 0, f"step {label!r} of job {job_name} failed:\n{output[-5000:]}"
            outputs.append((label, output))
        ran = dict(outputs)
    finally:
        container_log = logs(engine, name)
        engine.run("rm", "-f", "-v", name, check=False, timeout=120)
        engine.run("network", "rm", "-f", network, check=False, timeout=120)

    assert any("ok: Flexprice API 2026-08-22" in out for out in ran.values()), ran
    [tests] = [out for out in ran.values() if "passed" in out]
    assert re.search(r"\b2 passed\b", tests), tests
    # The user's tests ran against the container, not a sandbox of their own.
    assert "POST /v1/customers 201" in container_log and "GET /v1/wallets/" in container_log
    print(f"actions: healthy after {waited:.1f}s, whole job {time.monotonic() - started:.1f}s")
