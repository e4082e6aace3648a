"""A probe of every documented operation, as a new user's SDK would call it with made-up ids and
empty bodies: each routed one is answered by its own operation, with its two marks, and within its
document (never "Route not found", never 405, never a 5xx); each one upstream's server does not
route answers upstream's 404."""

from __future__ import annotations

import re

import pytest

from mockserver import api as versions
from mockserver.api.fidelity import Fidelity

from .support import Suite, new_key

SAMPLE = "probe_01JZZZZZZZZZZZZZZZZZZZZZZZ"


@pytest.mark.parametrize("version", versions.VERSIONS)
def test_every_documented_operation_answers_through_itself(version):
    suite = Suite(version)
    app = suite.create_app(validate_responses=True, log_requests=False)
    api = suite.client_of(app).as_key(new_key())
    raw = app.test_client()
    operations = app.extensions["mockserver"].spec.operations
    levels: dict[str, int] = {}
    for op in operations:
        path = op.base_path + re.sub(r"\{[^}]+\}", SAMPLE, op.path)
        body = {} if op.body_schema is not None else None
        if "x-mock-unrouted" in op.raw:
            reply = raw.open(path, method=op.method, json=body, headers={"x-api-key": new_key()})
            answered_by = reply.headers.get("X-Mock-Operation")
            assert answered_by != op.operation_id, op.operation_id
            if answered_by is None:
                assert (reply.status_code, b"Route not found" in reply.data) == (404, True), op.operation_id
            # else a route upstream has too takes the path (GET /tasks/result is GET /tasks/{id})
            levels["unrouted"] = levels.get("unrouted", 0) + 1
            continue
        reply = api.request(op.method, path, json_body=body)  # checked against the document
        assert reply.status < 500 or reply.status in (501, 503), (op.operation_id, reply.status, reply.raw)
        assert reply.headers["X-Mock-Operation"] == op.operation_id, (op.method, path)
        fidelity = Fidelity(reply.headers["X-Mock-Fidelity"])
        if reply.status == 404:  # a made-up id is not found: in words, not as a missing route
            assert b"Route not found" not in reply.raw, op.operation_id
        assert reply.status != 405, op.operation_id
        if reply.status == 501:  # after its request is checked, an operation not modelled says so
            assert fidelity is Fidelity.NONE, op.operation_id
        if fidelity is Fidelity.NONE:
            assert reply.status in (400, 501), (op.operation_id, reply.status)
        levels[fidelity.value] = levels.get(fidelity.value, 0) + 1
    assert sum(levels.values()) == len(operations)
    assert levels.get("unrouted", 0) == (4 if version == "2026-08-22" else 0)
