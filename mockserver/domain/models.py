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
class Invoice:
    """The invoice of a top-up paid later: its credit waits, pending, until it is settled."""

    id: str
    wallet_id: str
    transaction_id: str
    amount: Decimal
    currency: str
    created_at: datetime
    status: str = "pending"  # pending | paid | voided
    settled_at: datetime | None = None
    auto_topup: bool = False


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
