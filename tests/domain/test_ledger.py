"""The domain without HTTP: money arithmetic, consumption order, expiry, ids, the unit of work."""

import threading
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from mockserver.domain import errors, ledger, money, wallets
from mockserver.domain.clock import parse_timestamp
from mockserver.domain.ids import IdGenerator
from mockserver.domain.world import World
from mockserver.state.store import Store

STORE = Store()


@pytest.fixture
def world():
    with STORE.session("sk_unit") as world:
        world.clear()
        yield world


def open_wallet(world, rate=1, initial=0):
    return wallets.create(
        world,
        wallets.NewWallet(
            customer_id="c",
            currency="usd",
            wallet_type="PRE_PAID",
            name="w",
            conversion_rate=Decimal(rate),
            topup_conversion_rate=Decimal(rate),
            config={"allowed_price_types": ["ALL"]},
            initial_credits=Decimal(initial),
        ),
    )


def top_up(world, wallet, credits, key="", expiry_date_utc=None, priority=None):
    expiry = parse_timestamp(expiry_date_utc) if expiry_date_utc else None
    return wallets.top_up(
        world,
        wallet,
        wallets.Credit(
            credits=Decimal(credits),
            reason="FREE_CREDIT_GRANT",
            idempotency_key=key,
            expiry=expiry,
            priority=priority,
        ),
    )


def test_a_thousand_tenths_make_exactly_one_hundred(world):
    wallet = open_wallet(world)
    for _ in range(1000):
        top_up(world, wallet, Decimal("0.1"))
    assert wallet.credit_balance == Decimal(100) and wallet.balance == Decimal(100)
    assert sum(t.credit_amount for t in world.transactions[wallet.id]) == Decimal(100)


def test_debit_consumes_by_priority_then_expiry_then_size(world):
    wallet = open_wallet(world)
    soon = (datetime.now(timezone.utc) + timedelta(days=3)).isoformat()
    later = (datetime.now(timezone.utc) + timedelta(days=9)).isoformat()
    top_up(world, wallet, 10)  # no priority, no expiry
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
    wallet = open_wallet(world, rate=2)
    expiry = (datetime.now(timezone.utc) + timedelta(days=2)).isoformat()
    top_up(world, wallet, 7, expiry_date_utc=expiry)
    top_up(world, wallet, 1)
    world.clock.advance(timedelta(days=3))
    assert wallets.get(world, wallet.id).credit_balance == 1
    expired = world.transactions[wallet.id][-1]
    assert (expired.type, expired.transaction_reason, expired.credit_amount, expired.amount) == (
        "debit",
        "CREDIT_EXPIRED",
        7,
        14,
    )
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


def test_concurrent_top_ups_in_units_of_work_lose_nothing():
    store = Store()
    with store.session("sk_race") as world:
        wallet = open_wallet(world)

    def worker(n):
        for i in range(100):
            with store.session("sk_race") as world:
                top_up(world, wallet, Decimal("0.01"), key=f"{n}-{i}")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wallet.credit_balance == Decimal(8)
    with store.session("sk_race") as world:
        assert len(world.transactions[wallet.id]) == 800


def test_object_count_follows_every_write(world):
    wallet = open_wallet(world, initial=2)
    top_up(world, wallet, 1)
    wallets.terminate(world, wallet)
    held = sum(len(found) for found in world.transactions.values())
    assert held == 3 and world.object_count() == len(world.wallets) + held
    world.clear()
    assert world.object_count() == 0


def test_events_leave_only_when_the_unit_of_work_succeeds():
    store = Store()
    sent = []
    store.listeners.append(lambda key, world, events: sent.extend((key, e.name) for e in events))
    with store.session("sk_events") as world:
        wallet = open_wallet(world, initial=5)
    assert sent == [(("sk_events", ""), "wallet.transaction.created"), (("sk_events", ""), "wallet.created")]
    with pytest.raises(errors.ApiError), store.session("sk_events") as world:
        wallets.terminate(world, wallet)
        wallets.terminate(world, wallet)  # already closed: the whole unit fails
    assert len(sent) == 2
    with store.session("sk_events") as world:
        assert world.events == []


def test_an_overdraft_debit_takes_the_balance_below_zero(world):
    wallet = open_wallet(world, initial=3)
    debit = wallets.debit(world, wallet, Decimal(5), "MANUAL_BALANCE_DEBIT")
    grant = world.transactions[wallet.id][0]
    assert wallet.credit_balance == Decimal(-2)
    assert debit.metadata == {"consumed_credit_tx_ids": grant.id}
    assert [t.credits_available for t in world.transactions[wallet.id]] == [0, 0]
    refill = top_up(world, wallet, 5).transaction
    assert (wallet.credit_balance, refill.credits_available) == (3, 3)  # only what is above zero


def test_an_invoiced_credit_waits_for_its_invoice(world):
    wallet = open_wallet(world)
    result = wallets.top_up(
        world, wallet, wallets.Credit(credits=Decimal(10), reason="PURCHASED_CREDIT_INVOICED", invoiced=True)
    )
    assert (result.transaction.transaction_status, wallet.credit_balance) == ("pending", 0)
    wallets.settle_invoice(world, result.invoice.id, "pay")
    assert (result.transaction.transaction_status, wallet.credit_balance) == ("completed", 10)
    with pytest.raises(errors.ApiError) as raised:
        wallets.settle_invoice(world, result.invoice.id, "void")
    assert raised.value.message == f"Invoice {result.invoice.id} is already paid"
    voided = wallets.top_up(
        world, wallet, wallets.Credit(credits=Decimal(4), reason="PURCHASED_CREDIT_INVOICED", invoiced=True)
    )
    wallets.settle_invoice(world, voided.invoice.id, "void")
    assert (voided.transaction.transaction_status, wallet.credit_balance) == ("failed", 10)


def test_a_world_stands_alone_without_a_store():
    world = World("tenant_x", "")
    assert open_wallet(world, initial=1).credit_balance == 1
