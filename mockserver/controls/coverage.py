"""``GET /_mock/coverage``: every operation of the served document, how faithfully it is answered
(modelled, stored, schema, none), and those upstream's server does not route, with counts per
level: what moto publishes as its coverage table, as data."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response

from ..api.fidelity import Fidelity
from ..http import jsonio
from .requests import only_filters

if TYPE_CHECKING:
    from ..http.app import Sandbox

UNROUTED_REASON = (
    "listed in upstream's document, but upstream's server does not route it: 404 as upstream answers"
)


def coverage_blueprint(sandbox: Sandbox) -> Blueprint:
    bp = Blueprint("mock_coverage", __name__, url_prefix="/_mock")

    @bp.get("/coverage")
    def coverage() -> Response:
        only_filters("coverage", ())
        return jsonio.response(200, listing(sandbox))

    return bp


def listing(sandbox: Sandbox) -> dict[str, Any]:
    """The operations in the document's order, and how many there are at each level."""
    counts = {level.value: 0 for level in reversed(Fidelity)}
    counts["unrouted"] = 0
    operations = []
    for op in sandbox.spec.operations:
        line: dict[str, Any] = {
            "method": op.method,
            "path": op.base_path + op.path,
            "operation_id": op.operation_id,
        }
        published = op.raw.get("x-mock-published-path")
        if published:  # upstream's document has it at a path its server does not route
            line["published_path"] = op.base_path + published
        binding = sandbox.bindings.get(op.operation_id)
        if binding is None:
            why = op.raw.get("x-mock-unrouted")
            reason = f"{UNROUTED_REASON} ({why})" if why else UNROUTED_REASON
            line.update(fidelity=None, routed=False, reason=reason)
            counts["unrouted"] += 1
        else:
            line.update(fidelity=binding.fidelity.value, routed=True)
            counts[binding.fidelity.value] += 1
        operations.append(line)
    return {
        "api_version": sandbox.version.name,
        "min_fidelity": sandbox.min_fidelity.value,
        "total": len(operations),
        "counts": counts,
        "operations": operations,
    }
