"""Policies on API 2025-05-24: nothing waits to be settled there (an invoiced top-up is paid at
once, and there are no subscriptions), so the world has no policy to set and says so."""

from __future__ import annotations

from ..support import Api


def test_this_version_has_no_pending_things_and_refuses_a_policy_naming_it(api: Api):
    assert api.get("/_mock/policies").json == {}
    assert api.put("/_mock/policies", {}).json == {}
    reply = api.put("/_mock/policies", {"invoiced_top_ups": "immediate"})
    assert reply.status == 400
    error = reply.json["error"]
    assert error["details"] == {
        "field": "invoiced_top_ups",
        "problem": "is not a kind of pending thing (expected: none: nothing waits to be settled in this "
        "API version)",
    }
    assert error["message"].startswith("Invalid policy: invoiced_top_ups is not a kind of pending thing")


def test_a_fixture_naming_a_policy_is_refused_in_this_version(api: Api):
    text = "policies: {invoiced_top_ups: fail}\ncustomers: [{external_id: a, name: A}]\n"
    reply = api.request("POST", "/_mock/fixtures", data=text)
    assert reply.status == 400
    assert reply.json["error"]["details"]["field"] == "policies.invoiced_top_ups"
    assert api.get("/_mock/state").json["customers"] == []
