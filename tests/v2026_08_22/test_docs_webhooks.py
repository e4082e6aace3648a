"""docs/webhooks.md's test example, run as it is written there (and checked to be there)."""

from __future__ import annotations

from pathlib import Path

from ..support import docs_example


# ---- docs/webhooks.md's example, verbatim ---------------------------------------------------
# test_webhooks.py
def test_a_top_up_is_announced_to_the_app(flexprice, flexprice_webhooks):
    wallet = flexprice.session.post(
        f"{flexprice.base_url}/wallets", json={"customer_id": "cust_1", "currency": "usd"}
    ).json()
    flexprice.session.post(
        f"{flexprice.base_url}/wallets/{wallet['id']}/top-up",
        json={"credits_to_add": "25", "transaction_reason": "PURCHASED_CREDIT_DIRECT"},
    )

    event = flexprice_webhooks.wait_for("wallet.transaction.created")  # signature verified

    assert event["transaction"]["wallet_id"] == wallet["id"]
    assert event["transaction"]["credit_amount"] == "25"


def test_a_receiver_that_fails_is_retried_on_the_sandbox_clock(flexprice, flexprice_webhooks):
    flexprice.set_clock("2027-01-01T00:00:00Z", frozen=True)
    flexprice_webhooks.status = 500  # the app is down
    flexprice.session.post(f"{flexprice.base_url}/customers", json={"external_id": "a", "name": "A"})
    flexprice.drain_webhooks()
    flexprice_webhooks.status = 200  # ...and back
    flexprice.advance_clock("PT5S")  # the second attempt is due
    flexprice.drain_webhooks()

    assert flexprice_webhooks.wait_for("customer.created")["customer"]["external_id"] == "a"
    [delivery] = flexprice.webhook_deliveries(event_type="customer.created")
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 200]


# ---- end of docs/webhooks.md's example ----------------------------------------------------


def test_the_docs_show_this_files_example_verbatim():
    here = Path(__file__).read_text(encoding="utf-8")
    start = here.index("# test_webhooks.py")
    example = here[start : here.index("# ---- end of docs/webhooks.md's example")].rstrip()
    assert docs_example("docs/webhooks.md", "webhooks") == example
