"""An app's billing flow with the official SDK (``flexprice`` 2.1.43), beyond wallets: a metered
entitlement on a plan, the customer's entitlements and usage, an invoice preview (a draft, not
kept), the period's close, the period's invoice found and read with its usage line, an offline
payment and a void, a CREDITS payment from a postpaid wallet, the customer's invoice summary.
Every answer is ``modelled`` (the journal says so) and checked against the document."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from flexprice import Flexprice

from ..support import Api
from .conftest import advance, freeze
from .test_entitlements import metered_plan


@pytest.fixture
def fp(live_url: str, http: Api) -> Iterator[Flexprice]:
    with Flexprice(server_url=f"{live_url}/v1", api_key_auth=http.api_key, timeout_ms=10_000) as sdk:
        yield sdk


def test_an_apps_billing_flow_through_the_sdk_is_all_modelled(fp: Flexprice, http: Api) -> None:
    freeze(http)
    feature, plan, _ = metered_plan(fp, amount="2")
    customer = fp.customers.create_customer(external_id="acme", name="Acme")
    subscription = fp.subscriptions.create_subscription(
        customer_id=customer.id, plan_id=plan.id, currency="usd", billing_period="MONTHLY"
    )

    # the feature gate, then usage
    (granted,) = fp.customers.get_customer_entitlements(id=customer.id).features or []
    assert (granted.feature.id, granted.entitlement.usage_limit) == (feature.id, 1000)
    for n in range(3):
        fp.events.ingest_event(event_name="call", external_customer_id="acme", event_id=f"call-{n}")
    (used,) = fp.customers.get_customer_usage_summary(customer_id=customer.id).features or []
    assert (Decimal(str(used.current_usage)), used.total_limit) == (3, 1000)

    # what the period will cost: a draft, not kept
    preview = fp.invoices.get_invoice_preview(subscription_id=subscription.id)
    assert (str(preview.invoice_status), Decimal(str(preview.amount_due))) == ("DRAFT", 6)
    assert fp.invoices.query_invoice(customer_id=customer.id).items in (None, [])

    # the period closes: its invoice is found and read with its usage line
    advance(http, "P1M")
    (listed,) = fp.invoices.query_invoice(customer_id=customer.id, invoice_type="SUBSCRIPTION").items or []
    period = fp.invoices.get_invoice(id=listed.id)
    assert (period.subscription_id, Decimal(str(period.amount_due))) == (subscription.id, 6)
    (line,) = [item for item in period.line_items or [] if item.price_type == "USAGE"]
    assert (Decimal(str(line.quantity)), Decimal(str(line.amount))) == (3, 6)

    # paid offline: the invoice is paid
    if str(period.invoice_status) == "DRAFT":
        fp.invoices.finalize_invoice(id=period.id)
    paid = fp.payments.create_payment(
        amount="6",
        currency="usd",
        destination_id=period.id,
        destination_type="INVOICE",
        payment_method_type="OFFLINE",
    )
    assert str(paid.payment_status) == "SUCCEEDED"
    assert str(fp.invoices.get_invoice(id=period.id).payment_status) == "SUCCEEDED"

    # a one-off invoice voided, another paid with a postpaid wallet's credits
    def one_off(amount: str) -> str:
        made = fp.invoices.create_invoice(
            customer_id=customer.id, currency="usd", amount_due=amount, subtotal=amount, total=amount
        )
        if str(made.invoice_status) == "DRAFT":
            fp.invoices.finalize_invoice(id=made.id)
        return str(made.id)

    voided = one_off("4")
    fp.invoices.void_invoice(id=voided)
    assert str(fp.invoices.get_invoice(id=voided).invoice_status) == "VOIDED"
    owed = one_off("5")
    wallet = fp.wallets.create_wallet(customer_id=customer.id, currency="usd", wallet_type="POST_PAID")
    fp.wallets.top_up_wallet(id=wallet.id, credits_to_add="10", transaction_reason="PURCHASED_CREDIT_DIRECT")
    by_credits = fp.payments.create_payment(
        amount="5",
        currency="usd",
        destination_id=owed,
        destination_type="INVOICE",
        payment_method_type="CREDITS",
        payment_method_id=wallet.id,
    )
    assert str(by_credits.payment_status) == "SUCCEEDED"
    assert Decimal(str(fp.wallets.get_wallet(id=wallet.id).balance)) == 5
    assert str(fp.invoices.get_invoice(id=owed).payment_status) == "SUCCEEDED"

    summary = fp.invoices.get_customer_invoice_summary(id=customer.id)
    assert summary.customer_id == customer.id

    # every answer the app received was modelled
    journal = http.get("/_mock/journal?limit=1000").json["items"]
    api_calls = [entry for entry in journal if entry["path"].startswith("/v1/")]
    assert len(api_calls) > 20
    assert {
        (entry["operation_id"], entry["fidelity"]) for entry in api_calls if entry["fidelity"] != "modelled"
    } == set()
