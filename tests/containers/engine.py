"""Helpers for tests that build and run the sandbox's container image (not a test module).

Machines without a registry or a Docker daemon still have podman from Debian: the base image is
made here with debootstrap (``localhost/flexprice-sandbox-base:bookworm``), the project's
``Containerfile`` is built on it, and containers are run, probed and stopped with plain
``subprocess``. The engine's quirks on such machines are found out, not assumed:

- a cgroup v1 or hybrid host, where crun refuses to start containers: ``--runtime runc``;
- a host where even root cannot raise an rlimit, while podman raises ``nofile`` and ``nproc`` by
  default: ``--ulimit nofile=N:N --ulimit nproc=M:M`` at or below the current hard limits;
- a network that reaches the package registries only through the host's CA bundle: the bundle is
  mounted over the image's during builds, which use the host's network;
- what takes no flag (a pod's infra container, ``podman system service`` for testcontainers) gets
  the same runtime and ulimits from a generated containers.conf (``Engine.env``: CONTAINERS_CONF);
- podman 4.3 runs HEALTHCHECKs from systemd timers, absent here: ``run_healthcheck`` runs one.

Typical use::

    engine = find_engine()                      # None: no container engine here
    base = ensure_base_image(engine)            # cached in podman's storage and /var/tmp
    image = build_image(engine, base=base)
    box = run_container(engine, image, env={"FLEXPRICE_MOCK_ID_SEED": "1"})
    try:
        wait_healthy(box.url)
        ...
    finally:
        remove_container(engine, box.id)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CONTAINERFILE = REPO / "Containerfile"

BASE_IMAGE = "localhost/flexprice-sandbox-base:bookworm"
# Bump to make every machine build its base again (its rootfs tarball is cached under this name).
BASE_VERSION = "bookworm-1"
BASE_CACHE = Path(os.environ.get("FLEXPRICE_SANDBOX_BASE_CACHE", "/var/tmp/flexprice-sandbox-base"))
BASE_LABEL = "org.flexprice.sandbox-base"
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates")
PROJECT_IMAGE = "localhost/flexprice-mock:test"
REDIS_IMAGE = "localhost/flexprice-sandbox-redis:bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
NPROC_LIMIT = 4096  # raising nproc to the hard limit itself was refused during builds
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
CONTAINER_PORT = 8080
HEALTH_PATH = "/_mock/health"


class ContainerError(RuntimeError):
    """An engine command failed; the message has the command and what it printed."""


@dataclass(frozen=True)
class Engine:
    """A container engine and the arguments this machine needs with it."""

    exe: str  # path of podman or docker
    name: str  # "podman" or "docker"
    global_args: tuple[str, ...] = ()  # before the subcommand: --runtime runc
    ulimit_args: tuple[str, ...] = ()  # for build and run: --ulimit nofile=N:N --ulimit nproc=M:M
    ca_bundle: str | None = None  # the host's CA bundle, mounted into builds
    # CONTAINERS_CONF with the same quirks, for what takes no flag for them: the infra container of
    # a pod, ``podman system service`` (the Docker-compatible API that testcontainers talks to).
    env: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_podman(self) -> bool:
        return self.name == "podman"

    def cmd(self, *args: str) -> list[str]:
        """The full command line for ``engine ARGS``."""
        return [self.exe, *self.global_args, *args]

    def run(
        self, *args: str, check: bool = True, timeout: float | None = 600, capture: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run ``engine ARGS``; raises ContainerError (with its output) when it fails and check is set."""
        command = self.cmd(*args)
        done = subprocess.run(
            command,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **self.env},
            stdout=subprocess.PIPE if capture else None,
            stderr=subprocess.STDOUT if capture else None,
        )
        if check and done.returncode != 0:
            raise ContainerError(
                f"{' '.join(command)} exited {done.returncode}:\n{(done.stdout or '')[-4000:]}"
            )
        return done


# ---- finding the engine and its quirks -----------------------------------------------------------


def cgroup_v2() -> bool:
    """Whether the host has the unified cgroup hierarchy alone (v2), not v1 or hybrid."""
    return Path("/sys/fs/cgroup/cgroup.controllers").exists()


def podman_runtime_args(exe: str) -> tuple[str, ...]:
    """``--runtime runc`` where crun would refuse (cgroups v1/hybrid) and runc is installed.

    FLEXPRICE_CONTAINER_RUNTIME names a runtime explicitly (empty: podman's own choice)."""
    chosen = os.environ.get("FLEXPRICE_CONTAINER_RUNTIME")
    if chosen is not None:
        return ("--runtime", chosen) if chosen else ()
    if cgroup_v2():
        return ()
    runc = shutil.which("runc") or next(
        (p for p in ("/usr/sbin/runc", "/usr/bin/runc") if os.access(p, os.X_OK)), None
    )
    return ("--runtime", "runc") if runc else ()


def rlimits_can_be_raised() -> bool:
    """Whether this process could raise its hard ``nofile`` limit (tried in a child process)."""
    probe = (
        "import resource as r\n"
        "s, h = r.getrlimit(r.RLIMIT_NOFILE)\n"
        "if h != r.RLIM_INFINITY: r.setrlimit(r.RLIMIT_NOFILE, (h + 1, h + 1))\n"
    )
    return subprocess.run([sys.executable, "-c", probe], capture_output=True).returncode == 0


def ulimit_args() -> tuple[str, ...]:
    """Explicit ``--ulimit`` flags when rlimits cannot be raised here (podman raises them by default).

    nofile: the current hard limit; nproc: at most NPROC_LIMIT (the hard limit itself was refused)."""
    if rlimits_can_be_raised():
        return ()
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    nproc = resource.getrlimit(resource.RLIMIT_NPROC)[1]
    nproc = NPROC_LIMIT if nproc == resource.RLIM_INFINITY else min(nproc, NPROC_LIMIT)
    args: list[str] = []
    if nofile != resource.RLIM_INFINITY:
        args += ["--ulimit", f"nofile={nofile}:{nofile}"]
    return (*args, "--ulimit", f"nproc={nproc}:{nproc}")


def containers_conf(global_args: Sequence[str], ulimits: Sequence[str]) -> dict[str, str]:
    """``{"CONTAINERS_CONF": path}`` of a containers.conf with the runtime and ulimits ({}: none needed).

    podman 4.3 reads only that file when the variable is set (no merging with the system's), so it
    is used only when a quirk was found; it lives next to the cached base, named by its content."""
    lines = []
    limits = [ulimits[i + 1] for i in range(len(ulimits) - 1) if ulimits[i] == "--ulimit"]
    if limits:
        lines += ["[containers]", "default_ulimits = [" + ", ".join(f'"{x}"' for x in limits) + "]"]
    if "--runtime" in global_args:
        lines += ["[engine]", f'runtime = "{global_args[list(global_args).index("--runtime") + 1]}"']
    if not lines:
        return {}
    text = "\n".join(["# Written by tests/containers/engine.py: podman quirks here.", *lines]) + "\n"
    path = BASE_CACHE / f"containers-{hashlib.sha256(text.encode()).hexdigest()[:12]}.conf"
    if not path.exists():
        BASE_CACHE.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}")
        partial.write_text(text)
        partial.replace(path)
    return {"CONTAINERS_CONF": str(path)}


def find_engine() -> Engine | None:
    """podman (preferred) or a docker whose daemon answers, with this machine's quirks; or None.

    FLEXPRICE_CONTAINER_ENGINE names the engine's command explicitly."""
    names = (
        [os.environ["FLEXPRICE_CONTAINER_ENGINE"]]
        if os.environ.get("FLEXPRICE_CONTAINER_ENGINE")
        else [
            "podman",
            "docker",
        ]
    )
    ca = CA_BUNDLE if os.path.isfile(CA_BUNDLE) else None
    for name in names:
        exe = shutil.which(name)
        if exe is None:
            continue
        kind = "podman" if "podman" in Path(exe).name else "docker"
        if kind == "podman":
            runtime, ulimits = podman_runtime_args(exe), ulimit_args()
            return Engine(exe, kind, runtime, ulimits, ca, containers_conf(runtime, ulimits))
        # A docker CLI may be installed without a daemon to talk to.
        if subprocess.run([exe, "info"], capture_output=True, timeout=20).returncode == 0:
            return Engine(exe, kind, (), ulimit_args(), ca)
    return None


# ---- images ----------------------------------------------------------------------------------------


def image_exists(engine: Engine, image: str) -> bool:
    return engine.run("image", "inspect", image, check=False).returncode == 0


def image_label(engine: Engine, image: str, label: str) -> str | None:
    done = engine.run("image", "inspect", "--format", "{{json .Config.Labels}}", image, check=False)
    if done.returncode != 0:
        return None
    return (json.loads(done.stdout.strip() or "null") or {}).get(label)


def apt_mirror(suite: str = "bookworm") -> str:
    """The Debian mirror of this machine's apt sources for ``suite`` (one-line or deb822 format)."""
    texts: list[str] = []
    for path in [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]:
        if path.suffix in (".list", ".sources") and path.is_file():
            with contextlib.suppress(OSError):
                texts.append(path.read_text())
    for text in texts:
        for line in text.splitlines():  # deb [options] URI SUITE COMPONENTS...
            parts = re.sub(r"\[[^]]*\]", "", line.split("#", 1)[0]).split()
            if len(parts) >= 3 and parts[0] == "deb" and parts[2] == suite:
                return parts[1].rstrip("/")
        for stanza in re.split(r"\n\s*\n", text):  # deb822: Types / URIs / Suites
            fields = dict(
                (k.strip().lower(), v.split())
                for k, _, v in (ln.partition(":") for ln in stanza.splitlines() if not ln.startswith("#"))
                if v
            )
            if "deb" in fields.get("types", []) and suite in fields.get("suites", []) and fields.get("uris"):
                return fields["uris"][0].rstrip("/")
    return DEFAULT_MIRROR


def ensure_base_image(
    engine: Engine,
    image: str = BASE_IMAGE,
    version: str = BASE_VERSION,
    suite: str = "bookworm",
    mirror: str | None = None,
) -> str:
    """The debootstrap base image (python3, venv, CA certificates), made only when missing.

    Its rootfs tarball is kept in BASE_CACHE/<version>.tar, so that a machine whose podman storage
    was wiped imports it again in seconds instead of running debootstrap (about a minute)."""
    if image_label(engine, image, BASE_LABEL) == version:
        return image
    tarball = BASE_CACHE / f"{version}.tar"
    if not tarball.exists():
        if shutil.which("debootstrap") is None:
            raise ContainerError("debootstrap is not installed (apt-get install -y debootstrap)")
        BASE_CACHE.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=BASE_CACHE, prefix="rootfs-") as root:
            mirror = mirror or apt_mirror(suite)
            done = subprocess.run(
                [
                    "debootstrap",
                    "--variant=minbase",
                    f"--include={','.join(BASE_PACKAGES)}",
                    suite,
                    root,
                    mirror,
                ],
                capture_output=True,
                text=True,
                timeout=1800,
            )
            if done.returncode != 0:
                raise ContainerError(
                    f"debootstrap {suite} from {mirror} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
                )
            # Downloaded packages and index files are not part of the image.
            for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
                for entry in (Path(root) / junk).glob("*"):
                    if entry.is_file() and entry.name != "lock":
                        entry.unlink()
            partial = tarball.with_suffix(".tar.partial")
            subprocess.run(["tar", "-C", root, "--numeric-owner", "-cf", str(partial), "."], check=True)
            partial.rename(tarball)
    engine.run(
        "import",
        "--change",
        f"ENV PATH={PATH}",
        "--change",
        "ENV LANG=C.UTF-8",
        "--change",
        f"LABEL {BASE_LABEL}={version}",
        "--change",
        'CMD ["/bin/bash"]',
        str(tarball),
        image,
    )
    return image


def build_args(engine: Engine) -> list[str]:
    """What every build on this machine needs: the host's network, CA bundle and limits."""
    args = ["--network", "host", *engine.ulimit_args]
    if engine.is_podman:
        args += ["--format", "docker"]  # the OCI format drops HEALTHCHECK
        if engine.ca_bundle:
            args += ["-v", f"{engine.ca_bundle}:{CA_BUNDLE}:ro"]
    return args


def build_image(
    engine: Engine,
    image: str = PROJECT_IMAGE,
    base: str = BASE_IMAGE,
    context: Path = REPO,
    containerfile: Path = CONTAINERFILE,
    no_cache: bool = False,
    extra_args: Sequence[str] = (),
    timeout: float = 1800,
) -> str:
    """Build the project's image (``--build-arg BASE=base``); layers are cached by the engine."""
    args = [
        "build",
        *build_args(engine),
        "--build-arg",
        f"BASE={base}",
        "-t",
        image,
        "-f",
        str(containerfile),
    ]
    if no_cache:
        args.append("--no-cache")
    engine.run(*args, *extra_args, str(context), timeout=timeout)
    return image


REDIS_CONTAINERFILE = """\
ARG BASE
FROM ${BASE}
RUN apt-get update \\
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server \\
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/*
USER redis
EXPOSE 6379
CMD ["redis-server", "--bind", "0.0.0.0", "--port", "6379", "--protected-mode", "no", \\
     "--save", "", "--appendonly", "no"]
"""


def ensure_redis_image(engine: Engine, base: str = BASE_IMAGE, image: str = REDIS_IMAGE) -> str:
    """A Redis image without a registry: Debian's redis-server on the debootstrap base (built once).

    Debian's package is what the suite's host Redis is, and apt reaches the same mirror as the
    base; a host binary bind-mounted in would depend on the host's shared libraries."""
    if image_exists(engine, image):
        return image
    with tempfile.TemporaryDirectory(prefix="flexprice-redis-") as context:
        (Path(context) / "Containerfile").write_text(REDIS_CONTAINERFILE)
        engine.run(
            "build", *build_args(engine), "--build-arg", f"BASE={base}", "-t", image, context, timeout=1200
        )
    return image


def added_size(engine: Engine, image: str, base: str) -> int:
    """Bytes that ``image`` adds on top of ``base`` (uncompressed layers), checking it is built on it."""

    def inspect(name: str) -> dict:
        return json.loads(engine.run("image", "inspect", name).stdout)[0]

    top, bottom = inspect(image), inspect(base)
    layers, base_layers = top["RootFS"]["Layers"], bottom["RootFS"]["Layers"]
    if layers[: len(base_layers)] != base_layers:
        raise ContainerError(f"{image} is not built on {base}")
    return int(top["Size"]) - int(bottom["Size"])


# ---- containers ----------------------------------------------------------------------------------


@dataclass
class Container:
    """A running container; ``port`` is the host port mapped to the sandbox's 8080 (None: not mapped)."""

    id: str
    port: int | None = None
    host: str = "127.0.0.1"
    started: float = field(default_factory=time.monotonic)  # when ``run -d`` was called

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


def mapped_port(engine: Engine, container: str, port: int = CONTAINER_PORT) -> int:
    """The host port mapped to the container's (or its pod's) ``port``."""
    out = engine.run("port", container, f"{port}/tcp").stdout.strip().splitlines()
    return int(out[0].rsplit(":", 1)[1])


def run_container(
    engine: Engine,
    image: str,
    args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    publish: int | None = CONTAINER_PORT,
    host_port: int | None = None,
    name: str | None = None,
    network: str | None = None,
    pod: str | None = None,
    volumes: Sequence[str] = (),
    extra: Sequence[str] = (),
) -> Container:
    """``run -d`` the image with ``args`` (the entrypoint's flags) and ``env``.

    ``publish`` maps that container port to 127.0.0.1:``host_port`` (None: a free one, read back
    with ``port``). In a pod the pod publishes ports: pass ``pod`` and ``publish=None``."""
    command = ["run", "-d", *engine.ulimit_args]
    if name:
        command += ["--name", name]
    if network:
        command += ["--network", network]
    if pod:
        command += ["--pod", pod]
    if publish is not None:
        command += ["-p", f"127.0.0.1:{host_port or ''}:{publish}"]
    for key, value in (env or {}).items():
        command += ["-e", f"{key}={value}"]
    for volume in volumes:
        command += ["-v", volume]
    started = time.monotonic()
    cid = engine.run(*command, *extra, image, *args).stdout.strip().splitlines()[-1]
    port = None
    if publish is not None:
        port = host_port or mapped_port(engine, cid, publish)
    return Container(cid, port, started=started)


def is_running(engine: Engine, container: str) -> bool:
    done = engine.run("inspect", "--format", "{{.State.Running}}", container, check=False)
    return done.stdout.strip() == "true"


def run_healthcheck(engine: Engine, container: str) -> bool:
    """Run the image's HEALTHCHECK once now (``podman healthcheck run``); whether it passed.

    podman 4.3 schedules health checks with systemd timers: where systemd is not PID 1 they never
    run by themselves (and every run/stop logs "unable to get systemd connection"), so the
    health status only changes when a test runs the check like this."""
    return engine.run("healthcheck", "run", container, check=False).returncode == 0


def health_status(engine: Engine, container: str) -> str:
    """The engine's health status of the container: starting, healthy, unhealthy (or empty)."""
    return engine.run(
        "inspect", "--format", "{{.State.Health.Status}}", container, check=False
    ).stdout.strip()


def logs(engine: Engine, container: str) -> str:
    return engine.run("logs", container, check=False).stdout


def wait_healthy(
    url: str, timeout: float = 30, engine: Engine | None = None, container: str | None = None
) -> float:
    """Poll ``url``/_mock/health until it answers 200; returns the seconds waited.

    With ``engine`` and ``container``, a container that exited stops the wait with its logs."""
    start = time.monotonic()
    deadline = start + timeout
    last = ""
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + HEALTH_PATH, timeout=2) as response:
                if response.status == 200:
                    return time.monotonic() - start
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as exc:
            last = str(exc)
        if engine and container and not is_running(engine, container):
            raise ContainerError(
                f"{container[:12]} exited before it was healthy:\n{logs(engine, container)[-3000:]}"
            )
        time.sleep(0.02)
    tail = logs(engine, container)[-3000:] if engine and container else ""
    raise ContainerError(f"{url}{HEALTH_PATH} not healthy after {timeout}s ({last})\n{tail}")


def stop_container(engine: Engine, container: str, timeout: int = 10) -> float:
    """``stop -t timeout`` (SIGTERM, then SIGKILL after timeout); returns the seconds it took."""
    start = time.monotonic()
    engine.run("stop", "-t", str(timeout), container, timeout=timeout + 60)
    return time.monotonic() - start


def exit_code(engine: Engine, container: str) -> int:
    return int(engine.run("inspect", "--format", "{{.State.ExitCode}}", container).stdout.strip())


def remove_container(engine: Engine, container: str) -> None:
    """Stop (if need be) and remove the container and its anonymous volumes; never raises."""
    engine.run("rm", "-f", "-v", container, check=False, timeout=120)


@contextlib.contextmanager
def running(engine: Engine, image: str, healthy_within: float = 30, **kwargs) -> Iterator[Container]:
    """A container from ``run_container(**kwargs)``, healthy, removed afterwards."""
    box = run_container(engine, image, **kwargs)
    try:
        if box.port is not None:
            wait_healthy(box.url, healthy_within, engine, box.id)
        yield box
    finally:
        remove_container(engine, box.id)


# ---- pods and networks -----------------------------------------------------------------------------


def create_pod(engine: Engine, name: str, publish: Sequence[int] = (CONTAINER_PORT,)) -> str:
    """A podman pod publishing each of ``publish`` on a free 127.0.0.1 port (read with mapped_port).

    Its containers share one network namespace: the sandbox reaches Redis at 127.0.0.1:6379."""
    command = ["pod", "create", "--name", name]
    for port in publish:
        command += ["-p", f"127.0.0.1::{port}"]
    pod = engine.run(*command).stdout.strip().splitlines()[-1]
    engine.run("pod", "start", pod)  # its infra container: the ports are bound (and known) from here
    return pod


def pod_port(engine: Engine, pod: str, port: int = CONTAINER_PORT) -> int:
    """The host port that ``pod`` maps to ``port`` (its infra container holds the mapping)."""
    infra = engine.run("pod", "inspect", "--format", "{{.InfraContainerID}}", pod).stdout.strip()
    return mapped_port(engine, infra, port)


def remove_pod(engine: Engine, name: str) -> None:
    engine.run("pod", "rm", "-f", name, check=False, timeout=120)


def create_network(engine: Engine, name: str) -> str:
    """A network whose containers reach each other by name (``--name``), e.g. redis://redis:6379/0."""
    engine.run("network", "create", name)
    return name


def remove_network(engine: Engine, name: str) -> None:
    engine.run("network", "rm", "-f", name, check=False, timeout=120)


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (for a server started outside the engine)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---- the Docker-compatible API (testcontainers) ----------------------------------------------------


def start_api_service(
    engine: Engine, socket: Path, timeout: float = 20
) -> tuple[subprocess.Popen, dict[str, str]]:
    """``podman system service`` on a unix socket, and the environment that testcontainers needs.

    The service reads the quirks from ``engine.env`` (CONTAINERS_CONF: runtime, default ulimits),
    since API clients pass none. Ryuk is off: its image would come from a registry. The connection
    mode is pinned to the docker host: this machine has /.dockerenv, from which testcontainers would
    otherwise guess it runs inside a container and look for a gateway. Stop it with terminate()."""
    if not engine.is_podman:
        raise ContainerError("only podman has a system service")
    socket.unlink(missing_ok=True)
    service = subprocess.Popen(
        [engine.exe, *engine.global_args, "system", "service", "--time=0", f"unix://{socket}"],
        env={**os.environ, **engine.env},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + timeout
    while not socket.exists():
        if service.poll() is not None or time.monotonic() > deadline:
            service.kill()
            raise ContainerError(f"podman system service did not open {socket}")
        time.sleep(0.05)
    return service, {
        "DOCKER_HOST": f"unix://{socket}",
        "TESTCONTAINERS_RYUK_DISABLED": "true",
        "TESTCONTAINERS_CONNECTION_MODE": "docker_host",
    }
