"""Balance alerts without HTTP: the state of a balance (absolute or percentage thresholds), and
which transitions raise events under each version's rules (the domain reads no API version)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from mockserver import api
from mockserver.domain import alerts, wallets
from mockserver.domain.models import AlertLevel, AlertSettings
from mockserver.domain.world import Rules, World

BELOW = "below"
SETTINGS = AlertSettings(
    critical=AlertLevel(Decimal(10), BELOW),
    warning=AlertLevel(Decimal(50), BELOW),
    info=AlertLevel(Decimal(80), BELOW),
    alert_enabled=True,
)
PERCENT = AlertSettings(
    critical=SETTINGS.critical,
    warning=SETTINGS.warning,
    info=SETTINGS.info,
    alert_enabled=True,
    threshold_type="percentage",
)
LATER = Rules(dropped_states=frozenset({"in_alarm", "warning", "info"}))


@pytest.mark.parametrize(
    "value, state", [("100", "ok"), ("80", "info"), ("50", "warning"), ("10", "in_alarm"), ("-1", "in_alarm")]
)
def test_absolute_thresholds_compare_the_credits(value, state):
    assert alerts.state_of(SETTINGS, Decimal(value)) == state
    assert alerts.state_of(SETTINGS, Decimal(value), granted=Decimal(1000)) == state  # no base needed


@pytest.mark.parametrize(
    "value, granted, state",
    [
        ("200", "200", "ok"),
        ("160", "200", "info"),  # 80%
        ("99", "200", "warning"),  # 49.5%
        ("20", "200", "in_alarm"),  # 10%
        ("-5", "200", "in_alarm"),
        ("5", "0", None),  # nothing granted: nothing to compare with
        ("5", None, None),
    ],
)
def test_percentage_thresholds_compare_a_share_of_the_credits_granted(value, granted, state):
    base = None if granted is None else Decimal(granted)
    assert alerts.state_of(PERCENT, Decimal(value), base) == state


def open_wallet(world: World, settings: AlertSettings, initial: str) -> wallets.Wallet:
    return wallets.create(
        world,
        wallets.NewWallet(
            customer_id="c",
            currency="usd",
            wallet_type="PRE_PAID",
            name="w",
            conversion_rate=Decimal(1),
            topup_conversion_rate=Decimal(1),
            config={"allowed_price_types": ["ALL"]},
            alert_settings=settings,
            initial_credits=Decimal(initial),
        ),
    )


def alert_events(world: World) -> list[tuple[str, str]]:
    raised = [(e.name, (e.data or {}).get("alert", {}).get("state")) for e in world.events]
    world.events.clear()
    return [(name, state) for name, state in raised if name.endswith((".dropped", ".recovered"))]


def debit(world: World, wallet: wallets.Wallet, credits: str) -> None:
    wallets.debit(world, wallet, Decimal(credits), "MANUAL_BALANCE_DEBIT")


@pytest.mark.parametrize(
    "rules, expected",
    [
        (Rules(), [[], [], [("dropped", "in_alarm")] * 2]),  # 2025-05-24's server, and the old default
        (
            LATER,
            [[("dropped", "info")] * 2, [("dropped", "warning")] * 2, [("dropped", "in_alarm")] * 2],
        ),
    ],
    ids=["in_alarm only", "warning and info too"],
)
def test_which_states_drop_is_the_worlds_rule(rules, expected):
    world = World("t", "", rules=rules)
    wallet = open_wallet(world, SETTINGS, "100")
    world.events.clear()
    seen = []
    for credits in ("25", "30", "40"):  # 75 (info), 45 (warning), 5 (in alarm)
        debit(world, wallet, credits)
        seen.append([(name.rsplit(".", 1)[1], state) for name, state in alert_events(world)])
    assert seen == expected
    assert [name for name, _ in alert_events(world)] == []
    wallets.top_up(world, wallet, wallets.Credit(Decimal(100), "FREE_CREDIT_GRANT"))
    assert alert_events(world) == [
        ("wallet.credit_balance.recovered", "ok"),
        ("wallet.ongoing_balance.recovered", "ok"),
    ]


def test_percentage_settings_watch_the_ongoing_balance_only_and_skip_without_grants():
    world = World("t", "", rules=LATER)
    wallet = open_wallet(world, PERCENT, "0")
    debit(world, wallet, "1")  # overdrawn, but nothing was granted: skipped
    assert alert_events(world) == [] and wallet.alert_state == "ok"
    wallets.top_up(world, wallet, wallets.Credit(Decimal(41), "FREE_CREDIT_GRANT"))  # 40 of 41
    assert alert_events(world) == []
    debit(world, wallet, "36")  # 4 of 41: 9.8%
    assert alert_events(world) == [("wallet.ongoing_balance.dropped", "in_alarm")]
    assert world.alert_states == {(wallet.id, alerts.ONGOING): "in_alarm"}  # no credit stream


def test_each_version_chooses_its_rules():
    assert api.load("2025-05-24").rules.dropped_states == {"in_alarm"}
    assert api.load("2026-08-22").rules.dropped_states == {"in_alarm", "warning", "info"}
