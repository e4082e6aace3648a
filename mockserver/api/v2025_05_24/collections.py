"""The collections 2025-05-24 stores by upstream's conventions (``api.conventions``): of what its
document lists beyond the modelled operations, only credit grants have a collection's shape (the
rest are the account's own: auth, environments, secrets, tasks, tenants, the caller)."""

from __future__ import annotations

from ..conventions import Collection

GRANT_SCOPES = tuple(
    (
        "scope",
        scope.upper(),
        f"{scope}_id",
        f"Please provide a valid {scope} ID",
        f"{scope}_id is required for {scope.upper()}-scoped grants",
    )
    for scope in ("plan", "subscription")
)

COLLECTIONS: tuple[Collection, ...] = (
    # the record only: a grant's top-ups of wallets are not modelled yet
    Collection(
        "credit_grants",
        ("/creditgrants",),
        "cg_",
        "Credit grant not found",
        "ent: credit grant not found",
        # no references checked: this version keeps no plans or subscriptions a grant could name
        deleted="credit grant deleted successfully",
        requires=GRANT_SCOPES,
    ),
)

# The stored creates: each adds an object, so a full world refuses it (429, --max-objects-per-world).
GROWS_WORLD = frozenset({"createCreditGrant"})
