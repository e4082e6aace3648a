"""The official Python SDK (``flexprice`` 2.1) drives the sandbox's 2026-08-22 API end to end,
over a real socket, and every answer it gets carries the values the cloud would give.

What this proves, with balances, credit amounts, statuses, reasons, counts and messages checked:

- customers: create (201), get by id and by external id, search, update through
  ``PUT /customers?id=``, delete (204) once their wallets are terminated, and what is left after;
- wallets: PRE_PAID defaults (name, USAGE config, lower-case currency, rates), initial credits,
  one active wallet per currency and type (409);
- top-ups: direct with an idempotency key (the key again is a 409), by money at the top-up
  rate, invoiced (pending until the sandbox pays the invoice; failed when it voids it);
- the manual debit (not in the SDK: plain HTTP), overdraft included;
- the real-time balance with its credit breakdown, transactions (newest first; the page's offset
  is offset + limit, as in the cloud) and their search by wallet ``id``, wallet search, a
  customer's wallets by both routes, terminate and terminate again;
- the SDK's typed errors: ``ErrorResponse`` for the statuses an operation declares (400, and 404
  where declared), ``FlexpriceDefaultError`` with the JSON body for the others (every 409).

Facts about the SDK: /work/notes/sdk-2.1.md; about the cloud: the upstream reference notes.
Requests the SDK cannot make go through the suite's ``http`` client, as the same API key, so
their replies are checked against the version's document too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from flexprice import Flexprice, models
from flexprice.models import errors

from ..support import Api

FIELD_REQUIRED = (
    "Key: 'CreateCustomerRequest.{0}' Error:Field validation for '{0}' failed on the 'required' tag"
)


@pytest.fixture
def fp(live_url: str, http: Api) -> Iterator[Flexprice]:
    """The SDK against the session's live sandbox, as the API key of ``http`` (a fresh world)."""
    with Flexprice(server_url=f"{live_url}/v1", api_key_auth=http.api_key, timeout_ms=10_000) as sdk:
        yield sdk


# ---- helpers ----------------------------------------------------------------------------------


def error_json(exc: errors.FlexpriceError) -> dict:
    """The server's error body, whichever SDK error class carries it."""
    return json.loads(exc.body)


def assert_error_response(exc: errors.FlexpriceError, status: int, code: str, message: str) -> None:
    """A status the operation declares: the SDK parsed the flat error body into ``exc.data``."""
    assert type(exc) is errors.ErrorResponse, (type(exc), exc.body)
    assert (exc.status_code, exc.data.http_status_code) == (status, status)
    assert (exc.data.code, exc.data.message) == (code, message)
    assert str(exc) == message


def assert_default_error(exc: errors.FlexpriceError, status: int, code: str, message: str) -> None:
    """A status the operation does not declare (every 409): only the raw JSON body."""
    assert type(exc) is errors.FlexpriceDefaultError, (type(exc), exc.body)
    assert exc.status_code == status
    body = error_json(exc)
    assert (body["code"], body["message"], body["http_status_code"]) == (code, message, status)


def transactions(fp: Flexprice, wallet_id: str, **filters) -> models.ListWalletTransactionsResponse:
    # The path's {id} is `id_path_parameter` (`id_query_parameter` would be a ?id=).
    return fp.wallets.get_wallet_transactions(id_path_parameter=wallet_id, **filters)


def debit(http: Api, wallet_id: str, credits: str, key: str) -> models.WalletResponse:
    """POST /wallets/{id}/debit, which the SDK lacks; the answer still parses as its WalletResponse."""
    reply = http.post(
        f"/v1/wallets/{wallet_id}/debit",
        {"credits": credits, "transaction_reason": "MANUAL_BALANCE_DEBIT", "idempotency_key": key},
    )
    assert reply.status == 200, reply.json
    return models.WalletResponse.model_validate(reply.json)


def settle(http: Api, invoice_id: str, outcome: str) -> dict:
    """The sandbox control that pays or voids the invoice of an invoiced top-up."""
    reply = http.post(f"/_mock/invoices/{invoice_id}/{outcome}")
    assert reply.status == 200, reply.json
    return reply.json


def balances(w) -> tuple[str, str]:
    return w.credit_balance, w.balance


def paging(page) -> tuple[int, int, int]:
    return page.pagination.total, page.pagination.limit, page.pagination.offset


# ---- customers ------------------------------------------------------------------------------


def test_customer_lifecycle(fp: Flexprice):
    customers = fp.customers
    cust = customers.create_customer(external_id="acme-42", name="Acme Inc.", email="billing@acme.example")
    other = customers.create_customer(external_id="globex-7", name="Globex")
    assert cust.id.startswith("cust_")
    assert (cust.external_id, cust.name, cust.email) == ("acme-42", "Acme Inc.", "billing@acme.example")
    assert (cust.status, cust.timezone) == ("published", "UTC")

    assert customers.get_customer(id=cust.id).external_id == "acme-42"
    assert customers.get_customer_by_external_id(external_id="acme-42").id == cust.id
    assert customers.get_customer_by_external_id(external_id="globex-7").id == other.id

    found = customers.query_customer(external_id="acme-42", limit=5)
    assert [c.id for c in found.items] == [cust.id]
    assert (found.pagination.total, found.pagination.limit) == (1, 5)
    assert {c.id for c in customers.query_customer(limit=5).items} == {cust.id, other.id}

    # PUT /customers?id=: the fields sent change, the others stay.
    updated = customers.update_customer(id=cust.id, name="Acme Corp", metadata={"tier": "gold"})
    assert (updated.id, updated.name, updated.metadata) == (cust.id, "Acme Corp", {"tier": "gold"})
    assert (updated.external_id, updated.email) == ("acme-42", "billing@acme.example")
    assert customers.get_customer(id=cust.id).name == "Acme Corp"

    # Delete: refused (400) while the customer has an active wallet, 204 once it is terminated.
    wallet = fp.wallets.create_wallet(customer_id=cust.id, currency="usd", initial_credits_to_load="5")
    with pytest.raises(errors.FlexpriceError) as exc:
        customers.delete_customer(id=cust.id)
    assert_error_response(
        exc.value, 400, "invalid_operation", "Customer cannot be deleted due to associated wallets"
    )
    fp.wallets.terminate_wallet(id=wallet.id)
    assert customers.delete_customer(id=cust.id) is None

    # Archived: still readable by id, gone from the lookup and the search; deleting again is a 404
    # that deleteCustomer does not declare.
    assert customers.get_customer(id=cust.id).status == "archived"
    with pytest.raises(errors.FlexpriceError) as exc:
        customers.get_customer_by_external_id(external_id="acme-42")
    assert_error_response(exc.value, 404, "not_found", "Customer with lookup key acme-42 was not found")
    assert [c.id for c in customers.query_customer(limit=5).items] == [other.id]
    with pytest.raises(errors.FlexpriceError) as exc:
        customers.delete_customer(id=cust.id)
    assert_default_error(exc.value, 404, "not_found", "Customer does not exist")


# ---- wallets --------------------------------------------------------------------------------


def test_wallet_flow(fp: Flexprice, http: Api):
    wallets = fp.wallets
    cust = fp.customers.create_customer(external_id="acme-42", name="Acme Inc.")

    # A PRE_PAID wallet by default, with 100 initial credits (a FREE_CREDIT_GRANT).
    w = wallets.create_wallet(customer_id=cust.id, currency="usd", initial_credits_to_load="100")
    assert w.id.startswith("wallet_")
    assert (w.customer_id, w.currency, w.wallet_type) == (cust.id, "usd", "PRE_PAID")
    assert w.wallet_status == "active"
    assert w.name == "Prepaid Wallet - USD"
    assert w.config.allowed_price_types == ["USAGE"]
    assert (w.conversion_rate, w.topup_conversion_rate) == ("1", "1")
    assert balances(w) == ("100", "100")

    with pytest.raises(errors.FlexpriceError) as exc:  # same customer, currency and type
        wallets.create_wallet(customer_id=cust.id, currency="USD")
    assert_default_error(
        exc.value,
        409,
        "already_exists",
        "A customer can only have one active wallet per currency and wallet type",
    )

    # Direct top-up of 50 credits; its idempotency key is its reference.
    top = wallets.top_up_wallet(
        id=w.id,
        credits_to_add="50",
        transaction_reason="PURCHASED_CREDIT_DIRECT",
        idempotency_key="order-1001",
    )
    txn = top.wallet_transaction
    assert top.invoice_id is None
    assert balances(top.wallet) == ("150", "150")
    assert txn.id.startswith("wtxn_")
    assert (txn.type, txn.transaction_status, txn.transaction_reason) == (
        "credit",
        "completed",
        "PURCHASED_CREDIT_DIRECT",
    )
    assert (txn.credit_amount, txn.amount, txn.credit_balance_before, txn.credit_balance_after) == (
        "50",
        "50",
        "100",
        "150",
    )
    assert (txn.reference_type, txn.reference_id, txn.idempotency_key) == (
        "EXTERNAL",
        "order-1001",
        "order-1001",
    )

    with pytest.raises(errors.FlexpriceError) as exc:  # the same key again: nothing is credited
        wallets.top_up_wallet(
            id=w.id,
            credits_to_add="50",
            transaction_reason="PURCHASED_CREDIT_DIRECT",
            idempotency_key="order-1001",
        )
    assert_default_error(
        exc.value, 409, "already_exists", "A wallet transaction with this idempotency key already exists"
    )
    assert error_json(exc.value)["details"]["idempotency_key"] == "order-1001"
    assert wallets.get_wallet(id=w.id).credit_balance == "150"

    # Invoiced top-up: pending with an invoice, the balance unchanged until the invoice is paid.
    top = wallets.top_up_wallet(
        id=w.id, credits_to_add="25", transaction_reason="PURCHASED_CREDIT_INVOICED", idempotency_key="inv-1"
    )
    pending = top.wallet_transaction
    assert top.invoice_id.startswith("inv_")
    assert (pending.type, pending.transaction_status, pending.credit_amount) == ("credit", "pending", "25")
    assert (pending.credit_balance_before, pending.credit_balance_after) == ("150", "150")
    assert (pending.reference_type, pending.reference_id) == ("EXTERNAL", "inv-1")
    assert balances(top.wallet) == ("150", "150")
    assert wallets.get_wallet(id=w.id).credit_balance == "150"

    paid = settle(http, top.invoice_id, "pay")
    assert (paid["invoice"]["status"], paid["wallet_transaction"]["id"]) == ("paid", pending.id)
    assert paid["wallet_transaction"]["transaction_status"] == "completed"
    assert paid["wallet"]["credit_balance"] == "175"
    assert balances(wallets.get_wallet(id=w.id)) == ("175", "175")

    # Another invoiced top-up, voided: its transaction fails and the balance does not move.
    top = wallets.top_up_wallet(
        id=w.id, credits_to_add="10", transaction_reason="PURCHASED_CREDIT_INVOICED", idempotency_key="inv-2"
    )
    voided = settle(http, top.invoice_id, "void")
    assert (voided["invoice"]["status"], voided["wallet_transaction"]["id"]) == (
        "voided",
        top.wallet_transaction.id,
    )
    assert voided["wallet_transaction"]["transaction_status"] == "failed"
    assert balances(wallets.get_wallet(id=w.id)) == ("175", "175")

    # Manual debit of 30: it consumes the largest grant first (the 100 free credits).
    assert balances(debit(http, w.id, "30", "debit-1")) == ("145", "145")

    bal = wallets.get_wallet_balance(id=w.id, expand="credits_available_breakdown")
    assert (bal.real_time_credit_balance, bal.real_time_balance, bal.credit_balance) == ("145", "145", "145")
    assert bal.is_cached_fallback is False
    assert (bal.unpaid_invoices_amount, bal.current_period_usage) == ("0", "0")
    assert (bal.credits_available_breakdown.purchased, bal.credits_available_breakdown.free) == ("75", "70")

    # Transactions, newest first; the page's offset is that of the next page (offset + limit).
    page = transactions(fp, w.id, limit=10)
    assert [(t.transaction_reason, t.type, t.credit_amount, t.transaction_status) for t in page.items] == [
        ("MANUAL_BALANCE_DEBIT", "debit", "30", "completed"),
        ("PURCHASED_CREDIT_INVOICED", "credit", "10", "failed"),
        ("PURCHASED_CREDIT_INVOICED", "credit", "25", "completed"),
        ("PURCHASED_CREDIT_DIRECT", "credit", "50", "completed"),
        ("FREE_CREDIT_GRANT", "credit", "100", "completed"),
    ]
    assert {t.wallet_id for t in page.items} == {w.id}
    assert paging(page) == (5, 10, 10)
    settled = page.items[2]
    assert settled.id == pending.id
    assert (settled.credit_balance_before, settled.credit_balance_after) == ("150", "175")
    assert page.items[0].idempotency_key == "debit-1"

    second = transactions(fp, w.id, limit=2, offset=2)
    assert [t.id for t in second.items] == [t.id for t in page.items[2:4]]
    assert paging(second) == (5, 2, 4)
    assert [t.id for t in transactions(fp, w.id, type_="debit").items] == [page.items[0].id]

    # Transaction search: the wallet filter is `id`. Every search below sends a paging field: the
    # cloud's search handlers read the limit of a body that has none through a nil filter.
    found = wallets.query_wallet_transaction(id=w.id, limit=10)
    assert [t.id for t in found.items] == [t.id for t in page.items]
    completed_credits = wallets.query_wallet_transaction(
        id=w.id, type_="credit", transaction_status="completed", order="asc", limit=10
    )
    assert [t.credit_amount for t in completed_credits.items] == ["100", "50", "25"]
    direct = wallets.query_wallet_transaction(id=w.id, transaction_reason="PURCHASED_CREDIT_DIRECT", limit=10)
    assert [t.idempotency_key for t in direct.items] == ["order-1001"]

    # A second wallet (EUR), then wallet search and the customer's wallets by both routes.
    eur = wallets.create_wallet(customer_id=cust.id, currency="eur", initial_credits_to_load="20")
    assert (eur.name, eur.currency) == ("Prepaid Wallet - EUR", "eur")

    # The cloud ignores limit and offset here and reports one page of 50.
    everything = wallets.query_wallet(limit=10)
    assert {x.id: x.credit_balance for x in everything.items} == {w.id: "145", eur.id: "20"}
    assert paging(everything) == (2, 50, 0)
    assert [x.id for x in wallets.query_wallet(wallet_ids=[eur.id], limit=10).items] == [eur.id]
    assert {x.id for x in wallets.query_wallet(status="active", limit=10).items} == {w.id, eur.id}

    assert {x.id for x in wallets.get_wallets_by_customer_id(id=cust.id)} == {w.id, eur.id}
    by_id = wallets.get_customer_wallets(id=cust.id)
    assert {x.id: x.credit_balance for x in by_id} == {w.id: "145", eur.id: "20"}
    by_key = wallets.get_customer_wallets(lookup_key="acme-42", include_real_time_balance=True)
    assert {x.id: x.real_time_credit_balance for x in by_key} == {w.id: "145", eur.id: "20"}

    # Terminate: what is left goes out as one WALLET_TERMINATION debit, then the wallet is closed.
    wallets.terminate_wallet(id=w.id)
    closed = wallets.get_wallet(id=w.id)
    assert (closed.wallet_status, closed.credit_balance, closed.balance) == ("closed", "0", "0")
    last = transactions(fp, w.id).items[0]
    assert (last.type, last.transaction_reason, last.credit_amount, last.credit_balance_after) == (
        "debit",
        "WALLET_TERMINATION",
        "145",
        "0",
    )
    assert (last.reference_type, last.idempotency_key) == ("REQUEST", w.id)
    assert [x.id for x in wallets.get_wallets_by_customer_id(id=cust.id)] == [eur.id]
    assert [x.id for x in wallets.query_wallet(status="closed", limit=10).items] == [w.id]
    gone = wallets.get_wallet_balance(id=w.id)
    assert (gone.real_time_credit_balance, gone.real_time_balance) == ("0", "0")
    assert gone.is_cached_fallback is False

    with pytest.raises(errors.FlexpriceError) as exc:
        wallets.terminate_wallet(id=w.id)
    assert_error_response(exc.value, 400, "invalid_operation", "Wallet is already terminated")


def test_top_up_by_amount_and_overdraft(fp: Flexprice, http: Api):
    cust = fp.customers.create_customer(external_id="initech", name="Initech")
    w = fp.wallets.create_wallet(customer_id=cust.id, currency="usd", topup_conversion_rate="2")
    assert (w.conversion_rate, w.topup_conversion_rate) == ("1", "2")
    assert balances(w) == ("0", "0")

    # Money at the top-up rate: 20 / 2 = 10 credits; the transaction's amount is the money paid.
    top = fp.wallets.top_up_wallet(
        id=w.id, amount="20", transaction_reason="PURCHASED_CREDIT_DIRECT", idempotency_key="eur-1"
    )
    txn = top.wallet_transaction
    assert (txn.credit_amount, txn.amount, txn.topup_conversion_rate) == ("10", "20", "2")
    assert balances(top.wallet) == ("10", "10")

    # A manual debit may take more than there is: the balance goes negative.
    assert balances(debit(http, w.id, "15", "overdraft-1")) == ("-5", "-5")
    last = transactions(fp, w.id).items[0]
    assert (last.type, last.transaction_reason, last.credit_amount, last.amount) == (
        "debit",
        "MANUAL_BALANCE_DEBIT",
        "15",
        "15",
    )
    assert (last.credit_balance_before, last.credit_balance_after) == ("10", "-5")
    assert fp.wallets.get_wallet_balance(id=w.id).real_time_credit_balance == "-5"


# ---- typed errors ----------------------------------------------------------------------------


def test_unknown_wallet_is_a_typed_404(fp: Flexprice):
    with pytest.raises(errors.FlexpriceError) as exc:
        fp.wallets.get_wallet(id="wallet_01NOSUCHWALLET00000000000")
    assert_error_response(exc.value, 404, "not_found", "Wallet not found")
    assert error_json(exc.value)["details"] == {"wallet_id": "wallet_01NOSUCHWALLET00000000000"}

    with pytest.raises(errors.FlexpriceError) as exc:
        fp.wallets.top_up_wallet(id="wallet_nope", credits_to_add="1", transaction_reason="FREE_CREDIT_GRANT")
    assert_error_response(exc.value, 404, "not_found", "Wallet not found")


def test_customer_without_name_is_a_typed_400(fp: Flexprice):
    # The SDK requires `name` (it refuses None), so "no name" is name="".
    with pytest.raises(errors.FlexpriceError) as exc:
        fp.customers.create_customer(external_id="nameless", name="")
    assert_error_response(exc.value, 400, "validation_error", "Request validation failed")
    assert error_json(exc.value)["details"] == {"Name": FIELD_REQUIRED.format("Name")}  # not in exc.data
    assert fp.customers.query_customer(external_id="nameless", limit=5).pagination.total == 0
