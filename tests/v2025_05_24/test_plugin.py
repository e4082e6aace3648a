"""The pytest plugin, used exactly as docs/controls.md shows (plus a spec check on every reply)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mockserver.pytest_plugin import FlexpriceControlError

from ..support import docs_example
from .contract import assert_conforms


@pytest.fixture(autouse=True)
def checked_against_the_spec(request):
    """Every API reply a test here receives is checked against openapi.yaml."""
    if "flexprice" in request.fixturenames:
        handle = request.getfixturevalue("flexprice")

        def conforms(reply, *args, **kwargs):
            path = reply.request.path_url.split("?")[0]
            assert_conforms(
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
            assert_conforms(
                reply.request.method,
                reply.request.path,
                reply.status_code,
                reply.headers.get("Content-Type"),
                reply.get_data(),
            )
            return reply

        client.open = checked_open


# ---- docs/controls.md's 2025-05-24 example, verbatim -----------------------------------------

ACME = {
    "customers": [
        {
            "external_id": "acme",
            "name": "Acme Inc.",
            "wallets": [
                {
                    "currency": "usd",
                    "initial_credits_to_load": 100,
                    "initial_credits_to_load_expiry_date": 20270201,
                }
            ],
        }
    ]
}


def top_up(session, base_url, wallet_id, credits, key):
    """The code under test: retries once on a 5xx, with the same idempotency key."""
    body = {
        "credits_to_add": credits,
        "transaction_reason": "PURCHASED_CREDIT_DIRECT",
        "idempotency_key": key,
    }
    for _ in range(2):
        reply = session.post(f"{base_url}/wallets/{wallet_id}/top-up", json=body)
        if reply.status_code < 500:
            break
    return reply


def test_a_retried_top_up_credits_once(flexprice):
    flexprice.set_clock("2027-01-01T00:00:00Z", frozen=True)
    wallet_id = flexprice.load_fixture(ACME)["wallets"][0]["id"]
    flexprice.add_fault(method="POST", path="/v1/wallets/*/top-up", status=500, first=1)

    reply = top_up(flexprice.session, flexprice.base_url, wallet_id, 50, key="order-42")

    assert reply.status_code == 200 and reply.json()["balance"] == 150
    sent = flexprice.journal(path="/v1/wallets/*/top-up")
    assert [e["status"] for e in sent] == [200, 500]
    assert sent[0]["body"]["idempotency_key"] == sent[1]["body"]["idempotency_key"] == "order-42"


def test_unused_credits_expire_at_the_end_of_the_month(flexprice):
    flexprice.set_clock("2027-01-01T00:00:00Z", frozen=True)
    wallet_id = flexprice.load_fixture(ACME)["wallets"][0]["id"]

    moved = flexprice.advance_clock("P45D")

    assert [t["transaction_reason"] for t in moved["expired"]] == ["CREDIT_EXPIRED"]
    wallet = flexprice.session.get(f"{flexprice.base_url}/wallets/{wallet_id}").json()
    assert wallet["balance"] == 0


def test_in_process_without_a_socket(flexprice_app):
    flexprice_app.load_fixture(ACME)
    reply = flexprice_app.client.get("/v1/customers/lookup/acme")
    assert reply.status_code == 200 and reply.get_json()["name"] == "Acme Inc."


# ---- end of docs/controls.md's 2025-05-24 example ---------------------------------------------


def test_each_test_gets_an_empty_world_of_its_own(flexprice, flexprice_server):
    assert flexprice.url == flexprice_server.url and flexprice.base_url == flexprice.url + "/v1"
    assert flexprice.session.get(f"{flexprice.base_url}/customers").json()["items"] == []
    assert flexprice.session.headers["x-api-key"] == flexprice.api_key


SUITE = """
import sys
sys.path.insert(0, {repo!r})
from tests.v2025_05_24.contract import assert_conforms

def check(reply):
    assert_conforms(reply.request.method, reply.request.path_url, reply.status_code,
                    reply.headers.get("Content-Type"), reply.content)
    return reply

def test_one(flexprice):
    flexprice.add_fault(method="GET", path="/v1/customers", status=500)
    assert check(flexprice.session.get(flexprice.base_url + "/customers")).status_code == 500
    assert flexprice.session.get(flexprice.url + "/_mock/health").json()["worlds"] == 1

def test_two(flexprice):
    # test_one's world and fault rule are gone: no world yet, and no fault for a new key.
    assert flexprice.session.get(flexprice.url + "/_mock/health").json()["worlds"] == 0
    assert check(flexprice.session.get(flexprice.base_url + "/customers")).status_code == 200
"""


def pytest_on(folder: Path, name: str, source: str) -> subprocess.CompletedProcess[str]:
    """Run a test file of its own in a pytest of its own, as a user's suite would run."""
    (folder / name).write_text(source, encoding="utf-8")
    # Other installed plugins are left out only to keep start-up short; ours loads by entry point.
    others = [
        arg
        for plugin in ("schemathesis", "hypothesispytest", "benchmark", "anyio", "cacheprovider")
        for arg in ("-p", f"no:{plugin}")
    ]
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", *others, name],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_an_installed_package_needs_no_conftest_and_cleans_up_after_each_test(tmp_path):
    repo = str(Path(__file__).resolve().parents[2])
    run = pytest_on(tmp_path, "test_suite.py", SUITE.format(repo=repo))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 passed" in run.stdout


LEAKING = """
def test_its_sandbox_goes_away(flexprice):
    assert flexprice.session.get(flexprice.url + "/_mock/health").status_code == 200
    flexprice.url = "http://127.0.0.1:9"  # as if the sandbox had gone: the cleanup cannot reach it
"""


def test_a_cleanup_that_fails_is_an_error_of_the_tests_teardown(tmp_path):
    run = pytest_on(tmp_path, "test_leak.py", LEAKING)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "1 passed, 1 error" in run.stdout
    assert "ERROR at teardown of test_its_sandbox_goes_away" in run.stdout
    assert "could not be cleaned up after the test, so it would leak into later tests (reset: " in run.stdout


def test_controls_report_refusals_with_the_sandbox_message(flexprice):
    with pytest.raises(FlexpriceControlError, match="by must be seconds"):
        flexprice.advance_clock("soon")
    with pytest.raises(FlexpriceControlError, match=r"customers\[0\]\.nmae: unknown field"):
        flexprice.load_fixture("customers:\n  - external_id: x\n    nmae: X\n")


def test_fixtures_load_from_files_and_state_round_trips(flexprice, tmp_path):
    path = tmp_path / "acme.yaml"
    path.write_text("customers:\n  - {external_id: acme, name: Acme Inc.}\n", encoding="utf-8")
    assert flexprice.load_fixture(path)["customers"][0]["external_id"] == "acme"
    flexprice.reset()
    assert flexprice.load_fixture(str(path))["customers"][0]["name"] == "Acme Inc."
    flexprice.set_clock("2027-01-01T00:00:00Z", frozen=True)
    document = flexprice.state()
    flexprice.reset()
    assert flexprice.state()["customers"] == []
    assert flexprice.load_state(document)["customers"] == 1
    assert flexprice.state() == document


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


def test_the_docs_show_this_files_example_verbatim():
    here = Path(__file__).read_text(encoding="utf-8")
    example = here[here.index("ACME = ") : here.index("# ---- end of docs/controls.md's 2025-05-24")].rstrip()
    assert docs_example("docs/controls.md", "plugin-2025-05-24") == "# test_billing.py\n" + example
