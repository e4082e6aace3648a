"""Verification controls: ``POST /_mock/verify``, ``POST /_mock/verify/sequence`` and
``GET /_mock/verify/unexpected``, over the caller's request journal (any language can ask)."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, request

from ..api.fidelity import Fidelity
from ..domain import errors
from ..http import jsonio
from ..state import journal
from ..state.verification import ANY_BODY, Count, Pattern, unexpected, verify, verify_sequence
from ..text import glob_problem
from .requests import caller, json_object, object_body, only_filters

if TYPE_CHECKING:
    from ..http.app import Sandbox

PATTERN_FIELDS = ("method", "path", "query", "body", "status")
COUNT_FIELDS = ("exactly", "at_least", "at_most")
ANY_METHOD = ("ANY", "*")
MAX_STEPS = 100


def verify_blueprint(sandbox: Sandbox) -> Blueprint:
    bp = Blueprint("mock_verify", __name__, url_prefix="/_mock/verify")
    store = sandbox.store

    def history() -> tuple[list[journal.Entry], dict[str, Any]]:
        """The caller's journal, newest first, and how much of the world's history it holds: the
        journal keeps its newest ``capacity`` requests, so once full, older ones are gone."""
        book = store.journal(*caller())
        if not book.size:
            raise errors.validation(
                "The request journal is off (journal size 0): there is nothing to verify against",
                "journal off",
            )
        entries = book.entries()
        kept = {"requests": len(entries), "capacity": book.size, "complete": len(entries) < book.size}
        return entries, {"journal": kept}

    @bp.post("")
    def verify_requests() -> Response:
        body = object_body((*PATTERN_FIELDS, "count"))
        pattern = _pattern(body, "")
        count = _count(body.get("count"))
        entries, kept = history()
        return jsonio.response(200, {**verify(pattern, count, entries), **kept})

    @bp.post("/sequence")
    def verify_order() -> Response:
        body = object_body(("requests",))
        steps = body.get("requests")
        if not isinstance(steps, list) or not steps or len(steps) > MAX_STEPS:
            raise errors.validation(
                f"requests must be a list of 1 to {MAX_STEPS} requests, in the order expected",
                "invalid requests",
                requests="must be a non-empty list",
            )
        patterns = [
            _pattern(json_object(step, f"requests[{i}]", PATTERN_FIELDS), f"requests[{i}].")
            for i, step in enumerate(steps)
        ]
        entries, kept = history()
        return jsonio.response(200, {**verify_sequence(patterns, entries), **kept})

    @bp.get("/unexpected")
    def list_unexpected() -> Response:
        only_filters("unexpected requests", ("below",))
        below = request.args.get("below")
        levels: tuple[str, ...] = ()
        if below is not None:
            try:
                least = Fidelity(below)
            except ValueError:
                problem = "must be a fidelity: modelled, stored, schema or none"
                raise _invalid_filter("below", problem) from None
            levels = tuple(level.value for level in Fidelity if level.rank < least.rank)
        entries, kept = history()
        items = unexpected(entries, below, levels)
        return jsonio.response(200, {"items": items, "count": len(items), **kept})

    return bp


def _pattern(body: dict[str, Any], prefix: str) -> Pattern:
    method = body.get("method")
    if method is not None and (not isinstance(method, str) or not method.isalpha()):
        raise _invalid(prefix + "method", "must be an HTTP method such as POST, or ANY")
    path = body.get("path")
    if not isinstance(path, str) or not path.startswith("/"):
        raise _invalid(prefix + "path", "is required: a path glob such as /v1/wallets/*/top-up")
    if problem := glob_problem(path):
        raise _invalid(prefix + "path", problem)
    status = body.get("status")
    if status is not None:
        text = str(status) if isinstance(status, int) and not isinstance(status, bool) else status
        if not isinstance(text, str) or not journal.valid_status_pattern(text):
            raise _invalid(prefix + "status", "must be a status such as 201, or a class such as 2xx")
        status = text
    return Pattern(
        method=None if method is None or method.upper() in ANY_METHOD else method.upper(),
        path=path,
        query=_query(body["query"], prefix + "query") if body.get("query") is not None else None,
        body=body.get("body", ANY_BODY),
        status=status,
    )


def _query(value: Any, where: str) -> dict[str, list[str]]:
    if not isinstance(value, dict):
        raise _invalid(where, "must be an object of parameter names and values")
    query = {}
    for name, wanted in value.items():
        values = wanted if isinstance(wanted, list) else [wanted]
        if not values or not all(isinstance(v, str | int | Decimal) for v in values):
            raise _invalid(f"{where}.{name}", "must be a string, a number or a list of them")
        query[name] = [_query_text(v) for v in values]
    return query


def _query_text(value: str | int | Decimal) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _count(value: Any) -> Count:
    if value is None:
        return Count()
    shape = json_object(value, "count", COUNT_FIELDS)
    for name, number in shape.items():
        if isinstance(number, bool) or not isinstance(number, int) or number < 0:
            raise _invalid(f"count.{name}", "must be a whole number, 0 or more")
    if not shape:
        raise _invalid("count", "must say exactly, at_least or at_most")
    if "exactly" in shape:
        if len(shape) > 1:
            raise _invalid("count", "exactly cannot be combined with at_least or at_most")
        return Count(shape["exactly"], shape["exactly"])
    count = Count(shape.get("at_least", 0 if "at_most" in shape else 1), shape.get("at_most"))
    if count.at_most is not None and count.at_most < count.at_least:
        raise _invalid("count", "at_most must not be less than at_least")
    return count


def _invalid_filter(name: str, problem: str) -> errors.ApiError:
    return errors.validation(f"query parameter {name} {problem}", f"invalid {name} filter", parameter=name)


def _invalid(field: str, problem: str) -> errors.ApiError:
    return errors.validation(f"{field} {problem}", f"invalid {field}", field=field)
