"""The domain without HTTP: money arithmetic, consumption order, expiry, ids, thread safety."""
import threading
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from mockserver import errors, ledger, money, wallets
from mockserver.ids import IdGenerator
from mockserver.store import Store


@pytest.fixture
def world():
    return Store().world("sk_unit")


def top_up(world, wallet, credits, key="", **extra):
    return wallets.top_up(world, wallet.id, {"credits_to_add": credits, "idempotency_key": key,
                                             "transaction_reason": "FREE_CREDIT_GRANT", **extra})


def test_a_thousand_tenths_make_exactly_one_hundred(world):
    wallet = wallets.create(world, {"customer_id": "c", "currency": "usd"})
    for _ in range(1000):
        top_up(world, wallet, Decimal("0.1"))
    assert wallet.credit_balance == Decimal(100) and wallet.balance == Decimal(100)
    assert sum(t.credit_amount for t in world.transactions[wallet.id]) == Decimal(100)


def test_debit_consumes_by_priority_then_expiry_then_size(world):
    wallet = wallets.create(world, {"customer_id": "c", "currency": "usd"})
    soon = (datetime.now(timezone.utc) + timedelta(days=3)).isoformat()
    later = (datetime.now(timezone.utc) + timedelta(days=9)).isoformat()
    top_up(world, wallet, 10)                                              # no priority, no expiry
    top_up(world, wallet, 5, expiry_date_utc=later)
    top_up(world, wallet, 4, expiry_date_utc=soon)
    top_up(world, wallet, 3, priority=1)
    grants = world.transactions[wallet.id]
    ledger.debit(world, wallet, Decimal(9), "INVOICE_PAYMENT", world.now())
    assert [g.credits_available for g in grants[:4]] == [10, 3, 0, 0]
    assert wallet.credit_balance == Decimal(13)
    with pytest.raises(errors.ApiError) as raised:
        ledger.debit(world, wallet, Decimal(14), "INVOICE_PAYMENT", world.now())
    assert raised.value.message == "Insufficient balance to process debit operation"


def test_expired_grants_are_debited_when_the_clock_passes(world):
    wallet = wallets.create(world, {"customer_id": "c", "currency": "usd", "conversion_rate": 2})
    expiry = (datetime.now(timezone.utc) + timedelta(days=2)).isoformat()
    top_up(world, wallet, 7, expiry_date_utc=expiry)
    top_up(world, wallet, 1)
    world.clock.advance(timedelta(days=3))
    assert wallets.get(world, wallet.id).credit_balance == 1
    expired = world.transactions[wallet.id][-1]
    assert (expired.type, expired.transaction_reason, expired.credit_amount, expired.amount) == (
        "debit", "CREDIT_EXPIRED", 7, 14)
    assert wallet.balance == 2
    assert ledger.expire_due(world, wallet, world.now()) == []


def test_money_rounds_half_up_to_the_columns():
    assert money.amount(Decimal("0.0000000005")) == Decimal("0.000000001")
    assert money.rate(Decimal("1.000005")) == Decimal("1.00001")
    assert money.normalize(Decimal("100.000")) == 100 and str(money.normalize(Decimal("2.50"))) == "2.5"


def test_ids_are_monotonic_and_seedable():
    ids = IdGenerator()
    made = [ids.new("wallet_", 1_700_000_000_000) for _ in range(100)]
    assert made == sorted(made) and len(set(made)) == 100
    assert [IdGenerator(7).ulid(5) for _ in range(2)] == [IdGenerator(7).ulid(5)] * 2


def test_concurrent_top_ups_lose_nothing(world):
    wallet = wallets.create(world, {"customer_id": "c", "currency": "usd"})

    def worker(n):
        for i in range(100):
            with world.lock:
                top_up(world, wallet, Decimal("0.01"), key=f"{n}-{i}")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wallet.credit_balance == Decimal(8)
    assert len(world.transactions[wallet.id]) == 800


def test_object_count_follows_every_write(world):
    wallet = wallets.create(world, {"customer_id": "c", "currency": "usd", "initial_credits_to_load": 2})
    top_up(world, wallet, 1)
    wallets.terminate(world, wallet.id)
    held = sum(len(found) for found in world.transactions.values())
    assert held == 3 and world.object_count() == len(world.wallets) + held
    world.clear()
    assert world.object_count() == 0
