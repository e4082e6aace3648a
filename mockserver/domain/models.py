"""The things a world holds: customers, wallets, their ledger and invoices. Plain data, no rules.

Amounts are ``Decimal`` with the ledger's precision (see ``money``); times are UTC datetimes.
Both API versions read and write these; each encodes them in its own fields at the edge.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

SYSTEM_USER = "00000000-0000-0000-0000-000000000000"


@dataclass(frozen=True, slots=True)
class ContactPerson:
    """Someone to reach at a customer; at most one of a customer's is primary."""

    id: str  # cp_<ULID> unless the client named it
    first_name: str
    last_name: str = ""
    salutation: str = ""
    designation: str = ""
    department: str = ""
    email: str = ""
    mobile: str = ""
    is_primary: bool = False


@dataclass(slots=True)
class Customer:
    id: str
    external_id: str
    name: str
    created_at: datetime
    updated_at: datetime
    email: str = ""
    address_line1: str = ""
    address_line2: str = ""
    address_city: str = ""
    address_state: str = ""
    address_postal_code: str = ""
    address_country: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    status: str = "published"
    timezone: str = "UTC"
    contact: str = ""
    billing_currency: str = ""  # lower case; "": invoices in the currency charged
    tax_treatment: str = ""  # taxable | exempt; "": never given
    contact_persons: list[ContactPerson] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class AutoTopup:
    """Add ``amount`` credits when the credit balance falls to ``threshold`` or below."""

    enabled: bool
    threshold: Decimal
    amount: Decimal
    invoicing: bool = False
    cooldown_value: int | None = None  # with cooldown_unit: the least time between two top-ups
    cooldown_unit: str | None = None  # second | minute | hour | day


@dataclass(frozen=True, slots=True)
class AlertLevel:
    threshold: Decimal
    condition: str  # below | above


@dataclass(frozen=True, slots=True)
class AlertSettings:
    critical: AlertLevel | None = None
    warning: AlertLevel | None = None
    info: AlertLevel | None = None
    alert_enabled: bool = False
    # percentage: thresholds are a share (0-100) of the credits granted; "" (not given): absolute
    threshold_type: str = ""


@dataclass(slots=True)
class Wallet:
    id: str
    customer_id: str
    currency: str
    wallet_type: str
    name: str
    conversion_rate: Decimal
    created_at: datetime
    updated_at: datetime
    topup_conversion_rate: Decimal = Decimal(1)
    description: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=lambda: {"allowed_price_types": ["ALL"]})
    auto_topup: AutoTopup | None = None
    alert_settings: AlertSettings | None = None
    alert_state: str = "ok"
    balance: Decimal = Decimal(0)
    credit_balance: Decimal = Decimal(0)
    wallet_status: str = "active"


@dataclass(frozen=True, slots=True)
class Consumption:
    """What a debit drew from one credit (a batch of credits): its id and the credits taken."""

    credit_transaction_id: str
    credits: Decimal


@dataclass(slots=True)
class Transaction:
    id: str
    wallet_id: str
    type: str  # credit | debit
    credit_amount: Decimal
    amount: Decimal
    credit_balance_before: Decimal
    credit_balance_after: Decimal
    transaction_reason: str
    reference_type: str
    reference_id: str
    created_at: datetime
    credits_available: Decimal = Decimal(0)
    transaction_status: str = "completed"
    expiry_date: datetime | None = None
    priority: int | None = None
    description: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    idempotency_key: str = ""
    updated_at: datetime | None = None  # None: written at created_at and never changed since
    conversion_rate: Decimal | None = None  # the wallet's rate, on debits
    topup_conversion_rate: Decimal | None = None  # the rate money was converted at, on credits
    parent_transaction_id: str | None = None  # a bonus names the purchase it came with
    # A debit: the credits it drew from each credit, in the order consumed (an overdraft draws on none).
    consumption_breakdown: list[Consumption] = field(default_factory=list)
    source_type: str | None = None  # INVOICE: written with the invoice named by source_id
    source_id: str | None = None


@dataclass(slots=True)
class TopUpRecord:
    """What a top-up with an idempotency key did, so a retry can be answered (or refused)."""

    wallet_id: str
    fingerprint: tuple
    result: Wallet


# Not something that happened but a request, carried like an event so that it acts only once
# its unit of work is kept: send the webhooks of the event named by entity_id again.
RETRY_EVENT = "webhook.retry_requested"


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened in a world, raised by the domain and sent once the change is kept."""

    name: str  # e.g. wallet.created, wallet.transaction.created
    entity_id: str
    at: datetime
    # What the event carries beyond its entity: an alert (state, type, balance, settings), or
    # the balances a wallet had when it was raised.
    data: dict[str, Any] | None = None
    id: str = ""  # sys_event_<ULID>, given when it is raised


# ---- usage: what meters count, how it is priced, who is subscribed -------------------------


@dataclass(slots=True)
class Meter:
    """Counts the events named ``event_name`` whose properties pass every filter."""

    id: str
    name: str
    event_name: str
    aggregation: str  # COUNT | SUM | AVG | MAX | COUNT_UNIQUE | LATEST | SUM_WITH_MULTIPLIER
    created_at: datetime
    updated_at: datetime
    field_name: str = ""  # the property aggregated (all but COUNT): the API's "field"
    multiplier: Decimal | None = None  # SUM_WITH_MULTIPLIER
    filters: dict[str, list[str]] = field(default_factory=dict)  # property -> values it may take
    reset_usage: str = "BILLING_PERIOD"  # BILLING_PERIOD | NEVER
    status: str = "published"


@dataclass(slots=True)
class Feature:
    id: str
    name: str
    type: str  # metered | boolean | static | config
    created_at: datetime
    updated_at: datetime
    meter_id: str = ""
    lookup_key: str = ""
    description: str = ""
    unit_singular: str = ""
    unit_plural: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    status: str = "published"


@dataclass(slots=True)
class Plan:
    id: str
    name: str
    created_at: datetime
    updated_at: datetime
    lookup_key: str = ""
    description: str = ""
    display_order: int = 0
    metadata: dict[str, str] = field(default_factory=dict)
    status: str = "published"


@dataclass(frozen=True, slots=True)
class Tier:
    """A tier of a TIERED price: up to ``up_to`` units (inclusive; None: the rest)."""

    unit_amount: Decimal
    flat_amount: Decimal = Decimal(0)
    up_to: int | None = None


@dataclass(slots=True)
class Price:
    id: str
    entity_type: str  # PLAN | SUBSCRIPTION | ...
    entity_id: str
    currency: str  # lower case
    type: str  # USAGE | FIXED
    billing_model: str  # FLAT_FEE | PACKAGE | TIERED
    billing_period: str  # MONTHLY | ANNUAL | ...
    billing_period_count: int
    invoice_cadence: str  # ARREAR | ADVANCE
    created_at: datetime
    updated_at: datetime
    amount: Decimal = Decimal(0)
    meter_id: str = ""
    tier_mode: str = ""  # VOLUME | SLAB, for TIERED
    tiers: list[Tier] = field(default_factory=list)
    divide_by: int | None = None  # PACKAGE: units per package
    round: str = "up"  # PACKAGE: a partial package counts as one (up) or not at all (down)
    price_unit_type: str = "FIAT"
    start_date: datetime | None = None  # a price made by an update starts when the old one ended
    end_date: datetime | None = None  # terminated (DELETE, or replaced by an update) from then on
    display_name: str = ""
    lookup_key: str = ""
    description: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    status: str = "published"


@dataclass(slots=True)
class LineItem:
    """A price on a subscription; a USAGE one keeps its period's usage, aggregated as it comes."""

    id: str
    subscription_id: str
    price_id: str
    price_type: str
    created_at: datetime
    meter_id: str = ""
    quantity: Decimal = Decimal(1)  # FIXED prices: units charged per period
    display_name: str = ""
    # The current period's usage: what every aggregation needs, never the events themselves.
    count: int = 0
    total: Decimal = Decimal(0)
    maximum: Decimal | None = None
    latest: Decimal | None = None
    latest_at: datetime | None = None
    uniques: set[str] = field(default_factory=set)


@dataclass(slots=True)
class Subscription:
    id: str
    customer_id: str
    plan_id: str
    currency: str  # lower case
    billing_period: str  # MONTHLY | ANNUAL | ...
    billing_period_count: int
    billing_anchor: datetime
    start_date: datetime
    current_period_start: datetime
    current_period_end: datetime
    created_at: datetime
    updated_at: datetime
    line_items: list[str] = field(default_factory=list)  # line item ids, in the plan's order
    billing_cycle: str = "anniversary"
    status: str = "active"  # active | cancelled
    end_date: datetime | None = None
    cancel_at: datetime | None = None
    cancelled_at: datetime | None = None
    cancel_at_period_end: bool = False
    lookup_key: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    parent_subscription_id: str = ""


# What an invoice is for (upstream's invoice_type) and why it was made (its billing_reason).
SUBSCRIPTION, ONE_OFF, CREDIT = "SUBSCRIPTION", "ONE_OFF", "CREDIT"
SUBSCRIPTION_CYCLE, MANUAL, WALLET_AUTO_TOPUP = "SUBSCRIPTION_CYCLE", "MANUAL", "WALLET_AUTO_TOPUP"


@dataclass(slots=True)
class Invoice:
    """Every invoice of a world, in one book: a subscription's for one period (finalized when the
    period closes; prepaid wallets pay its usage, the rest stays due), a top-up's paid later (its
    credit waits, pending, until it is settled: ``wallet_id`` and ``transaction_id`` name them) and
    one-off invoices made by the API.

    Amounts: ``usage_amount`` (what prepaid wallets may pay) plus ``fixed_amount`` is the subtotal;
    ``credits_applied`` lowers what is due (upstream's total_prepaid_credits_applied),
    ``amount_paid`` is what payments settled, ``refunded`` what a void gave back."""

    id: str
    customer_id: str
    currency: str
    created_at: datetime
    invoice_type: str  # SUBSCRIPTION | ONE_OFF | CREDIT
    billing_reason: str = ""  # SUBSCRIPTION_CYCLE | MANUAL | WALLET_AUTO_TOPUP | "" (a top-up by hand)
    invoice_status: str = "FINALIZED"  # DRAFT | FINALIZED | VOIDED | SKIPPED
    payment_status: str = "PENDING"  # PENDING | SUCCEEDED | FAILED | REFUNDED
    subscription_id: str = ""
    wallet_id: str = ""  # a top-up's: the wallet and its pending credit
    transaction_id: str = ""
    period_start: datetime | None = None
    period_end: datetime | None = None
    usage_amount: Decimal = Decimal(0)
    fixed_amount: Decimal = Decimal(0)
    lines: list[dict[str, Any]] = field(default_factory=list)  # price, quantity, amount per item
    credits_applied: Decimal = Decimal(0)  # what wallets paid (usage only)
    amount_paid: Decimal = Decimal(0)  # paid otherwise than with credits (a settled payment)
    settled_at: datetime | None = None  # when its payment succeeded or failed, or it was voided
    refunded: Decimal = Decimal(0)  # given back to a wallet when it was voided
    finalized_at: datetime | None = None  # None: at its creation (unless a DRAFT)
    updated_at: datetime | None = None  # None: not changed since created_at
    due_date: datetime | None = None
    description: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    recalculated_invoice_id: str = ""  # voided and made again as this invoice

    @property
    def top_up(self) -> bool:
        """A top-up's invoice: settling it completes or fails the wallet's pending credit."""
        return bool(self.wallet_id)

    @property
    def top_up_status(self) -> str:
        """A top-up's invoice as the wallet sees it: pending, paid, failed or voided."""
        if self.invoice_status == "VOIDED":
            return "voided"
        return {"SUCCEEDED": "paid", "FAILED": "failed"}.get(self.payment_status, "pending")

    @property
    def total(self) -> Decimal:
        return self.usage_amount + self.fixed_amount

    @property
    def due(self) -> Decimal:
        """What is left to pay once prepaid credits were applied (upstream's amount_due)."""
        return self.total - self.credits_applied

    @property
    def remaining(self) -> Decimal:
        return self.due - self.amount_paid

    @property
    def usage_remaining(self) -> Decimal:
        return self.usage_amount - self.credits_applied
