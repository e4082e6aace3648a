"""The WSGI application: request id, auth, routing from the spec, validation, handler, response.

``create_app`` builds one sandbox serving one API version: its document is loaded and compiled
once, every operation becomes a route bound to the version's handler of the same ``operationId``,
and every change to a world goes through the store's unit of work.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timezone
from functools import partial
from typing import Any

from flask import Flask, Request, Response, g, request
from werkzeug.exceptions import HTTPException, NotFound

from .. import api
from ..api.fidelity import Binding, Fidelity
from ..config import Settings
from ..controls import admin, coverage, fixtures, trigger
from ..controls import webhooks as webhook_controls
from ..controls.faults import fault_blueprint
from ..controls.verify import verify_blueprint
from ..domain import errors
from ..domain.ids import IdGenerator
from ..domain.world import World
from ..faults.rules import FaultEngine
from ..faults.shared import SharedRules
from ..state import journal
from ..state.due import DueWork
from ..state.errors import StoreError
from ..state.protocol import WorldStore
from ..state.shared.records import Redis
from ..state.shared.worlds import SharedStore
from ..state.store import Store
from ..ui import ui_blueprint
from ..webhooks.endpoints import WebhookError
from ..webhooks.endpoints import parse as parse_endpoint
from ..webhooks.outbox import Outbox
from ..webhooks.shared import SharedMailboxes
from . import auth, jsonio, validation
from . import faults as fault_http
from .guard import Guard
from .operations import OperationRouter, View, check_reach
from .spec import Operation, Spec
from .store_errors import api_error as store_error

log = logging.getLogger("mockserver")
ADMIN_PREFIX = "/_mock/"
HEALTH_PATH = "/_mock/health"
OPERATION_HEADER = "X-Mock-Operation"
FIDELITY_HEADER = "X-Mock-Fidelity"


class Sandbox:
    """What one running sandbox holds: its settings, its API version, the compiled spec, the state."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.version = api.load(settings.api_version)
        self.spec = Spec.load(settings.spec or self.version.served_spec_path)
        # Every documented operation bound once: modelled, stored, schema or none (501); those
        # upstream does not route are left out (404) and listed by /_mock/coverage.
        self.min_fidelity = Fidelity(settings.min_fidelity)
        self.bindings: dict[str, Binding] = {}
        self.unrouted: list[Operation] = []
        for op in self.spec.operations:
            binding = self.version.bind(op)
            if binding is None:
                self.unrouted.append(op)
            else:
                self.bindings[op.operation_id] = binding
        # Fixtures are read (and checked) once; every new world is filled from them.
        self.fixtures = fixtures.load(settings.fixtures, self.spec, self.version) if settings.fixtures else []
        setup = self._fill if self.fixtures else None
        shared = None
        if settings.store == "memory":
            self.store: WorldStore = Store(
                settings.id_seed,
                settings.journal_size,
                setup=setup,
                max_worlds=settings.max_worlds,
                rules=self.version.rules,
                api_version=self.version.name,
                check_units=settings.validate_responses,
            )
        else:  # every world, rule and mailbox in Redis, under keys of this API version
            shared = Redis(settings.store, f"{settings.redis_prefix}{self.version.name}:")
            self.store = SharedStore(
                shared,
                self.version.name,
                settings.id_seed,
                settings.journal_size,
                setup=setup,
                max_worlds=settings.max_worlds,
                rules=self.version.rules,
            )
        self.request_ids = IdGenerator()
        self.faults = FaultEngine(
            (op.operation_id for op in self.spec.operations),
            max_hold=settings.fault_max_hold,
            rules=SharedRules(shared) if shared else None,
        )
        if settings.faults:
            self.faults.load_file(settings.faults)
        self.outbox = Outbox(
            self.version.webhook_payload,
            self.version.webhook_events,
            self.store.clock,
            default_url=settings.webhook_url,
            default_secret=settings.webhook_secret,
            timeout=settings.webhook_timeout,
            mailboxes=partial(SharedMailboxes, shared) if shared else None,
        )
        if settings.webhook_url:
            # Checked now, so a bad URL or secret stops the start instead of failing every world.
            try:
                parse_endpoint(
                    {"url": settings.webhook_url, "secret": self.outbox.default_secret},
                    "ep_default",
                    datetime.now(timezone.utc),
                    self.version.webhook_events,
                )
            except WebhookError as error:  # named as the flag that gave it
                raise WebhookError(f"--webhook-{error.field}:", error.problem) from None
        self.store.listeners.append(self.outbox.publish)
        self.due = DueWork(self.store)

    # Routes that wait on something else (the webhook outbox) rather than compute: the server runs
    # them on a thread, so that they never hold the event loop that serves everyone else.
    waiting_paths = frozenset({webhook_controls.WAIT_PATH})

    def error_response(self, error: errors.ApiError) -> Response:
        return jsonio.response(error.status, self.version.error_body(error))

    def refusal(self, status: int, message: str, cause: str) -> bytes:
        """The error body of a request refused below the app (by the HTTP server)."""
        error = errors.ApiError(status, message, cause, {"reason": cause})
        return jsonio.dumps(self.version.error_body(error)).encode()

    def _fill(self, world: World, api_key: str) -> None:
        for fixture in self.fixtures:
            if fixture.applies_to(api_key):
                for raw in fixture.webhooks:
                    self.outbox.register((api_key, world.environment_id), raw)
        try:
            fixtures.apply_matching(self.fixtures, world, api_key, self.version)
        except fixtures.FixtureError as exc:
            # Checked at start, a fixture can still go stale (an expiry date that has passed):
            # the sandbox's fault, said plainly; the world is not created and nothing is kept.
            raise errors.ApiError(
                500,
                "The sandbox's fixtures could not be loaded into this world",
                str(exc),
                {"fixture": exc.source},
            ) from None


def create_app(settings: Settings | None = None, **overrides: Any) -> Flask:
    """Build a sandbox app. ``overrides`` are Settings fields, e.g. ``create_app(id_seed=1)``."""
    settings = settings or Settings(**overrides)
    sandbox = Sandbox(settings)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    # A path with "//" (an id or lookup key holding "/") is a plain 404, not a 308 to another path.
    app.url_map.merge_slashes = False
    app.extensions["mockserver"] = sandbox
    app.register_blueprint(fault_blueprint(sandbox.faults, sandbox.error_response))
    app.register_blueprint(admin.admin_blueprint(sandbox))
    app.register_blueprint(webhook_controls.webhook_blueprint(sandbox))
    app.register_blueprint(verify_blueprint(sandbox))
    app.register_blueprint(coverage.coverage_blueprint(sandbox))
    app.register_blueprint(trigger.trigger_blueprint(sandbox))
    app.register_blueprint(ui_blueprint(sandbox))

    bindings = sandbox.bindings
    views = [
        (op, _operation_view(sandbox, op, bindings[op.operation_id]))
        for op in sandbox.spec.operations
        if op.operation_id in bindings
    ]
    for op, view in views:
        flask_view = _in_flask(view)
        app.add_url_rule(op.url_rule, endpoint=op.operation_id, view_func=flask_view, methods=[op.method])
    api_prefix = sandbox.spec.base_path + "/"
    unrouted = {(op.method, op.base_path + op.path) for op in sandbox.unrouted if "{" not in op.path}
    guard = Guard.of(settings)

    def begin(req: Request, context: Any) -> Response | None:
        """Before every request: its id and time, then the guard."""
        context.started = time.perf_counter()
        context.request_id = req.headers.get("X-Request-ID") or sandbox.request_ids.ulid(
            int(time.time() * 1000)
        )
        path = req.path
        if path == HEALTH_PATH:  # open to every probe
            return None
        refusal = guard.host_refusal(req)
        if refusal is None and path.startswith(ADMIN_PREFIX):
            refusal = (
                guard.origin_refusal(req)
                or guard.admin_refusal(req)
                or guard.body_type_refusal(req, path in admin.YAML_PATHS)
            )
        return sandbox.error_response(refusal) if refusal is not None else None

    def finish(req: Request, context: Any, response: Response) -> Response:
        """After every request: the request id on the answer, the journal, the log line."""
        seen = vars(context)
        request_id = seen.get("request_id", "")
        headers = response.headers
        headers["X-Request-ID"] = request_id
        operation = seen.get("operation")
        if operation is not None:  # whatever the answer (error, fault, 401, 501): who gave it
            headers.add(OPERATION_HEADER, operation[0])
            headers.add(FIDELITY_HEADER, operation[1])
        if req.path.startswith(api_prefix):
            _record(sandbox.store, req, seen, response)
        if settings.log_requests:
            elapsed = (time.perf_counter() - seen.get("started", time.perf_counter())) * 1000
            log.info(
                "%s %s %d %.1fms key=%s rid=%s",
                req.method,
                req.path,
                response.status_code,
                elapsed,
                auth.mask(req.headers.get(auth.API_KEY_HEADER)),
                request_id,
            )
        return response

    def failure(exc: Exception, req: Request, context: Any) -> Response:
        """The answer to an exception out of a request's steps, in the API's error body."""
        context.unexpected = _unexpected(exc)
        if isinstance(exc, HTTPException):
            # Unknown path (404), wrong method (405), body too large (413)
            code = exc.code or 500
            if code == 405 and (req.method, req.path) in unrouted:
                # documented, routed nowhere upstream: its 404, though another method has the path
                code = 404
                context.unexpected = _unexpected(NotFound())
            message = {404: "Route not found", 405: "Method not allowed", 413: "Request body too large"}
            text = message.get(code, exc.name)
            details: dict[str, Any] = {"method": req.method, "path": req.path}
            if code == 413:
                details = {"max_body_bytes": settings.max_body_bytes}
            response = sandbox.error_response(errors.ApiError(code, text, f"{code} {text.lower()}", details))
            valid_methods = getattr(exc, "valid_methods", None)
            if code == 405 and valid_methods:
                response.headers["Allow"] = ", ".join(valid_methods)
            return response
        if isinstance(exc, errors.ApiError):
            return sandbox.error_response(exc)
        if isinstance(exc, StoreError):
            return sandbox.error_response(store_error(exc))
        log.exception("unhandled error on %s %s", req.method, req.path, exc_info=exc)
        return sandbox.error_response(
            errors.ApiError(500, "An unexpected error occurred", f"{type(exc).__name__}: {exc}")
        )

    # Flask's way in: its hooks and error handler call the same steps.
    app.before_request(lambda: begin(request._get_current_object(), g._get_current_object()))  # type: ignore[attr-defined]
    app.after_request(
        lambda response: finish(request._get_current_object(), g._get_current_object(), response)  # type: ignore[attr-defined]
    )
    app.register_error_handler(Exception, lambda exc: failure(exc, request, g._get_current_object()))

    @app.get(HEALTH_PATH)
    def health() -> Response:
        try:
            store = sandbox.store.describe()
        except StoreError as error:  # the shared store cannot be reached
            return jsonio.response(
                503,
                {
                    "status": "unavailable",
                    "api_version": sandbox.version.name,
                    "problem": store_error(error).message,
                },
            )
        return jsonio.response(200, {"status": "ok", "api_version": sandbox.version.name, **store})

    # The hot path's way in: the API's operations straight from WSGI (see operations.py).
    router = OperationRouter(app.wsgi_app, views, settings.max_body_bytes, begin, finish, failure)
    check_reach(views, router.match, _flask_match(app))
    app.wsgi_app = fault_http.ConnectionDrops(router)  # type: ignore[method-assign]
    return app


def _flask_match(app: Flask) -> Callable[[str, str], str | None]:
    """The endpoint Flask's routing gives a request (what it serves: HEAD, a body over the limit)."""
    adapter = app.url_map.bind("localhost")

    def match(method: str, path: str) -> str | None:
        try:
            endpoint, _ = adapter.match(path, method)
        except HTTPException:
            return None
        return str(endpoint)

    return match


def _in_flask(view: View) -> Callable[..., Response]:
    """An operation's view as a Flask view (for what the router passes on, e.g. HEAD)."""

    def flask_view(**path_args: str) -> Response:
        return view(request._get_current_object(), g._get_current_object(), path_args)  # type: ignore[attr-defined]

    return flask_view


def _operation_view(sandbox: Sandbox, op: Operation, binding: Binding) -> View:
    version = sandbox.version
    handler = binding.handler
    operation_id = op.operation_id
    marks = (operation_id, binding.fidelity.value)
    least = sandbox.min_fidelity
    # An operation not modelled, or bound below --min-fidelity, is refused once its request is
    # checked and before its world is touched (none made, nothing counted).
    refusal: Callable[[], errors.ApiError] | None = None
    if binding.fidelity is Fidelity.NONE:
        refusal = partial(api.not_implemented, operation_id)
    elif binding.fidelity.rank < least.rank:
        refusal = partial(
            api.not_implemented,
            operation_id,
            f"{operation_id} is answered at fidelity {binding.fidelity.value}, below the minimum "
            f"{least.value} this sandbox was started with (--min-fidelity)",
        )
    check_responses = sandbox.settings.validate_responses
    grows_world = op.operation_id in version.grows_world
    reading = op.method == "GET"
    max_objects = sandbox.settings.max_objects_per_world
    store = sandbox.store

    def view(req: Request, context: Any, path_args: dict[str, str]) -> Response:
        context.operation = marks
        headers = req.headers
        api_key = headers.get(auth.API_KEY_HEADER)
        if not api_key:
            return jsonio.response(401, version.unauthorized)
        try:
            fault = fault_http.decide(sandbox.faults, op.operation_id, op.responses, api_key, req)
        except errors.ApiError as error:
            return sandbox.error_response(error)
        except StoreError as error:  # the shared store's rules unreachable
            return sandbox.error_response(store_error(error))
        if fault is not None:
            context.fault = fault.describe()
            early = fault_http.before_handler(fault, version, req.environ)
            if early is not None:
                return early
        try:
            params = validation.check_parameters(op, path_args, req.args, headers)
            body = validation.check_body(op, req.get_data, headers.get("Content-Type"))
            if refusal is not None:
                raise refusal()
            environment_id = headers.get(auth.ENVIRONMENT_HEADER, "")
            with store.session(api_key, environment_id, reading) as world:
                if grows_world:
                    world.ensure_room(max_objects)
                status, payload = handler(world, params, body)
                if world.usage_due is not None:
                    sandbox.due.note((api_key, environment_id), world)
        except errors.ApiError as error:
            status, payload = error.status, version.error_body(error)
            context.unexpected = _unexpected(error)
        except StoreError as failure:
            answer = store_error(failure)
            status, payload = answer.status, version.error_body(answer)
        # A refusal's 501 is the sandbox's own answer, which a document it is given may not list.
        if check_responses and not (refusal is not None and status == 501):
            _self_check(op, status, payload)
        response = jsonio.response(status, payload)
        return fault_http.after_handler(fault, response, req.environ) if fault is not None else response

    view.__name__ = operation_id
    return view


class ResponseMismatch(AssertionError):
    """The sandbox produced a response its own spec does not allow (a bug in the sandbox)."""


def _self_check(op: Operation, status: int, payload: Any) -> None:
    if str(status) not in op.responses and "default" not in op.responses:
        raise ResponseMismatch(f"{op.operation_id} answered {status}, which the spec does not declare")
    if isinstance(payload, api.Binary):  # bytes the document declares as a binary string
        return
    validator = op.response_validator(status)
    if validator is None:
        if payload is not None:
            raise ResponseMismatch(f"{op.operation_id} {status} must have no body")
        return
    problems = [
        f"{'.'.join(map(str, e.absolute_path)) or '<body>'}: {e.message}"
        for e in validator.iter_errors(payload)
    ]
    if problems:
        raise ResponseMismatch(f"{op.operation_id} {status} breaks the spec: " + "; ".join(problems))


def _unexpected(exc: Exception) -> str | None:
    """Why a request was not one of the API's operations as the document describes them: it hit
    no route, or it was refused as invalid (``validation_error``). Other refusals (not found,
    conflicts, faults) are answers the API means to give."""
    if isinstance(exc, HTTPException):
        return {404: "no route", 405: "method not allowed", 413: "body too large"}.get(exc.code or 0)
    if isinstance(exc, errors.ApiError) and exc.code == "validation_error":
        return f"invalid: {exc.message}"
    return None


def _record(store: WorldStore, req: Request, context: dict, response: Response) -> None:
    """Journal one API request in its key's world (the app's after_request; kept cheap).

    ``req`` is Flask's request and ``context`` the attributes of ``g``, resolved once by the caller.
    """
    headers = req.headers
    api_key = headers.get(auth.API_KEY_HEADER)
    if not api_key:
        return
    try:
        book = store.journal(api_key, headers.get(auth.ENVIRONMENT_HEADER, ""))
    except (errors.ApiError, StoreError):  # no room for another world: the answer already says so
        return
    if not book.size:
        return
    started = context.get("started")
    elapsed = (time.perf_counter() - started) * 1000 if started is not None else 0.0
    try:
        body = req.get_data(cache=True)
    except HTTPException:  # a body over the size limit: the journal keeps none of it
        body = b""
    entry = journal.new_entry(
        datetime.now(timezone.utc),
        req.method,
        req.path,
        req.query_string,
        body,
        response.status_code,
        elapsed,
        context.get("request_id", ""),
        auth.mask(api_key),
        context.get("fault"),
        context.get("unexpected"),
        context.get("operation"),
    )
    try:
        book.record(entry)
    except StoreError:  # the shared store unreachable: the answer (a 503) already says so
        pass
