"""Many clients on one wallet at once, over a real socket: no lost update, no deadlock, the ledger
always adds up to the balance, and exactly one of many simultaneous terminations wins.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import requests

from .conftest import Api, Reply, make_customer, make_wallet, new_key

THREADS = 16
TOP_UPS_PER_THREAD = 15
REQUEST_TIMEOUT = 20  # seconds; a deadlock shows up as a timeout, never as a hung suite


class Clients:
    """One requests session per thread (sessions are not thread-safe), all as the same key."""

    def __init__(self, live_url: str, api_key: str):
        self.live_url, self.api_key = live_url, api_key
        self.local = threading.local()

    def __call__(self) -> Api:
        if not hasattr(self.local, "api"):
            session = requests.Session()

            def send(method, path, data, headers):
                r = session.request(
                    method, self.live_url + path, data=data, headers=headers, timeout=REQUEST_TIMEOUT
                )
                return Reply(r.status_code, r.headers, r.content)

            self.local.api = Api(send, self.api_key)
        return self.local.api


def run_all(jobs, workers: int = THREADS) -> list:
    """Run every job at once and return their results; a job that hangs fails the test."""
    start = threading.Barrier(min(workers, len(jobs)))

    def together(job):
        try:
            start.wait(timeout=REQUEST_TIMEOUT)
        except threading.BrokenBarrierError:
            pass
        return job()

    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(together, job) for job in jobs]
        return [future.result(timeout=REQUEST_TIMEOUT * 3) for future in futures]


def ledger_of(api: Api, wallet_id: str) -> list[dict]:
    reply = api.get(f"/v1/wallets/{wallet_id}/transactions?limit=1000")
    assert reply.status == 200
    assert reply.json["pagination"]["total"] == len(reply.json["items"])
    return reply.json["items"]


def ledger_sum(items: list[dict]) -> Decimal:
    return sum(
        (t["credit_amount"] if t["type"] == "credit" else -t["credit_amount"] for t in items), Decimal(0)
    )


def top_up(clients: Clients, wallet_id: str, credits: str, key: str):
    def job() -> Reply:
        return clients().request(
            "POST",
            f"/v1/wallets/{wallet_id}/top-up",
            data=(
                f'{{"credits_to_add": {credits}, "transaction_reason": "PURCHASED_CREDIT_DIRECT", '
                f'"idempotency_key": "{key}"}}'
            ),
        )

    return job


def read(clients: Clients, wallet_id: str):
    def job() -> tuple[Reply, Reply]:
        api = clients()
        return api.get(f"/v1/wallets/{wallet_id}"), api.get(
            f"/v1/wallets/{wallet_id}/transactions?limit=1000"
        )

    return job


def test_concurrent_top_ups_and_reads_lose_no_update(http, live_url):
    wallet = make_wallet(http, make_customer(http)["id"], initial_credits_to_load=1)
    clients = Clients(live_url, http.api_key)
    amounts = [f"{n}.{n:03d}000001" for n in range(1, THREADS * TOP_UPS_PER_THREAD + 1)]
    jobs = [top_up(clients, wallet["id"], credits, f"topup-{n}") for n, credits in enumerate(amounts)]
    jobs += [read(clients, wallet["id"]) for _ in range(THREADS * 2)]
    results = run_all(jobs)

    top_ups, reads = results[: len(amounts)], results[len(amounts) :]
    assert [reply.status for reply in top_ups] == [200] * len(amounts)
    expected = Decimal(1) + sum(Decimal(a) for a in amounts)
    final = http.get(f"/v1/wallets/{wallet['id']}").json
    assert final["credit_balance"] == expected
    items = ledger_of(http, wallet["id"])
    assert len(items) == len(amounts) + 1
    assert ledger_sum(items) == final["credit_balance"]
    # Every balance a reader saw was the balance after some number of whole top-ups.
    seen = {reply.json["credit_balance"] for reply, _ in reads}
    assert all(reply.status == 200 and ledger.status == 200 for reply, ledger in reads)
    assert all(Decimal(1) <= balance <= expected for balance in seen)
    # Every ledger a reader saw adds up to the balance its latest credit left (only credits here).
    for _, ledger in reads:
        listed = ledger.json["items"]
        assert ledger_sum(listed) == max(t["credit_balance_after"] for t in listed)


def test_the_same_idempotency_key_from_many_threads_credits_once(http, live_url):
    wallet = make_wallet(http, "cust_1")
    clients = Clients(live_url, http.api_key)
    results = run_all([top_up(clients, wallet["id"], "7.5", "same-key") for _ in range(THREADS * 2)])
    assert [reply.status for reply in results] == [200] * (THREADS * 2)
    assert {reply.json["credit_balance"] for reply in results} == {Decimal("7.5")}
    assert http.get(f"/v1/wallets/{wallet['id']}").json["credit_balance"] == Decimal("7.5")
    assert len(ledger_of(http, wallet["id"])) == 1


def test_exactly_one_of_many_simultaneous_terminations_wins(http, live_url):
    wallet = make_wallet(http, make_customer(http)["id"], initial_credits_to_load=100)
    clients = Clients(live_url, http.api_key)

    def terminate() -> Reply:
        return clients().request("POST", f"/v1/wallets/{wallet['id']}/terminate")

    top_ups = [top_up(clients, wallet["id"], "2", f"racing-{n}") for n in range(THREADS * 2)]
    results = run_all([terminate] * THREADS + top_ups + [read(clients, wallet["id"])] * THREADS)

    terminations = results[:THREADS]
    winners = [reply for reply in terminations if reply.status == 200]
    losers = [reply for reply in terminations if reply.status != 200]
    assert len(winners) == 1
    assert winners[0].json["wallet_status"] == "closed" and winners[0].json["credit_balance"] == 0
    assert {(r.status, r.error["message"]) for r in losers} == {(400, "Wallet is already terminated")}
    # Top-ups are not refused on a closed wallet (as in the cloud); whatever came after the close
    # stays on it, and the ledger still adds up to exactly the balance.
    assert all(reply.status == 200 for reply in results[THREADS : THREADS + len(top_ups)])
    items = ledger_of(http, wallet["id"])
    debits = [t for t in items if t["type"] == "debit"]
    assert len(debits) == 1 and debits[0]["transaction_reason"] == "WALLET_TERMINATION"
    # The close debited the whole balance of that moment: the 100 loaded and some whole top-ups.
    debited = debits[0]["credit_amount"]
    assert debited == debits[0]["credit_balance_before"] and debits[0]["credit_balance_after"] == 0
    assert (debited - 100) % 2 == 0 and 100 <= debited <= 100 + 2 * len(top_ups)
    final = http.get(f"/v1/wallets/{wallet['id']}").json
    assert final["wallet_status"] == "closed"
    assert ledger_sum(items) == final["credit_balance"]
    assert len(items) == 1 + len(top_ups) + 1


def test_many_keys_at_once_stay_apart(live_url):
    keys = [new_key() for _ in range(THREADS)]

    def own_world(key: str):
        def job() -> tuple[str, Decimal, int]:
            api = Clients(live_url, key)()
            wallet = make_wallet(api, "cust_shared_id")
            for n in range(5):
                reply = api.post(
                    f"/v1/wallets/{wallet['id']}/top-up",
                    {
                        "credits_to_add": 3,
                        "transaction_reason": "FREE_CREDIT_GRANT",
                        "idempotency_key": f"k{n}",
                    },
                )
                assert reply.status == 200
            listed = api.get("/v1/customers/cust_shared_id/wallets").json
            return wallet["id"], api.get(f"/v1/wallets/{wallet['id']}").json["credit_balance"], len(listed)

        return job

    results = run_all([own_world(key) for key in keys])
    assert len({wallet_id for wallet_id, _, _ in results}) == THREADS
    assert [(balance, listed) for _, balance, listed in results] == [(Decimal(15), 1)] * THREADS
