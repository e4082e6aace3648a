"""GET /v1/wallets/{id}/transactions: order, pagination, filters and their errors."""

from datetime import datetime, timedelta, timezone

from .conftest import make_wallet


def wallet_with_history(api):
    """A wallet with five credits (1..5 credits, priorities 0..4) and one termination debit."""
    wallet = make_wallet(api)
    expiry = (datetime.now(timezone.utc) + timedelta(days=5)).strftime("%Y-%m-%dT00:00:00Z")
    for n in range(1, 6):
        body = {
            "credits_to_add": n,
            "transaction_reason": "PURCHASED_CREDIT_DIRECT",
            "idempotency_key": f"k{n}",
            "priority": n - 1,
        }
        if n == 5:
            body["expiry_date_utc"] = expiry
        assert api.post(f"/v1/wallets/{wallet['id']}/top-up", body).status == 200
    return wallet


def listing(api, wallet, query=""):
    reply = api.get(f"/v1/wallets/{wallet['id']}/transactions{query}")
    assert reply.status == 200, reply.json
    return reply.json


def test_newest_first_with_default_pagination(api):
    wallet = wallet_with_history(api)
    page = listing(api, wallet)
    assert [t["credit_amount"] for t in page["items"]] == [5, 4, 3, 2, 1]
    assert page["pagination"] == {"total": 5, "limit": 50, "offset": 0}


def test_limit_offset_and_ascending_order(api):
    wallet = wallet_with_history(api)
    page = listing(api, wallet, "?limit=2&offset=1&order=asc")
    assert [t["credit_amount"] for t in page["items"]] == [2, 3]
    assert page["pagination"] == {"total": 5, "limit": 2, "offset": 1}
    assert listing(api, wallet, "?offset=10")["items"] == []


def test_sort_by_amount(api):
    wallet = wallet_with_history(api)
    page = listing(api, wallet, "?sort=amount&order=asc")
    assert [t["amount"] for t in page["items"]] == [1, 2, 3, 4, 5]


def test_filters(api):
    wallet = wallet_with_history(api)
    api.post(f"/v1/wallets/{wallet['id']}/terminate")
    assert [t["type"] for t in listing(api, wallet, "?type=debit")["items"]] == ["debit"]
    assert len(listing(api, wallet, "?type=credit")["items"]) == 5
    assert len(listing(api, wallet, "?transaction_reason=WALLET_TERMINATION")["items"]) == 1
    assert len(listing(api, wallet, "?transaction_status=completed")["items"]) == 6
    assert len(listing(api, wallet, "?transaction_status=pending")["items"]) == 0
    assert [t["priority"] for t in listing(api, wallet, "?priority=2")["items"]] == [2]
    by_ref = listing(api, wallet, "?reference_type=EXTERNAL&reference_id=k3")["items"]
    assert [t["credit_amount"] for t in by_ref] == [3]
    far = (datetime.now(timezone.utc) + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert [t["credit_amount"] for t in listing(api, wallet, f"?expiry_date_before={far}")["items"]] == [5]
    assert listing(api, wallet, f"?start_time={far}")["items"] == []
    assert len(listing(api, wallet, f"?end_time={far}")["items"]) == 6


def test_credits_available_filter(api):
    wallet = wallet_with_history(api)
    assert len(listing(api, wallet, "?credits_available_gt=3.5")["items"]) == 2


def test_limit_bounds_and_bad_values(api):
    wallet = wallet_with_history(api)
    path = f"/v1/wallets/{wallet['id']}/transactions"
    for query, message in (
        ("?limit=0", "query parameter limit must be at least 1"),
        ("?limit=1001", "query parameter limit must be at most 1000"),
        ("?limit=ten", "query parameter limit must be an integer"),
        ("?offset=-1", "query parameter offset must be at least 0"),
        ("?order=up", "query parameter order must be one of: asc, desc"),
        ("?type=refund", "query parameter type must be one of: credit, debit"),
    ):
        reply = api.get(path + query)
        assert reply.status == 400, query
        assert reply.error["message"] == message
    reply = api.get(path + "?reference_type=EXTERNAL")
    assert reply.error["message"] == "Reference type and reference id must be provided together"
    assert api.get(path + "?start_time=yesterday").status == 400
    assert api.get(path + "?sort=colour").status == 400
    assert api.get(path + "?limit=1000").status == 200


def test_unknown_wallet_is_404(api):
    assert api.get("/v1/wallets/wallet_nope/transactions").status == 404
