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
from .fidelity import Binding, Fidelity

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
    # Operations without a handler of their own: the stored collections' table (read by
    # ``conventions.bind``); those deliberately answered 501 until they are modelled (what moves
    # money or changes an invoice or subscription: never a faked success); and those the document
    # lists but upstream's server does not route (404, as upstream answers).
    collections: Any = None
    not_modelled: frozenset[str] = frozenset()
    unrouted: frozenset[str] = frozenset()

    def bind(self, op: Any) -> Binding | None:
        """How ``op`` (an ``http.spec.Operation``) is answered: by its modelled handler, else as a
        stored collection's, else 501 if not modelled on purpose, else from its document; None
        for an operation upstream does not route."""
        from . import conventions, shapes

        operation_id = op.operation_id
        if operation_id in self.unrouted:
            return None
        handler = self.handlers.get(operation_id)
        if handler is not None:
            return Binding(handler, Fidelity.MODELLED)
        handler = conventions.bind(op, self.collections)
        if handler is not None:
            return Binding(handler, Fidelity.STORED)
        if operation_id in self.not_modelled:
            return Binding(_refusal(operation_id), Fidelity.NONE)
        # Built on the first request: building reads the operation's answers, which the spec
        # resolves only when used (resolving all of them would cost seconds at every start).
        return Binding(_on_first_use(lambda: shapes.bind(op)), Fidelity.SCHEMA)


def not_implemented(operation_id: str, reason: str | None = None) -> ApiError:
    """Upstream's 501 ``not_implemented`` for ``operation_id``; ``reason`` replaces the message
    (an operation refused below ``--min-fidelity``)."""
    message = reason or f"{operation_id} is documented but not modelled by the sandbox"
    return ApiError(501, message, f"{operation_id}: not implemented", {"operation": operation_id})


def _on_first_use(make: Callable[[], Handler]) -> Handler:
    """A handler that is ``make()``'s, made when it is first called (two threads may both make
    it: the same handler either way)."""
    made: list[Handler] = []

    def handle(world: World, params: dict[str, Any], body: Any) -> Result:
        if not made:
            made.append(make())
        return made[0](world, params, body)

    return handle


def _refusal(operation_id: str) -> Handler:
    def refuse(world: World, params: dict[str, Any], body: Any) -> Result:
        raise not_implemented(operation_id)

    return refuse


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
