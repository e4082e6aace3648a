"""Settings of one sandbox: defaults, overridable by environment variables and command-line flags."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from .api import DEFAULT as DEFAULT_API_VERSION
from .text import FALSE_WORDS, TRUE_WORDS, boolean

ENV_PREFIX = "FLEXPRICE_MOCK_"


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
    max_objects_per_world: int = 200_000  # customers + wallets + transactions per world; past it: 429
    admin_token: str | None = None  # /_mock/ controls need it as X-Mock-Admin-Token; None: loopback
    validate_responses: bool = False  # check every response against the spec (tests turn it on)
    log_requests: bool = True  # one log line per request
    webhook_url: str | None = None  # every world starts with this webhook endpoint
    webhook_secret: str | None = None  # its whsec_ secret; None: one generated at start
    webhook_timeout: int = 15  # seconds a receiver has to answer one delivery

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
