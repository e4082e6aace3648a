"""One handler per ``operationId`` of version 2026-08-22: read the request, run the domain,
shape the answer. Each runs inside the world's unit of work.

After an operation that writes a completed credit or debit, the wallet's auto top-up is
evaluated, as the cloud does after every wallet operation.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ...domain import charges, customers, errors, wallets
from ...domain.models import RETRY_EVENT, Wallet
from ...domain.world import World
from .. import Handler, Result, fields
from . import catalog, entitlements, requests, views
from . import invoices as invoices_api
from . import payments as payments_api
from . import usage as usage_api

# Operations that add to what a world holds (World.object_count): refused (429) in a full world.
GROWS_WORLD = (
    frozenset(
        {"createCustomer", "createWallet", "topUpWallet", "debitWallet", "modifyWallet", "terminateWallet"}
    )
    | usage_api.GROWS_WORLD
    | catalog.GROWS_WORLD
    | entitlements.GROWS_WORLD
    | invoices_api.GROWS_WORLD
    | payments_api.GROWS_WORLD
)
BREAKDOWN = ("credits_available_breakdown",)
CACHE_TTL = timedelta(minutes=30)  # how long the cloud keeps a computed real-time balance


def _wallet(world: World, wallet: Wallet) -> dict[str, Any]:
    return views.wallet(world, wallet)


def _breakdown(world: World, wallet: Wallet, expanded: set[str]) -> dict[str, Any]:
    body = views.wallet(world, wallet)
    if expanded:
        body["credits_available_breakdown"] = views.breakdown(world, wallet)
    return body


# ---- wallets -------------------------------------------------------------------------------


def create_wallet(world: World, params, body) -> Result:
    new = requests.new_wallet(world, body)
    wallet = wallets.create(world, new)
    if new.initial_credits > 0:  # only a written credit makes the cloud evaluate auto top-up
        wallets.auto_top_up(world, wallet)
    return 200, _wallet(world, wallet)


def _wallet_list(world: World, query: dict[str, Any]) -> Result:
    # The cloud ignores limit, offset and order here, and always reports a first page of 50.
    requests.page_limits(query, "An unexpected error occurred")
    expanded = requests.expand(query.get("expand"), BREAKDOWN)
    found = wallets.all_wallets(world, query.get("wallet_ids"), query.get("status"))
    return 200, views.page([_breakdown(world, w, expanded) for w in found], len(found), 50, 0)


def list_wallets(world: World, params, body) -> Result:
    return _wallet_list(world, params)


def query_wallet(world: World, params, body) -> Result:
    return _wallet_list(world, body)


def get_wallet(world: World, params, body) -> Result:
    return 200, _wallet(world, wallets.get(world, params["id"]))


def update_wallet(world: World, params, body) -> Result:
    wallet = wallets.get(world, params["id"])
    return 200, _wallet(world, wallets.update(world, wallet, requests.wallet_changes(wallet, body)))


def top_up_wallet(world: World, params, body) -> Result:
    wallet = world.wallets.get(params["id"])
    if wallet is None:
        raise errors.not_found("Wallet not found", "ent: wallet not found")
    credit = requests.credit(world, wallet, body)
    requests.unused_key(world, wallet, credit.idempotency_key, "credit", credit.credits)
    result = wallets.top_up(world, wallet, credit)
    if result.transaction.transaction_status == "completed":  # direct, or an invoice paid at once
        wallets.auto_top_up(world, wallet)
    answer: dict[str, Any] = {"wallet_transaction": views.transaction(world, result.transaction)}
    if result.invoice is not None:
        answer["invoice_id"] = result.invoice.id
    answer["wallet"] = _wallet(world, wallet)
    return 200, answer


def debit_wallet(world: World, params, body) -> Result:
    credits, reason = requests.debit(body)
    wallet = wallets.get(world, params["id"])
    if wallet.wallet_status != wallets.ACTIVE:
        raise errors.invalid_operation(
            "Wallet is not active",
            "wallet is not active",
            wallet_id=wallet.id,
            wallet_status=wallet.wallet_status,
        )
    key = body["idempotency_key"]
    requests.unused_key(world, wallet, key, "debit", credits)
    wallets.debit(
        world,
        wallet,
        credits,
        reason,
        idempotency_key=key,
        description=body.get("description", ""),
        metadata=body.get("metadata"),
    )
    wallets.auto_top_up(world, wallet)
    return 200, _wallet(world, wallet)


def modify_wallet(world: World, params, body) -> Result:
    if body.get("modification_type") != "prepaid_to_postpaid":
        raise errors.validation(
            "Invalid wallet modification request",
            "unknown modification_type",
            modification_type=body.get("modification_type"),
        )
    original = wallets.get(world, params["id"])
    new = wallets.convert_to_postpaid(world, original, requests.transfer_key)
    wallets.auto_top_up(world, new)
    return 200, {"original_wallet": _wallet(world, original), "new_wallet": _wallet(world, new)}


def terminate_wallet(world: World, params, body) -> Result:
    return 200, _wallet(world, wallets.terminate(world, wallets.get(world, params["id"])))


def _max_live(params: dict[str, Any]) -> int | None:
    """The ``x-max-live`` header: seconds, used only when it is a positive integer."""
    raw = (params.get("x-max-live") or "").strip()
    return int(raw) if raw.isdigit() and int(raw) > 0 else None


def _balance(
    world: World, wallet: Wallet, expanded: set[str], from_cache: bool, max_live: int | None = None
) -> dict[str, Any]:
    """The real-time balance: computed now (and remembered), or, when a cached read is asked
    for, the one computed last if it is young enough."""
    now = world.now()
    expand = bool(expanded)
    if wallet.wallet_status != wallets.ACTIVE or wallet.wallet_type == "POST_PAID":
        return views.wallet_balance(world, wallet, expand=expand)
    if from_cache:
        cached = world.balance_cache.get(wallet.id)
        limit = CACHE_TTL if max_live is None else min(CACHE_TTL, timedelta(seconds=max_live))
        if cached is not None and now - cached[1] <= limit:
            return views.wallet_balance(world, wallet, balance=cached[0], cached=True, expand=expand)
    owed = charges.pending(world, wallet)  # once: what is remembered and what is shown
    world.balance_cache[wallet.id] = (wallet.balance - owed.total, now)
    return views.wallet_balance(world, wallet, owed=owed, expand=expand)


def get_wallet_balance(world: World, params, body) -> Result:
    expanded = requests.expand(params.get("expand"), BREAKDOWN)
    wallet = wallets.get(world, params["id"])
    return 200, _balance(world, wallet, expanded, bool(params.get("from_cache")))


def get_wallet_balance_cached(world: World, params, body) -> Result:
    expanded = requests.expand(params.get("expand"), BREAKDOWN)
    wallet = wallets.get(world, params["id"])
    return 200, _balance(world, wallet, expanded, True, _max_live(params))


def _transaction_page(
    world: World, query: dict[str, Any], wallet_ids: tuple[str, ...] | None, expanded: set[str]
) -> Result:
    filters = requests.transaction_query(query, wallet_ids)
    found, total = wallets.transactions(world, filters)
    items = []
    for txn in found:
        item = views.transaction(world, txn)
        wallet = world.wallets[txn.wallet_id]
        if "wallet" in expanded:
            item["wallet"] = views.wallet(world, wallet)
        customer = world.customers.get(wallet.customer_id)
        if "customer" in expanded and customer is not None and customer.status == "published":
            item["customer"] = views.customer(world, customer)
        items.append(item)
    # As in the cloud, the page's offset is the offset of the next page.
    return 200, views.page(items, total, filters.limit, filters.offset + filters.limit)


def get_wallet_transactions(world: World, params, body) -> Result:
    # An unknown wallet has no transactions (200, empty), as in the cloud; expand is ignored here.
    return _transaction_page(world, params, (params["id"],), set())


def query_wallet_transaction(world: World, params, body) -> Result:
    asked = ",".join(filter(None, (params.get("expand"), body.get("expand"))))
    expanded = requests.expand(asked, ("customer", "created_by_user", "wallet"))
    wallet_ids = (body["id"],) if body.get("id") else None
    return _transaction_page(world, body, wallet_ids, expanded)


def get_wallets_by_customer_id(world: World, params, body) -> Result:
    expanded = requests.expand(params.get("expand"), BREAKDOWN)
    return 200, [_breakdown(world, w, expanded) for w in wallets.active_wallets_of(world, params["id"])]


def get_customer_wallets(world: World, params, body) -> Result:
    customer = fields.customer_by_id_or_lookup_key(world, params)
    expanded = requests.expand(params.get("expand"), BREAKDOWN)
    found = wallets.active_wallets_of(world, customer.id)
    if not params.get("include_real_time_balance"):
        return 200, [views.wallet_balance(world, w, real_time=False) for w in found]
    return 200, [
        _balance(world, w, expanded, bool(params.get("from_cache")), _max_live(params)) for w in found
    ]


# ---- customers -----------------------------------------------------------------------------


def create_customer(world: World, params, body) -> Result:
    return 201, views.customer(world, customers.create(world, requests.new_customer(body)))


def _customer_page(world: World, query: dict[str, Any]) -> Result:
    filters = requests.customer_query(query)
    found, total = customers.search(world, filters)
    return 200, views.page(
        [views.customer(world, c) for c in found], total, filters.limit, filters.offset + filters.limit
    )


def list_customers(world: World, params, body) -> Result:
    return _customer_page(world, params)


def query_customer(world: World, params, body) -> Result:
    return _customer_page(world, body)


def get_customer(world: World, params, body) -> Result:
    requests.expand(params.get("expand"), ("integrations",))
    return 200, views.customer(world, customers.get(world, params["id"]))


def _update(world: World, customer_id: str | None, external_id: str | None, body: dict) -> Result:
    if not customer_id and not external_id:
        raise errors.validation(
            "Provide id as query parameter (?id=...) or provide external_customer_id as query "
            "parameter (?external_customer_id=...)",
            "customer id is required",
        )
    if external_id:
        found = customers.by_lookup_key(world, external_id)
        if customer_id and customer_id != found.id:
            raise errors.validation(
                "Providing either id or external_customer_id is sufficient. But when providing "
                "both, ensure both identifiers refer to the same customer.",
                "identifiers differ",
            )
        customer_id = found.id
    assert customer_id is not None
    changes = requests.customer_changes(body)
    customer = customers.get(world, customer_id)
    return 200, views.customer(world, customers.update(world, customer, changes))


def update_customer(world: World, params, body) -> Result:
    return _update(world, params.get("id"), params.get("external_customer_id"), body)


def update_customer_by_id(world: World, params, body) -> Result:
    return _update(world, params["id"], params.get("external_customer_id"), body)


def delete_customer(world: World, params, body) -> Result:
    customers.delete(world, customers.get(world, params["id"]))
    return 204, None


def get_customer_by_external_id(world: World, params, body) -> Result:
    return 200, views.customer(world, customers.by_lookup_key(world, params["external_id"]))


def get_customer_by_lookup_key(world: World, params, body) -> Result:
    return 200, views.customer(world, customers.by_lookup_key(world, params["lookup_key"]))


# ---- webhooks ------------------------------------------------------------------------------


def retry_webhook(world: World, params, body) -> Result:
    """Ask for a system event's webhooks again: the request is itself an event, which the outbox
    acts on once this unit of work is kept (the cloud re-sends at once and answers 202)."""
    event_id = body["system_event_id"]
    if not event_id:
        raise errors.validation("Invalid request format", "system_event_id is required")
    world.emit(RETRY_EVENT, event_id)
    return 202, {
        "success": True,
        "message": "Webhook delivery completed for the system event",
        "system_event_id": event_id,
    }


HANDLERS: dict[str, Handler] = {
    "createWallet": create_wallet,
    "listWallets": list_wallets,
    "queryWallet": query_wallet,
    "getWallet": get_wallet,
    "updateWallet": update_wallet,
    "topUpWallet": top_up_wallet,
    "debitWallet": debit_wallet,
    "modifyWallet": modify_wallet,
    "terminateWallet": terminate_wallet,
    "getWalletBalance": get_wallet_balance,
    "getWalletBalanceCached": get_wallet_balance_cached,
    "getWalletTransactions": get_wallet_transactions,
    "queryWalletTransaction": query_wallet_transaction,
    "getWalletsByCustomerId": get_wallets_by_customer_id,
    "getCustomerWallets": get_customer_wallets,
    "createCustomer": create_customer,
    "listCustomers": list_customers,
    "queryCustomer": query_customer,
    "updateCustomer": update_customer,
    "getCustomer": get_customer,
    "updateCustomerById": update_customer_by_id,
    "deleteCustomer": delete_customer,
    "getCustomerByExternalId": get_customer_by_external_id,
    "getCustomerByLookupKey": get_customer_by_lookup_key,
    "retryWebhook": retry_webhook,
    **usage_api.HANDLERS,
    **catalog.HANDLERS,
    **entitlements.HANDLERS,
    **invoices_api.HANDLERS,
    **payments_api.HANDLERS,
}
