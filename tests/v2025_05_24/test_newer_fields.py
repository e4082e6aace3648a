"""Fields the cloud added after 2026-08-22 (SDK 2.1.43) change nothing in version 2025-05-24: its
document does not know them, so its server ignores them like any unknown field, and its answers
do not show them."""

from __future__ import annotations

from .conftest import make_customer, make_wallet

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


def test_top_up_fields_of_later_versions_are_ignored(api):
    assert api.put("/_mock/clock", {"now": "2026-01-01T00:00:00Z", "frozen": True}).status == 200
    wallet = make_wallet(api, make_customer(api, "acme")["id"], initial_credits_to_load=5)
    body = {
        "credits_to_add": 10,
        "transaction_reason": "PURCHASED_CREDIT_DIRECT",
        "idempotency_key": "k1",
        "effective_date": "2030-01-01T00:00:00Z",  # in the future: refused by 2026-08-22
        "coupons": [{"coupon_code": "WELCOME10"}, {"coupon_code": ""}],
    }
    reply = api.post(f"/v1/wallets/{wallet['id']}/top-up", body)
    assert reply.status == 200 and reply.json["credit_balance"] == 15
    items = api.get(f"/v1/wallets/{wallet['id']}/transactions").json["items"]
    assert items[0]["created_at"] == "2026-01-01T00:00:00.000000Z"  # now, not the effective date
    assert not {"consumption_breakdown", "source_type", "source_id"} & {k for t in items for k in t}
    assert api.post(f"/v1/wallets/{wallet['id']}/terminate").status == 200
    closing = api.get(f"/v1/wallets/{wallet['id']}/transactions").json["items"][0]
    assert closing["transaction_reason"] == "WALLET_TERMINATION" and "consumption_breakdown" not in closing


def test_alert_settings_of_later_versions_are_ignored(api):
    settings = {
        "alert_threshold_type": "percentage",
        "critical": {"threshold": "150", "condition": "below"},  # out of range: refused by 2026-08-22
        "alert_enabled": True,
    }
    wallet = make_wallet(api, make_customer(api, "acme")["id"], alert_settings=settings)
    assert "alert_settings" not in wallet
    assert api.get("/_mock/state").json["wallets"][0]["alert_settings"] is None
