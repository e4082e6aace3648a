"""Upstream's id prefixes, by the collection a path names.

Upstream gives every object an id of a fixed prefix and a ULID (``internal/types/uuid.go``,
the ``UUID_PREFIX_*`` constants, each used where that object is made: ``internal/api/dto/*.go``,
``internal/ee/service/*.go``). The prefix cannot be derived from the path (``/creditgrants``
makes ``cg_``, ``/taxes/rates`` makes ``taxrate_``, ``/tasks/scheduled`` makes ``schtask_``),
hence one table. Prefixes carry their trailing underscore, as the sandbox's ids do.
"""

from __future__ import annotations

import re

# Collection path base (as in the document, without the server's ``/v1``) -> the prefix of the
# objects it holds. ``{}`` stands for any path parameter. Sub-collections are listed when they
# hold other objects than their parent (``/plans/{}/entitlements`` holds entitlements).
PREFIXES: dict[str, str] = {
    "/addons": "addon_",  # UUID_PREFIX_ADDON
    "/addons/{}/creditgrants": "cg_",
    "/addons/{}/entitlements": "ent_",
    "/alerts": "alert_",  # UUID_PREFIX_ALERT_LOG (alert logs, /alerts/search)
    "/alerts/setting": "alert_set_",  # UUID_PREFIX_ALERT_SETTINGS
    "/checkout/sessions": "cs_",  # UUID_PREFIX_CHECKOUT_SESSION
    "/costs": "cost_",  # UUID_PREFIX_COSTSHEET
    "/coupons": "coupon_",  # UUID_PREFIX_COUPON
    "/coupons/associations": "coupon_assoc_",  # UUID_PREFIX_COUPON_ASSOCIATION
    "/creditgrants": "cg_",  # UUID_PREFIX_CREDIT_GRANT
    "/creditnotes": "cn_",  # UUID_PREFIX_CREDIT_NOTE
    "/customers": "cust_",  # UUID_PREFIX_CUSTOMER
    "/customers/{}/entitlements": "ent_",
    "/customers/external/{}/entitlements": "ent_",
    "/customers/external/{}/subscriptions": "subs_",
    "/customers/{}/grants/upcoming": "cga_",  # UUID_PREFIX_CREDIT_GRANT_APPLICATION
    "/customers/{}/invoices": "inv_",
    "/customers/wallets": "wallet_",
    "/customers/{}/wallets": "wallet_",
    "/entitlements": "ent_",  # UUID_PREFIX_ENTITLEMENT
    "/environments": "env_",  # UUID_PREFIX_ENVIRONMENT
    "/events": "event_",  # UUID_PREFIX_EVENT
    "/features": "feat_",  # UUID_PREFIX_FEATURE
    "/groups": "group_",  # UUID_PREFIX_GROUP
    "/integrations/link": "eim_",  # UUID_PREFIX_ENTITY_INTEGRATION_MAPPING
    "/integrations/mappings": "eim_",
    "/invoices": "inv_",  # UUID_PREFIX_INVOICE
    "/meters": "meter_",  # UUID_PREFIX_METER
    "/payments": "pay_",  # UUID_PREFIX_PAYMENT
    "/plans": "plan_",  # UUID_PREFIX_PLAN
    "/plans/{}/creditgrants": "cg_",
    "/plans/{}/entitlements": "ent_",
    "/prices": "price_",  # UUID_PREFIX_PRICE
    "/prices/units": "price_unit_",  # UUID_PREFIX_PRICE_UNIT
    "/secrets": "secret_",  # UUID_PREFIX_SECRET (API keys and integration credentials)
    "/settings": "setting_",  # UUID_PREFIX_SETTING
    "/subscriptions": "subs_",  # UUID_PREFIX_SUBSCRIPTION
    "/subscriptions/addon": "addon_assoc_",  # UUID_PREFIX_ADDON_ASSOCIATION
    "/subscriptions/lineitems": "subs_line_",  # UUID_PREFIX_SUBSCRIPTION_LINE_ITEM
    "/subscriptions/schedules": "sched_",  # UUID_PREFIX_SUBSCRIPTION_SCHEDULE
    "/subscriptions/{}/addons/associations": "addon_assoc_",
    "/subscriptions/{}/change": "subsc_",  # UUID_PREFIX_SUBSCRIPTION_CHANGE
    "/subscriptions/{}/entitlements": "ent_",
    "/subscriptions/{}/grants/upcoming": "cga_",
    "/subscriptions/{}/lineitems": "subs_line_",
    "/subscriptions/{}/pause": "pause_",  # UUID_PREFIX_SUBSCRIPTION_PAUSE
    "/subscriptions/{}/pauses": "pause_",
    "/subscriptions/{}/phases": "phase_",  # UUID_PREFIX_SUBSCRIPTION_PHASE
    "/subscriptions/{}/schedules": "sched_",
    "/subscription-schedules": "sched_",
    "/tasks": "task_",  # UUID_PREFIX_TASK
    "/tasks/scheduled": "schtask_",  # a literal in upstream's scheduled_task.go
    "/taxes/associations": "ta_",  # UUID_PREFIX_TAX_ASSOCIATION
    "/taxes/rates": "taxrate_",  # UUID_PREFIX_TAX_RATE
    "/tenant": "tenant_",
    "/tenants": "tenant_",  # UUID_PREFIX_TENANT
    "/usage-records": "usg_rec_",  # UUID_PREFIX_USAGE_RECORD
    "/users": "user_",  # UUID_PREFIX_USER
    "/wallets": "wallet_",  # UUID_PREFIX_WALLET
    "/wallets/transactions": "wtxn_",  # UUID_PREFIX_WALLET_TRANSACTION
    "/wallets/{}/transactions": "wtxn_",
    "/workflows": "wf_",  # UUID_PREFIX_WORKFLOW
}

_PARAM = re.compile(r"^(\{[^}]*\}|<[^>]*>)$")


def _segments(path: str) -> list[str]:
    parts = [part for part in path.split("/") if part]
    # The document's paths carry no server url, but a few (upstream's doubled ``/v1``) do.
    while parts and parts[0] == "v1":
        parts = parts[1:]
    return ["{}" if _PARAM.match(part) else part for part in parts]


_BASES = {tuple(_segments(base)): prefix for base, prefix in PREFIXES.items()}
_LONGEST = max(len(base) for base in _BASES)


def prefix_for(path: str) -> str | None:
    """The prefix of the ids of the objects ``path`` (a document path such as
    ``/prices/units/{id}``, with or without ``/v1``) holds: the longest base it starts with
    wins; None where upstream gives those objects no prefixed id (roles, marketplace)."""
    segments = tuple(_segments(path))
    for length in range(min(len(segments), _LONGEST), 0, -1):
        prefix = _BASES.get(segments[:length])
        if prefix is not None:
            return prefix
    return None
