"""A client generated from openapi.yaml (openapi-python-client) parses every response of the sandbox.

The client is generated afresh from the same document on every run, so the spec, the server and
what code generators make of them cannot drift apart unnoticed.
"""

import importlib
import subprocess
import sys
import uuid

import pytest

from mockserver import api

DEFAULT_SPEC = api.load("2025-05-24").spec_path


@pytest.fixture(scope="session")
def generated(tmp_path_factory):
    """The generated package, imported; skipped only if the generator itself is missing."""
    generator = pytest.importorskip("openapi_python_client")
    assert generator
    out = tmp_path_factory.mktemp("client") / "flexprice_generated"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "openapi_python_client",
            "generate",
            "--path",
            str(DEFAULT_SPEC),
            "--output-path",
            str(out),
            "--meta",
            "none",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    sys.path.insert(0, str(out.parent))
    try:
        yield importlib.import_module("flexprice_generated")
    finally:
        sys.path.remove(str(out.parent))


def test_every_operation_parses_with_the_generated_client(generated, live_url):
    from flexprice_generated import AuthenticatedClient, models
    from flexprice_generated.api.customers import (
        create_customer,
        delete_customer,
        get_customer,
        get_customer_by_lookup_key,
        list_customers,
        search_customers,
        update_customer,
    )
    from flexprice_generated.api.wallets import (
        create_wallet,
        get_customer_wallets,
        get_wallet,
        get_wallet_balance,
        list_customer_wallets,
        list_wallet_transactions,
        terminate_wallet,
        top_up_wallet,
        update_wallet,
    )

    key = f"sk_gen_{uuid.uuid4().hex}"
    client = AuthenticatedClient(
        base_url=live_url + "/v1",
        token=key,
        prefix="",
        auth_header_name="x-api-key",
        raise_on_unexpected_status=True,
    )

    def ok(response, status, model):
        assert response.status_code == status, response.content
        if model is None:
            assert response.parsed is None
        elif isinstance(model, list):
            assert isinstance(response.parsed, list)
            assert all(isinstance(item, model[0]) for item in response.parsed)
        else:
            assert isinstance(response.parsed, model), response.content
        return response.parsed

    customer = ok(
        create_customer.sync_detailed(
            client=client,
            body=models.CreateCustomerRequest(external_id="gen-1", name="Generated Inc.", email="g@x.io"),
        ),
        201,
        models.CustomerResponse,
    )
    wallet = ok(
        create_wallet.sync_detailed(
            client=client,
            body=models.CreateWalletRequest(
                customer_id=customer.id, currency="usd", initial_credits_to_load=10, conversion_rate=2
            ),
        ),
        200,
        models.WalletResponse,
    )
    assert wallet.balance == 20 and wallet.wallet_status == models.WalletStatus.ACTIVE
    ok(get_wallet.sync_detailed(wallet.id, client=client), 200, models.WalletResponse)
    ok(
        update_wallet.sync_detailed(
            wallet.id, client=client, body=models.UpdateWalletRequest(name="Renamed")
        ),
        200,
        models.WalletResponse,
    )
    topped = ok(
        top_up_wallet.sync_detailed(
            wallet.id,
            client=client,
            body=models.TopUpWalletRequest(
                idempotency_key="gen-k1",
                transaction_reason=models.TransactionReason.PURCHASED_CREDIT_DIRECT,
                credits_to_add=5,
            ),
        ),
        200,
        models.WalletResponse,
    )
    assert topped.credit_balance == 15
    ok(get_wallet_balance.sync_detailed(wallet.id, client=client), 200, models.WalletBalanceResponse)
    page = ok(
        list_wallet_transactions.sync_detailed(wallet.id, client=client, limit=10),
        200,
        models.ListWalletTransactionsResponse,
    )
    assert len(page.items) == 2 and page.pagination.total == 2
    ok(list_customer_wallets.sync_detailed(customer.id, client=client), 200, [models.WalletResponse])
    ok(
        get_customer_wallets.sync_detailed(client=client, lookup_key="gen-1", include_real_time_balance=True),
        200,
        [models.WalletResponse],
    )
    ok(get_customer.sync_detailed(customer.id, client=client), 200, models.CustomerResponse)
    ok(get_customer_by_lookup_key.sync_detailed("gen-1", client=client), 200, models.CustomerResponse)
    ok(
        update_customer.sync_detailed(
            customer.id, client=client, body=models.UpdateCustomerRequest(name="Still Generated")
        ),
        200,
        models.CustomerResponse,
    )
    ok(list_customers.sync_detailed(client=client), 200, models.ListCustomersResponse)
    ok(
        search_customers.sync_detailed(client=client, body=models.CustomerFilter(external_id="gen-1")),
        200,
        models.ListCustomersResponse,
    )
    closed = ok(terminate_wallet.sync_detailed(wallet.id, client=client), 200, models.WalletResponse)
    assert closed.wallet_status == models.WalletStatus.CLOSED
    ok(delete_customer.sync_detailed(customer.id, client=client), 204, None)

    # Errors parse too: the envelope for 400/404/409, the cloud's bare body for 401.
    error = ok(terminate_wallet.sync_detailed(wallet.id, client=client), 400, models.ErrorResponse)
    assert error.error.message == "Wallet is already terminated"
    ok(get_wallet.sync_detailed("wallet_nope", client=client), 404, models.ErrorResponse)
    ok(
        create_customer.sync_detailed(
            client=client, body=models.CreateCustomerRequest(external_id="gen-2", name="A")
        ),
        201,
        models.CustomerResponse,
    )
    ok(
        create_customer.sync_detailed(
            client=client, body=models.CreateCustomerRequest(external_id="gen-2", name="B")
        ),
        409,
        models.ErrorResponse,
    )
    anonymous = AuthenticatedClient(
        base_url=live_url + "/v1", token="", prefix="", auth_header_name="x-api-key"
    )
    ok(get_wallet.sync_detailed(wallet.id, client=anonymous), 401, models.UnauthorizedError)
