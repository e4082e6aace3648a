"""One handler per ``operationId``: thin glue from validated input to the domain and back to JSON.

A handler takes the caller's world, the coerced parameters and the parsed body, and returns
``(status, body)``. The dispatcher runs it inside the world's unit of work.
"""

from __future__ import annotations

from typing import Any

from ...domain import customers, errors, wallets
from ...domain.world import World
from .. import Handler, Result, fields
from . import requests, views

# Operations that add to what a world holds (World.object_count): refused (429) in a full world.
GROWS_WORLD = frozenset({"createCustomer", "createWallet", "topUpWallet", "terminateWallet"})


def create_wallet(world: World, params, body) -> Result:
    return 200, views.wallet(wallets.create(world, requests.new_wallet(world, body)))


def get_wallet(world: World, params, body) -> Result:
    return 200, views.wallet(wallets.get(world, params["id"]))


def update_wallet(world: World, params, body) -> Result:
    wallet, changes = requests.wallet_changes(world, params["id"], body)
    return 200, views.wallet(wallets.update(world, wallet, changes))


def top_up_wallet(world: World, params, body) -> Result:
    """Credit a wallet. A retry with the same idempotency key gets the first result back."""
    wallet = world.wallets.get(params["id"])
    if wallet is None:
        raise errors.not_found("Wallet not found")
    earlier = requests.replay(world, wallet.id, body)
    if earlier is not None:
        return 200, views.wallet(earlier)
    credit = requests.credit(world, wallet, body)
    return 200, views.wallet(wallets.top_up(world, wallet, credit, requests.fingerprint(body)).wallet)


def terminate_wallet(world: World, params, body) -> Result:
    return 200, views.wallet(wallets.terminate(world, wallets.get(world, params["id"])))


def get_wallet_balance(world: World, params, body) -> Result:
    return 200, views.wallet_balance(world, wallets.get(world, params["id"]), world.now())


def list_wallet_transactions(world: World, params, body) -> Result:
    wallet = wallets.get(world, params["id"])
    query = requests.transaction_query(wallet.id, params)
    found, total = wallets.transactions(world, query) if query is not None else ([], 0)
    return 200, views.page(
        [views.transaction(t) for t in found], total, params.get("limit", 50), params.get("offset", 0)
    )


def list_customer_wallets(world: World, params, body) -> Result:
    return 200, [views.wallet(w) for w in wallets.active_wallets_of(world, params["id"])]


def get_customer_wallets(world: World, params, body) -> Result:
    customer = fields.customer_by_id_or_lookup_key(world, params)
    found = wallets.active_wallets_of(world, customer.id)
    if params.get("include_real_time_balance"):
        now = world.now()
        return 200, [views.wallet_balance(world, w, now) for w in found]
    return 200, [views.wallet(w) for w in found]


def create_customer(world: World, params, body) -> Result:
    return 201, views.customer(world, customers.create(world, requests.new_customer(body)))


def _customer_page(world: World, query: dict[str, Any]) -> Result:
    found, total = customers.search(world, requests.customer_query(query))
    return 200, views.page(
        [views.customer(world, c) for c in found], total, query.get("limit", 50), query.get("offset", 0)
    )


def list_customers(world: World, params, body) -> Result:
    return _customer_page(world, params)


def search_customers(world: World, params, body) -> Result:
    return _customer_page(world, body)


def get_customer(world: World, params, body) -> Result:
    return 200, views.customer(world, customers.get(world, params["id"]))


def update_customer(world: World, params, body) -> Result:
    changes = requests.customer_changes(body)
    return 200, views.customer(world, customers.update(world, customers.get(world, params["id"]), changes))


def delete_customer(world: World, params, body) -> Result:
    customer = world.customers.get(params["id"])
    if customer is None:
        raise errors.not_found("Customer does not exist", "customer does not exist", customer_id=params["id"])
    customers.delete(world, customer)
    return 204, None


def get_customer_by_lookup_key(world: World, params, body) -> Result:
    return 200, views.customer(world, customers.by_lookup_key(world, params["lookup_key"]))


HANDLERS: dict[str, Handler] = {
    "createWallet": create_wallet,
    "getWallet": get_wallet,
    "updateWallet": update_wallet,
    "topUpWallet": top_up_wallet,
    "terminateWallet": terminate_wallet,
    "getWalletBalance": get_wallet_balance,
    "listWalletTransactions": list_wallet_transactions,
    "listCustomerWallets": list_customer_wallets,
    "getCustomerWallets": get_customer_wallets,
    "createCustomer": create_customer,
    "listCustomers": list_customers,
    "searchCustomers": search_customers,
    "getCustomer": get_customer,
    "updateCustomer": update_customer,
    "deleteCustomer": delete_customer,
    "getCustomerByLookupKey": get_customer_by_lookup_key,
}
