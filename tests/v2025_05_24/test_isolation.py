"""Isolation and security: one key never sees another's objects, keys never reach the log in full,
the /_mock/ controls answer loopback (or the admin token) only, and limits keep memory bounded.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mockserver.cli import parse_args
from mockserver.config import Settings
from mockserver.text import mask

from .conftest import Api, client_of, create_app, new_key

# ---- no cross-key visibility ------------------------------------------------------------------

TEXT = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=20)
CUSTOMER = st.fixed_dictionaries(
    {"external_id": TEXT, "name": TEXT},
    optional={"email": st.just("a@b.example"), "metadata": st.dictionaries(TEXT, TEXT, max_size=3)},
)
WALLET = st.fixed_dictionaries(
    {"currency": st.sampled_from(["usd", "eur", "inr"])},
    optional={
        "wallet_type": st.sampled_from(["PRE_PAID", "PROMOTIONAL"]),
        "initial_credits_to_load": st.integers(0, 10**6).map(lambda n: n / 1000),
        "conversion_rate": st.sampled_from([1, 2, 0.5]),
    },
)
WORLD = st.lists(st.tuples(CUSTOMER, st.lists(WALLET, max_size=2)), min_size=1, max_size=4)
# Every key but the owner must see (nothing) the same as a fresh key, also in another environment.
OUTSIDERS = [(lambda key: key + "x", ""), (lambda key: key.upper(), ""), (lambda key: key, "other-env")]


def fill(owner: Api, world: list) -> tuple[list[dict], list[dict]]:
    customers, wallets = [], []
    for n, (customer, wallet_bodies) in enumerate(world):
        reply = owner.post("/v1/customers", {**customer, "external_id": f"{customer['external_id']}-{n}"})
        assert reply.status == 201, reply.json
        customers.append(reply.json)
        for body in wallet_bodies:
            reply = owner.post("/v1/wallets", {**body, "customer_id": customers[-1]["id"]})
            assert reply.status in (200, 409), reply.json  # 409: same currency and type twice
            if reply.status == 200:
                wallets.append(reply.json)
    return customers, wallets


def assert_invisible(outsider: Api, customers: list[dict], wallets: list[dict]) -> None:
    for customer in customers:
        cid, lookup = quote(customer["id"], safe=""), quote(customer["external_id"], safe="")
        assert outsider.get(f"/v1/customers/{cid}").status == 404
        assert outsider.get(f"/v1/customers/lookup/{lookup}").status == 404
        assert outsider.get(f"/v1/customers/{cid}/wallets").json == []
        assert outsider.get(f"/v1/customers/wallets?id={cid}").status == 404
        assert outsider.get(f"/v1/customers/wallets?lookup_key={lookup}").status == 404
        assert outsider.put(f"/v1/customers/{cid}", {"name": "stolen"}).status == 404
        assert outsider.delete(f"/v1/customers/{cid}").status == 404
        search = outsider.post("/v1/customers/search", {"external_id": customer["external_id"]})
        assert search.json["items"] == []
    for wallet in wallets:
        wid = wallet["id"]
        for path in (
            f"/v1/wallets/{wid}",
            f"/v1/wallets/{wid}/balance/real-time",
            f"/v1/wallets/{wid}/transactions",
        ):
            assert outsider.get(path).status == 404
        assert outsider.put(f"/v1/wallets/{wid}", {"name": "stolen"}).status == 404
        top_up = {"credits_to_add": 5, "transaction_reason": "FREE_CREDIT_GRANT", "idempotency_key": "t"}
        assert outsider.post(f"/v1/wallets/{wid}/top-up", top_up).status == 404
        assert outsider.post(f"/v1/wallets/{wid}/terminate").status == 404
    listed = outsider.get("/v1/customers?limit=1000").json
    assert listed["items"] == [] and listed["pagination"]["total"] == 0


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(world=WORLD)
def test_no_key_sees_or_touches_another_keys_objects(app, world):
    owner = client_of(app)
    customers, wallets = fill(owner, world)
    before = [owner.get(f"/v1/customers/{c['id']}").json for c in customers] + [
        owner.get(f"/v1/wallets/{w['id']}/transactions").json for w in wallets
    ]
    for outsider_key, environment in OUTSIDERS:
        outsider = owner.as_key(outsider_key(owner.api_key))
        if environment:
            outsider = _in_environment(outsider, environment)
        assert_invisible(outsider, customers, wallets)
    after = [owner.get(f"/v1/customers/{c['id']}").json for c in customers] + [
        owner.get(f"/v1/wallets/{w['id']}/transactions").json for w in wallets
    ]
    assert after == before


def _in_environment(api: Api, environment: str) -> Api:
    send = api._send

    def with_environment(method, path, data, headers):
        return send(method, path, data, {**headers, "X-Environment-ID": environment})

    return Api(with_environment, api.api_key)


def test_the_tenant_id_in_replies_is_not_the_key(api):
    wallet = api.post("/v1/wallets", {"customer_id": "cust_1", "currency": "usd"}).json
    balance = api.get(f"/v1/wallets/{wallet['id']}/balance/real-time").json
    assert balance["tenant_id"].startswith("tenant_") and api.api_key not in balance["tenant_id"]


# ---- keys in the log ----------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["sk_live_" + "S3CRET" * 6, "short", "sk_🔑_ünïcode_key_0123456789"])
def test_api_keys_are_never_logged_in_full(caplog, key):
    api = client_of(create_app(validate_responses=True, log_requests=True)).as_key(key)
    with caplog.at_level(logging.DEBUG):
        api.post("/v1/customers", {"external_id": "a", "name": "Acme"})
        api.get("/v1/wallets/nope")
        api.post("/v1/customers", data=b"{", headers={"Content-Type": "application/json"})
        api.get("/v1/no-such-route")
        api.get("/_mock/journal")
    lines = [record.getMessage() for record in caplog.records]
    request_lines = [line for line in lines if "key=" in line]
    assert len(request_lines) == 5, lines
    assert all(f"key={mask(key)} " in line for line in request_lines)
    assert all(key not in line for line in lines)


# ---- the admin gate -----------------------------------------------------------------------------------

REMOTE = {"REMOTE_ADDR": "203.0.113.7"}
CONTROLS = [
    ("GET", "/_mock/journal"),
    ("GET", "/_mock/state"),
    ("POST", "/_mock/reset"),
    ("GET", "/_mock/faults"),
    ("GET", "/_mock/clock"),
    ("GET", "/_mock/not-yet-built"),
]


@pytest.mark.parametrize("method, path", CONTROLS)
def test_controls_refuse_a_remote_client_without_a_token(method, path):
    app = create_app(validate_responses=True, log_requests=False)
    remote = client_of(app, REMOTE)
    reply = remote.request(method, path)
    assert reply.status == 403
    assert reply.error["message"] == (
        "Sandbox controls refuse 203.0.113.7: they answer loopback clients, clients from the "
        "--admin-from networks (none set), or, once --admin-token is set, requests that send it"
    )
    assert reply.error["details"]["client"] == "203.0.113.7"


def test_a_remote_reset_changes_nothing_and_the_api_stays_open():
    app = create_app(validate_responses=True, log_requests=False)
    remote = client_of(app, REMOTE)
    assert remote.post("/v1/customers", {"external_id": "a", "name": "Acme"}).status == 201
    assert remote.post("/_mock/reset?all=true").status == 403
    assert remote.get("/v1/customers").json["pagination"]["total"] == 1
    assert remote.get("/_mock/health").status == 200


@pytest.mark.parametrize("address", ["127.0.0.1", "127.8.9.10", "::1"])
def test_loopback_clients_reach_the_controls_without_a_token(address):
    local = client_of(create_app(validate_responses=True, log_requests=False), {"REMOTE_ADDR": address})
    assert local.get("/_mock/journal").status == 200
    assert local.get("/_mock/faults").status == 200


def test_over_a_real_socket_loopback_reaches_the_controls(http):
    assert http.get("/_mock/journal").status == 200


@pytest.mark.parametrize("environ", [REMOTE, {"REMOTE_ADDR": "127.0.0.1"}])
def test_with_an_admin_token_every_client_must_send_it(environ):
    app = create_app(validate_responses=True, log_requests=False, admin_token="t0k3n")
    client = client_of(app, environ)
    for headers in (
        {},
        {"X-Mock-Admin-Token": "wrong"},
        {"X-Mock-Admin-Token": "t0k3n "},
        {"X-Mock-Admin-Token": ""},
    ):
        reply = client.request("GET", "/_mock/journal", headers=headers)
        assert reply.status == 403
        assert reply.error["message"] == (
            f"Sandbox controls refuse {environ['REMOTE_ADDR']}: they answer requests that send the "
            "--admin-token in the X-Mock-Admin-Token header (loopback clients too), or clients "
            "from the --admin-from networks (none set)"
        )
    assert client.request("GET", "/_mock/journal", headers={"X-Mock-Admin-Token": "t0k3n"}).status == 200
    assert client.get("/_mock/health").status == 200
    assert client.get("/v1/customers").status == 200


def test_the_dashboard_takes_the_admin_token_once_and_keeps_it_in_a_strict_cookie():
    app = create_app(validate_responses=True, log_requests=False, admin_token="t0k3n")
    browser = app.test_client()
    remote = {"REMOTE_ADDR": "203.0.113.9"}
    assert browser.get("/_mock/ui", environ_base=remote).status_code == 403
    assert browser.get("/_mock/ui?admin_token=wrong", environ_base=remote).status_code == 403
    assert browser.get("/_mock/journal?admin_token=t0k3n", environ_base=remote).status_code == 403
    page = browser.get("/_mock/ui?admin_token=t0k3n", environ_base=remote)
    assert page.status_code == 303 and page.headers["Location"] == "/_mock/ui"  # the token leaves the address
    cookie = page.headers["Set-Cookie"]
    assert cookie.startswith("flexprice_mock_admin_token=t0k3n;")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/_mock" in cookie
    worlds = browser.get("/_mock/ui/worlds", environ_base=remote)  # the cookie goes along
    assert worlds.status_code == 200 and worlds.json["items"] == []
    assert browser.get("/_mock/journal", environ_base=remote).status_code == 400  # past the gate: no key


def test_the_admin_token_comes_from_the_environment_or_the_command_line():
    assert Settings.from_env({"FLEXPRICE_MOCK_ADMIN_TOKEN": "from-env"}).admin_token == "from-env"
    args = vars(parse_args(["--admin-token", "from-flag"]))
    args.pop("no_fixtures", None)
    assert Settings.from_env({"FLEXPRICE_MOCK_ADMIN_TOKEN": "from-env"}, **args).admin_token == "from-flag"
    assert Settings.from_env({}).admin_token is None


# ---- limits ---------------------------------------------------------------------------------------------


def test_worlds_past_the_limit_get_429_and_existing_ones_keep_working():
    app = create_app(validate_responses=True, log_requests=False, max_worlds=3)
    first = client_of(app)
    assert first.post("/v1/customers", {"external_id": "a", "name": "Acme"}).status == 201
    assert first.as_key(new_key()).get("/v1/customers").status == 200
    assert _in_environment(first, "staging").get("/v1/customers").status == 200  # third world
    for late in (first.as_key(new_key()), _in_environment(first, "prod")):
        reply = late.post("/v1/customers", {"external_id": "b", "name": "Late"})
        assert reply.status == 429
        assert reply.error["message"].startswith("Sandbox limit reached: at most 3 worlds")
        assert reply.error["details"] == {"limit": "max_worlds", "max": 3}
    assert first.get("/v1/customers").json["pagination"]["total"] == 1
    assert first.get("/_mock/health").json["worlds"] == 3
    assert first.post("/_mock/reset").status == 200  # frees the key's worlds
    assert first.as_key(new_key()).get("/v1/customers").status == 200


def test_objects_past_the_limit_get_429_and_reads_keep_working():
    app = create_app(validate_responses=True, log_requests=False, max_objects_per_world=3)
    api = client_of(app)
    customer = api.post("/v1/customers", {"external_id": "a", "name": "Acme"}).json
    wallet = api.post(
        "/v1/wallets", {"customer_id": customer["id"], "currency": "usd", "initial_credits_to_load": 5}
    ).json  # a wallet and a credit
    refused = [
        api.post("/v1/customers", {"external_id": "b", "name": "More"}),
        api.post("/v1/wallets", {"customer_id": customer["id"], "currency": "eur"}),
        api.post(
            f"/v1/wallets/{wallet['id']}/top-up",
            {"credits_to_add": 1, "transaction_reason": "FREE_CREDIT_GRANT", "idempotency_key": "k"},
        ),
        api.post(f"/v1/wallets/{wallet['id']}/terminate"),
    ]
    for reply in refused:
        assert reply.status == 429
        assert reply.error["details"] == {"limit": "max_objects_per_world", "max": 3, "held": 3}
    assert api.get(f"/v1/wallets/{wallet['id']}").json == wallet
    assert api.get(f"/v1/wallets/{wallet['id']}/transactions").json["pagination"]["total"] == 1
    assert api.put(f"/v1/wallets/{wallet['id']}", {"name": "renamed"}).status == 200
    assert api.as_key(new_key()).post("/v1/customers", {"external_id": "a", "name": "Acme"}).status == 201


def test_the_limits_come_from_the_environment_or_the_command_line():
    env = {"FLEXPRICE_MOCK_MAX_WORLDS": "7", "FLEXPRICE_MOCK_MAX_OBJECTS_PER_WORLD": "70"}
    assert (Settings.from_env(env).max_worlds, Settings.from_env(env).max_objects_per_world) == (7, 70)
    args = vars(parse_args(["--max-worlds", "8", "--max-objects-per-world", "80"]))
    args.pop("no_fixtures", None)
    chosen = Settings.from_env({}, **args)
    assert (chosen.max_worlds, chosen.max_objects_per_world) == (8, 80)
