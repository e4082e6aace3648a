"""``POST /_mock/trigger`` on a 2025-05-24 sandbox: that version sends no webhooks, so a trigger
is refused in its error body, saying which version to serve, and nothing is done."""

from __future__ import annotations


def test_a_trigger_is_refused_on_a_version_without_webhooks(api):
    assert api.put("/_mock/clock", {"now": "2026-09-01T12:00:00Z", "frozen": True}).status == 200
    before = api.get("/_mock/state").json

    reply = api.post("/_mock/trigger", {"event": "customer.created"})

    assert reply.status == 400
    assert reply.json["error"]["message"] == (
        "Triggers raise webhook events, which API version 2025-05-24 does not send; serve 2026-08-22 "
        "(--api-version 2026-08-22) to trigger them"
    )
    assert api.get("/_mock/state").json == before
