"""Sandbox controls under ``/_mock/``: reset, state export and import, the request journal,
fixtures, each world's clock and its id seed, settling the invoices of top-ups paid later and the
subscription invoices of closed periods (by hand, or by the world's policies), and how soon usage is
evaluated.

A control that concerns one world names it as the API does: the ``x-api-key`` header and,
optionally, ``X-Environment-ID``. Answers are JSON; errors use the served API version's error body.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, request

from ..domain import errors, invoices, money, policies, usage
from ..domain.clock import format_timestamp
from ..domain.ids import IdGenerator
from ..domain.models import WALLET_AUTO_TOPUP, Invoice
from ..domain.world import World, WorldKey
from ..http import auth, jsonio, validation
from ..state import journal, statefile
from ..text import boolean, glob_problem, mask
from . import fixtures, timetravel
from .requests import caller, caller_world, object_body, only_filters

if TYPE_CHECKING:
    from ..http.app import Sandbox

JOURNAL_FILTERS = ("method", "path", "status", "limit")
MAX_ALERT_DELAY = timedelta(days=365)
YAML_PATHS = frozenset({"/_mock/fixtures"})  # controls whose body may be YAML as well as JSON


def admin_blueprint(sandbox: Sandbox) -> Blueprint:
    """The ``/_mock/`` controls of one sandbox (its store, spec, version and fixtures)."""
    bp = Blueprint("mock_admin", __name__, url_prefix="/_mock")
    store = sandbox.store
    version = sandbox.version

    def world() -> AbstractContextManager[World]:
        return caller_world(sandbox)

    def clock_moved(w: World, expired: list) -> Response:
        sandbox.outbox.wake()  # retries due at the new time go now
        return jsonio.response(
            200, {**timetravel.view(w), "expired": [version.show_transaction(w, t) for t in expired]}
        )

    # ---- reset -------------------------------------------------------------------------------

    @bp.post("/reset")
    def reset() -> Response:
        everything = _flag("all")
        api_key = request.headers.get(auth.API_KEY_HEADER)
        if everything:
            sandbox.outbox.reset()
            return _forgotten(store.reset(), "all")
        if not api_key:  # forgetting every world is never what a missing header meant
            raise errors.validation(
                f"Say which worlds to forget: the {auth.API_KEY_HEADER} header for one key's worlds, "
                "or ?all=true for every world",
                "missing api key",
                header=auth.API_KEY_HEADER,
            )
        environment = request.headers.get(auth.ENVIRONMENT_HEADER)
        sandbox.outbox.reset(api_key, environment)  # its endpoints and deliveries go with it
        return _forgotten(store.reset(api_key, environment), "key" if environment is None else "environment")

    # ---- state -------------------------------------------------------------------------------

    @bp.get("/state")
    def export_state() -> Response:
        with world() as w:
            return jsonio.response(200, statefile.export(w, version.name))

    @bp.put("/state")
    def import_state() -> Response:
        document = validation.parse_json(request.get_data())
        with world() as w:
            try:
                statefile.restore(w, document, version.name)
            except statefile.StateError as error:
                raise errors.validation(
                    f"Invalid state document: {error}",
                    "invalid state document",
                    field=error.field,
                    problem=error.problem,
                ) from None
            return jsonio.response(
                200,
                {
                    "customers": len(w.customers),
                    "wallets": len(w.wallets),
                    "transactions": w.transaction_count,
                    "idempotency": len(w.top_ups),
                    **timetravel.view(w),
                },
            )

    # ---- journal -----------------------------------------------------------------------------

    @bp.get("/journal")
    def read_journal() -> Response:
        only_filters("journal", JOURNAL_FILTERS)
        status = request.args.get("status")
        if status is not None and not journal.valid_status_pattern(status):
            raise errors.validation(
                "query parameter status must be a status code (404) or a class (4xx)",
                "invalid status filter",
                status=status,
            )
        if problem := glob_problem(request.args.get("path", "")):
            raise errors.validation(f"query parameter path {problem}", "invalid path filter")
        limit = _positive_int("limit")
        book = store.journal(*caller())
        found = book.entries(request.args.get("method"), request.args.get("path"), status, limit)
        return jsonio.response(
            200, {"items": [journal.as_json(e) for e in found], "count": len(found), "capacity": book.size}
        )

    @bp.delete("/journal")
    def clear_journal() -> Response:
        return jsonio.response(200, {"cleared": store.journal(*caller()).clear()})

    # ---- fixtures ----------------------------------------------------------------------------

    @bp.post("/fixtures")
    def load_fixture() -> Response:
        text = request.get_data().decode("utf-8", errors="replace")
        try:
            fixture = fixtures.parse(text, "request body", sandbox.spec, version.webhook_events)
        except fixtures.FixtureError as error:
            raise _fixture_error(error) from None
        with caller_world(sandbox, atomic=True) as w:  # all or nothing
            try:
                made_customers, made_wallets = fixtures.apply(fixture, w, version)
            except fixtures.FixtureError as error:
                raise _fixture_error(error) from None
        made_webhooks = [sandbox.outbox.register(caller(), raw).describe() for raw in fixture.webhooks]
        answer = {"customers": made_customers, "wallets": made_wallets}
        if made_webhooks:
            answer["webhooks"] = made_webhooks
        return jsonio.response(201, answer)

    # ---- clock and ids -----------------------------------------------------------------------

    @bp.get("/clock")
    def read_clock() -> Response:
        with world() as w:
            return jsonio.response(200, timetravel.view(w))

    @bp.put("/clock")
    def set_clock() -> Response:
        body = object_body(("now", "frozen"))
        if not body:
            raise errors.validation(
                "Give now (an RFC 3339 timestamp), frozen (true or false), or both", "empty clock update"
            )
        instant = timetravel.parse_instant(body["now"]) if body.get("now") is not None else None
        frozen = body.get("frozen")
        if frozen is not None and not isinstance(frozen, bool):
            raise errors.validation("frozen must be true or false", "invalid frozen", frozen=repr(frozen))
        with world() as w:
            return clock_moved(w, timetravel.set_clock(w, instant, frozen))

    @bp.delete("/clock")
    def reset_clock() -> Response:
        with world() as w:
            w.clock.reset()
            return clock_moved(w, timetravel.sweep(w))

    @bp.post("/clock/advance")
    def advance_clock() -> Response:
        body = object_body(("by",))
        if "by" not in body:
            raise errors.validation(
                "by is required: seconds or an ISO 8601 duration such as P30D", "missing by", by="is required"
            )
        with world() as w:
            return clock_moved(w, timetravel.advance(w, body["by"]))

    # ---- invoices of top-ups paid later ------------------------------------------------------

    @bp.get("/invoices")
    def list_invoices() -> Response:
        """Every invoice of the world, oldest first: top-ups', subscriptions' (one per closed
        period) and one-offs, the same records the API's invoice operations read."""
        with world() as w:
            items = [_invoice(i) for i in w.invoices.values()]
        return jsonio.response(200, {"items": items, "total": len(items)})

    # ---- usage: how soon usage is evaluated --------------------------------------------------

    @bp.get("/usage")
    def read_usage() -> Response:
        with world() as w:
            return jsonio.response(200, _usage(w))

    @bp.put("/usage")
    def set_usage() -> Response:
        body = object_body(("alert_delay",))
        if "alert_delay" not in body:
            raise errors.validation(
                "alert_delay is required: seconds or an ISO 8601 duration such as PT2S",
                "missing alert_delay",
                alert_delay="is required",
            )
        delay = timetravel.parse_duration(body["alert_delay"], "alert_delay")
        with world() as w:
            try:
                chosen = delay if isinstance(delay, timedelta) else delay.totimedelta(w.now())
            except (OverflowError, ValueError):
                raise errors.validation(
                    "alert_delay is out of range", "invalid alert_delay", alert_delay=str(body["alert_delay"])
                ) from None
            if chosen < timedelta(0) or chosen > MAX_ALERT_DELAY:
                raise errors.validation(
                    "alert_delay must be between 0 and 365 days",
                    "invalid alert_delay",
                    alert_delay=str(body["alert_delay"]),
                )
            usage.set_alert_delay(w, chosen)
            return jsonio.response(200, _usage(w))

    @bp.post("/invoices/<invoice_id>/<outcome>")
    def settle_invoice(invoice_id: str, outcome: str) -> Response:
        if outcome not in invoices.OUTCOMES:
            raise errors.not_found("Route not found", "404 route not found", path=request.path)
        with world() as w:
            invoice, txn = invoices.settle(w, invoice_id, outcome)
            # with a top-up's credit, or the refund a void gave
            answer: dict[str, Any] = {"invoice": _invoice(invoice)}
            if txn is not None:
                answer["wallet_transaction"] = version.show_transaction(w, txn)
                answer["wallet"] = version.show_wallet(w, w.wallets[txn.wallet_id])
            return jsonio.response(200, answer)

    # ---- policies: how pending things settle by themselves -----------------------------------

    @bp.get("/policies")
    def read_policies() -> Response:
        with world() as w:
            return jsonio.response(200, policies.dump(w.policies, w.rules.pending_kinds))

    @bp.put("/policies")
    def set_policies() -> Response:
        body = validation.parse_json(request.get_data())
        with world() as w:
            try:
                chosen = policies.update(w.policies, body, w.rules.pending_kinds)
            except policies.PolicyError as error:
                raise errors.validation(
                    f"Invalid policy: {error}", "invalid policy", field=error.field, problem=error.problem
                ) from None
            usage.set_policies(w, chosen)
            return jsonio.response(200, policies.dump(w.policies, w.rules.pending_kinds))

    @bp.put("/ids")
    def seed_ids() -> Response:
        body = object_body(("seed",))
        if "seed" not in body:
            raise errors.validation(
                "seed is required: an integer, or null for random ids", "missing seed", seed="is required"
            )
        seed = body["seed"]
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise errors.validation("seed must be an integer or null", "invalid seed", seed=repr(seed))
        with world() as w:
            w.ids = IdGenerator(seed)
        return jsonio.response(200, {"seed": seed})

    return bp


def _usage(w: World) -> dict[str, Any]:
    return {
        "alert_delay": w.alert_delay.total_seconds(),
        "evaluations": [
            {"customer_id": customer_id, "at": format_timestamp(at)}
            for customer_id, at in w.evaluations.items()
        ],
        "next_due": format_timestamp(w.usage_due) if w.usage_due else None,
    }


def _amount(value: Decimal) -> str:
    return str(money.normalize(value))


def _invoice(invoice: Invoice) -> dict[str, Any]:
    """Any invoice in upstream's field names, the same for every API version and wherever its
    world is loaded (no tenant or environment), with how it settled; a top-up's also with its
    wallet, credit and status as the wallet sees it."""
    body: dict[str, Any] = {
        "id": invoice.id,
        "invoice_type": invoice.invoice_type,
        "billing_reason": invoice.billing_reason,
        "customer_id": invoice.customer_id,
        "subscription_id": invoice.subscription_id,
        "currency": invoice.currency,
        "invoice_status": invoice.invoice_status,
        "payment_status": invoice.payment_status,
        "period_start": format_timestamp(invoice.period_start) if invoice.period_start else None,
        "period_end": format_timestamp(invoice.period_end) if invoice.period_end else None,
        # upstream's fields: prepaid credits lower what is due, they are not a payment
        "subtotal": _amount(invoice.total),
        "total_prepaid_credits_applied": _amount(invoice.credits_applied),
        "amount_due": _amount(invoice.due),
        "amount_paid": _amount(invoice.amount_paid),
        "amount_remaining": _amount(invoice.remaining),
        "refunded_amount": _amount(invoice.refunded),
        "line_items": invoice.lines,
        "metadata": invoice.metadata,
        "created_at": format_timestamp(invoice.created_at),
        "settled_at": format_timestamp(invoice.settled_at) if invoice.settled_at else None,
    }
    if invoice.top_up:  # its credit waits for it: pending, paid, failed or voided
        body.update(
            wallet_id=invoice.wallet_id,
            wallet_transaction_id=invoice.transaction_id,
            amount=_amount(invoice.total),
            status=invoice.top_up_status,
            auto_topup=invoice.billing_reason == WALLET_AUTO_TOPUP,
        )
    return body


def _fixture_error(error: fixtures.FixtureError) -> errors.ApiError:
    details: dict[str, Any] = {"field": error.where or "<document>", "problem": error.problem}
    if error.line:
        details["line"] = error.line
    return errors.validation(f"Invalid fixture: {error}", "invalid fixture", **details)


def _flag(name: str) -> bool:
    raw = request.args.get(name)
    if raw is None:
        return False
    try:
        return raw == "" or boolean(raw)
    except ValueError:
        raise errors.validation(
            f"query parameter {name} must be true or false", f"invalid {name}", **{name: raw}
        ) from None


def _forgotten(worlds: list[WorldKey], scope: str) -> Response:
    """What a reset forgot: how many worlds, and which (keys masked)."""
    named = [{"api_key": mask(key), "environment_id": environment} for key, environment in worlds]
    return jsonio.response(200, {"reset": len(worlds), "scope": scope, "worlds": named})


def _positive_int(name: str) -> int | None:
    raw = request.args.get(name)
    if raw is None:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise errors.validation(
            f"query parameter {name} must be a positive integer", f"invalid {name}", **{name: raw}
        )
    return int(raw)
