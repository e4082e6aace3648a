"""Fixtures: YAML worlds loaded into new worlds, checked at start, loadable at run time."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from mockserver import cli
from mockserver.controls.fixtures import FixtureError

from .conftest import create_app, make_customer, new_key
from .test_admin import local_api

REPO = Path(__file__).resolve().parents[2]

ACME = """\
customers:
  - external_id: acme
    name: Acme Inc.
    wallets:
      - currency: usd
        initial_credits_to_load: 10.5
        top_ups:
          - credits_to_add: 0.000000001
            transaction_reason: FREE_CREDIT_GRANT
            expiry_date_utc: 2099-01-01T00:00:00Z
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def wallets_of(api, lookup_key: str) -> list[dict]:
    reply = api.get(f"/v1/customers/wallets?lookup_key={lookup_key}")
    assert reply.status == 200, reply.json
    return reply.json


def test_the_shipped_fixture_gives_every_new_world_a_customer_with_a_wallet():
    api = local_api(fixtures=str(REPO / "fixtures"))
    for world in (api, api.as_key(new_key())):
        customer = world.get("/v1/customers/lookup/acme").json
        assert customer["name"] == "Acme Inc." and customer["metadata"] == {"plan": "growth"}
        [wallet] = wallets_of(world, "acme")
        assert wallet["currency"] == "usd" and wallet["balance"] == 150
        history = world.get(f"/v1/wallets/{wallet['id']}/transactions?order=asc").json["items"]
        assert [(t["transaction_reason"], t["credit_amount"]) for t in history] == [
            ("FREE_CREDIT_GRANT", 100),
            ("PURCHASED_CREDIT_DIRECT", 50),
        ]


def test_the_test_suites_sandbox_keeps_empty_worlds(api):
    assert api.get("/v1/customers").json["pagination"]["total"] == 0
    assert create_app().extensions["mockserver"].fixtures == []


def test_fixture_numbers_are_exact_and_dates_stay_text(tmp_path):
    write(tmp_path, "acme.yaml", ACME)
    api = local_api(fixtures=str(tmp_path))
    [wallet] = wallets_of(api, "acme")
    assert str(wallet["credit_balance"]) == "10.500000001"
    history = api.get(f"/v1/wallets/{wallet['id']}/transactions").json["items"]
    assert history[0]["expiry_date"] == "2099-01-01T00:00:00.000000Z"


def test_a_reset_world_is_filled_again(tmp_path):
    write(tmp_path, "acme.yaml", ACME)
    api = local_api(fixtures=str(tmp_path))
    api.post("/v1/customers", {"external_id": "extra", "name": "Extra"})
    assert api.get("/v1/customers").json["pagination"]["total"] == 2
    api.post("/_mock/reset")
    assert [c["external_id"] for c in api.get("/v1/customers").json["items"]] == ["acme"]


def test_a_fixture_that_names_keys_fills_only_their_worlds(tmp_path):
    write(tmp_path, "a.yaml", "keys: [sk_demo_*]\n" + ACME)
    write(
        tmp_path,
        "b.yaml",
        """\
        keys: [sk_other]
        customers:
          - {external_id: other, name: Other}
        """,
    )
    api = local_api(fixtures=str(tmp_path))
    demo, other, plain = api.as_key("sk_demo_1"), api.as_key("sk_other"), api.as_key(new_key())
    assert [c["external_id"] for c in demo.get("/v1/customers").json["items"]] == ["acme"]
    assert [c["external_id"] for c in other.get("/v1/customers").json["items"]] == ["other"]
    assert plain.get("/v1/customers").json["items"] == []


def test_one_fixture_file_can_be_given_instead_of_a_directory(tmp_path):
    path = write(tmp_path, "only.yaml", ACME)
    assert local_api(fixtures=str(path)).get("/v1/customers/lookup/acme").status == 200


@pytest.mark.parametrize(
    "text, line, where, problem",
    [
        (
            "customers:\n  - external_id: acme\n    name: [unclosed\n",
            4,
            "",
            "while parsing a flow sequence expected ',' or ']'",
        ),
        (
            "customers:\n  - external_id: acme\n    name: Acme\n    wallets:\n      - currency: 12\n",
            5,
            "customers[0].wallets[0].currency",
            "12 is not of type 'string'",
        ),
        (
            "customers:\n  - external_id: acme\n    name: Acme\n    wallets:\n      - name: no currency\n",
            5,
            "customers[0].wallets[0]",
            "'currency' is a required property",
        ),
        (
            "customers:\n  - external_id: acme\n    nmae: Acme\n",
            3,
            "customers[0].nmae",
            "unknown field 'nmae'",
        ),
        (
            "customers:\n  - {external_id: a, name: A}\n  - {external_id: a, name: B}\n",
            3,
            "customers[1]",
            "A customer with this identifier already exists",
        ),
        (
            "customers:\n  - external_id: acme\n    name: Acme\n    wallets:\n      - currency: usd\n"
            "        customer_id: cust_1\n",
            6,
            "customers[0].wallets[0].customer_id",
            "is taken from the customer the wallet is listed under",
        ),
        (
            "customers:\n  - external_id: acme\n    name: Acme\n    wallets:\n      - currency: usd\n"
            "        top_ups:\n          - credits_to_add: -5\n"
            "            transaction_reason: FREE_CREDIT_GRANT\n",
            7,
            "customers[0].wallets[0].top_ups[0]",
            "Credits to add must be a positive value",
        ),
        ("customers: 3\n", 1, "customers", "must be a list"),
        ("keys: sk_1\ncustomers: []\n", 1, "keys", "must be a list of API keys"),
        (
            "customers:\n  - external_id: acme\n    name: Acme\n    wallets:\n      - currency: usd\n"
            "        initial_credits_to_load: .nan\n",
            6,
            "",
            "'.nan' is not a finite number",
        ),
    ],
)
def test_a_broken_fixture_names_the_file_the_line_and_the_problem(tmp_path, text, line, where, problem):
    path = write(tmp_path, "broken.yaml", text)
    with pytest.raises(FixtureError) as caught:
        create_app(fixtures=str(tmp_path))
    error = caught.value
    assert (error.source, error.line, error.where) == (str(path), line, where)
    assert problem in error.problem
    assert str(error).startswith(f"{path}:{line}: ")


def test_a_missing_fixture_directory_is_an_error(tmp_path):
    with pytest.raises(FixtureError, match="no such fixture file or directory"):
        create_app(fixtures=str(tmp_path / "nope"))


def test_the_cli_stops_on_a_broken_fixture_with_the_file_and_line(tmp_path, monkeypatch, capsys):
    (tmp_path / "fixtures").mkdir()
    write(tmp_path / "fixtures", "bad.yaml", "customers:\n  - external_id: 5\n")
    monkeypatch.chdir(tmp_path)  # ./fixtures is found without --fixtures
    assert cli.main(["--port", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("flexprice-mock: fixtures/bad.yaml:2: customers[0].external_id: ")
    assert "5 is not of type 'string'" in err


def test_the_cli_serves_the_fixtures_it_finds_unless_told_not_to(tmp_path, monkeypatch):
    (tmp_path / "fixtures").mkdir()
    write(tmp_path / "fixtures", "acme.yaml", ACME)
    monkeypatch.chdir(tmp_path)
    served = []
    monkeypatch.setattr("mockserver.http.server.serve", lambda app, *args: served.append(app))
    assert cli.main(["--port", "0"]) == 0
    assert cli.main(["--port", "0", "--no-fixtures"]) == 0
    with_fixtures, without = (app.extensions["mockserver"] for app in served)
    assert [f.source for f in with_fixtures.fixtures] == ["fixtures/acme.yaml"]
    assert without.fixtures == []


# ---- loading at run time -------------------------------------------------------------------


def test_a_fixture_can_be_loaded_into_one_world_at_run_time(api):
    reply = api.request("POST", "/_mock/fixtures", data=ACME, headers={"Content-Type": "application/yaml"})
    assert reply.status == 201
    [customer] = reply.json["customers"]
    [wallet] = reply.json["wallets"]
    assert customer["external_id"] == "acme" and wallet["customer_id"] == customer["id"]
    assert str(wallet["credit_balance"]) == "10.500000001"
    assert api.as_key(new_key()).get("/v1/customers/lookup/acme").status == 404


def test_json_fixtures_work_too(api):
    reply = api.post(
        "/_mock/fixtures",
        {"customers": [{"external_id": "j", "name": "J", "wallets": [{"currency": "eur"}]}]},
    )
    assert reply.status == 201 and reply.json["wallets"][0]["currency"] == "eur"


def test_a_fixture_refused_at_run_time_changes_nothing(api):
    make_customer(api, "taken")
    text = "customers:\n  - {external_id: fresh, name: Fresh}\n  - {external_id: taken, name: Again}\n"
    reply = api.request("POST", "/_mock/fixtures", data=text)
    assert reply.status == 400
    details = reply.error["details"]
    assert (details["field"], details["line"]) == ("customers[1]", 3)
    assert details["problem"].startswith("A customer with this identifier already exists")
    assert reply.error["message"].startswith("Invalid fixture: request body:3: customers[1]: ")
    assert api.get("/v1/customers/lookup/fresh").status == 404
    assert api.get("/v1/customers").json["pagination"]["total"] == 1


def test_a_fixture_gone_stale_is_a_plain_500_and_creates_no_world(tmp_path, monkeypatch):
    write(tmp_path, "a.yaml", ACME)
    api = local_api(fixtures=str(tmp_path))
    stale = FixtureError(
        str(tmp_path / "a.yaml"), 7, "customers[0].wallets[0]", "Expiry date must be in the future"
    )

    def refuse(*args):
        raise stale

    monkeypatch.setattr("mockserver.controls.fixtures.apply_matching", refuse)
    reply = api.get("/v1/customers")
    assert reply.status == 500
    assert reply.error["message"] == "The sandbox's fixtures could not be loaded into this world"
    assert reply.error["internal_error"] == str(stale)
    assert reply.error["details"] == {"fixture": str(tmp_path / "a.yaml")}
    monkeypatch.undo()
    assert [c["external_id"] for c in api.get("/v1/customers").json["items"]] == ["acme"]
