"""The dashboard at ``/_mock/ui``: a page that shows what an app did to the sandbox and steers it.

The page is one server-rendered template and a little plain JavaScript, with nothing fetched from
elsewhere (it works offline). It acts through the sandbox's own JSON controls (clock, reset, state,
journal, faults, webhooks), so a form on the page gets the same checks and messages as a test
calling them; the few reads it needs beyond them (every world in a line, a page of a world's
wallets, one wallet's ledger) are here, behind the same gate as the other controls.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from flask import Blueprint, Response, render_template, request, send_from_directory

from ..controls.requests import caller
from ..domain import errors, wallets
from ..domain.clock import format_timestamp
from ..domain.world import World, world_id
from ..http import auth, jsonio
from ..http.guard import UI_PATH
from ..text import mask

if TYPE_CHECKING:
    from ..http.app import Sandbox

HERE = Path(__file__).parent
PAGE_SIZE = 50  # wallets or customers shown at once
MAX_PAGE = 500


def ui_blueprint(sandbox: Sandbox) -> Blueprint:
    bp = Blueprint(
        "mock_ui", __name__, url_prefix="/_mock/ui", template_folder="templates", static_folder=None
    )
    store = sandbox.store
    version = sandbox.version

    @bp.get("")
    def page() -> Response:
        token = request.args.get("admin_token")
        if token:
            # The gate let it in: keep it in a cookie for the page's own calls (this site only),
            # and send the browser to the page without it, so the token leaves the address bar,
            # the history and any Referer.
            rest = [(k, v) for k, v in request.args.items(multi=True) if k != "admin_token"]
            response = Response(status=303)
            response.headers["Location"] = UI_PATH + ("?" + urlencode(rest) if rest else "")
            response.headers["Referrer-Policy"] = "no-referrer"
            response.set_cookie(
                auth.ADMIN_TOKEN_COOKIE, token, httponly=True, samesite="Strict", path="/_mock"
            )
            return response
        return Response(
            render_template("ui.html", api_version=version.name, worlds=_worlds()),
            content_type="text/html; charset=utf-8",
        )

    @bp.get("/static/<name>")
    def static(name: str) -> Response:
        return send_from_directory(HERE / "static", name, max_age=0)

    def _worlds() -> dict[str, Any]:
        """A page of worlds, most recently active first: each named by its id and its masked
        key, never its whole key (the page asks for one key when it opens that world)."""
        start, count = _page("offset", "limit")
        lines = sorted(store.overview(), key=lambda line: line["active_at"], reverse=True)
        shown = lines[start : start + count]
        for line in shown:
            key = line.pop("api_key")
            line.update(world=world_id((key, line["environment_id"])), masked=mask(key))
        return {"items": shown, "total": len(lines), "offset": start, "limit": count}

    @bp.get("/worlds")
    def worlds() -> Response:
        return jsonio.response(200, {"api_version": version.name, **_worlds()})

    @bp.get("/worlds/<name>")
    def open_world(name: str) -> Response:
        """The key of one world, for the page to act as it (its x-api-key)."""
        for line in store.overview():
            key = (line["api_key"], line["environment_id"])
            if world_id(key) == name:
                return jsonio.response(
                    200, {"world": name, "api_key": key[0], "environment_id": key[1], "masked": mask(key[0])}
                )
        raise errors.not_found(f"World {name} not found", "world not found", world=name)

    @bp.get("/world")
    def world() -> Response:
        wallet_from, wallet_count = _page("wallets_offset", "wallets_limit")
        customer_from, customer_count = _page("customers_offset", "customers_limit")
        with store.session(*caller(), reading=True) as w:
            shown_wallets = list(w.wallets.values())[wallet_from : wallet_from + wallet_count]
            shown_customers = list(w.customers.values())[customer_from : customer_from + customer_count]
            body = {
                "clock": {"now": format_timestamp(w.now()), "frozen": w.clock.frozen},
                "wallets": {
                    "items": [
                        {**version.show_wallet(w, item), "customer": _customer_name(w, item.customer_id)}
                        for item in shown_wallets
                    ],
                    "total": len(w.wallets),
                    "offset": wallet_from,
                    "limit": wallet_count,
                },
                "customers": {
                    "items": [
                        {
                            "id": c.id,
                            "external_id": c.external_id,
                            "name": c.name,
                            "wallets": len(w.wallets_by_customer.get(c.id, ())),
                        }
                        for c in shown_customers
                    ],
                    "total": len(w.customers),
                    "offset": customer_from,
                    "limit": customer_count,
                },
                "transactions": w.transaction_count,
            }
        return jsonio.response(200, body)

    @bp.get("/wallets/<wallet_id>/ledger")
    def ledger(wallet_id: str) -> Response:
        start, count = _page("offset", "limit")
        with store.session(*caller(), reading=True) as w:
            wallet = wallets.get(w, wallet_id)
            kept = w.transactions.get(wallet.id, [])
            newest_first = kept[::-1][start : start + count]
            items = [version.show_transaction(w, t) for t in newest_first]
            invoices = [
                {
                    "id": i.id,
                    "amount": str(i.total),
                    "status": i.top_up_status,
                    "created_at": format_timestamp(i.created_at),
                }
                for i in w.invoices.values()
                if i.wallet_id == wallet.id and i.top_up_status == "pending"
            ]
            body = {
                "wallet": version.show_wallet(w, wallet),
                "transactions": {"items": items, "total": len(kept), "offset": start, "limit": count},
                "pending_invoices": invoices,
            }
        return jsonio.response(200, body)

    return bp


def _customer_name(world: World, customer_id: str) -> str:
    customer = world.customers.get(customer_id)
    return f"{customer.name} ({customer.external_id})" if customer is not None else customer_id


def _page(offset_name: str, limit_name: str) -> tuple[int, int]:
    def number(name: str, default: int, low: int, high: int) -> int:
        raw = request.args.get(name)
        if raw is None:
            return default
        if not raw.isdigit() or not low <= int(raw) <= high:
            raise errors.validation(
                f"{name} must be a whole number from {low} to {high}", "invalid page", parameter=name
            )
        return int(raw)

    return number(offset_name, 0, 0, 10**9), number(limit_name, PAGE_SIZE, 1, MAX_PAGE)
