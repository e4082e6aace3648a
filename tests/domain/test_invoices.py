"""The invoice rules on their own, in upstream's words: one-off creation, finalize once, what may
be voided, how the payment status moves, and payments from POST_PAID wallets only."""

from __future__ import annotations

from decimal import Decimal

import pytest

from mockserver.domain import customers, errors, invoices, wallets
from mockserver.state.store import Store

STORE = Store()


@pytest.fixture
def world():
    with STORE.session("sk_invoices") as world:
        world.clear()
        customers.create(world, {"external_id": "acme", "name": "Acme"})
        yield world


def customer_id(world) -> str:
    return next(iter(world.customers))


def one_off(world, amount="12", **fields) -> invoices.NewInvoice:
    line = invoices.NewLine(amount=Decimal(amount), quantity=Decimal(1), display_name="Setup")
    values = dict(customer_id=customer_id(world), currency="usd", amount_due=Decimal(amount), lines=(line,))
    return invoices.NewInvoice(**{**values, **fields})


def wallet(world, kind: str, credits: str):
    return wallets.create(
        world,
        wallets.NewWallet(
            customer_id=customer_id(world),
            currency="usd",
            wallet_type=kind,
            name=kind,
            conversion_rate=Decimal(1),
            topup_conversion_rate=Decimal(1),
            config={"allowed_price_types": ["ALL"]},
            initial_credits=Decimal(credits),
        ),
    )


def refused(call, *args) -> errors.ApiError:
    with pytest.raises(errors.ApiError) as raised:
        call(*args)
    return raised.value


def test_a_one_off_is_finalized_at_once_and_only_once(world):
    invoice = invoices.create(world, one_off(world))
    assert (invoice.invoice_type, invoice.invoice_status, invoice.due) == ("ONE_OFF", "FINALIZED", 12)
    assert invoice.lines[0]["id"].startswith("inv_line_")
    error = refused(invoices.finalize, world, invoice)
    assert (error.status, error.message) == (400, "invoice must be in draft status to be finalized")


def test_creation_is_refused_whole_when_the_lines_do_not_add_up(world):
    error = refused(invoices.create, world, one_off(world, amount_due=Decimal("13")))
    assert error.message == "sum of line item amounts 12 must equal invoice amount_due 13"
    assert not world.invoices
    error = refused(invoices.create, world, one_off(world, customer_id="cust_nope"))
    assert error.status == 404 and not world.invoices


def test_nothing_to_charge_is_skipped_and_never_paid(world):
    invoice = invoices.create(world, one_off(world, amount="0"))
    assert invoice.invoice_status == "SKIPPED"
    assert invoices.attempt_payment(world, invoice) == 0


def test_the_payment_status_moves_only_as_upstream_allows(world):
    invoice = invoices.create(world, one_off(world))
    invoices.update_payment_status(world, invoice, "FAILED", None)
    invoices.update_payment_status(world, invoice, "PENDING", Decimal(5))
    assert (invoice.amount_paid, invoice.remaining) == (5, 7)
    invoices.update_payment_status(world, invoice, "SUCCEEDED", None)
    assert (invoice.amount_paid, invoice.remaining) == (12, 0)
    error = refused(invoices.update_payment_status, world, invoice, "PENDING", None)
    assert error.message == "invalid payment status transition from SUCCEEDED to PENDING"
    error = refused(invoices.update_payment_status, world, invoice, "SUCCEEDED", Decimal(-1))
    assert error.message == "amount must be non-negative"


def test_only_postpaid_wallets_pay_an_attempt_and_a_voided_invoice_refunds_it(world):
    prepaid = wallet(world, "PRE_PAID", "50")
    postpaid = wallet(world, "POST_PAID", "5")
    invoice = invoices.create(world, one_off(world))
    assert invoices.attempt_payment(world, invoice) == 5  # what the postpaid wallet holds
    assert (invoice.payment_status, invoice.remaining, postpaid.balance, prepaid.balance) == (
        "PENDING",
        7,
        0,
        50,
    )
    debit = world.transactions[postpaid.id][-1]
    assert (debit.transaction_reason, debit.reference_type) == ("INVOICE_PAYMENT", "PAYMENT")
    assert debit.reference_id.startswith("pay_")
    refund = invoices.void(world, invoice)
    assert refund is not None and (refund.transaction_reason, refund.credit_amount) == (
        "INVOICE_VOID_REFUND",
        5,
    )
    assert (invoice.invoice_status, invoice.payment_status) == ("VOIDED", "REFUNDED")
    assert refused(invoices.void, world, invoice).message == "invoice status - VOIDED is not allowed"
    assert refused(invoices.attempt_payment, world, invoice).message == (
        "Invoice must be finalized before attempting payment"
    )


def test_the_summary_follows_the_currencies_of_live_subscriptions(world):
    assert invoices.summaries(world, customer_id(world)) == []
    assert invoices.summaries(world, "cust_nobody") == []
