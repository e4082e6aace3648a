"""Wallet balance alerts, as the cloud evaluates them after every wallet operation.

Two streams per wallet, each with its own last state: the credit balance (always evaluated,
with the wallet's own alert settings or the tenant default, critical at or below 0) and the
ongoing balance (only for a wallet with alerts enabled or an auto top-up; it is the wallet's
``alert_state``). Moving into ``in_alarm`` raises ``*.dropped``, back to ``ok`` ``*.recovered``;
``info`` and ``warning`` are kept without an event, unless the world's rules name them among the
states that drop (the cloud's later servers do).

Percentage thresholds compare the ongoing balance as a share of the credits the wallet was
granted (inferred: the cloud says "credit activity"); with nothing granted there is nothing to
compare with and the stream is skipped. They do not apply to the credit stream, which is then
not evaluated (flexprice-front #1380).
"""

from __future__ import annotations

from decimal import Decimal

from . import charges
from .models import AlertLevel, AlertSettings, Wallet
from .world import World

TENANT_DEFAULT = AlertSettings(critical=AlertLevel(Decimal(0), "below"), alert_enabled=False)
CREDIT, ONGOING = "low_credit_balance", "low_ongoing_balance"
PERCENTAGE = "percentage"
EVENTS = {CREDIT: "wallet.credit_balance", ONGOING: "wallet.ongoing_balance"}


def own_settings(wallet: Wallet) -> AlertSettings | None:
    """The wallet's own alert settings, when one of their levels is set."""
    settings = wallet.alert_settings
    if settings is not None and (settings.critical or settings.warning or settings.info):
        return settings
    return None


def state_of(settings: AlertSettings, value: Decimal, granted: Decimal | None = None) -> str | None:
    """ok, info, warning or in_alarm for ``value``, by the condition of the first level set.

    Percentage thresholds compare ``value`` as a percentage of ``granted``: None (skipped) when
    there is nothing granted to compare with."""
    if settings.threshold_type == PERCENTAGE:
        if granted is None or granted <= 0:
            return None
        value = value * 100 / granted
    critical, warning, info = settings.critical, settings.warning, settings.info
    first = critical or warning or info  # whose condition every level follows
    below = first is None or first.condition == "below"
    for level, state in ((critical, "in_alarm"), (warning, "warning"), (info, "info")):
        if level is not None and (value <= level.threshold if below else value >= level.threshold):
            return state
    return "ok"


def after_operation(world: World, wallet: Wallet) -> None:
    """Evaluate both streams once a credit or debit has been written to ``wallet``."""
    settings = own_settings(wallet)
    _stream(world, wallet, CREDIT, settings or TENANT_DEFAULT, settings, wallet.credit_balance)
    evaluate_ongoing(world, wallet)


def evaluate_ongoing(world: World, wallet: Wallet) -> None:
    """The ongoing stream, on the real-time credit balance (the credit balance less the usage
    and unpaid invoices it owes), for a wallet with alerts enabled or an auto top-up."""
    settings = own_settings(wallet)
    watched = (settings is not None and settings.alert_enabled) or (
        wallet.auto_topup is not None and wallet.auto_topup.enabled
    )
    if not watched:
        return
    ongoing = charges.ongoing_credits(world, wallet)
    wallet.alert_state = _stream(world, wallet, ONGOING, settings or TENANT_DEFAULT, settings, ongoing)
    if world.ongoing_published.get(wallet.id) != ongoing:
        world.ongoing_published[wallet.id] = ongoing
        # Sent with the balances it was raised at, as the cloud sends this one.
        balances = {"balance": wallet.balance, "credit_balance": wallet.credit_balance}
        world.emit("wallet.ongoing_balance.updated", wallet.id, {"balances": balances})


def granted(world: World, wallet: Wallet) -> Decimal:
    """The credits the wallet was ever granted: its completed credits, bonuses included."""
    credits = world.transactions.get(wallet.id, ())
    return sum(
        (t.credit_amount for t in credits if t.type == "credit" and t.transaction_status == "completed"),
        Decimal(0),
    )


def _stream(
    world: World,
    wallet: Wallet,
    kind: str,
    settings: AlertSettings,
    shown: AlertSettings | None,
    value: Decimal,
) -> str:
    key = (wallet.id, kind)
    previous = world.alert_states.get(key)
    # The credit stream has no percentage base: such settings skip it.
    base = granted(world, wallet) if kind == ONGOING and settings.threshold_type == PERCENTAGE else None
    state = state_of(settings, value, base)
    if state is None:  # skipped: the state stays as it was
        return previous or "ok"
    if state == previous or (previous is None and state == "ok"):
        return state
    world.alert_states[key] = state
    suffix = "dropped" if state in world.rules.dropped_states else {"ok": "recovered"}.get(state)
    if suffix:
        # The alert rides with the event only for a wallet with settings of its own.
        alert = {"state": state, "alert_type": kind, "balance": value, "settings": shown}
        world.emit(f"{EVENTS[kind]}.{suffix}", wallet.id, {"alert": alert} if shown is not None else None)
    return state
