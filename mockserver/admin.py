"""Sandbox controls under ``/_mock/``: reset, state export and import, the request journal,
fixtures, each world's clock and its id seed.

A control that concerns one world names it as the API does: the ``x-api-key`` header and,
optionally, ``X-Environment-ID``. Answers and errors use the API's JSON and error envelope.
"""
from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

from flask import Blueprint, Request, Response, request
from werkzeug.exceptions import HTTPException

from . import auth, errors, fixtures, jsonio, journal, statefile, timetravel, validation, views
from .ids import IdGenerator
from .store import Store, World

JOURNAL_FILTERS = ("method", "path", "status", "limit")


def admin_blueprint(sandbox) -> Blueprint:
    """The ``/_mock/`` controls of one sandbox (its store, spec and fixtures)."""
    bp = Blueprint("mock_admin", __name__, url_prefix="/_mock")
    store: Store = sandbox.store

    @bp.errorhandler(errors.ApiError)
    def api_error(error: errors.ApiError) -> Response:
        return jsonio.response(error.status, error.body())

    def world() -> World:
        api_key = request.headers.get(auth.API_KEY_HEADER)
        if not api_key:
            raise errors.validation(f"The {auth.API_KEY_HEADER} header is required: it names the "
                                    "world this control acts on", "missing api key",
                                    header=auth.API_KEY_HEADER)
        return store.world(api_key, request.headers.get(auth.ENVIRONMENT_HEADER, ""))

    # ---- reset -------------------------------------------------------------------------------

    @bp.post("/reset")
    def reset() -> Response:
        everything = _flag("all")
        api_key = request.headers.get(auth.API_KEY_HEADER)
        if everything or not api_key:
            return jsonio.response(200, {"reset": store.reset(), "scope": "all"})
        environment = request.headers.get(auth.ENVIRONMENT_HEADER)
        return jsonio.response(200, {"reset": store.reset(api_key, environment),
                                     "scope": "key" if environment is None else "environment"})

    # ---- state -------------------------------------------------------------------------------

    @bp.get("/state")
    def export_state() -> Response:
        w = world()
        with w.lock:
            return jsonio.response(200, statefile.export(w))

    @bp.put("/state")
    def import_state() -> Response:
        document = validation.parse_json(request.get_data())
        w = world()
        with w.lock:
            try:
                statefile.restore(w, document)
            except statefile.StateError as error:
                raise errors.validation(f"Invalid state document: {error}", "invalid state document",
                                        field=error.field, problem=error.problem) from None
            return jsonio.response(200, {"customers": len(w.customers), "wallets": len(w.wallets),
                                         "transactions": w.transaction_count,
                                         "idempotency": len(w.top_ups), **timetravel.view(w)})

    # ---- journal -----------------------------------------------------------------------------

    @bp.get("/journal")
    def read_journal() -> Response:
        for name in request.args:
            if name not in JOURNAL_FILTERS:
                raise errors.validation(f"query parameter {name} is not a journal filter "
                                        f"(expected: {', '.join(JOURNAL_FILTERS)})",
                                        "unknown filter", parameter=name)
        status = request.args.get("status")
        if status is not None and not journal.valid_status_pattern(status):
            raise errors.validation("query parameter status must be a status code (404) or a class (4xx)",
                                    "invalid status filter", status=status)
        limit = _positive_int("limit")
        w = world()
        found = w.journal.entries(request.args.get("method"), request.args.get("path"), status, limit)
        return jsonio.response(200, {"items": [journal.as_json(e) for e in found],
                                     "count": len(found), "capacity": w.journal.size})

    @bp.delete("/journal")
    def clear_journal() -> Response:
        return jsonio.response(200, {"cleared": world().journal.clear()})

    # ---- fixtures ----------------------------------------------------------------------------

    @bp.post("/fixtures")
    def load_fixture() -> Response:
        text = request.get_data().decode("utf-8", errors="replace")
        try:
            fixture = fixtures.parse(text, "request body", sandbox.spec)
        except fixtures.FixtureError as error:
            raise _fixture_error(error) from None
        w = world()
        with w.lock:
            before = statefile.export(w)
            del before["clock"]
            try:
                made_customers, made_wallets = fixtures.apply(fixture, w)
            except fixtures.FixtureError as error:
                statefile.restore(w, before)     # all or nothing
                raise _fixture_error(error) from None
            return jsonio.response(201, {"customers": [views.customer(w, c) for c in made_customers],
                                         "wallets": [views.wallet(x) for x in made_wallets]})

    # ---- clock and ids -----------------------------------------------------------------------

    @bp.get("/clock")
    def read_clock() -> Response:
        return jsonio.response(200, timetravel.view(world()))

    @bp.put("/clock")
    def set_clock() -> Response:
        body = _object_body(("now", "frozen"))
        if not body:
            raise errors.validation("Give now (an RFC 3339 timestamp), frozen (true or false), or both",
                                    "empty clock update")
        instant = timetravel.parse_instant(body["now"]) if body.get("now") is not None else None
        frozen = body.get("frozen")
        if frozen is not None and not isinstance(frozen, bool):
            raise errors.validation("frozen must be true or false", "invalid frozen", frozen=repr(frozen))
        w = world()
        with w.lock:
            expired = timetravel.set_clock(w, instant, frozen)
            return _clock_moved(w, expired)

    @bp.delete("/clock")
    def reset_clock() -> Response:
        w = world()
        with w.lock:
            w.clock.reset()
            return _clock_moved(w, timetravel.sweep(w))

    @bp.post("/clock/advance")
    def advance_clock() -> Response:
        body = _object_body(("by",))
        if "by" not in body:
            raise errors.validation("by is required: seconds or an ISO 8601 duration such as P30D",
                                    "missing by", by="is required")
        w = world()
        with w.lock:
            return _clock_moved(w, timetravel.advance(w, body["by"]))

    @bp.put("/ids")
    def seed_ids() -> Response:
        body = _object_body(("seed",))
        if "seed" not in body:
            raise errors.validation("seed is required: an integer, or null for random ids",
                                    "missing seed", seed="is required")
        seed = body["seed"]
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise errors.validation("seed must be an integer or null", "invalid seed", seed=repr(seed))
        w = world()
        with w.lock:
            w.ids = IdGenerator(seed)
        return jsonio.response(200, {"seed": seed})

    return bp


def _clock_moved(w: World, expired) -> Response:
    return jsonio.response(200, {**timetravel.view(w),
                                 "expired": [views.transaction(t) for t in expired]})


def _fixture_error(error: fixtures.FixtureError) -> errors.ApiError:
    details = {"field": error.where or "<document>", "problem": error.problem}
    if error.line:
        details["line"] = error.line
    return errors.validation(f"Invalid fixture: {error}", "invalid fixture", **details)


def _flag(name: str) -> bool:
    raw = request.args.get(name)
    if raw is None:
        return False
    lowered = raw.lower()
    if lowered not in ("true", "false", "1", "0", ""):
        raise errors.validation(f"query parameter {name} must be true or false", f"invalid {name}",
                                **{name: raw})
    return lowered in ("true", "1", "")


def _positive_int(name: str) -> int | None:
    raw = request.args.get(name)
    if raw is None:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise errors.validation(f"query parameter {name} must be a positive integer",
                                f"invalid {name}", **{name: raw})
    return int(raw)


def _object_body(allowed: tuple[str, ...]) -> dict[str, Any]:
    body = validation.parse_json(request.get_data())
    if not isinstance(body, dict):
        raise errors.validation("The request body must be a JSON object", "body is not an object")
    for name in body:
        if name not in allowed:
            raise errors.validation(f"{name} is not a field here (expected: {', '.join(allowed)})",
                                    "unknown field", field=name)
    return body


# ---- recording ---------------------------------------------------------------------------------

def record(store: Store, req: Request, context: dict, response: Response) -> None:
    """Journal one API request in its key's world (the app's after_request; kept cheap).

    ``req`` is Flask's request and ``context`` the attributes of ``g``, resolved once by the caller.
    """
    headers = req.headers
    api_key = headers.get(auth.API_KEY_HEADER)
    path = req.path
    if not api_key or path.startswith("/_mock/"):
        return
    try:
        w = store.world(api_key, headers.get(auth.ENVIRONMENT_HEADER, ""))
    except errors.ApiError:     # no room for another world: the answer already says so
        return
    if not w.journal.size:
        return
    started = context.get("started")
    elapsed = (time.perf_counter() - started) * 1000 if started is not None else 0.0
    try:
        body = req.get_data(cache=True)
    except HTTPException:     # a body over the size limit: the journal keeps none of it
        body = b""
    w.journal.record(journal.new_entry(
        datetime.now(timezone.utc), req.method, path, req.query_string, body,
        response.status_code, elapsed, context.get("request_id", ""), auth.mask(api_key),
        context.get("fault")))
