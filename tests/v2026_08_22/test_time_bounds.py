"""Time has bounds: a clock move closes at most usage.MAX_PERIODS_PER_MOVE billing periods, a
world's clock stays within clock.EARLIEST..LATEST, and a timestamp or duration past what a date
can hold is a 400 naming its field, never a 500 nor a world that fails from then on. Each case
over a real socket, with another client served promptly meanwhile, on both stores."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from mockserver.domain import usage
from mockserver.domain.world import World

from ..support import Api
from .conftest import freeze, make_customer, refusal

NOW = "2026-09-01T00:00:00Z"


def subscribed(api: Api, period: str = "DAILY", at: str = NOW, **fields: Any) -> Any:
    """A customer on a plan with a fixed fee of 1 each ``period`` (every period has an invoice
    to make), on a clock frozen ``at``: returns the subscription reply."""
    freeze(api, at)
    customer = make_customer(api, "acme")
    plan = api.post("/v1/plans", {"name": "Pro"})
    assert plan.status == 201, plan.json
    price = {
        "entity_type": "PLAN",
        "entity_id": plan.json["id"],
        "currency": "usd",
        "type": "FIXED",
        "billing_model": "FLAT_FEE",
        "amount": "1",
        "billing_period": period,
        "billing_period_count": 1,
        "invoice_cadence": "ARREAR",
        "price_unit_type": "FIAT",
    }
    assert api.post("/v1/prices", price).status == 201
    body = {"customer_id": customer["id"], "plan_id": plan.json["id"], "currency": "usd"}
    return api.post("/v1/subscriptions", {**body, "billing_period": period, **fields})


def invoices(api: Api) -> int:
    reply = api.get("/_mock/invoices")
    assert reply.status == 200, reply.json
    return reply.json["total"]


class Bystander:
    """Another client asking the sandbox for its clock over and over: the slowest answer it got
    while a test's request was served."""

    def __init__(self, client: Api):
        self.client = client
        self.slowest = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.perf_counter()
            assert self.client.get("/_mock/clock").status == 200
            self.slowest = max(self.slowest, time.perf_counter() - started)
            time.sleep(0.01)

    def __enter__(self) -> Bystander:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(10)


@pytest.fixture
def timed(http: Api, live_url: str, suite) -> Iterator[Callable[..., tuple[Any, float]]]:
    """Send one request while another key's client is served; returns the reply and its time,
    and checks the other client never waited long."""
    import requests

    with requests.Session() as session, Bystander(suite.http_client(live_url, session)) as other:

        def send(method: str, path: str, body: Any = None, limit: float = 5.0) -> tuple[Any, float]:
            started = time.perf_counter()
            reply = http.request(method, path, json_body=body)
            took = time.perf_counter() - started
            assert took < limit, f"{method} {path} took {took:.1f}s"
            return reply, took

        yield send
        assert other.slowest < 5.0, f"another client waited {other.slowest:.1f}s"


def still_answers(api: Api, now: str = NOW) -> None:
    """The world answers its API and controls, its clock where it was."""
    assert api.get("/v1/customers").status == 200
    clock = api.get("/_mock/clock")
    assert clock.status == 200 and clock.json["now"] == now.replace("Z", ".000000Z"), clock.json


# ---- periods per move ---------------------------------------------------------------------


def test_a_move_past_more_periods_than_one_move_closes_is_refused_at_once(http: Api, timed):
    assert subscribed(http).status == 201
    reply, _ = timed("POST", "/_mock/clock/advance", {"by": "P1000Y"}, limit=2.0)
    status, code, message, details = refusal(reply)
    assert status == 400 and code == "validation_error", reply.json
    assert message == (
        "by passes more than 1000 billing period ends, the most one clock move may close: "
        "move the clock in several smaller steps"
    )
    assert details["max_periods"] == usage.MAX_PERIODS_PER_MOVE == 1000
    still_answers(http)
    assert invoices(http) == 0
    # The way round: smaller moves, each answered with its work done.
    for _ in range(2):
        reply, _ = timed("POST", "/_mock/clock/advance", {"by": "P999D"}, limit=10.0)
        assert reply.status == 200, reply.json
    made = invoices(http)
    assert made == 1998
    time.sleep(0.3)  # nothing left behind for the ticker
    assert invoices(http) == made
    assert http.get("/v1/customers").status == 200


def test_setting_the_clock_past_too_many_periods_is_refused_naming_now(http: Api, timed):
    assert subscribed(http).status == 201
    reply, _ = timed("PUT", "/_mock/clock", {"now": "2030-01-01T00:00:00Z"}, limit=2.0)
    status, _, message, details = refusal(reply)
    assert status == 400 and message.startswith("now passes more than 1000 billing period ends"), message
    assert details["max_periods"] == 1000
    still_answers(http)


def test_moves_with_a_subscription_invoice_policy_cost_what_they_close(http: Api, timed):
    policy = http.put("/_mock/policies", {"subscription_invoices": {"after": "PT1H", "outcome": "pay"}})
    assert policy.status == 200, policy.json
    assert subscribed(http).status == 201
    for _ in range(3):  # each move's work does not grow with the invoices of the moves before
        reply, _ = timed("POST", "/_mock/clock/advance", {"by": "P600D"}, limit=10.0)
        assert reply.status == 200, reply.json
    items = http.get("/_mock/invoices").json["items"]
    assert len(items) == 1800
    # Made when each move closed them: paid by the next move, an hour after (the last move's wait).
    assert [i["payment_status"] for i in items] == ["SUCCEEDED"] * 1200 + ["PENDING"] * 600


def test_a_subscription_starting_long_ago_is_refused_not_billed_period_by_period(http: Api):
    freeze(http, NOW)
    reply = subscribed(http, "MONTHLY", start_date="1900-01-01T00:00:00Z")
    assert reply.status == 400, reply.json
    assert "start_date" in str(reply.json), reply.json
    assert http.get("/_mock/state").json.get("subscriptions", []) == []
    assert invoices(http) == 0
    still_answers(http)


# ---- the clock's range and durations ------------------------------------------------------


@pytest.mark.parametrize(
    "now, problem",
    [
        ("0001-01-01T00:00:00+01:00", "outside the range"),  # its UTC form is in year 0
        ("9999-12-31T23:00:00-05:00", "outside the range"),  # its UTC form is in year 10000
        ("9999-12-31T23:00:00Z", "outside the range"),
        ("9000-01-01T00:00:01Z", "outside the range"),
        ("1969-12-31T23:59:59Z", "outside the range"),
    ],
)
@pytest.mark.parametrize("frozen", [True, False])
def test_a_clock_set_out_of_its_range_is_refused_naming_now(http: Api, timed, now, problem, frozen):
    freeze(http, NOW)
    reply, _ = timed("PUT", "/_mock/clock", {"now": now, "frozen": frozen}, limit=2.0)
    status, code, message, details = refusal(reply)
    assert (status, code) == (400, "validation_error"), reply.json
    assert message == (
        "now puts the clock outside the range a world's clock may show "
        "(1970-01-01T00:00:00Z to 9000-01-01T00:00:00Z)"
    )
    assert details["now"] == now
    still_answers(http)


@pytest.mark.parametrize("now", ["8999-12-31T23:59:59Z", "1970-01-01T00:00:00Z"])
def test_at_the_ends_of_its_range_the_world_still_answers(http: Api, now):
    """What the domain computes from the clock (period ends, alert delays, a policy's ten years)
    stays within what a date holds; the running clock keeps going past the end."""
    policy = {"subscription_invoices": {"after": "P10Y", "outcome": "pay"}}
    assert http.put("/_mock/policies", policy).status == 200
    assert subscribed(http, "ANNUAL", at=now).status == 201
    assert http.put("/_mock/clock", {"frozen": False}).status == 200
    customer = make_customer(http, "b")["id"]
    wallet = {"customer_id": customer, "currency": "usd", "initial_credits_to_load": "5"}
    assert http.post("/v1/wallets", wallet).status == 200
    assert http.post("/v1/events", {"event_name": "x", "external_customer_id": "acme"}).status == 202
    for path in ("/v1/customers", "/v1/wallets?limit=5", "/_mock/invoices", "/_mock/state"):
        assert http.get(path).status == 200, path
    moved = http.post("/_mock/clock/advance", {"by": "PT2S"})  # past the end: refused
    assert moved.status == (400 if now.startswith("8999") else 200), moved.json
    assert http.get("/v1/customers").status == 200


@pytest.mark.parametrize(
    "by, message",
    [
        ("P8000Y", "by puts the clock outside the range a world's clock may show"),
        ("P99999999D", "by puts the clock outside the range a world's clock may show"),
        ("P1.5Y", "by must give whole years and months (P1Y6M, or days: P547D)"),
        ("P0.5M", "by must give whole years and months (P1Y6M, or days: P547D)"),
        (1e300, "by is too large"),
        (10**30, "by is too large"),
        (10**12, "by puts the clock outside the range a world's clock may show"),
    ],
)
def test_a_move_past_what_a_date_holds_is_refused_naming_by(http: Api, timed, by, message):
    freeze(http, NOW)
    reply, _ = timed("POST", "/_mock/clock/advance", {"by": by}, limit=2.0)
    status, code, said, details = refusal(reply)
    assert (status, code) == (400, "validation_error"), reply.json
    assert said.startswith(message), said
    assert "by" in details
    still_answers(http)


def test_a_state_document_with_a_clock_out_of_range_is_refused(http: Api):
    freeze(http, NOW)
    state = http.get("/_mock/state").json
    state["clock"] = {"now": "9999-12-31T23:59:59Z", "frozen": False}
    reply = http.put("/_mock/state", state)
    assert reply.status == 400, reply.json
    assert "clock.now" in reply.json["message"]
    still_answers(http)


# ---- the ticker: one world's failure is its own -------------------------------------------


def due_now(sandbox, client: Api) -> None:
    """Make the client's world have work due now, and tell the ticker."""
    key = (client.api_key, "")
    with sandbox.store.session(*key) as world:
        world.usage_due = world.now()
        sandbox.due.note(key, world)


def test_one_worlds_failing_due_work_neither_stops_the_others_nor_floods_the_log(
    http: Api, app, suite, live_url, monkeypatch, caplog
):
    import requests

    sandbox = app.extensions["mockserver"]
    real, ran, broken = usage.catch_up, [], []

    def catch_up(world: World) -> None:
        if world.tenant_id in broken:
            raise RuntimeError("a bug in this world's work")
        ran.append(world.tenant_id)
        real(world)

    monkeypatch.setattr(usage, "catch_up", catch_up)
    caplog.set_level(logging.WARNING, logger="mockserver.due")
    with requests.Session() as session:
        other = suite.http_client(live_url, session)
        tenants = []
        for client in (other, http):
            assert client.put("/_mock/clock", {"now": NOW, "frozen": False}).status == 200
            with sandbox.store.session(client.api_key, "") as world:
                tenants.append(world.tenant_id)
        broken.append(tenants[0])
        healthy = tenants[1]
        before = ran.count(healthy)  # (a clock control catches up in its request)
        due_now(sandbox, other)  # the broken world's work falls due, and stays due: it fails
        for n in range(3):  # the healthy world has work due three times
            due_now(sandbox, http)
            time.sleep(0.5)
            assert ran.count(healthy) == before + n + 1, ran
            assert http.get("/v1/customers").status == 200
    failures = [r for r in caplog.records if "failed" in r.getMessage()]
    assert len(failures) == 1, [r.getMessage() for r in caplog.records]
