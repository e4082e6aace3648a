"""docs/usage.md's example, run as it is written there (and checked to be there)."""

from __future__ import annotations

from pathlib import Path

from ..support import docs_example

# ---- docs/usage.md's example, verbatim ------------------------------------------------------
# test_usage.py
METER = {"name": "Calls", "event_name": "api_call", "aggregation": {"type": "COUNT"}, "reset_usage": "NEVER"}
PRICE = {"type": "USAGE", "billing_model": "FLAT_FEE", "amount": "0.10", "price_unit_type": "FIAT"}
MONTHLY = {"currency": "usd", "billing_period": "MONTHLY", "billing_period_count": 1}


def post(flexprice, path, body):
    reply = flexprice.session.post(f"{flexprice.base_url}{path}", json=body)
    assert reply.status_code < 300, reply.text
    return reply.json()


def test_usage_drains_the_wallet_and_auto_top_up_refills_it(flexprice, flexprice_webhooks):
    flexprice.set_clock("2027-01-01T00:00:00Z", frozen=True)
    customer = post(flexprice, "/customers", {"external_id": "acme", "name": "Acme"})
    feature = post(flexprice, "/features", {"name": "API calls", "type": "metered", "meter": METER})
    plan = post(flexprice, "/plans", {"name": "Pay as you go"})
    on_plan = {"entity_type": "PLAN", "entity_id": plan["id"], "meter_id": feature["meter_id"]}
    post(flexprice, "/prices", {**PRICE, **MONTHLY, **on_plan, "invoice_cadence": "ARREAR"})
    post(flexprice, "/subscriptions", {**MONTHLY, "customer_id": customer["id"], "plan_id": plan["id"]})
    refill = {"enabled": True, "threshold": "1", "amount": "20", "invoicing": False}  # at 1 credit or less
    wallet = post(flexprice, "/wallets", {"customer_id": customer["id"], "currency": "usd",
                                          "initial_credits_to_load": 5, "auto_topup": refill})  # fmt: skip

    calls = [{"event_name": "api_call", "external_customer_id": "acme"}] * 45  # $4.50 of usage
    post(flexprice, "/events/bulk", {"events": calls})
    balance = flexprice.session.get(f"{flexprice.base_url}/wallets/{wallet['id']}/balance/real-time").json()
    assert (balance["balance"], balance["real_time_balance"]) == ("5", "0.5")  # usage lowers it at once

    flexprice.advance_clock("PT2S")  # the wallets are evaluated a little after usage arrives
    top_up = flexprice_webhooks.wait_for("wallet.transaction.created", count=2)["transaction"]
    assert (top_up["transaction_reason"], top_up["amount"]) == ("PURCHASED_CREDIT_DIRECT", "20")

    flexprice.advance_clock("P1M")  # the period closes: its invoice takes the credits
    [invoice] = [i for i in flexprice.invoices() if i.get("invoice_type") == "SUBSCRIPTION"]
    assert (invoice["subtotal"], invoice["total_prepaid_credits_applied"]) == ("4.5", "4.5")


# ---- end of docs/usage.md's example ---------------------------------------------------------


def test_the_docs_show_this_files_example_verbatim():
    here = Path(__file__).read_text(encoding="utf-8")
    start = here.index("# test_usage.py")
    example = here[start : here.index("# ---- end of docs/usage.md's example")].rstrip()
    assert docs_example("docs/usage.md", "usage") == example
