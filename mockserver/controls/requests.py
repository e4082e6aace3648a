"""What every control reads from a request the same way: the world it names, its filters."""

from __future__ import annotations

from flask import request

from ..domain import errors
from ..http import auth


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


def only_filters(kind: str, allowed: tuple[str, ...]) -> None:
    """Refuse a query parameter that is not one of the ``allowed`` filters."""
    for name in request.args:
        if name not in allowed:
            raise errors.validation(
                f"query parameter {name} is not a {kind} filter (expected: {', '.join(allowed)})",
                "unknown filter",
                parameter=name,
            )
