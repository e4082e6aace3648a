"""JSON out: decimals as exact JSON numbers (never through float), compact separators."""

from __future__ import annotations

from typing import Any

import simplejson
from flask import Response

from ..api import Binary

JSON = "application/json"


_ENCODER = simplejson.JSONEncoder(use_decimal=True, separators=(",", ":"), ensure_ascii=False)


def dumps(value: Any) -> str:
    return _ENCODER.encode(value)


def response(status: int, body: Any) -> Response:
    """An HTTP response carrying ``body`` as JSON; ``None`` is an empty body (204)."""
    if body is None:
        return Response(status=status)
    if isinstance(body, Binary):
        return Response(body.data, status=status, mimetype=body.mimetype)
    return Response(dumps(body), status=status, mimetype=JSON)
