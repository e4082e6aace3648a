"""The API's operations reached straight from WSGI, beside Flask rather than through it.

Why: measured with bench/profile.py (top-ups at 8 connections), Flask's per-request machinery
(contexts and their proxies, before/after hooks dispatched one by one, URL routing, sessions)
was about a quarter of an API request's CPU, the hot path of every user. Flask stays the app:
it serves the controls, the dashboard and every request this router does not take, and its
routing table holds the same operations, so whatever this router passes on (no operation
matches: 404 or 405; HEAD and OPTIONS; a body over the limit: 413) Flask answers as before.
The same steps run on both ways in: ``begin`` (request id, guard), the operation's view,
``finish`` (journal, log), and one answer to an exception.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from types import SimpleNamespace
from typing import Any

from flask import Response
from werkzeug.wrappers import Request as WerkzeugRequest

from .spec import Operation, SpecError

# (request, context, path arguments) -> response: an operation's view (see app._operation_view).
View = Callable[[Any, Any, dict[str, str]], Response]


class OperationRouter:
    """WSGI middleware in front of Flask: a request for one of the API's operations goes
    straight to its view; anything else goes on to Flask."""

    def __init__(
        self,
        flask_app: Callable,
        operations: Iterable[tuple[Operation, View]],
        max_body_bytes: int,
        begin: Callable[[Any, Any], Response | None],
        finish: Callable[[Any, Any, Response], Response],
        failure: Callable[[Exception, Any, Any], Response],
    ):
        self.flask_app = flask_app
        self.max_body_bytes = max_body_bytes
        self.begin, self.finish, self.failure = begin, finish, failure
        prefixes: set[str] = set()
        self.static: dict[tuple[str, str], View] = {}
        # Templated paths by method, a literal segment before a parameter at the first segment
        # where two differ (``/customers/lookup/{key}`` before ``/customers/{id}/wallets``), as
        # Flask's and the cloud's routers choose; tests check both route alike.
        self.templated: dict[str, list[tuple[re.Pattern[str], View]]] = {}
        ranked: list[tuple[tuple[bool, ...], str, re.Pattern[str], View]] = []
        for op, view in operations:
            full = op.base_path + op.path
            prefixes.add(op.base_path + "/")
            if "{" not in full:
                self.static[(op.method, full)] = view
                continue
            pattern = re.sub(r"\\\{([^}]+)\\\}", lambda m: f"(?P<{m.group(1)}>[^/]+)", re.escape(full))
            shape = tuple("{" in segment for segment in full.split("/"))
            ranked.append((shape, op.method, re.compile(pattern), view))
        for _, method, compiled, view in sorted(ranked, key=lambda item: item[0]):
            self.templated.setdefault(method, []).append((compiled, view))

        class Request(WerkzeugRequest):
            max_content_length = max_body_bytes  # as Flask's MAX_CONTENT_LENGTH says

        self.request_class = Request
        self.prefixes = tuple(prefixes)

    def match(self, method: str, path: str) -> tuple[View, dict[str, str]] | None:
        view = self.static.get((method, path))
        if view is not None:
            return view, {}
        for pattern, view in self.templated.get(method, ()):
            found = pattern.fullmatch(path)
            if found is not None:
                return view, found.groupdict()
        return None

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if not path.isascii():  # WSGI carries the path's bytes as latin-1; it is UTF-8, as in Flask
            path = path.encode("latin-1").decode("utf-8", "replace")
        if path.startswith(self.prefixes):
            found = self.match(environ["REQUEST_METHOD"], path)
            declared = environ.get("CONTENT_LENGTH") or "0"
            if found is not None and not (declared.isdigit() and int(declared) > self.max_body_bytes):
                response = self._serve(environ, *found)
                if _plain(response):
                    start_response(response.status, response.headers.to_wsgi_list())
                    return response.response  # type: ignore[return-value]  # a list of bytes
                return response(environ, start_response)
        return self.flask_app(environ, start_response)

    def _serve(self, environ: dict[str, Any], view: View, args: dict[str, str]) -> Response:
        req = self.request_class(environ)
        context = SimpleNamespace()
        try:
            response = self.begin(req, context) or view(req, context, args)
        except Exception as exc:  # as Flask's error handlers would answer it
            response = self.failure(exc, req, context)
        try:
            return self.finish(req, context, response)
        except Exception as exc:
            return self.failure(exc, req, context)


class RouteClash(SpecError):
    """Two documented operations whose paths collide: one of them would never be reached."""


def check_reach(
    operations: Iterable[tuple[Operation, View]],
    match: Callable[[str, str], tuple[View, dict[str, str]] | None],
    flask_match: Callable[[str, str], str | None],
) -> None:
    """Every operation is reached by its own view, on both ways in: a request for a concrete
    path of each (its parameters given sample values no literal segment can equal) must come to
    that operation, else RouteClash naming both. A literal path wins over a template
    (``/prices/units`` before ``/prices/{id}``), so only two templates of the same shape clash."""
    ours = list(operations)
    by_view = {id(view): op for op, view in ours}
    for op, _ in ours:
        # Each parameter's sample value is its own "{name}": no literal segment holds a brace.
        path = op.base_path + op.path
        found = match(op.method, path)
        other = by_view.get(id(found[0])) if found is not None else None
        if other is not op:
            raise RouteClash(_clash(op, other))
        endpoint = flask_match(op.method, path)
        if endpoint != op.operation_id:
            other = next((o for o, _ in ours if o.operation_id == endpoint), None)
            raise RouteClash(_clash(op, other))


def _clash(op: Operation, other: Operation | None) -> str:
    named = f"{op.method} {op.base_path}{op.path} ({op.operation_id})"
    if other is None:
        return f"{named} is reached by no route"
    return (
        f"{named} is never reached: its requests go to {other.operation_id} "
        f"({other.method} {other.base_path}{other.path}); the two paths collide"
    )


def _plain(response: Response) -> bool:
    """A JSON answer with its length, as every operation gives: sent as it is, without Werkzeug's
    general adapter (Location fix-ups, lengths to work out, HEAD, 1xx, 204 and 304), which was 5 %
    of a write's CPU. Anything else (a fault's streamed or cut answer) takes the adapter."""
    code = response.status_code
    return (
        type(response.response) is list
        and "Content-Length" in response.headers
        and code >= 200
        and code not in (204, 304)
    )
