"""Applying faults to API requests: the Flask side of ``faults.rules``.

One request gets at most one fault: from its ``X-Mock-Fault`` header, else from Prism's
``Prefer: code=NNN``, else from the rules. Latency, error statuses, timeouts and dropped
connections happen before the handler; a malformed body or a lost response after it, so the
operation is applied and only its answer is spoiled.

Holding an answer and dropping a connection are the server's: ``server.py`` offers both through
the WSGI environ, so a held request waits on its event loop and the handler's effect is kept at
once (only the answer is late). Without it (the Flask test client, another WSGI server) a hold
sleeps in the calling thread and a drop raises ``ConnectionDropped`` in the caller.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from flask import Request, Response

from ..domain import errors
from ..faults.rules import DEFAULT_RETRY_AFTER, Fault, FaultEngine, FaultError, error_message, parse_prefer
from . import jsonio

if TYPE_CHECKING:
    from ..api import ApiVersion

# A server that can drop connections offers ``environ[DROP_CONNECTION](reset=...)``: the app
# calls it to end the connection instead of answering (``server.py`` does; a test client not).
DROP_CONNECTION = "mockserver.drop_connection"
# A server that can wait without a thread offers ``environ[HOLD](seconds)``: the answer (or the
# drop) leaves that much later.
HOLD = "mockserver.hold"

FAULT_HEADER = "X-Mock-Fault"
PREFER_HEADER = "Prefer"
_DROP_REQUESTED = "mockserver.fault.drop"  # environ: "reset" | "close", set by a fault
NOT_JSON_BODY = b"<html><body><h1>Service temporarily unavailable</h1></body></html>"


class ConnectionDropped(ConnectionError):
    """A fault dropped the connection, and no socket was there to drop (in-process client)."""


def decide(
    engine: FaultEngine, operation_id: str, declared: dict, api_key: str, req: Request
) -> Fault | None:
    """The fault this request gets, or None; a bad fault header is the client's 400."""
    headers = req.headers
    header = headers.get(FAULT_HEADER)
    if header is not None:
        try:
            return engine.one_off(header)
        except FaultError as error:
            raise _bad_header(FAULT_HEADER, error) from None
    try:
        code = parse_prefer(headers.get(PREFER_HEADER))
    except FaultError as error:
        raise _bad_header(PREFER_HEADER, error) from None
    if code is not None:
        if code >= 400:
            return Fault(kind="status", status=code, retry_after=DEFAULT_RETRY_AFTER if code == 429 else None)
        if str(code) not in declared:
            raise errors.validation(
                f"Prefer: code={code} is not a response of {operation_id}",
                "prefer code not declared",
                header=PREFER_HEADER,
                declared=sorted(declared),
            )
        # A declared success code is what the handler answers anyway.
    return engine.decide(req.method, req.path, operation_id, api_key)


def _bad_header(header: str, error: FaultError) -> errors.ApiError:
    return errors.validation(
        f"Invalid {header} header: {error}",
        str(error),
        header=header,
        field=error.field,
        problem=error.problem,
    )


def before_handler(fault: Fault, version: ApiVersion, environ: dict[str, Any]) -> Response | None:
    """Wait, then answer instead of the handler (status, timeout, reset, empty) or return None."""
    if fault.delay:
        _hold(environ, fault.delay)
    if fault.kind == "status":
        return status_response(fault, version)
    if fault.kind == "timeout":
        _hold(environ, fault.hold)
        return drop_connection(environ, reset=False)
    if fault.kind in ("reset", "empty"):
        return drop_connection(environ, reset=fault.kind == "reset")
    return None


def _hold(environ: dict[str, Any], seconds: float) -> None:
    hold = environ.get(HOLD)
    if hold is None:
        time.sleep(seconds)
    else:
        hold(seconds)


def after_handler(fault: Fault, response: Response, environ: dict[str, Any]) -> Response:
    """Spoil the handler's answer (malformed body, lost on the way back) or label a slow one."""
    if fault.kind == "malformed":
        return malformed_response(fault, response)
    if fault.kind == "lost_response":
        return drop_connection(environ, reset=False, response=response)
    response.headers[FAULT_HEADER] = _label(fault)
    return response


def status_response(fault: Fault, version: ApiVersion) -> Response:
    status = fault.status or 500
    if status == 401:
        body = version.unauthorized
    else:
        message, internal = error_message(status)
        body = version.error_body(errors.ApiError(status, fault.message or message, internal))
    response = jsonio.response(status, body)
    if fault.retry_after is not None:
        response.headers["Retry-After"] = str(fault.retry_after)
    response.headers[FAULT_HEADER] = _label(fault)
    return response


def malformed_response(fault: Fault, response: Response) -> Response:
    if fault.malformed == "not-json":
        spoiled = Response(NOT_JSON_BODY, status=response.status_code, mimetype="text/html")
    else:
        body = response.get_data()
        spoiled = Response(
            body[: max(1, len(body) // 2)], status=response.status_code, mimetype="application/json"
        )
    spoiled.headers[FAULT_HEADER] = _label(fault)
    return spoiled


def _label(fault: Fault) -> str:
    """What the client got, in the X-Mock-Fault response header: ``status 503 delay=120ms rule=fault_2``."""
    parts = [fault.kind]
    if fault.kind == "status":
        parts.append(str(fault.status))
    if fault.malformed:
        parts.append(fault.malformed)
    if fault.delay:
        parts.append(f"delay={round(fault.delay * 1000)}ms")
    if fault.rule_id:
        parts.append(f"rule={fault.rule_id}")
    return " ".join(parts)


def drop_connection(environ: dict[str, Any], reset: bool, response: Response | None = None) -> Response:
    """Ask for the connection to end unanswered; the response returned is never sent.

    It still goes through the app's after-request steps, so a lost response is journalled
    with the status the handler gave it.
    """
    environ[_DROP_REQUESTED] = "reset" if reset else "close"
    return response if response is not None else Response(status=499)


class ConnectionDrops:
    """WSGI middleware: carries out a drop asked for by a fault, once the app has finished."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        app_iter = self.wsgi_app(environ, start_response)
        mode = environ.get(_DROP_REQUESTED)
        if mode is None:
            return app_iter
        if hasattr(app_iter, "close"):
            app_iter.close()
        drop = environ.get(DROP_CONNECTION)
        if drop is None:
            raise ConnectionDropped(
                f"the sandbox dropped the connection ({mode}) as a fault asked; "
                "over a socket the client sees a connection error"
            )
        drop(reset=mode == "reset")
        return []
