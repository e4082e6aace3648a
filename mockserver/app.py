"""The WSGI application: request id, auth, routing from the spec, validation, handler, response.

``create_app`` builds one sandbox: the spec is loaded and compiled once, every operation of it
becomes a route bound to the handler of the same ``operationId``, and state lives in one store.
"""
from __future__ import annotations

import hmac
import ipaddress
import logging
import time
from typing import Any

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from . import admin, auth, errors, fault_http, fixtures, jsonio, validation
from .config import Settings
from .fault_routes import fault_blueprint
from .faults import FaultEngine
from .ids import IdGenerator
from .operations import HANDLERS
from .spec import Operation, Spec
from .store import Store

log = logging.getLogger("mockserver")
ADMIN_PREFIX = "/_mock/"
HEALTH_PATH = "/_mock/health"
# Operations that add customers, wallets or transactions: refused (429) in a full world.
GROWS_WORLD = frozenset({"createCustomer", "createWallet", "topUpWallet", "terminateWallet"})


class Sandbox:
    """What one running sandbox holds: its settings, the compiled spec and the state."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.spec = Spec.load(settings.spec)
        # Fixtures are read (and checked) once; every new world is filled from them.
        self.fixtures = fixtures.load(settings.fixtures, self.spec) if settings.fixtures else []
        self.store = Store(settings.id_seed, settings.journal_size,
                           setup=self._fill if self.fixtures else None,
                           max_worlds=settings.max_worlds)
        self.request_ids = IdGenerator()
        self.faults = FaultEngine((op.operation_id for op in self.spec.operations),
                                  max_hold=settings.fault_max_hold)
        if settings.faults:
            self.faults.load_file(settings.faults)

    def _fill(self, world, api_key: str) -> None:
        try:
            fixtures.apply_matching(self.fixtures, world, api_key)
        except fixtures.FixtureError as exc:
            # Checked at start, a fixture can still go stale (an expiry date that has passed):
            # the sandbox's fault, said plainly; the world is not created and nothing is kept.
            raise errors.ApiError(500, "The sandbox's fixtures could not be loaded into this world",
                                  str(exc), {"fixture": exc.source}) from None


def _is_loopback(address: str | None) -> bool:
    try:
        return ipaddress.ip_address(address or "").is_loopback
    except ValueError:
        return False


def _admin_gate(settings: Settings, req) -> Response | None:
    """Controls (/_mock/..., whoever adds them) answer loopback clients only, or, with an admin
    token configured, whoever sends it; the health check stays open for probes."""
    if settings.admin_token is None:
        if _is_loopback(req.remote_addr):
            return None
        reason = "sandbox controls answer loopback clients only (or configure an admin token)"
    else:
        sent = req.headers.get(auth.ADMIN_TOKEN_HEADER, "")
        if hmac.compare_digest(sent.encode(), settings.admin_token.encode()):
            return None
        reason = f"sandbox controls need the {auth.ADMIN_TOKEN_HEADER} header with the admin token"
    return error_response(errors.ApiError(403, "Forbidden", reason, {"path": req.path}))


def error_response(error: errors.ApiError) -> Response:
    return jsonio.response(error.status, error.body())


def create_app(settings: Settings | None = None, **overrides: Any) -> Flask:
    """Build a sandbox app. ``overrides`` are Settings fields, e.g. ``create_app(id_seed=1)``."""
    settings = settings or Settings(**overrides)
    sandbox = Sandbox(settings)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    # A path with "//" (an id or lookup key holding "/") is a plain 404, not a 308 to another path.
    app.url_map.merge_slashes = False
    app.extensions["mockserver"] = sandbox
    app.wsgi_app = fault_http.ConnectionDrops(app.wsgi_app)
    app.register_blueprint(fault_blueprint(sandbox.faults))
    app.register_blueprint(admin.admin_blueprint(sandbox))

    missing = [op.operation_id for op in sandbox.spec.operations if op.operation_id not in HANDLERS]
    if missing:
        raise RuntimeError(f"no handler for operations: {', '.join(missing)}")
    for op in sandbox.spec.operations:
        app.add_url_rule(op.url_rule, endpoint=op.operation_id,
                         view_func=_operation_view(sandbox, op), methods=[op.method])

    @app.before_request
    def begin() -> Response | None:
        # One hook, and Flask's proxies resolved once: this runs on every request.
        req = request._get_current_object()
        context = g._get_current_object()
        context.started = time.perf_counter()
        context.request_id = req.headers.get("X-Request-ID") or sandbox.request_ids.ulid(
            int(time.time() * 1000))
        path = req.path
        if path.startswith(ADMIN_PREFIX) and path != HEALTH_PATH:
            return _admin_gate(settings, req)
        return None

    @app.after_request
    def finish(response: Response) -> Response:
        req = request._get_current_object()
        context = vars(g._get_current_object())
        request_id = context.get("request_id", "")
        response.headers["X-Request-ID"] = request_id
        admin.record(sandbox.store, req, context, response)
        if settings.log_requests:
            elapsed = (time.perf_counter() - context.get("started", time.perf_counter())) * 1000
            log.info("%s %s %d %.1fms key=%s rid=%s", req.method, req.path, response.status_code,
                     elapsed, auth.mask(req.headers.get(auth.API_KEY_HEADER)), request_id)
        return response

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        # Unknown path (404), wrong method (405), body too large (413): the API's own envelope.
        message = {404: "Route not found", 405: "Method not allowed",
                   413: "Request body too large"}.get(exc.code, exc.name)
        details = {"method": request.method, "path": request.path}
        if exc.code == 413:
            details = {"max_body_bytes": settings.max_body_bytes}
        internal = f"{exc.code} {message.lower()}"
        response = error_response(errors.ApiError(exc.code or 500, message, internal, details))
        if exc.code == 405 and hasattr(exc, "valid_methods") and exc.valid_methods:
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response

    @app.errorhandler(errors.ApiError)
    def api_error(error: errors.ApiError) -> Response:
        return error_response(error)

    @app.errorhandler(Exception)
    def crash(exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(errors.ApiError(500, "An unexpected error occurred",
                                              f"{type(exc).__name__}: {exc}"))

    @app.get(HEALTH_PATH)
    def health() -> Response:
        return jsonio.response(200, {"status": "ok", "worlds": len(sandbox.store)})

    return app


def _operation_view(sandbox: Sandbox, op: Operation):
    handler = HANDLERS[op.operation_id]
    check_responses = sandbox.settings.validate_responses
    grows_world = op.operation_id in GROWS_WORLD

    def view(**path_args: str) -> Response:
        req = request._get_current_object()
        headers = req.headers
        api_key = headers.get(auth.API_KEY_HEADER)
        if not api_key:
            return jsonio.response(401, auth.UNAUTHORIZED)
        try:
            fault = fault_http.decide(sandbox.faults, op.operation_id, op.responses, api_key, req)
        except errors.ApiError as error:
            return error_response(error)
        if fault is not None:
            early = fault_http.before_handler(fault)
            if early is not None:
                return early
        try:
            params = validation.check_parameters(op, path_args, req.args)
            body = validation.check_body(op, req.get_data, headers.get("Content-Type"))
            world = sandbox.store.world(api_key, headers.get(auth.ENVIRONMENT_HEADER, ""))
            with world.lock:
                if grows_world:
                    world.ensure_room(sandbox.settings.max_objects_per_world)
                status, payload = handler(world, params, body)
        except errors.ApiError as error:
            status, payload = error.status, error.body()
        if check_responses:
            _self_check(op, status, payload)
        response = jsonio.response(status, payload)
        return fault_http.after_handler(fault, response) if fault is not None else response

    view.__name__ = op.operation_id
    return view


class ResponseMismatch(AssertionError):
    """The sandbox produced a response its own spec does not allow (a bug in the sandbox)."""


def _self_check(op: Operation, status: int, payload: Any) -> None:
    if str(status) not in op.responses:
        raise ResponseMismatch(f"{op.operation_id} answered {status}, which the spec does not declare")
    validator = op.response_validator(status)
    if validator is None:
        if payload is not None:
            raise ResponseMismatch(f"{op.operation_id} {status} must have no body")
        return
    problems = [f"{'.'.join(map(str, e.absolute_path)) or '<body>'}: {e.message}"
                for e in validator.iter_errors(payload)]
    if problems:
        raise ResponseMismatch(f"{op.operation_id} {status} breaks the spec: " + "; ".join(problems))
