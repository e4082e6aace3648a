"""The collections 2026-08-22 stores by upstream's conventions (``api.conventions``): what they
are kept as, where they are, their id prefixes (upstream ``internal/types/uuid.go``), their other
keys and the objects their fields must name. A row here is all a collection needs.

Not here: what moves money or changes an invoice (credit notes' creation, finalizing and voiding;
payments), which is modelled or answered 501 until it is.
"""

from __future__ import annotations

from ..conventions import Collection, Ref

READS = frozenset({"get", "list"})
GRANT_SCOPES = tuple(
    (
        "scope",
        scope.upper(),
        f"{scope}_id",
        f"Please provide a valid {scope} ID",
        f"{scope}_id is required for {scope.upper()}-scoped grants",
    )
    for scope in ("plan", "subscription", "addon")
)
ENTITY_BOOKS = {"customer": "customers", "subscription": "subscriptions", "invoice": "invoices"}

COLLECTIONS: tuple[Collection, ...] = (
    Collection(
        "coupons",
        ("/coupons",),
        "coupon_",
        "Coupon with ID {id} was not found",
        "ent: coupon not found",
        keys={"code": "coupon_code"},
        key_not_found="Coupon with code '{key}' was not found",
        deleted="Coupon deleted successfully",
        unique=("coupon_code", "A published coupon with this code already exists in this environment"),
    ),
    # made by subscriptions with coupons, which are not modelled yet: read only
    Collection(
        "coupon_associations",
        ("/coupons/associations",),
        "coupon_assoc_",
        "Coupon association not found",
        "ent: coupon association not found",
        shapes=READS,
    ),
    Collection(
        "tax_rates",
        ("/taxes/rates",),
        "taxrate_",
        "Taxrate with ID {id} was not found",
        "ent: tax rate not found",
        unique=("code", "A taxrate with this code {value} already exists"),
    ),
    Collection(
        "tax_associations",
        ("/taxes/associations",),
        "ta_",
        "TaxAssociation with ID {id} was not found",
        "ent: tax association not found",
        refs=(
            Ref(
                "tax_rate_code",
                "tax_rates",
                by="code",
                keep="tax_rate_id",
                missing="Taxrate with code {id} was not found",
            ),
        ),
        entities=ENTITY_BOOKS,
    ),
    Collection(
        "addons",
        ("/addons",),
        "addon_",
        "Addon with ID {id} was not found",
        "ent: addon not found",
        keys={"lookup": "lookup_key"},
        key_not_found="Addon with lookup key {key} was not found",
        deleted="addon deleted successfully",
        unique=("lookup_key", "Addon with same lookup key already exists"),
    ),
    # the record only: a grant's top-ups of wallets are not modelled yet
    Collection(
        "credit_grants",
        ("/creditgrants",),
        "cg_",
        "Credit grant not found",
        "ent: credit grant not found",
        refs=(Ref("plan_id", "plans"), Ref("subscription_id", "subscriptions"), Ref("addon_id", "addons")),
        deleted="credit grant deleted successfully",
        requires=GRANT_SCOPES,
    ),
    # reads only: creating, finalizing and voiding one adjusts an invoice or a wallet
    Collection(
        "credit_notes",
        ("/creditnotes",),
        "cn_",
        "credit note {id} not found",
        "ent: credit note not found",
        shapes=frozenset({"get"}),
    ),
    Collection("groups", ("/groups",), "group_", "Group not found", "ent: group not found"),
    Collection(
        "alert_settings",
        ("/alerts/setting",),
        "alert_set_",
        "Alert settings not found",
        "ent: alert settings not found",
        entities={
            "wallet": "wallets",
            "feature": "features",
            "subscription": "subscriptions",
            "group": "groups",
        },
    ),
    Collection(
        "price_units",
        ("/prices/units",),
        "price_unit_",
        "Price unit with ID {id} was not found",
        "ent: price unit not found",
        keys={"code": "code"},
        key_not_found="Price unit with code {key} was not found",
        deleted="Price unit deleted successfully",
        unique=("code", "Price unit with this code already exists"),
    ),
    Collection(
        "costsheets",
        ("/costs",),
        "cost_",
        "No costsheet found with the provided ID",
        "costsheet not found",
        deleted="costsheet deleted successfully",
        latest=("active", "No active costsheet found for this tenant", "no active costsheet found"),
    ),
    Collection(
        "scheduled_tasks",
        ("/tasks/scheduled",),
        "schtask_",
        "Scheduled task with given ID not found",
        "scheduled task not found",
    ),
    # users: no read by id upstream (GET /users/me is the caller)
    Collection(
        "users",
        ("/users",),
        "user_",
        "User not found",
        "user not found",
        shapes=frozenset({"create", "search", "update", "delete"}),
    ),
    Collection(
        "checkout_sessions",
        ("/checkout/sessions",),
        "cs_",
        "checkout session {id} not found",
        "ent: checkout session not found",
        refs=(
            Ref(
                "customer_external_id",
                "customers",
                by="external_id",
                keep="customer_id",
                missing="Customer with lookup key {id} was not found",
            ),
        ),
    ),
)

# The stored creates: each adds an object, so a full world refuses it (429, --max-objects-per-world).
GROWS_WORLD = frozenset(
    {
        "createCoupon",
        "createTaxRate",
        "createTaxAssociation",
        "createAddon",
        "createCreditGrant",
        "createGroup",
        "createAlertSettings",
        "createPriceUnit",
        "createCostsheet",
        "createScheduledTask",
        "createUser",
        "createCheckoutSession",
    }
)
