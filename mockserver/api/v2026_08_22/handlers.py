"""The handlers of version 2026-08-22, one per ``operationId``, gathered from its resource
groups: each group's module holds its requests, handlers and views together. A handler reads
the request, runs the domain and shapes the answer, inside the world's unit of work.
"""

from __future__ import annotations

from .. import Handler
from . import (
    catalog,
    customers,
    entitlements,
    events,
    invoices,
    payments,
    subscriptions,
    wallets,
    webhooks,
)

# Operations that add to what a world holds (World.object_count): refused (429) in a full world.
GROWS_WORLD = (
    wallets.GROWS_WORLD
    | customers.GROWS_WORLD
    | events.GROWS_WORLD
    | subscriptions.GROWS_WORLD
    | catalog.GROWS_WORLD
    | entitlements.GROWS_WORLD
    | invoices.GROWS_WORLD
    | payments.GROWS_WORLD
)

HANDLERS: dict[str, Handler] = {
    **wallets.HANDLERS,
    **customers.HANDLERS,
    **webhooks.HANDLERS,
    **events.HANDLERS,
    **subscriptions.HANDLERS,
    **catalog.HANDLERS,
    **entitlements.HANDLERS,
    **invoices.HANDLERS,
    **payments.HANDLERS,
}
