"""Fields the cloud added after 2026-08-22 (SDK 2.1.43) change nothing in version 2025-05-24: its
document does not know them, so its server ignores them like any unknown field, and its answers
do not show them."""

from __future__ import annotations

from .conftest import make_customer

NEWER_CUSTOMER_FIELDS = ("billing_currency", "tax_treatment", "contact_persons")


def test_customer_fields_of_later_versions_are_ignored(api):
    newer = {
        "billing_currency": "euros",  # refused by 2026-08-22, ignored here
        "tax_treatment": "zero-rated",
        "contact_persons": [{"first_name": "Ada", "is_primary": True}, {"is_primary": True}],
    }
    customer = make_customer(api, "acme", **newer)
    assert not set(NEWER_CUSTOMER_FIELDS) & set(customer)
    updated = api.put(f"/v1/customers/{customer['id']}", {"name": "Acme 2", **newer})
    assert updated.status == 200 and not set(NEWER_CUSTOMER_FIELDS) & set(updated.json)
    kept = api.get("/_mock/state").json["customers"][0]
    assert (kept["billing_currency"], kept["tax_treatment"], kept["contact_persons"]) == ("", "", [])
