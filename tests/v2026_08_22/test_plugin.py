"""The pytest plugin against API version 2026-08-22, used exactly as docs/controls.md shows (plus a
check of every reply against the 2026-08-22 document), and the plugin's choice of version.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mockserver.pytest_plugin import FlexpriceControlError

from ..support import docs_example
from .conftest import CONTRACT, SUITE

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_FIRST_LINE = "# test_wallets.py\n"  # of docs/controls.md's 2026-08-22 example


@pytest.fixture(autouse=True)
def checked_against_the_spec(request):
    """Every API reply a test here receives is checked against the 2026-08-22 document."""
    if "flexprice" in request.fixturenames:
        handle = request.getfixturevalue("flexprice")

        def conforms(reply, *args, **kwargs):
            path = reply.request.path_url.split("?")[0]
            CONTRACT.assert_conforms(
                reply.request.method,
                path,
                reply.status_code,
                reply.headers.get("Content-Type"),
                reply.content,
            )

        handle.session.hooks["response"].append(conforms)
    if "flexprice_app" in request.fixturenames:
        client = request.getfixturevalue("flexprice_app").client
        send = client.open

        def checked_open(*args, **kwargs):
            reply = send(*args, **kwargs)
            CONTRACT.assert_conforms(
                reply.request.method,
                reply.request.path,
                reply.status_code,
                reply.headers.get("Content-Type"),
                reply.get_data(),
            )
            return reply

        client.open = checked_open


# ---- docs/controls.md's example (API version 2026-08-22), verbatim -------------------------
# test_wallets.py
ACME = {
    "customers": [
        {
            "external_id": "acme",
            "name": "Acme Inc.",
            "wallets": [
                {
                    "currency": "usd",
                    "initial_credits_to_load": "100",
                    "initial_credits_expiry_date_utc": "2027-02-01T00:00:00Z",
                }
            ],
        }
    ]
}


def top_up(session, base_url, wallet_id, credits, key, reason="PURCHASED_CREDIT_DIRECT"):
    """The code under test: retries once on a 5xx, with the same idempotency key."""
    body = {"credits_to_add": credits, "transaction_reason": reason, "idempotency_key": key}
    for _ in range(2):
        reply = session.post(f"{base_url}/wallets/{wallet_id}/top-up", json=body)
        if reply.status_code < 500:
            break
    return reply


def test_a_retried_top_up_credits_once(flexprice):
    flexprice.set_clock("2027-01-01T00:00:00Z", frozen=True)
    wallet_id = flexprice.load_fixture(ACME)["wallets"][0]["id"]
    flexprice.add_fault(method="POST", path="/v1/wallets/*/top-up", status=500, first=1)

    reply = top_up(flexprice.session, flexprice.base_url, wallet_id, "50", key="order-42")

    assert reply.status_code == 200 and reply.json()["wallet"]["balance"] == "150"
    sent = flexprice.journal(path="/v1/wallets/*/top-up")
    assert [e["status"] for e in sent] == [200, 500]
    assert sent[0]["body"]["idempotency_key"] == sent[1]["body"]["idempotency_key"] == "order-42"
    # The key is spent: sending it again is a 409, never a second credit.
    assert top_up(flexprice.session, flexprice.base_url, wallet_id, "50", key="order-42").status_code == 409


def test_an_invoiced_top_up_credits_once_paid(flexprice):
    flexprice.set_clock("2027-01-01T00:00:00Z", frozen=True)
    wallet_id = flexprice.load_fixture(ACME)["wallets"][0]["id"]

    reply = top_up(
        flexprice.session,
        flexprice.base_url,
        wallet_id,
        "20",
        key="order-43",
        reason="PURCHASED_CREDIT_INVOICED",
    )

    assert reply.json()["wallet_transaction"]["transaction_status"] == "pending"
    assert reply.json()["wallet"]["balance"] == "100"
    paid = flexprice.pay_invoice(reply.json()["invoice_id"])
    assert paid["invoice"]["status"] == "paid" and paid["wallet"]["balance"] == "120"


def test_unused_credits_expire_at_the_end_of_the_month(flexprice):
    flexprice.set_clock("2027-01-01T00:00:00Z", frozen=True)
    wallet_id = flexprice.load_fixture(ACME)["wallets"][0]["id"]

    moved = flexprice.advance_clock("P45D")

    assert [(t["transaction_reason"], t["credit_amount"]) for t in moved["expired"]] == [
        ("CREDIT_EXPIRED", "100")
    ]
    wallet = flexprice.session.get(f"{flexprice.base_url}/wallets/{wallet_id}").json()
    assert wallet["balance"] == "0"


def test_in_process_without_a_socket(flexprice_app):
    flexprice_app.set_clock("2027-01-01T00:00:00Z", frozen=True)
    flexprice_app.load_fixture(ACME)
    reply = flexprice_app.client.get("/v1/customers/external/acme")
    assert reply.status_code == 200 and reply.get_json()["name"] == "Acme Inc."


# ---- end of docs/controls.md's example (API version 2026-08-22) ------------------------------


def test_each_test_gets_an_empty_world_of_its_own(flexprice, flexprice_server):
    assert flexprice.url == flexprice_server.url and flexprice.base_url == flexprice.url + "/v1"
    assert flexprice_server.app.extensions["mockserver"].version.name == "2026-08-22"
    assert flexprice.session.get(f"{flexprice.base_url}/customers").json()["items"] == []
    assert flexprice.session.headers["x-api-key"] == flexprice.api_key
    health = flexprice.session.get(f"{flexprice.url}/_mock/health").json()
    assert health["api_version"] == "2026-08-22"


def test_controls_report_refusals_with_the_sandbox_message(flexprice):
    with pytest.raises(FlexpriceControlError, match="by must be seconds"):
        flexprice.advance_clock("soon")
    with pytest.raises(FlexpriceControlError, match=r"customers\[0\]\.nmae: unknown field"):
        flexprice.load_fixture("customers:\n  - external_id: x\n    nmae: X\n")
    with pytest.raises(FlexpriceControlError) as caught:
        flexprice.pay_invoice("inv_nope")
    assert str(caught.value) == (
        "POST /_mock/invoices/inv_nope/pay answered 404: Invoice inv_nope was not found"
    )
    assert caught.value.status == 404
    assert caught.value.body == {
        "code": "not_found",
        "message": "Invoice inv_nope was not found",
        "http_status_code": 404,
        "details": {"invoice_id": "inv_nope"},
    }


def test_a_fixture_in_this_versions_fields_and_its_refusal(flexprice):
    with pytest.raises(FlexpriceControlError) as caught:
        flexprice.load_fixture({"customers": [{"external_id": "nameless"}]})
    assert caught.value.status == 400 and caught.value.body["code"] == "validation_error"
    assert "CreateCustomerRequest.Name" in caught.value.body["message"]
    made = flexprice.load_fixture(
        {
            "customers": [
                {
                    "external_id": "acme",
                    "name": "Acme Inc.",
                    "wallets": [
                        {
                            "currency": "eur",
                            "initial_credits_to_load": "0.5",
                            "top_ups": [{"credits_to_add": "2", "transaction_reason": "FREE_CREDIT_GRANT"}],
                        }
                    ],
                }
            ]
        }
    )
    assert made["wallets"][0]["credit_balance"] == "2.5"


def test_fixtures_load_from_files_and_state_round_trips(flexprice, tmp_path):
    path = tmp_path / "acme.yaml"
    path.write_text("customers:\n  - {external_id: acme-file, name: Acme Inc.}\n", encoding="utf-8")
    assert flexprice.load_fixture(path)["customers"][0]["external_id"] == "acme-file"
    flexprice.reset()
    assert flexprice.load_fixture(str(path))["customers"][0]["name"] == "Acme Inc."
    flexprice.set_clock("2027-01-01T00:00:00Z", frozen=True)
    wallet_id = flexprice.load_fixture(ACME)["wallets"][0]["id"]
    invoiced = top_up(
        flexprice.session, flexprice.base_url, wallet_id, "5", key="inv", reason="PURCHASED_CREDIT_INVOICED"
    ).json()
    document = flexprice.state()
    assert document["api_version"] == "2026-08-22" and len(document["invoices"]) == 1
    flexprice.reset()
    assert flexprice.state()["customers"] == [] and flexprice.invoices() == []
    assert flexprice.load_state(document)["customers"] == 2
    assert flexprice.state() == document
    assert [i["id"] for i in flexprice.invoices()] == [invoiced["invoice_id"]]


def test_clock_and_ids_make_runs_repeatable(flexprice):
    flexprice.set_clock("2027-01-01T00:00:00Z", frozen=True)
    flexprice.seed_ids(42)
    first = flexprice.load_fixture(ACME)["wallets"][0]["id"]
    flexprice.reset()
    flexprice.set_clock("2027-01-01T00:00:00Z", frozen=True)
    flexprice.seed_ids(42)
    assert flexprice.load_fixture(ACME)["wallets"][0]["id"] == first
    assert flexprice.clock() == {"now": "2027-01-01T00:00:00.000000Z", "frozen": True}
    assert flexprice.clear_journal() == 0


def test_in_process_invoices_can_be_listed_and_voided(flexprice_app):
    flexprice_app.set_clock("2027-01-01T00:00:00Z", frozen=True)
    wallet_id = flexprice_app.load_fixture(ACME)["wallets"][0]["id"]
    reply = flexprice_app.client.post(
        f"/v1/wallets/{wallet_id}/top-up",
        json={
            "credits_to_add": "30",
            "transaction_reason": "PURCHASED_CREDIT_INVOICED",
            "idempotency_key": "i",
        },
    )
    invoice_id = reply.get_json()["invoice_id"]
    assert [(i["id"], i["status"], i["amount"]) for i in flexprice_app.invoices()] == [
        (invoice_id, "pending", "30")
    ]
    voided = flexprice_app.void_invoice(invoice_id)
    assert voided["invoice"]["status"] == "voided"
    assert voided["wallet_transaction"]["transaction_status"] == "failed"
    assert voided["wallet"]["credit_balance"] == "100"
    with pytest.raises(FlexpriceControlError, match=f"Invoice {invoice_id} is already voided"):
        flexprice_app.pay_invoice(invoice_id)


# ---- the plugin in a suite of its own (a subprocess) -----------------------------------------

# Other installed plugins are left out only to keep start-up short; ours loads by entry point.
OTHERS = [
    arg
    for name in ("schemathesis", "hypothesispytest", "benchmark", "anyio", "cacheprovider")
    for arg in ("-p", f"no:{name}")
]

SUITE_2026 = """
import sys
sys.path.insert(0, {repo!r})
from tests.support import Contract

CONTRACT = Contract("2026-08-22")

def check(reply):
    CONTRACT.assert_conforms(reply.request.method, reply.request.path_url, reply.status_code,
                             reply.headers.get("Content-Type"), reply.content)
    return reply

def test_one(flexprice):
    flexprice.add_fault(method="GET", path="/v1/customers", status=500)
    reply = check(flexprice.session.get(flexprice.base_url + "/customers"))
    assert reply.status_code == 500
    assert reply.json() == {{"code": "internal_error", "message": "An unexpected error occurred",
                            "http_status_code": 500}}
    assert flexprice.session.get(flexprice.url + "/_mock/health").json()["worlds"] == 1

def test_two(flexprice):
    # test_one's world and fault rule are gone: no world yet, and no fault for a new key.
    health = flexprice.session.get(flexprice.url + "/_mock/health").json()
    assert (health["worlds"], health["api_version"]) == (0, "2026-08-22")
    assert check(flexprice.session.get(flexprice.base_url + "/customers")).status_code == 200
"""

WHICH_VERSION = """
import os

def test_the_sandboxes_serve_the_chosen_version(flexprice, flexprice_app, flexprice_settings):
    expected = os.environ["EXPECTED_API_VERSION"]
    assert flexprice.session.get(flexprice.url + "/_mock/health").json()["api_version"] == expected
    assert flexprice_app.client.get("/_mock/health").get_json()["api_version"] == expected
    missing = flexprice.session.get(flexprice.base_url + "/wallets/wallet_nope").json()
    if expected == "2025-05-24":
        assert missing["success"] is False and missing["error"]["message"] == "Wallet not found"
    else:
        assert missing == {{"code": "not_found", "message": "Wallet not found", "http_status_code": 404,
                           "details": {{"wallet_id": "wallet_nope"}}}}
"""


def run_suite(
    directory: Path, text: str, *args: str, env: dict[str, str] | None = None, ini: str | None = None
) -> subprocess.CompletedProcess:
    (directory / "test_suite.py").write_text(text.format(repo=str(REPO)), encoding="utf-8")
    if ini is not None:
        (directory / "pytest.ini").write_text(f"[pytest]\nflexprice_api_version = {ini}\n", encoding="utf-8")
    environ = {k: v for k, v in os.environ.items() if k != "FLEXPRICE_MOCK_API_VERSION"}
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", *OTHERS, *args, "test_suite.py"],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=120,
        env=environ,
    )


def test_an_installed_package_needs_no_conftest_and_cleans_up_after_each_test(tmp_path):
    run = run_suite(tmp_path, SUITE_2026)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 passed" in run.stdout


@pytest.mark.parametrize(
    "args, ini, env, expected",
    [
        ((), None, {}, "2026-08-22"),  # the latest by default
        (("--flexprice-api-version", "2025-05-24"), None, {}, "2025-05-24"),
        ((), "2025-05-24", {}, "2025-05-24"),  # the ini setting
        ((), None, {"FLEXPRICE_MOCK_API_VERSION": "2025-05-24"}, "2025-05-24"),
        ((), "2026-08-22", {"FLEXPRICE_MOCK_API_VERSION": "2025-05-24"}, "2026-08-22"),  # ini over env
        (
            ("--flexprice-api-version", "latest"),
            "2025-05-24",  # the option over both
            {"FLEXPRICE_MOCK_API_VERSION": "2025-05-24"},
            "2026-08-22",
        ),
    ],
    ids=["default", "option", "ini", "environment", "ini-over-environment", "option-over-all"],
)
def test_the_api_version_option_and_ini_setting_choose_the_version(tmp_path, args, ini, env, expected):
    run = run_suite(tmp_path, WHICH_VERSION, *args, ini=ini, env={"EXPECTED_API_VERSION": expected, **env})
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 passed" in run.stdout


def test_an_unknown_api_version_fails_the_tests_that_ask_for_the_sandbox(tmp_path):
    run = run_suite(
        tmp_path,
        WHICH_VERSION,
        "--flexprice-api-version",
        "2024-01-01",
        env={"EXPECTED_API_VERSION": "2024-01-01"},
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert "1 error" in run.stdout
    assert "unknown API version '2024-01-01' (known: 2025-05-24, 2026-08-22, latest)" in run.stdout


MIN_FIDELITY = """
import os

def test_the_sandbox_refuses_below_the_minimum(flexprice, flexprice_settings):
    least = os.environ["EXPECTED_MIN_FIDELITY"]
    assert flexprice_settings.min_fidelity == least
    listing = flexprice.session.get(flexprice.url + "/_mock/coverage").json()
    assert listing["min_fidelity"] == least
    reply = flexprice.session.get(flexprice.base_url + "/customers")
    assert reply.status_code == 200
    assert reply.headers["X-Mock-Operation"] == "listCustomers"
    assert reply.headers["X-Mock-Fidelity"] == "modelled"
    flexprice.assert_no_unexpected(below=least)
    # RBAC roles are answered from the document (schema): refused below the minimum
    refused = flexprice.session.get(flexprice.base_url + "/rbac/roles")
    assert refused.status_code == 501 and refused.json()["code"] == "not_implemented"
    assert refused.headers["X-Mock-Fidelity"] == "schema"
    try:
        flexprice.assert_no_unexpected(below=least)
    except AssertionError as failed:
        assert "GET /v1/rbac/roles -> 501" in str(failed)
    else:
        raise AssertionError("a refused answer below the minimum passed")
"""


@pytest.mark.parametrize(
    "args, env, expected",
    [
        (("--flexprice-min-fidelity", "modelled"), {}, "modelled"),
        ((), {"FLEXPRICE_MOCK_MIN_FIDELITY": "stored"}, "stored"),
    ],
    ids=["option", "environment"],
)
def test_the_min_fidelity_option_reaches_the_sandbox(tmp_path, args, env, expected):
    run = run_suite(tmp_path, MIN_FIDELITY, *args, env={"EXPECTED_MIN_FIDELITY": expected, **env})
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 passed" in run.stdout


def test_the_option_is_in_the_help(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "pytest", *OTHERS, "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "--flexprice-api-version" in run.stdout and "flexprice_api_version" in run.stdout
    assert "--flexprice-min-fidelity" in run.stdout and "flexprice_min_fidelity" in run.stdout


# ---- docs/controls.md shows the example -----------------------------------------------------


def docs_example_here() -> str:
    here = Path(__file__).read_text(encoding="utf-8")
    marker = here.index("# ---- docs/controls.md's example (API version 2026-08-22), verbatim")
    start = here.index("\n", marker) + 1
    end = here.index("# ---- end of docs/controls.md's example (API version 2026-08-22)")
    return here[start:end].rstrip()


def test_the_example_is_this_versions_and_starts_with_its_file_name():
    example = docs_example_here()
    assert example.startswith(EXAMPLE_FIRST_LINE) and SUITE.version == "2026-08-22"
    assert "pay_invoice" in example and "advance_clock" in example and "flexprice_app" in example


def test_the_docs_show_this_files_example_verbatim():
    assert docs_example("docs/controls.md", "plugin-2026-08-22") == docs_example_here()
