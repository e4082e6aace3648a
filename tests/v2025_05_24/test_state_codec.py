"""``PUT /_mock/state`` on 2025-05-24 checks a wallet's config as the API does: its
allowed_price_types are price types; any other key the API kept comes back as it was."""

from __future__ import annotations

from ..support import make_customer, new_key


def test_a_wallet_config_round_trips_with_its_other_keys_and_a_wrong_type_is_refused(api):
    customer = make_customer(api, "acme")
    config = {"allowed_price_types": ["USAGE"], "note": {"kept": [1, "two"]}}
    reply = api.post("/v1/wallets", {"customer_id": customer["id"], "currency": "usd", "config": config})
    assert reply.status == 200, reply.json
    document = api.get("/_mock/state").json
    assert document["wallets"][0]["config"] == config
    copy = api.as_key(new_key())
    assert copy.put("/_mock/state", document).status == 200
    assert copy.get("/_mock/state").json["wallets"] == document["wallets"]

    document["wallets"][0]["config"] = {"allowed_price_types": 5}
    target = api.as_key(new_key())
    reply = target.put("/_mock/state", document)
    assert reply.status == 400
    details = reply.json["error"]["details"]
    assert details == {
        "field": "wallets[0].config.allowed_price_types",
        "problem": "must be an array of strings",
    }
    assert target.get("/_mock/state").json["wallets"] == []
