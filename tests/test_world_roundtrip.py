"""What a world holds survives its own state document, whatever was done to it: random sequences
of operations (customers, wallets with expiring grants, direct and invoiced top-ups, bonuses,
debits, invoices paid, failed or voided by hand or by the world's policies, clock moves,
terminations, conversions to postpaid, stored objects made and archived) on both API
versions and both stores; then export -> reset -> import -> export gives the same document, and
the world answers the same afterwards.

The two stores derive from that one description (``statefile.SECTIONS``): the same operations on
memory and on Redis leave one document, the one exported and the one Redis keeps as the world's
record; every part of a ``World`` is held by a section; and older records and documents still load.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mockserver.domain.clock import format_timestamp, parse_timestamp
from mockserver.domain.ids import ulid_parts
from mockserver.domain.world import World, world_id
from mockserver.state import statefile

from .support import Api, Suite, new_key

VERSIONS = ("2025-05-24", "2026-08-22")

# What a "policy" step puts in force (2026-08-22; 2025-05-24 has nothing pending, so only {}).
POLICIES = [
    {"invoiced_top_ups": "immediate"},
    {"invoiced_top_ups": {"after": "P30D"}},
    {"invoiced_top_ups": {"after": "PT1H", "outcome": "fail"}},
    {"invoiced_top_ups": "void", "subscription_invoices": "fail"},
    {"invoiced_top_ups": "manual", "subscription_invoices": {"after": "P2D", "outcome": "void"}},
]

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
                "fail",
                "policy",
                "advance",
                "terminate",
                "modify",
                "stored",
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


@pytest.fixture(scope="module")
def seeded(suite, redis_server):
    """The version's sandbox on memory and on Redis, ids seeded alike: the same operations make
    the same ids on both."""
    made = {"memory": suite.create_app(validate_responses=True, log_requests=False, id_seed=2026)}
    made["redis"] = suite.create_app(
        validate_responses=True,
        log_requests=False,
        id_seed=2026,
        store=redis_server.url,
        redis_prefix="same:",
    )
    return made


def _record(app, api_key: str) -> tuple[Any, str]:
    """A world's record as Redis keeps it (parsed), and its name."""
    store = app.extensions["mockserver"].store
    name = store.redis.key("world", world_id((api_key, "")))
    raw = store.redis.client.get(name)
    return (json.loads(raw) if raw is not None else None), name


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
        if kind == "policy":
            reply = api.put("/_mock/policies", POLICIES[n % len(POLICIES)] if modern else {})
            assert reply.status == 200, reply.json
            continue
        if kind in ("customer", "wallet"):
            customer: dict[str, Any] = {"external_id": f"c{number}-{n}", "name": f"Customer {n}"}
            if modern and n % 2:  # fields of SDK 2.1.43: nested records and lists in the document
                customer.update(
                    billing_currency="eur",
                    tax_treatment="exempt",
                    contact_persons=[{"first_name": "Ada", "is_primary": True}, {"first_name": "Bob"}],
                )
            reply = api.post("/v1/customers", customer)
            if reply.status == 201:
                customers.append(reply.json["id"])
            if kind == "customer":
                continue
        if kind == "wallet":
            body = {"customer_id": customers[-1], "currency": "usd"}
            if n % 2:
                body["initial_credits_to_load"] = amount(n)
                body["initial_credits_expiry_date_utc"] = "2033-01-01T00:00:00Z"
            if modern and n % 3 == 2:
                body["alert_settings"] = {
                    "alert_threshold_type": "percentage",
                    "critical": {"threshold": "10", "condition": "below"},
                    "warning": {"threshold": "60", "condition": "below"},
                    "alert_enabled": True,
                }
            reply = api.post("/v1/wallets", body)
        elif wallet is None or (kind in ("pay", "void", "fail") and not modern):
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
            if modern and n % 4 == 1:  # backdated (SDK 2.1.43): created_at apart from updated_at
                body["effective_date"] = "2026-08-01T00:00:00Z"
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
        elif kind in ("pay", "void", "fail"):
            waiting = ("pending",) if kind == "fail" else ("pending", "failed")
            items = api.get("/_mock/invoices").json["items"]
            pending = [i["id"] for i in items if i.get("status") in waiting]
            if not pending:
                continue
            reply = api.post(f"/_mock/invoices/{pending[n % len(pending)]}/{kind}")
        elif kind == "advance":
            reply = api.post("/_mock/clock/advance", {"by": f"P{n * 40}D"})
        elif kind == "terminate":
            reply = api.post(f"/v1/wallets/{wallet}/terminate")
        elif kind == "stored" and modern:  # a stored object (world.records), archived at times
            reply = api.post("/v1/coupons", {"name": f"c{number}", "type": "fixed", "cadence": "once"})
            if reply.status == 201 and n % 2:
                reply = api.delete(f"/v1/coupons/{reply.json['id']}")
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


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=STEPS)
def test_memory_and_redis_hold_one_document_for_the_same_operations(seeded, suite, steps):
    """The memory store's export, the Redis store's export and the world's record as Redis keeps
    it are one document: the stores derive from one description of a world."""
    key = new_key()
    apis = {kind: suite.client_of(app).as_key(key) for kind, app in seeded.items()}
    try:
        for api in apis.values():
            assert api.put("/_mock/clock", {"now": "2026-09-01T12:00:00Z", "frozen": True}).status == 200
            _drive(api, suite.version, steps)
        exported = {kind: api.get("/_mock/state").json for kind, api in apis.items()}
        assert exported["redis"] == exported["memory"]
        assert _record(seeded["redis"], key)[0] == exported["memory"]
    finally:
        for api in apis.values():
            assert api.post("/_mock/reset").status == 200


def test_every_part_of_a_world_is_held_by_one_section():
    """A world's attribute is written by exactly one section, rebuilt from one (an index), or not
    the world's state: one added to ``World`` and to no section fails here."""
    held = [name for section in statefile.SECTIONS for name in section.holds]
    assert len(held) == len(set(held))
    assert set(statefile.DERIVED.values()) <= set(statefile.NAMES)
    parts = set(vars(World("tenant", "env")))
    assert parts == set(held) | set(statefile.DERIVED) | set(statefile.NOT_STATE)


@pytest.mark.parametrize("frozen", [True, False], ids=["frozen", "running"])
def test_a_redis_record_of_the_older_shape_still_loads(redis_server, frozen):
    """A record written when the record kept the clock, ids, cached balances (and, earlier, alert
    states and ongoing balances) beside the document loads as the same world, and is written in
    the document's shape at its next change."""
    suite = Suite("2026-08-22")
    app = suite.create_app(
        validate_responses=True, log_requests=False, id_seed=7, store=redis_server.url, redis_prefix=new_key()
    )
    api = suite.client_of(app)
    if frozen:
        assert api.put("/_mock/clock", {"now": "2026-09-01T12:00:00Z", "frozen": True}).status == 200
    else:
        assert api.post("/_mock/clock/advance", {"by": "P2D"}).status == 200
    customer = api.post("/v1/customers", {"external_id": "old", "name": "Old"}).json
    wallet = api.post("/v1/wallets", {"customer_id": customer["id"], "currency": "usd"}).json["id"]
    debit = {"credits": "5", "transaction_reason": "MANUAL_BALANCE_DEBIT", "idempotency_key": "d1"}
    assert api.post(f"/v1/wallets/{wallet}/debit", debit).status == 200  # below 0: in alarm
    cached_path = f"/v1/wallets/{wallet}/balance/real-time-cached"
    assert api.get(cached_path).json["real_time_balance"] == "-5"  # computed, and cached
    top_up = {"credits_to_add": "8", "transaction_reason": "PURCHASED_CREDIT_DIRECT"}
    assert api.post(f"/v1/wallets/{wallet}/top-up", top_up).status == 200
    document = api.get("/_mock/state").json
    assert document["alerts"] and document["cached_balances"]

    current, name = _record(app, api.api_key)
    clock = current["clock"]
    lead = parse_timestamp(clock["now"]) - parse_timestamp(clock.get("at", clock["now"]))
    last_ms, last_random = ulid_parts(current["ids"]["last"])
    older_state = {k: v for k, v in current.items() if k not in ("ids", "cached_balances", "alerts")}
    older_state.update(format="flexprice-mock-state/2", clock={"now": clock["now"], "frozen": frozen})
    older_state["ongoing_balances"] = []
    older = {
        "state": older_state,
        "clock": [lead // timedelta(microseconds=1), clock["now"] if frozen else None],
        "ids": {"last_ms": last_ms, "last_random": last_random, "random": current["ids"]["random"]},
        "balances": {c["wallet_id"]: [c["balance"], c["computed_at"]] for c in current["cached_balances"]},
        "alerts": [[a["wallet_id"], a["alert_type"], a["state"]] for a in current["alerts"]],
        "ongoing": {o["wallet_id"]: o["published"] for o in current["ongoing_balances"]},
    }
    client = app.extensions["mockserver"].store.redis.client
    client.set(name, json.dumps(older))
    client.incr(name + ":version")  # another process wrote it: this one reads it again
    # The summary's clock, as older summaries wrote it, still tells the world's time.
    summary = json.loads(client.get(name + ":summary"))
    client.set(name + ":summary", json.dumps({**summary, "clock": older["clock"]}))
    world_now = app.extensions["mockserver"].store.clock((api.api_key, ""))()
    expected = parse_timestamp(clock["now"]) if frozen else datetime.now(timezone.utc) + lead
    assert abs(world_now - expected) < timedelta(seconds=5)

    loaded = api.get("/_mock/state").json
    if frozen:
        assert loaded == document
    else:  # read later: the same lead on real time
        assert {**loaded, "clock": None} == {**document, "clock": None}
        again = parse_timestamp(loaded["clock"]["now"]) - parse_timestamp(loaded["clock"]["at"])
        assert again == lead
    cached = api.get(cached_path).json
    assert (cached["real_time_balance"], cached["is_cached_fallback"]) == ("-5", True)
    made = api.post("/v1/customers", {"external_id": "new", "name": "New"}).json["id"]
    assert made.split("_")[-1] > document["ids"]["last"]  # the generator went on from where it was
    rewritten, _ = _record(app, api.api_key)
    assert "state" not in rewritten and rewritten["format"] == statefile.FORMAT


def test_a_state_document_of_the_older_format_still_imports(suite):
    """A ``flexprice-mock-state/2`` document (no ids, no cached balances, a clock without ``at``)
    is imported as before: the clock at its ``now``, the id generator as it was."""
    api = suite.client_of(suite.create_app(validate_responses=True, log_requests=False))
    assert api.post("/_mock/clock/advance", {"by": "P2D"}).status == 200
    customer = api.post("/v1/customers", {"external_id": "a", "name": "A"}).json
    api.post("/v1/wallets", {"customer_id": customer["id"], "currency": "usd"})
    document = api.get("/_mock/state").json
    an_hour_ago = datetime.now(timezone.utc) - timedelta(hours=1)
    older = {k: v for k, v in document.items() if k not in ("ids", "cached_balances")}
    older.update(
        format="flexprice-mock-state/2", clock={"now": format_timestamp(an_hour_ago), "frozen": False}
    )
    target = api.as_key(new_key())
    assert target.put("/_mock/state", older).status == 200
    loaded = target.get("/_mock/state").json
    assert {k: loaded[k] for k in ("customers", "wallets", "transactions")} == {
        k: document[k] for k in ("customers", "wallets", "transactions")
    }
    shown = parse_timestamp(target.get("/_mock/clock").json["now"])
    assert abs(shown - an_hour_ago) < timedelta(seconds=5)  # put at its now, running from there


def test_a_running_clock_comes_back_with_its_lead_on_real_time(suite):
    """A running clock says ``at`` what wall-clock time it read ``now``: imported later, it has the
    lead it had (two days), as if it had kept running meanwhile."""
    api = suite.client_of(suite.create_app(validate_responses=True, log_requests=False))
    assert api.post("/_mock/clock/advance", {"by": "P2D"}).status == 200
    document = api.get("/_mock/state").json
    clock = document["clock"]
    assert clock["frozen"] is False and set(clock) == {"now", "frozen", "at"}
    hour = timedelta(hours=1)
    # as if exported an hour ago
    document["clock"] = {
        "now": format_timestamp(parse_timestamp(clock["now"]) - hour),
        "frozen": False,
        "at": format_timestamp(parse_timestamp(clock["at"]) - hour),
    }
    target = api.as_key(new_key())
    assert target.put("/_mock/state", document).status == 200
    shown = parse_timestamp(target.get("/_mock/clock").json["now"])
    assert abs(shown - (datetime.now(timezone.utc) + timedelta(days=2))) < timedelta(seconds=5)


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


NEWER = {  # fields of SDK 2.1.43 the records gained, and their defaults
    "customers": {"billing_currency": "", "tax_treatment": "", "contact_persons": []},
    "transactions": {"consumption_breakdown": [], "source_type": None, "source_id": None},
}


def test_a_document_from_before_the_sdk_2143_fields_still_loads(suite):
    """Records written before customers, transactions and alert settings gained their newer
    fields load with the defaults: nothing contact, billing or breakdown, absolute thresholds."""
    api = suite.client_of(suite.create_app(validate_responses=True, log_requests=False))
    assert api.put("/_mock/clock", {"now": "2026-09-01T12:00:00Z", "frozen": True}).status == 200
    customer = api.post("/v1/customers", {"external_id": "a", "name": "A"}).json
    wallet = api.post("/v1/wallets", {"customer_id": customer["id"], "currency": "usd"}).json
    five: Any = "5" if suite.version == "2026-08-22" else 5
    top_up = {"credits_to_add": five, "transaction_reason": "PURCHASED_CREDIT_DIRECT", "idempotency_key": "t"}
    assert api.post(f"/v1/wallets/{wallet['id']}/top-up", top_up).status == 200
    assert api.post(f"/v1/wallets/{wallet['id']}/terminate").status == 200
    document = api.get("/_mock/state").json
    older = json.loads(json.dumps(document))
    for section, defaults in NEWER.items():
        for record in older[section]:
            for name in defaults:
                del record[name]
    target = api.as_key(new_key())
    assert target.put("/_mock/state", older).status == 200
    loaded = target.get("/_mock/state").json
    for section, defaults in NEWER.items():
        assert all(record.items() >= defaults.items() for record in loaded[section])
    closing = loaded["transactions"][-1]
    assert closing["transaction_reason"] == "WALLET_TERMINATION"
    [drawn] = document["transactions"][-1]["consumption_breakdown"]  # as the newer document has it
    assert drawn["credit_transaction_id"] == document["transactions"][0]["id"]
    assert Decimal(drawn["credits"]) == 5


DRAWN = [{"credit_transaction_id": "wtxn_x", "credits": "?"}]


@pytest.mark.parametrize(
    "section, field, value, problem",
    [
        ("customers", "contact_persons", "Ada", "must be an array"),
        ("customers", "contact_persons", [{"id": "cp_1"}], "is required"),  # first_name
        ("transactions", "consumption_breakdown", DRAWN, "must be a decimal"),
    ],
)
def test_a_bad_newer_field_is_a_400_naming_it(suite, section, field, value, problem):
    api = suite.client_of(suite.create_app(validate_responses=True, log_requests=False))
    assert api.put("/_mock/clock", {"now": "2026-09-01T12:00:00Z", "frozen": True}).status == 200
    customer = api.post("/v1/customers", {"external_id": "a", "name": "A"}).json
    api.post("/v1/wallets", {"customer_id": customer["id"], "currency": "usd", "initial_credits_to_load": 1})
    document = api.get("/_mock/state").json
    changed = json.loads(json.dumps(document))
    changed[section][0][field] = value
    reply = api.put("/_mock/state", changed)
    assert reply.status == 400
    body = reply.json
    details = body["error"]["details"] if "error" in body else body["details"]
    assert details["field"].startswith(f"{section}[0].{field}") and problem in details["problem"]
    assert api.get("/_mock/state").json == document  # nothing half-written


RECORDS = {
    "coupons": {
        "coupon_01": {
            "id": "coupon_01",
            "name": "Ten off",
            "amount_off": "10",
            "rules": {"nested": [1, 2.5, None, True, {"deep": "x"}]},
            "status": "archived",
        }
    },
    "tax_rates": {"taxrate_01": {"id": "taxrate_01", "percentage_value": "7.5", "metadata": {}}},
    "groups": {},
}


@pytest.mark.parametrize("kind", ["memory", "redis"])
def test_stored_objects_travel_with_the_state_document(apps, suite, kind):
    """``records`` (collection -> id -> object) goes out and comes back exactly (Redis keeps it
    as the world's record), counts against the world's objects, and a reset clears it."""
    app = apps[kind]
    api = suite.client_of(app).as_key(new_key())
    document = api.get("/_mock/state").json
    assert document["format"] == statefile.FORMAT and document["records"] == {}
    assert api.put("/_mock/state", {**document, "records": RECORDS}).status == 200
    assert api.get("/_mock/state").json["records"] == RECORDS
    with app.extensions["mockserver"].store.session(api.api_key) as world:
        assert world.records == RECORDS
        assert world.object_count() == 2
    assert api.post("/_mock/reset").status == 200
    assert api.get("/_mock/state").json["records"] == {}
    older = {**document, "format": "flexprice-mock-state/5"}
    del older["records"]
    assert api.put("/_mock/state", older).status == 200  # an older document: no stored objects


def test_a_snapshot_of_stored_objects_does_not_change_with_the_world():
    world = World("t", "e")
    world.records["coupons"] = {"coupon_1": {"id": "coupon_1", "metadata": {"a": "1"}}}
    document = statefile.export(world, "2026-08-22")
    world.records["coupons"]["coupon_1"]["metadata"]["a"] = "2"
    assert document["records"]["coupons"]["coupon_1"]["metadata"] == {"a": "1"}
    statefile.restore(world, document, "2026-08-22")
    assert world.records["coupons"]["coupon_1"]["metadata"] == {"a": "1"}


@pytest.mark.parametrize(
    "records, field, problem",
    [
        ([], "records", "must be an object of collections"),
        ({"coupons": []}, "records.coupons", "must be an object of objects by id"),
        ({"coupons": {"coupon_1": "x"}}, "records.coupons.coupon_1", "must be an object"),
        ({"coupons": {"coupon_1": {"id": "coupon_2"}}}, "records.coupons.coupon_1.id", "must be the id"),
        ({"coupons": {"": {}}}, "records.coupons", "must key each object by its id"),
        ({"coupons": {"c": {"n": 2**64}}}, "records.coupons.c.n", "must be a 64-bit integer"),
    ],
)
def test_a_bad_stored_object_is_a_400_naming_it(suite, records, field, problem):
    api = suite.client_of(suite.create_app(validate_responses=True, log_requests=False))
    assert api.put("/_mock/clock", {"now": "2026-09-01T12:00:00Z", "frozen": True}).status == 200
    document = api.get("/_mock/state").json
    reply = api.put("/_mock/state", {**document, "records": records})
    assert reply.status == 400
    body = reply.json
    details = body["error"]["details"] if "error" in body else body["details"]
    assert (details["field"], problem in details["problem"]) == (field, True)
    assert api.get("/_mock/state").json == document  # nothing half-written


def test_a_stored_object_with_a_non_finite_number_is_refused():
    with pytest.raises(statefile.StateError) as caught:
        statefile.load({"records": {"c": {"c_1": {"rate": float("nan")}}}}, "2026-08-22")
    assert caught.value.field == "records.c.c_1.rate"
