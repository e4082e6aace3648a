"""The version's handlers, one per ``operationId``, gathered from its resource groups.

A handler takes the caller's world, the coerced parameters and the parsed body, and returns
``(status, body)``. The dispatcher runs it inside the world's unit of work. Each group's module
holds its requests, handlers and views together.
"""

from __future__ import annotations

from .. import Handler
from . import (
    customers,
    wallets,
)

# Operations that add to what a world holds (World.object_count): refused (429) in a full world.
GROWS_WORLD = customers.GROWS_WORLD | wallets.GROWS_WORLD

HANDLERS: dict[str, Handler] = {
    **wallets.HANDLERS,
    **customers.HANDLERS,
}
