"""docs/policies.md's example, run as it is written there (and checked to be there)."""

from __future__ import annotations

from pathlib import Path


# ---- the docs example, verbatim ---------------------------------------------------------------
def test_an_invoiced_top_up_is_paid_an_hour_later(flexprice, flexprice_webhooks):
    flexprice.set_clock("2027-01-01T00:00:00Z", frozen=True)
    flexprice.set_policies(invoiced_top_ups={"after": "PT1H"})
    customer = flexprice.session.post(
        f"{flexprice.base_url}/customers", json={"external_id": "acme", "name": "Acme"}
    ).json()
    wallet = flexprice.session.post(
        f"{flexprice.base_url}/wallets", json={"customer_id": customer["id"], "currency": "usd"}
    ).json()
    bought = flexprice.session.post(
        f"{flexprice.base_url}/wallets/{wallet['id']}/top-up",
        json={"credits_to_add": "40", "transaction_reason": "PURCHASED_CREDIT_INVOICED"},
    ).json()
    assert bought["wallet_transaction"]["transaction_status"] == "pending"

    flexprice.advance_clock("PT1H")  # the invoice is paid: its credits complete
    paid = flexprice_webhooks.wait_for("wallet.transaction.updated")["updated_transaction"]
    assert (paid["transaction_status"], paid["credit_balance_after"]) == ("completed", "40")
    [invoice] = flexprice.invoices()
    assert (invoice["id"], invoice["payment_status"]) == (bought["invoice_id"], "SUCCEEDED")


# ---- end of the docs example ------------------------------------------------------------------


def test_the_page_shows_this_files_example_verbatim():
    here = Path(__file__).read_text(encoding="utf-8")
    start = here.index("def test_an_invoiced_top_up_is_paid_an_hour_later")
    example = here[start : here.index("# ---- end of the docs example")].rstrip()
    page = (Path(__file__).resolve().parents[2] / "docs" / "policies.md").read_text(encoding="utf-8")
    assert f"```python\n{example}\n```" in page
