"""Settings of one sandbox: defaults, overridable by environment variables and command-line flags."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from . import text
from .api import DEFAULT as DEFAULT_API_VERSION
from .api.fidelity import Fidelity
from .text import FALSE_WORDS, TRUE_WORDS, boolean

ENV_PREFIX = "FLEXPRICE_MOCK_"
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
LEVELS = tuple(level.value for level in reversed(Fidelity))  # modelled first


class ConfigError(ValueError):
    """A setting that cannot be used (an environment variable of the wrong kind)."""


@dataclass
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    api_version: str = DEFAULT_API_VERSION  # the API version served ("latest": the newest)
    spec: str | None = None  # an OpenAPI document to serve instead of the version's own
    faults: str | None = None  # YAML file of fault rules loaded at start
    fault_max_hold: int = 30  # seconds a timeout or latency fault may hold a request
    fixtures: str | None = None  # directory of fixture YAML files
    id_seed: int | None = None  # seed for deterministic ids
    journal_size: int = 1000  # requests kept per world in the journal (0: none)
    max_body_bytes: int = 1024 * 1024  # larger request bodies get 413
    max_worlds: int = 10_000  # worlds (key + environment) held; a new one past it: 429
    max_objects_per_world: int = 200_000  # objects one world holds (World.object_count); past it: 429
    admin_token: str | None = None  # /_mock/ controls need it as X-Mock-Admin-Token; None: loopback
    admin_from: str | None = None  # networks (CIDR, comma-separated) whose clients use controls freely
    allowed_hosts: str | None = None  # names requests may be addressed to besides localhost ("*": any)
    allowed_origins: str | None = None  # web origins whose pages may use the controls (comma-separated)
    # The sandbox checks itself (tests turn it on): every response against the spec, and that a
    # refused request changed nothing in its world (memory store).
    validate_responses: bool = False
    log_requests: bool = True  # one log line per request
    state_file: str | None = None  # every world saved here at stop and every interval, loaded at start
    state_save_interval: int = 10  # seconds between saves of what changed (0: only at stop)
    idle_timeout: int = 60  # seconds a connection may wait for its next request before it is closed
    request_timeout: int = 15  # seconds a request's head and body have, from its first byte (408 after)
    webhook_url: str | None = None  # every world starts with this webhook endpoint
    webhook_secret: str | None = None  # its whsec_ secret; None: one generated at start
    webhook_timeout: int = 15  # seconds a receiver has to answer one delivery
    store: str = "memory"  # where worlds live: memory (this process), or redis://host:port/db (shared)
    redis_prefix: str = "flexprice-mock:"  # before every Redis key (the API version follows it)
    workers: int = 1  # processes serving one port (more than one needs the Redis store)
    # Operations answered below this level (modelled > stored > schema > none) are refused with
    # 501 instead, so a run can insist on upstream's rules (none: every operation answers as bound).
    min_fidelity: str = Fidelity.NONE.value

    def __post_init__(self) -> None:
        for name, least in _AT_LEAST.items():
            value = getattr(self, name)
            if isinstance(value, int) and value < least:
                raise ConfigError(f"{_named(name)} must be at least {least}, not {value}")
        if self.store != "memory" and not self.store.startswith(REDIS_SCHEMES):
            raise ConfigError(
                f"{_named('store')} must be memory or a Redis URL such as redis://localhost:6379/0, "
                f"not {self.store!r}"
            )
        if self.workers > 1 and self.store == "memory":
            raise ConfigError(
                f"{_named('workers')} {self.workers} needs a shared store (--store redis://...): "
                "with the memory store each process would hold worlds of its own"
            )
        if self.state_file and self.store != "memory":
            raise ConfigError(
                f"{_named('state_file')} keeps the memory store across restarts; with "
                "--store redis the worlds already live in Redis"
            )
        for name, parse in _LISTS.items():
            try:
                parse(getattr(self, name))
            except ValueError as exc:
                raise ConfigError(f"{_named(name)}: {exc}") from None
        if self.min_fidelity not in LEVELS:
            raise ConfigError(
                f"{_named('min_fidelity')} must be one of {', '.join(LEVELS)}, not {self.min_fidelity!r}"
            )
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"{_named('port')} must be a port number from 0 to 65535, not {self.port}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults, then ``FLEXPRICE_MOCK_<NAME>`` variables, then explicit overrides (not None)."""
        if environ is None:
            environ = os.environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = environ.get(ENV_PREFIX + f.name.upper())
            if raw is not None and raw != "":
                values[f.name] = _convert(f.name, f.type, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def _convert(name: str, kind: Any, raw: str) -> Any:
    kind = str(kind)
    try:
        if kind.startswith("int"):
            return int(raw)
        if kind.startswith("bool"):
            return boolean(raw, (TRUE_WORDS, FALSE_WORDS))
    except ValueError:
        raise ConfigError(f"{ENV_PREFIX}{name.upper()}={raw!r} is not a valid {kind}") from None
    return raw


# The list settings, each with the parser that checks it.
_LISTS = {
    "admin_from": text.networks,
    "allowed_hosts": text.host_patterns,
    "allowed_origins": text.origins,
}

# The smallest value each numeric setting takes.
_AT_LEAST = {
    "fault_max_hold": 0,
    "journal_size": 0,
    "max_body_bytes": 1,
    "max_worlds": 1,
    "max_objects_per_world": 1,
    "idle_timeout": 1,
    "request_timeout": 1,
    "state_save_interval": 0,
    "webhook_timeout": 1,
    "workers": 1,
}


def _named(name: str) -> str:
    """A setting as the user wrote it: the flag and its variable."""
    return f"--{name.replace('_', '-')} ({ENV_PREFIX}{name.upper()})"
