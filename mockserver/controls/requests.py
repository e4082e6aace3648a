"""What every control reads from a request the same way: the world it names, its filters."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from flask import request

from ..domain import errors
from ..domain.world import World
from ..http import auth, validation

if TYPE_CHECKING:
    from ..http.app import Sandbox


def caller() -> tuple[str, str]:
    """The world a control acts on: the ``x-api-key`` header (and ``X-Environment-ID``)."""
    api_key = request.headers.get(auth.API_KEY_HEADER)
    if not api_key:
        raise errors.validation(
            f"The {auth.API_KEY_HEADER} header is required: it names the world this control acts on",
            "missing api key",
            header=auth.API_KEY_HEADER,
        )
    return api_key, request.headers.get(auth.ENVIRONMENT_HEADER, "")


@contextmanager
def caller_world(sandbox: Sandbox, atomic: bool = False) -> Iterator[World]:
    """The caller's world, inside its unit of work (a read for GET: no news to save; ``atomic``:
    the control runs several operations, all kept or none); then what the world has due (a clock
    moved, a subscription made, a state loaded) is noted for the ticker."""
    key = caller()
    with sandbox.store.session(*key, reading=request.method == "GET", atomic=atomic) as world:
        yield world
        sandbox.due.note(key, world)


def only_filters(kind: str, allowed: tuple[str, ...]) -> None:
    """Refuse a query parameter that is not one of the ``allowed`` filters."""
    for name in request.args:
        if name not in allowed:
            raise errors.validation(
                f"query parameter {name} is not a {kind} filter (expected: {', '.join(allowed)})",
                "unknown filter",
                parameter=name,
            )


def object_body(allowed: tuple[str, ...]) -> dict[str, Any]:
    """The request's JSON body: an object whose fields are among ``allowed`` (else a 400)."""
    return json_object(validation.parse_json(request.get_data()), "", allowed)


def json_object(value: Any, where: str, allowed: tuple[str, ...]) -> dict[str, Any]:
    """``value`` when it is an object whose fields are among ``allowed``; ``where`` names it in
    the refusal (``requests[0]``; empty: the request body)."""
    if not isinstance(value, dict):
        if not where:
            raise errors.validation("The request body must be a JSON object", "body is not an object")
        raise errors.validation(f"{where} must be a JSON object", "not an object", field=where)
    for name in value:
        if name not in allowed:
            field = f"{where}.{name}" if where else name
            raise errors.validation(
                f"{field} is not a field here (expected: {', '.join(allowed)})", "unknown field", field=field
            )
    return value
