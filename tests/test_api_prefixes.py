"""Upstream's id prefixes by collection path (``internal/types/uuid.go``)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import mockserver.api
from mockserver.api.prefixes import PREFIXES, prefix_for

DOCUMENTS = sorted(Path(mockserver.api.__file__).parent.glob("v*/openapi.yaml"))


@pytest.mark.parametrize(
    ("path", "prefix"),
    [
        ("/coupons", "coupon_"),
        ("/coupons/{id}", "coupon_"),
        ("/coupons/associations/{id}", "coupon_assoc_"),
        ("/taxes/rates/{id}", "taxrate_"),
        ("/taxes/associations", "ta_"),
        ("/creditgrants/{id}", "cg_"),
        ("/creditnotes/{id}/void", "cn_"),
        ("/entitlements/search", "ent_"),
        ("/addons/lookup/{lookup_key}", "addon_"),
        ("/groups/search", "group_"),
        ("/alerts/setting/{id}", "alert_set_"),
        ("/alerts/search", "alert_"),
        ("/prices/{id}", "price_"),
        ("/prices/units/{id}", "price_unit_"),  # the longest base wins
        ("/costs/{id}", "cost_"),
        ("/tasks/{id}", "task_"),
        ("/tasks/scheduled/{id}/run", "schtask_"),
        ("/users/me", "user_"),
        ("/payments/{id}/process", "pay_"),
        ("/invoices/{id}/void", "inv_"),
        ("/checkout/sessions/{id}", "cs_"),
        ("/secrets/api/keys/{id}", "secret_"),
        ("/environments/{id}/clone", "env_"),
        ("/workflows/search", "wf_"),
        ("/plans/{id}/entitlements", "ent_"),  # a sub-collection of other objects
        ("/plans/{plan_id}/creditgrants", "cg_"),  # whatever the parameter's name
        ("/wallets/{id}/transactions", "wtxn_"),
        ("/v1/wallets/{id}", "wallet_"),  # with the server's url too
        ("/v1/subscription-schedules/{id}", "sched_"),
        ("/rbac/roles", None),  # upstream's roles are fixed names
        ("/nowhere", None),
        ("/", None),
    ],
)
def test_prefix_of_a_path(path: str, prefix: str | None) -> None:
    assert prefix_for(path) == prefix


def test_every_prefix_ends_with_an_underscore() -> None:
    assert all(prefix.endswith("_") and prefix.count("__") == 0 for prefix in PREFIXES.values())


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.parent.name)
def test_every_documented_collection_has_a_prefix(document: Path) -> None:
    # Only configuration, roles, marketplace registration, logins and webhook redelivery make
    # no prefixed objects.
    without = {"/integrations/config", "/marketplace/agreements", "/rbac/roles", "/rbac/roles/{id}"}
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    for path in yaml.load(document.read_text(), Loader=loader)["paths"]:
        if path.startswith(("/webhook-events", "/auth", "/webhooks")):
            continue
        assert (prefix_for(path) is None) == (path in without), path
