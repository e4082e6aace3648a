"""Sandbox controls: reset, state export and import, deterministic ids."""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest

from mockserver.text import mask

from .conftest import Api, Reply, create_app, make_customer, make_wallet, new_key

FROZEN = {"now": "2027-01-01T00:00:00Z", "frozen": True}


def local_api(app=None, **settings) -> Api:
    """A client of a sandbox of its own, for controls that act on every world."""
    app = app or create_app(validate_responses=True, log_requests=False, **settings)
    client = app.test_client()

    def send(method, path, data, headers):
        r = client.open(path, method=method, data=data, headers=headers)
        return Reply(r.status_code, r.headers, r.get_data())

    return Api(send, new_key())


def customer_count(api: Api) -> int:
    reply = api.get("/v1/customers")
    assert reply.status == 200
    return reply.json["pagination"]["total"]


# ---- reset ---------------------------------------------------------------------------------


def test_resetting_one_key_leaves_the_other_keys_untouched(api):
    other = api.as_key(new_key())
    make_customer(api)
    make_customer(other, "other-1")
    reply = api.post("/_mock/reset")
    assert reply.status == 200 and reply.json == {
        "reset": 1,
        "scope": "key",
        "worlds": [{"api_key": mask(api.api_key), "environment_id": ""}],
    }
    assert customer_count(api) == 0
    assert customer_count(other) == 1


def test_reset_with_an_environment_forgets_only_that_environment(api):
    staged = api.post(
        "/v1/customers",
        {"external_id": "staged-1", "name": "Staged"},
        headers={"X-Environment-ID": "staging"},
    )
    assert staged.status == 201
    make_customer(api, "prod-1")
    reply = api.post("/_mock/reset", headers={"X-Environment-ID": "staging"})
    assert reply.json == {
        "reset": 1,
        "scope": "environment",
        "worlds": [{"api_key": mask(api.api_key), "environment_id": "staging"}],
    }
    assert customer_count(api) == 1
    staged = api.get("/v1/customers", headers={"X-Environment-ID": "staging"})
    assert staged.json["pagination"]["total"] == 0


def test_every_world_is_forgotten_only_when_asked_with_all():
    api = local_api()
    other = api.as_key(new_key())
    make_customer(api)
    make_customer(other)
    refused = api.post("/_mock/reset", key=None)
    assert refused.status == 400
    assert refused.error["message"] == (
        "Say which worlds to forget: the x-api-key header for one key's worlds, or ?all=true for every world"
    )
    assert api.get("/_mock/health").json["worlds"] == 2
    reply = api.post("/_mock/reset?all=true", key=None)
    assert (reply.status, reply.json["reset"], reply.json["scope"]) == (200, 2, "all")
    assert sorted(w["api_key"] for w in reply.json["worlds"]) == sorted(
        map(mask, (api.api_key, other.api_key))
    )
    assert api.get("/_mock/health").json["worlds"] == 0
    make_customer(api)
    assert api.post("/_mock/reset?all=true").json["reset"] == 1  # a key, and all: every world
    assert customer_count(api) == 0


def test_reset_refuses_an_unreadable_all_flag(api):
    make_customer(api)
    reply = api.post("/_mock/reset?all=maybe")
    assert reply.status == 400
    assert reply.error["message"] == "query parameter all must be true or false"
    assert customer_count(api) == 1


def test_a_world_control_without_a_key_names_the_header(api):
    reply = api.get("/_mock/state", key=None)
    assert reply.status == 400
    assert reply.json["success"] is False
    assert "x-api-key header is required" in reply.error["message"]
    assert reply.error["details"] == {"header": "x-api-key"}


# ---- state ---------------------------------------------------------------------------------


def populate(api: Api) -> dict:
    """A world with a bit of everything: decimals, expiring grants, priorities, an idempotent top-up."""
    api.put("/_mock/clock", FROZEN)
    customer = make_customer(api, metadata={"tier": "gold"}, email="a@example.com")
    wallet = make_wallet(
        api,
        customer["id"],
        conversion_rate=Decimal("1.5"),
        initial_credits_to_load=Decimal("10.123456789"),
        initial_credits_to_load_expiry_date=20270301,
        metadata={"k": "v"},
    )
    top_up = {
        "credits_to_add": Decimal("2.5"),
        "transaction_reason": "PURCHASED_CREDIT_DIRECT",
        "idempotency_key": "topup-1",
        "priority": 2,
        "expiry_date_utc": "2027-02-01T00:00:00Z",
    }
    reply = api.post(f"/v1/wallets/{wallet['id']}/top-up", top_up)
    assert reply.status == 200
    make_wallet(api, customer["id"], currency="eur")
    return {"customer": customer, "wallet": wallet, "top_up": top_up}


def test_state_round_trips_exactly_into_another_key(api):
    made = populate(api)
    exported = api.get("/_mock/state")
    assert exported.status == 200
    document = exported.json
    assert document["clock"] == {"now": "2027-01-01T00:00:00.000000Z", "frozen": True}
    assert [w["credit_balance"] for w in document["wallets"]] == ["12.623456789", "0"]
    assert len(document["transactions"]) == 2 and len(document["idempotency"]) == 1

    copy_api = api.as_key(new_key())
    make_customer(copy_api, "to-be-replaced")
    imported = copy_api.put("/_mock/state", document)
    assert imported.status == 200
    assert imported.json == {
        "customers": 1,
        "wallets": 2,
        "transactions": 2,
        "idempotency": 1,
        "now": "2027-01-01T00:00:00.000000Z",
        "frozen": True,
    }
    assert copy_api.get("/_mock/state").json == document

    wallet_id = made["wallet"]["id"]
    assert copy_api.get(f"/v1/wallets/{wallet_id}").json == api.get(f"/v1/wallets/{wallet_id}").json
    assert (
        copy_api.get(f"/v1/wallets/{wallet_id}/transactions").json
        == api.get(f"/v1/wallets/{wallet_id}/transactions").json
    )
    assert copy_api.get("/v1/customers/lookup/acme-1").json["id"] == made["customer"]["id"]
    assert copy_api.get("/v1/customers/lookup/to-be-replaced").status == 404
    # The idempotency record came along: the same top-up is answered, not credited again.
    replay = copy_api.post(f"/v1/wallets/{wallet_id}/top-up", made["top_up"])
    assert replay.status == 200 and replay.json["credit_balance"] == Decimal("12.623456789")


def test_imported_expiring_grants_still_expire(api):
    made = populate(api)
    copy_api = api.as_key(new_key())
    copy_api.put("/_mock/state", api.get("/_mock/state").json)
    moved = copy_api.post("/_mock/clock/advance", {"by": "P35D"})
    assert [t["credit_amount"] for t in moved.json["expired"]] == [Decimal("2.5")]
    wallet = copy_api.get(f"/v1/wallets/{made['wallet']['id']}").json
    assert wallet["credit_balance"] == Decimal("10.123456789")


@pytest.mark.parametrize(
    "mutate, field, problem",
    [
        (lambda d: d.update(extra=1), "extra", "is not part of a state document"),
        (lambda d: d["wallets"][0].update(balance="ten"), "wallets[0].balance", "must be a decimal"),
        (lambda d: d["wallets"][0].pop("currency"), "wallets[0].currency", "is required"),
        (lambda d: d["wallets"][0].update(colour="red"), "wallets[0].colour", "is not a field of wallet"),
        (
            lambda d: d["customers"][0].update(created_at="yesterday"),
            "customers[0].created_at",
            "must be an RFC 3339 timestamp",
        ),
        (
            lambda d: d["transactions"][0].update(wallet_id="wallet_nope"),
            "transactions[0].wallet_id",
            "names no wallet of the document",
        ),
        (
            lambda d: d["transactions"][1].update(id=d["transactions"][0]["id"]),
            "transactions[1].id",
            "appears twice",
        ),
        (
            lambda d: d["transactions"][0].update(priority="high"),
            "transactions[0].priority",
            "must be an integer",
        ),
        (
            lambda d: d["idempotency"][0].update(fingerprint="x"),
            "idempotency[0].fingerprint",
            "must be an array",
        ),
        (
            lambda d: d.update(clock={"now": "2027-01-01T00:00:00Z", "frozen": "yes"}),
            "clock.frozen",
            "must be true or false",
        ),
        (lambda d: d.update(customers={}), "customers", "must be an array"),
    ],
)
def test_a_bad_state_document_is_refused_naming_the_field_and_changes_nothing(api, mutate, field, problem):
    populate(api)
    document = api.get("/_mock/state").json
    target = api.as_key(new_key())
    make_customer(target, "kept")
    bad = copy.deepcopy(document)
    mutate(bad)
    reply = target.put("/_mock/state", bad)
    assert reply.status == 400
    assert reply.error["details"]["field"] == field
    assert problem in reply.error["details"]["problem"]
    assert reply.error["message"].startswith(f"Invalid state document: {field} ")
    assert target.get("/v1/customers/lookup/kept").status == 200
    assert customer_count(target) == 1


def test_a_state_document_must_be_json(api):
    reply = api.request("PUT", "/_mock/state", data="{not json")
    assert reply.status == 400 and reply.error["message"] == "Invalid request format"
    assert api.put("/_mock/state", [1, 2]).error["details"]["field"] == "<document>"


# ---- deterministic ids ---------------------------------------------------------------------


def crockford(value: int, length: int) -> str:
    digits = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    return "".join(digits[(value >> (5 * i)) & 31] for i in reversed(range(length)))


def id_trail(api: Api) -> list[str]:
    """Ids of a small scenario: a customer, a wallet with initial credits, a top-up."""
    customer = make_customer(api)
    wallet = make_wallet(api, customer["id"], initial_credits_to_load=5)
    api.post(
        f"/v1/wallets/{wallet['id']}/top-up",
        {"credits_to_add": 1, "transaction_reason": "FREE_CREDIT_GRANT", "idempotency_key": ""},
    )
    transactions = api.get(f"/v1/wallets/{wallet['id']}/transactions").json["items"]
    return (
        [customer["id"], wallet["id"]]
        + [t["id"] for t in transactions]
        + [t["reference_id"] for t in transactions]
    )


def test_a_seed_and_a_frozen_clock_give_the_same_ids_in_every_world(api):
    trails = []
    for _ in range(2):
        world = api.as_key(new_key())
        assert world.put("/_mock/ids", {"seed": 42}).json == {"seed": 42}
        world.put("/_mock/clock", FROZEN)
        trails.append(id_trail(world))
    assert trails[0] == trails[1]
    # The ULID's time part is the frozen instant, 2027-01-01T00:00:00Z.
    assert trails[0][0][len("cust_") :][:10] == crockford(1798761600000, 10)


def test_the_id_seed_setting_gives_the_same_ids_across_sandboxes():
    trails = []
    for _ in range(2):
        api = local_api(id_seed=7)
        api.put("/_mock/clock", FROZEN)
        trails.append(id_trail(api))
    assert trails[0] == trails[1]
    other_seed = local_api(id_seed=8)
    other_seed.put("/_mock/clock", FROZEN)
    assert id_trail(other_seed) != trails[0]


def test_without_a_seed_ids_differ(api):
    first, second = api.as_key(new_key()), api.as_key(new_key())
    for world in (first, second):
        world.put("/_mock/clock", FROZEN)
    assert id_trail(first)[0] != id_trail(second)[0]


@pytest.mark.parametrize(
    "body, message",
    [
        ({"seed": "42"}, "seed must be an integer or null"),
        ({"seed": True}, "seed must be an integer or null"),
        ({}, "seed is required: an integer, or null for random ids"),
        ({"seed": 1, "salt": 2}, "salt is not a field here (expected: seed)"),
    ],
)
def test_a_bad_id_seed_is_refused(api, body, message):
    reply = api.put("/_mock/ids", body)
    assert reply.status == 400 and reply.error["message"] == message
