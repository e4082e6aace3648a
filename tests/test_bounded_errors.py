"""An error answers in proportion to the mistake, not to what was sent: a request over a limit or
with a long wrong value gets a short message naming the field and the problem, on both API
versions, with at most an excerpt of the value."""

from __future__ import annotations

import pytest

from mockserver.http.validation import MAX_LISTED

from .support import Suite

SMALL = 2048  # bytes: an error body, whatever the request held
NEWER, OLDER = Suite("2026-08-22"), Suite("2025-05-24")


def _client(suite: Suite):
    return suite.client_of(suite.create_app(validate_responses=True, log_requests=False))


def _message(body: dict) -> str:
    return body["error"]["message"] if "error" in body else body["message"]


def test_a_bulk_request_over_the_limit_is_refused_in_a_few_words():
    api = _client(NEWER)
    events = [{"event_name": "x" * 900, "external_customer_id": "acme"}] * 1001  # about 950 KB
    reply = api.post("/v1/events/bulk", {"events": events})
    assert reply.status == 400
    assert len(reply.raw) < SMALL, len(reply.raw)
    assert _message(reply.json) == "events must hold at most 1000 items, not 1001"
    assert reply.json["details"]["errors"] == [
        {"field": "events", "in": "body", "problem": "must hold at most 1000 items, not 1001"}
    ]


def test_many_wrong_items_list_only_the_first_problems():
    api = _client(NEWER)
    events = [{"event_name": 5, "external_customer_id": "acme"}] * 900
    reply = api.post("/v1/events/bulk", {"events": events})
    assert reply.status == 400
    assert len(reply.raw) < SMALL, len(reply.raw)
    assert _message(reply.json) == "events[0].event_name must be a string, not an integer"
    assert len(reply.json["details"]["errors"]) == MAX_LISTED


@pytest.mark.parametrize("suite", [NEWER, OLDER], ids=lambda s: s.version)
def test_a_long_wrong_value_is_shown_as_an_excerpt(suite):
    api = _client(suite)
    body = {"customer_id": "cust_x", "currency": "usd", "initial_credits_to_load": "x" * 100_000}
    reply = api.post("/v1/wallets", body)
    assert reply.status == 400
    assert len(reply.raw) < SMALL, len(reply.raw)
    message = _message(reply.json)
    assert message.startswith("initial_credits_to_load must be a")
    assert "x" * 101 not in message
