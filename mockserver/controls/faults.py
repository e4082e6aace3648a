"""``/_mock/faults``: add, list, read and remove fault rules while the sandbox runs.

A rule added with an ``x-api-key`` header applies to that key alone, and listing or clearing
with the header sees only that key's rules, so parallel tests never disturb each other.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from flask import Blueprint, Response, request

from ..domain import errors
from ..faults.rules import FaultEngine, FaultError, FaultLimitError
from ..http import auth, jsonio


def fault_blueprint(engine: FaultEngine, _error: Callable[[errors.ApiError], Response]) -> Blueprint:
    """The controls of ``engine``; ``_error`` renders a refusal in the served version's body."""
    faults = Blueprint("faults", __name__, url_prefix="/_mock/faults")

    def _not_found(rule_id: str) -> Response:
        return _error(errors.not_found(f"Fault rule {rule_id} not found", "fault rule not found", id=rule_id))

    def caller_key() -> str | None:
        return request.headers.get(auth.API_KEY_HEADER) or None

    @faults.post("")
    def add() -> Response:
        try:
            body = json.loads(request.get_data() or b"null")
        except ValueError as error:
            return _error(errors.validation("Invalid request format", f"body is not JSON: {error}"))
        if not isinstance(body, (dict, list)) or not body:
            return _error(
                errors.validation(
                    'Send one fault rule (a JSON object) or a list of them, e.g. {"status": 503}',
                    "body must be a rule object or a non-empty list of rules",
                )
            )
        try:
            rules = engine.add(body if isinstance(body, list) else [body], api_key=caller_key())
        except FaultLimitError as error:
            message = f"Sandbox limit reached: {error.problem}"
            return _error(errors.ApiError(429, message, "too many fault rules", {"limit": "max_rules"}))
        except FaultError as error:
            return _error(
                errors.validation(
                    f"Invalid fault rule: {error}", str(error), field=error.field, problem=error.problem
                )
            )
        added = [rule.to_dict() for rule in rules]  # as kept: no request has met them yet
        return jsonio.response(201, added if isinstance(body, list) else added[0])

    @faults.get("")
    def list_rules() -> Response:
        rules = engine.rules(caller_key())
        return jsonio.response(200, {"items": rules, "total": len(rules)})

    @faults.get("/<rule_id>")
    def get_rule(rule_id: str) -> Response:
        rule = engine.get(rule_id)
        return jsonio.response(200, rule) if rule else _not_found(rule_id)

    @faults.delete("/<rule_id>")
    def delete_rule(rule_id: str) -> Response:
        rule = engine.remove(rule_id)
        return jsonio.response(200, rule) if rule else _not_found(rule_id)

    @faults.delete("")
    def clear() -> Response:
        return jsonio.response(200, {"deleted": engine.clear(caller_key())})

    return faults
