"""What a world holds survives its own state document, whatever was done to it: random sequences
of operations (customers, wallets with expiring grants, direct and invoiced top-ups, bonuses,
debits, invoices paid or voided, clock moves, terminations, conversions to postpaid) on both API
versions and both stores; then export -> reset -> import -> export gives the same document, and
the world answers the same afterwards.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .support import Api, Suite

VERSIONS = ("2025-05-24", "2026-08-22")

# One step: (kind, a small number the step uses to pick its target and amounts).
STEPS = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "customer",
                "wallet",
                "top_up",
                "invoiced",
                "bonus",
                "debit",
                "pay",
                "void",
                "advance",
                "terminate",
                "modify",
            ]
        ),
        st.integers(min_value=0, max_value=50),
    ),
    min_size=1,
    max_size=25,
)


@pytest.fixture(scope="module", params=VERSIONS)
def suite(request) -> Suite:
    return Suite(request.param)


@pytest.fixture(scope="module")
def apps(suite, redis_server):
    """The version's sandbox on the memory store and on Redis, in-process."""
    made = {"memory": suite.create_app(validate_responses=True, log_requests=False)}
    made["redis"] = suite.create_app(
        validate_responses=True, log_requests=False, store=redis_server.url, redis_prefix="roundtrip:"
    )
    return made


def _wallets(api: Api) -> list[str]:
    state = api.get("/_mock/state").json
    return [w["id"] for w in state["wallets"]]


def _drive(api: Api, version: str, steps: list[tuple[str, int]]) -> None:
    """Apply the steps; each answer must be a 2xx or a clear 4xx (never a 5xx)."""
    modern = version == "2026-08-22"
    amount: Any = (lambda n: str(n + 1)) if modern else (lambda n: n + 1)
    customers: list[str] = []
    for number, (kind, n) in enumerate(steps):
        wallets = _wallets(api)
        wallet = wallets[n % len(wallets)] if wallets else None
        if kind in ("customer", "wallet"):
            reply = api.post("/v1/customers", {"external_id": f"c{number}-{n}", "name": f"Customer {n}"})
            if reply.status == 201:
                customers.append(reply.json["id"])
            if kind == "customer":
                continue
        if kind == "wallet":
            body = {"customer_id": customers[-1], "currency": "usd"}
            if n % 2:
                body["initial_credits_to_load"] = amount(n)
                body["initial_credits_expiry_date_utc"] = "2033-01-01T00:00:00Z"
            reply = api.post("/v1/wallets", body)
        elif wallet is None or (kind in ("pay", "void") and not modern):
            continue
        elif kind in ("top_up", "invoiced", "bonus"):
            reason = (
                "PURCHASED_CREDIT_INVOICED" if kind == "invoiced" and modern else "PURCHASED_CREDIT_DIRECT"
            )
            body = {
                "credits_to_add": amount(n),
                "transaction_reason": reason,
                "idempotency_key": f"k{number}",
            }
            if kind == "bonus" and modern:
                body["bonus_credits"] = amount(n // 2)
            if n % 3 == 0:
                body["expiry_date_utc"] = "2032-06-01T00:00:00Z"
            reply = api.post(f"/v1/wallets/{wallet}/top-up", body)
        elif kind == "debit" and modern:
            reply = api.post(
                f"/v1/wallets/{wallet}/debit",
                {
                    "credits": amount(n),
                    "transaction_reason": "MANUAL_BALANCE_DEBIT",
                    "idempotency_key": f"d{number}",
                },
            )
        elif kind in ("pay", "void"):
            pending = [i["id"] for i in api.get("/_mock/invoices").json["items"] if i["status"] == "pending"]
            if not pending:
                continue
            reply = api.post(f"/_mock/invoices/{pending[n % len(pending)]}/{kind}")
        elif kind == "advance":
            reply = api.post("/_mock/clock/advance", {"by": f"P{n * 40}D"})
        elif kind == "terminate":
            reply = api.post(f"/v1/wallets/{wallet}/terminate")
        elif kind == "modify" and modern:
            reply = api.post(f"/v1/wallets/{wallet}/modify", {"modification_type": "prepaid_to_postpaid"})
        else:
            continue
        assert reply.status < 500, (kind, reply.json)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=STEPS)
@pytest.mark.parametrize("kind", ["memory", "redis"])
def test_export_import_export_gives_the_same_document(apps, suite, kind, steps):
    api = suite.client_of(apps[kind])
    assert api.put("/_mock/clock", {"now": "2026-09-01T12:00:00Z", "frozen": True}).status == 200
    _drive(api, suite.version, steps)
    first = api.get("/_mock/state").json
    wallets = {w: api.get(f"/v1/wallets/{w}").json for w in _wallets(api)}
    assert api.post("/_mock/reset").status == 200
    loaded = api.put("/_mock/state", first)
    assert loaded.status == 200, loaded.json
    assert api.get("/_mock/state").json == first
    assert {w: api.get(f"/v1/wallets/{w}").json for w in _wallets(api)} == wallets
    assert api.post("/_mock/reset").status == 200


@pytest.mark.parametrize(
    "section, entry, field, problem",
    [
        (
            "alerts",
            {"wallet_id": ["x"], "alert_type": "low_credit_balance", "state": "ok"},
            "wallet_id",
            "names no",
        ),
        ("alerts", {"wallet_id": "W", "alert_type": ["x"], "state": "ok"}, "alert_type", "must be one of"),
        (
            "alerts",
            {"wallet_id": "W", "alert_type": "low_credit_balance", "state": "gone"},
            "state",
            "must be one of",
        ),
        ("alerts", "W", "", "must be an object"),
        (
            "ongoing_balances",
            {"wallet_id": "W", "published": "lots"},
            "published",
            "must be a decimal string",
        ),
    ],
)
def test_a_bad_alert_entry_is_a_400_naming_it(suite, section, entry, field, problem):
    api = suite.client_of(suite.create_app(validate_responses=True, log_requests=False))
    assert api.put("/_mock/clock", {"now": "2026-09-01T12:00:00Z", "frozen": True}).status == 200
    customer = api.post("/v1/customers", {"external_id": "a", "name": "A"}).json
    api.post("/v1/wallets", {"customer_id": customer["id"], "currency": "usd"})
    document = api.get("/_mock/state").json
    wallet_id = document["wallets"][0]["id"]
    entry = (
        {k: (wallet_id if v == "W" else v) for k, v in entry.items()}
        if isinstance(entry, dict)
        else wallet_id
    )
    reply = api.put("/_mock/state", {**document, section: [entry]})
    assert reply.status == 400
    body = reply.json
    details = body["error"]["details"] if "error" in body else body["details"]
    assert details["field"] == f"{section}[0]" + (f".{field}" if field else "")
    assert problem in details["problem"]
    assert api.get("/_mock/state").json == document  # nothing half-written
