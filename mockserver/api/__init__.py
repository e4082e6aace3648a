"""The API versions the sandbox serves, one package each, over the same domain.

A version is its OpenAPI document, the handlers bound to its ``operationId``s (which parse
requests into domain calls and shape the answers), and its error body. The server serves one
version, chosen at start (``--api-version``); ``latest`` names the newest.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..domain.errors import ApiError
from ..domain.models import Event, Transaction, Wallet
from ..domain.world import Rules, World

Result = tuple[int, Any]


@dataclass(frozen=True)
class Binary:
    """An answer that is not JSON (an invoice's PDF): its bytes and their media type."""

    data: bytes
    mimetype: str


Handler = Callable[[World, dict[str, Any], Any], Result]

VERSIONS = ("2025-05-24", "2026-08-22")
LATEST = VERSIONS[-1]
DEFAULT = LATEST
ALIASES = {"latest": LATEST}


@dataclass(frozen=True)
class ApiVersion:
    name: str
    spec_path: Path  # the document, for people and tools
    served_spec_path: Path  # the same, as JSON: what the server loads (tools/documents.py writes both)
    handlers: dict[str, Handler]
    grows_world: frozenset[str]  # operations refused (429) in a full world
    error_body: Callable[[ApiError], dict[str, Any]]
    unauthorized: dict[str, Any]
    # How the controls show domain objects (credits expired by the clock, invoices settled).
    show_wallet: Callable[[World, Wallet], dict[str, Any]]
    show_transaction: Callable[[World, Transaction], dict[str, Any]]
    # Webhooks: the event types this version's cloud sends and their bodies (none: no webhooks).
    webhook_events: tuple[str, ...] = ()
    webhook_payload: Callable[[World, Event], dict[str, Any]] | None = None
    rules: Rules = field(default_factory=Rules)  # where its server applies a domain rule its own way


def resolve(name: str) -> str:
    """A version name as given (``latest`` included) to the version it means; ValueError if none."""
    version = ALIASES.get(name, name)
    if version not in VERSIONS:
        raise ValueError(f"unknown API version {name!r} (known: {', '.join(VERSIONS)}, latest)")
    return version


def load(name: str) -> ApiVersion:
    module = importlib.import_module(f".v{resolve(name).replace('-', '_')}", __name__)
    version: ApiVersion = module.VERSION
    return version
