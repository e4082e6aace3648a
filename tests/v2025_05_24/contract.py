"""Checks every response a test receives against openapi.yaml, independently of the server.

A test never trusts the sandbox's own self-check: it finds the operation from the method and
path, and validates status, content type and body against the spec's declared response.
"""
from __future__ import annotations

import json
import re
from decimal import Decimal

from jsonschema import Draft4Validator

from mockserver import api
from mockserver.http.spec import Spec

SPEC = Spec.load(api.load("2025-05-24").spec_path)
_ROUTES = []
for _op in SPEC.operations:
    pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(SPEC.base_path + _op.path))
    _ROUTES.append((_op.path.count("{"), re.compile(pattern + "$"), _op))
_ROUTES.sort(key=lambda r: r[0])   # static segments win, as in the router


def operation_for(method: str, path: str):
    for _, pattern, op in _ROUTES:
        if op.method == method.upper() and pattern.match(path):
            return op
    return None


def assert_conforms(method: str, path: str, status: int, content_type: str | None, raw: bytes):
    """Fail the test when a response to an API operation is not what the spec declares."""
    op = operation_for(method, path.split("?")[0])
    if op is None:
        return
    assert str(status) in op.responses, f"{op.operation_id} answered undeclared status {status}"
    schema = op.responses[str(status)]
    if schema is None:
        assert raw == b"", f"{op.operation_id} {status} must have no body, got {raw[:200]!r}"
        return
    assert content_type and content_type.startswith("application/json"), content_type
    body = json.loads(raw, parse_float=Decimal)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in Draft4Validator(schema).iter_errors(body)]
    assert not errors, f"{op.operation_id} {status} breaks openapi.yaml: {errors}"
