"""The README's example of the pytest plugin with verification, run as it is written there (and
checked to be there verbatim), every reply checked against the 2026-08-22 document."""

from __future__ import annotations

from pathlib import Path

from ..support import docs_example
from .test_plugin import checked_against_the_spec  # noqa: F401  (autouse: every reply checked)


# ---- the README's example, verbatim ---------------------------------------------------------
# test_orders.py
def test_an_order_tops_up_the_wallet_once(flexprice_sandbox):
    base, http = flexprice_sandbox.base_url, flexprice_sandbox.session  # http sends this test's key
    wallet = http.post(f"{base}/wallets", json={"customer_id": "cust_1", "currency": "usd"}).json()

    # The code under test would do this, once per order:
    top_up = {"credits_to_add": "50", "transaction_reason": "PURCHASED_CREDIT_DIRECT"}
    http.post(f"{base}/wallets/{wallet['id']}/top-up", json={**top_up, "idempotency_key": "order-1"})

    flexprice_sandbox.assert_called(
        "POST", "/v1/wallets/*/top-up", body={"idempotency_key": "order-1"}, times=1
    )
    flexprice_sandbox.assert_no_unexpected()  # nothing the API refused or could not route
    assert http.get(f"{base}/wallets/{wallet['id']}").json()["credit_balance"] == "50"


# ---- end of the README's example --------------------------------------------------------------


def test_the_readme_shows_this_files_example_verbatim():
    here = Path(__file__).read_text(encoding="utf-8")
    start = here.index("# test_orders.py")
    example = here[start : here.index("# ---- end of the README's example")].rstrip()
    assert docs_example("README.md", "readme-verification") == example
