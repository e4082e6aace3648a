"""The scenarios of ``POST /_mock/trigger`` in API version 2026-08-22: for each webhook event
this version's cloud sends, the operations that raise it, performed through this version's own
handlers (the API's checks, domain rules, ledger and events, exactly as if the app had called
the API), creating what is missing (a customer, a wallet, a usage plan and subscription, ...).

Each scenario is a small function over a ``Run`` and the overrides it takes. Overrides are
dotted names (``wallet.currency``); a nested object (``{"wallet": {"currency": "eur"}}``) is the
same thing. Every override is checked before anything is done (names, types, ids of existing
objects).

Scenarios that need time do not wait for the world's clock: usage is evaluated with the usage
itself (the world's ``alert_delay`` is left as it was), and the invoice events come from a
one-day subscription that started a day ago and ends now, so its only period closes at once
and nothing is due later.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from ...domain import alerts, charges, errors, invoices, money, usage, wallets
from ...domain.clock import format_timestamp
from ...domain.models import Customer, Wallet
from ...domain.world import World

if TYPE_CHECKING:
    from ...http.spec import Spec
    from .. import Handler

TEXT, DECIMAL, ID = "text", "decimal", "id"
USAGE_EVENT = "sandbox_trigger_usage"  # the meter's event name, the feature's and plan's lookup key
USAGE_FIELD = "credits"


@dataclass(frozen=True)
class Override:
    kind: str  # text, decimal or id
    minimum: Decimal | None = None  # decimals: the smallest allowed
    above: bool = False  # decimals: strictly above ``minimum``


ZERO = Decimal(0)
OVERRIDES: dict[str, Override] = {
    "customer_id": Override(ID),
    "customer.external_id": Override(TEXT),
    "customer.name": Override(TEXT),
    "customer.email": Override(TEXT),
    "wallet_id": Override(ID),
    "wallet.currency": Override(TEXT),
    "wallet.name": Override(TEXT),
    "wallet.initial_credits": Override(DECIMAL, ZERO),
    "wallet.conversion_rate": Override(DECIMAL, ZERO, above=True),
    "credits": Override(DECIMAL, ZERO, above=True),
    "threshold": Override(DECIMAL),
    "update.name": Override(TEXT),
    "update.email": Override(TEXT),
    "update.description": Override(TEXT),
    "amount": Override(DECIMAL, ZERO, above=True),
    "currency": Override(TEXT),
}
NEW_CUSTOMER = ("customer.external_id", "customer.name", "customer.email")
CUSTOMER = ("customer_id", *NEW_CUSTOMER)
NEW_WALLET = ("wallet.currency", "wallet.name", "wallet.initial_credits", "wallet.conversion_rate")
WALLET = ("wallet_id", *CUSTOMER, *NEW_WALLET)


class Run:
    """One trigger in progress: the world, the overrides, what was created and used."""

    def __init__(self, world: World, handlers: dict[str, Handler], spec: Spec, values: dict[str, Any]):
        self.world, self.values = world, values
        self.handlers, self.spec = handlers, spec
        self.created: list[dict[str, str]] = []
        self.used: list[dict[str, str]] = []

    def value(self, name: str, default: Any = None) -> Any:
        return self.values.get(name, default)

    def made(self, kind: str, object_id: str) -> None:
        self.created.append({"type": kind, "id": object_id})

    def call(self, operation: str, body: Any = None, given: tuple[str, ...] = (), **params: Any) -> Any:
        """An API operation through the version's handler, its body checked by the document first.
        ``given``: the overrides the body was made from, named when the step is refused."""
        given = tuple(name for name in given if name in self.values)
        op = self.spec.by_id[operation]
        if op.body_validator is not None:
            for problem in op.body_validator.iter_errors(body):
                where = ".".join(map(str, problem.absolute_path)) or "body"
                raise errors.validation(
                    f"{operation} refused the trigger's request: {where}: {problem.message}{_from(given)}",
                    "trigger step refused",
                    step=operation,
                    field=where,
                    overrides=list(given),
                )
        try:
            return self.handlers[operation](self.world, params, body)[1]
        except errors.ApiError as error:  # said as the step that was refused, in the API's words
            raise errors.ApiError(
                error.status,
                f"{operation} refused: {error.message}{_from(given)}",
                error.internal_error,
                {"step": operation, **(error.details or {}), "overrides": list(given)},
                error.code,
            ) from None

    def key(self) -> str:
        """An idempotency key of the trigger's own (two triggers in one frozen second never collide)."""
        return "sandbox-trigger-" + self.world.ids.ulid(int(self.world.now().timestamp() * 1000))

    # ---- what a scenario needs, used when given, created when missing ----------------------

    def customer(self) -> Customer:
        if "customer_id" in self.values:
            self.used.append({"type": "customer", "id": self.values["customer_id"]})
            return self.world.customers[self.values["customer_id"]]
        n = len(self.world.customers) + 1
        while f"sandbox-trigger-{n}" in self.world.customer_by_external_id:
            n += 1
        body = {
            "external_id": self.value("customer.external_id", f"sandbox-trigger-{n}"),
            "name": self.value("customer.name", "Sandbox trigger customer"),
        }
        if "customer.email" in self.values:
            body["email"] = self.values["customer.email"]
        made = self.call("createCustomer", body, NEW_CUSTOMER)
        self.made("customer", made["id"])
        return self.world.customers[made["id"]]

    def wallet(self, initial: str = "10", alert_settings: dict | None = None, reuse: bool = True) -> Wallet:
        """The given wallet; else the customer's active prepaid wallet in the currency (``reuse``,
        for a customer given by id); else a new one with ``initial`` credits."""
        if "wallet_id" in self.values:
            self.used.append({"type": "wallet", "id": self.values["wallet_id"]})
            return self.world.wallets[self.values["wallet_id"]]
        customer = self.customer()
        currency = str(self.value("wallet.currency", "usd"))
        if reuse and "customer_id" in self.values:
            for found in wallets.active_wallets_of(self.world, customer.id):
                if found.currency == currency.lower() and found.wallet_type == "PRE_PAID":
                    unused = [n for n in (*NEW_WALLET[1:], "threshold") if n in self.values]
                    if unused:  # never silently ignored
                        raise _refused(
                            f"{', '.join(unused)} would shape a wallet the trigger creates, but customer "
                            f"{customer.id} already has the wallet {found.id} in {found.currency}, "
                            "which is used; give wallet_id, or leave them out",
                            "override does not apply to a wallet used",
                            unused,
                            wallet_id=found.id,
                        )
                    self.used.append({"type": "wallet", "id": found.id})
                    return found
        body: dict[str, Any] = {"customer_id": customer.id, "currency": currency}
        credits = self.value("wallet.initial_credits", initial)
        if Decimal(credits) > 0:
            body["initial_credits_to_load"] = credits
        for name, field in (("wallet.name", "name"), ("wallet.conversion_rate", "conversion_rate")):
            if name in self.values:
                body[field] = self.values[name]
        if alert_settings is not None:
            body["alert_settings"] = alert_settings
        made = self.call("createWallet", body, (*NEW_WALLET, "threshold"))
        self.made("wallet", made["id"])
        return self.world.wallets[made["id"]]

    def top_up(self, wallet: Wallet, credits: Decimal | str, invoiced: bool = False) -> dict[str, Any]:
        reason = "PURCHASED_CREDIT_INVOICED" if invoiced else "PURCHASED_CREDIT_DIRECT"
        body = {"credits_to_add": str(credits), "transaction_reason": reason, "idempotency_key": self.key()}
        answer: dict[str, Any] = self.call("topUpWallet", body, ("credits",), id=wallet.id)
        self.made("wallet_transaction", answer["wallet_transaction"]["id"])
        return answer

    def debit(self, wallet: Wallet, credits: Decimal | str) -> None:
        body = {
            "credits": str(credits),
            "transaction_reason": "MANUAL_BALANCE_DEBIT",
            "idempotency_key": self.key(),
        }
        self.call("debitWallet", body, ("credits",), id=wallet.id)
        self.made("wallet_transaction", self.world.transactions[wallet.id][-1].id)

    def usage(self, wallet: Wallet, credits: Decimal) -> None:
        """Usage worth ``credits`` of the wallet, on the customer's subscription to the trigger's
        usage plan (feature, plan, price and subscription made when missing), evaluated now."""
        customer = self.world.customers[wallet.customer_id]
        meter_id = self._usage_meter()
        plan_id = self.plan(USAGE_EVENT, "Sandbox trigger usage")
        self.price(
            plan_id, wallet.currency, "MONTHLY", {"type": "USAGE", "meter_id": meter_id, "amount": "1"}
        )
        if not any(
            s.plan_id == plan_id and s.currency == wallet.currency and s.status in charges.BILLED_STATUSES
            for s in usage.subscriptions_of(self.world, customer.id)
        ):
            body = {"customer_id": customer.id, "plan_id": plan_id, "currency": wallet.currency}
            made = self.call(
                "createSubscription", {**body, "billing_period": "MONTHLY", "billing_period_count": 1}
            )
            self.made("subscription", made["id"])
        units = money.normalize(credits * wallet.conversion_rate)  # a unit costs 1 of the currency
        event = {
            "event_name": USAGE_EVENT,
            "external_customer_id": customer.external_id,
            "properties": {USAGE_FIELD: str(units)},
        }
        delay = self.world.alert_delay
        usage.set_alert_delay(self.world, timedelta(0))
        try:  # evaluated with the usage itself, not alert_delay later; the world's delay stays
            made = self.call("ingestEvent", event)
        finally:
            usage.set_alert_delay(self.world, delay)
        self.made("event", made["event_id"])

    def _usage_meter(self) -> str:
        for feature in self.world.features.values():
            if feature.lookup_key == USAGE_EVENT and feature.status == "published" and feature.meter_id:
                self.used.append({"type": "feature", "id": feature.id})
                return feature.meter_id
        meter = {
            "name": "Sandbox trigger usage",
            "event_name": USAGE_EVENT,
            "aggregation": {"type": "SUM", "field": USAGE_FIELD},
            "reset_usage": "BILLING_PERIOD",
        }
        body = {"name": "Sandbox trigger usage", "type": "metered", "lookup_key": USAGE_EVENT, "meter": meter}
        made = self.call("createFeature", body)
        self.made("feature", made["id"])
        return str(made["meter_id"])

    def plan(self, lookup_key: str, name: str) -> str:
        for plan in self.world.plans.values():
            if plan.lookup_key == lookup_key:
                self.used.append({"type": "plan", "id": plan.id})
                return plan.id
        made = self.call("createPlan", {"name": name, "lookup_key": lookup_key})
        self.made("plan", made["id"])
        return str(made["id"])

    def price(
        self, plan_id: str, currency: str, period: str, fields: dict[str, Any], given: tuple[str, ...] = ()
    ) -> None:
        for price in usage.prices_of(self.world, plan_id):
            if price.currency == currency.lower() and price.billing_period == period:
                self.used.append({"type": "price", "id": price.id})
                return
        body = {
            "billing_model": "FLAT_FEE",
            "currency": currency,
            "billing_period": period,
            "billing_period_count": 1,
            "invoice_cadence": "ARREAR",
            "entity_type": "PLAN",
            "entity_id": plan_id,
            "price_unit_type": "FIAT",
            **fields,
        }
        made = self.call("createPrice", body, given)
        self.made("price", made["id"])


def _from(given: tuple[str, ...]) -> str:
    return f" (from overrides: {', '.join(given)})" if given else ""


# ---- the scenarios ------------------------------------------------------------------------------


def _levels(wallet: Wallet) -> list[Decimal]:
    """The thresholds of the alert levels a wallet is held to (the tenant's critical 0 by default)."""
    settings = alerts.own_settings(wallet) or alerts.TENANT_DEFAULT
    return [level.threshold for level in (settings.critical, settings.warning, settings.info) if level]


def _dropped(run: Run, wallet: Wallet, kind: str) -> bool:
    return run.world.alert_states.get((wallet.id, kind)) in run.world.rules.dropped_states


def _alerts(run: Run, enabled: bool) -> dict[str, Any] | None:
    """The alert settings of a wallet the trigger creates: critical at ``threshold`` (0 by default)."""
    if not enabled and "threshold" not in run.values:
        return None  # the tenant's default: critical at or below 0
    threshold = run.value("threshold", "0")
    return {"critical": {"threshold": threshold, "condition": "below"}, "alert_enabled": enabled}


def _down_to_level(value: Decimal, wallet: Wallet) -> Decimal:
    """What takes ``value`` down to the wallet's first alert level (at least a little)."""
    return max(value - max(_levels(wallet)), Decimal(1))


def _back_up(value: Decimal, wallet: Wallet) -> Decimal:
    """What lifts ``value`` 10 credits above every alert level of the wallet."""
    return max(_levels(wallet)) - value + 10


def customer_created(run: Run) -> None:
    run.customer()


def customer_updated(run: Run) -> None:
    customer = run.customer()
    body = {"name": run.value("update.name", f"{customer.name} (updated)")}
    if "update.email" in run.values:
        body["email"] = run.values["update.email"]
    run.call("updateCustomerById", body, ("update.name", "update.email"), id=customer.id)


def customer_deleted(run: Run) -> None:
    run.call("deleteCustomer", id=run.customer().id)


def wallet_created(run: Run) -> None:
    run.wallet(initial="0", reuse=False)


def wallet_updated(run: Run) -> None:
    wallet = run.wallet()
    body = {"name": run.value("update.name", f"{wallet.name} (updated)")}
    if "update.description" in run.values:
        body["description"] = run.values["update.description"]
    run.call("updateWallet", body, ("update.name", "update.description"), id=wallet.id)


def wallet_terminated(run: Run) -> None:
    run.call("terminateWallet", id=run.wallet().id)


def transaction_created(run: Run) -> None:
    run.top_up(run.wallet(), run.value("credits", "10"))


def transaction_updated(run: Run) -> None:
    answer = run.top_up(run.wallet(), run.value("credits", "10"), invoiced=True)
    run.made("invoice", answer["invoice_id"])
    if run.world.invoices[answer["invoice_id"]].top_up_status in (
        "pending",
        "failed",
    ):  # a policy may have settled it
        wallets.settle_invoice(run.world, answer["invoice_id"], "pay")  # as /_mock/invoices/{id}/pay


def credit_dropped(run: Run) -> None:
    wallet = run.wallet(alert_settings=_alerts(run, enabled=False))
    run.debit(wallet, run.value("credits") or _down_to_level(wallet.credit_balance, wallet))


def credit_recovered(run: Run) -> None:
    wallet = run.wallet(alert_settings=_alerts(run, enabled=False))
    if not _dropped(run, wallet, alerts.CREDIT):
        run.debit(wallet, _down_to_level(wallet.credit_balance, wallet))
    run.top_up(wallet, run.value("credits") or _back_up(wallet.credit_balance, wallet))


def ongoing_dropped(run: Run) -> None:
    wallet = run.wallet(alert_settings=_alerts(run, enabled=True))
    ongoing = charges.ongoing_credits(run.world, wallet)
    run.usage(wallet, Decimal(run.value("credits") or _down_to_level(ongoing, wallet)))


def ongoing_recovered(run: Run) -> None:
    wallet = run.wallet(alert_settings=_alerts(run, enabled=True))
    if not _dropped(run, wallet, alerts.ONGOING):
        run.usage(wallet, _down_to_level(charges.ongoing_credits(run.world, wallet), wallet))
    ongoing = charges.ongoing_credits(run.world, wallet)
    run.top_up(wallet, run.value("credits") or _back_up(ongoing, wallet))


def ongoing_updated(run: Run) -> None:
    wallet = run.wallet(alert_settings=_alerts(run, enabled=True))
    run.usage(wallet, Decimal(run.value("credits", "1")))


def invoice(run: Run) -> None:
    """A period closes now: a one-day subscription to a plan with a fixed charge, started a day
    ago and ending now, so its only period is invoiced at once (and nothing else is due later)."""
    customer = run.customer()
    currency, amount = (
        str(run.value("currency", "usd")).lower(),
        money.normalize(Decimal(run.value("amount", "10"))),
    )
    plan_id = run.plan(
        f"sandbox_trigger_invoice_{currency}_{amount}", f"Sandbox trigger invoice {amount} {currency}"
    )
    run.price(plan_id, currency, "DAILY", {"type": "FIXED", "amount": str(amount)}, ("currency", "amount"))
    now = run.world.now()
    end = now.replace(microsecond=now.microsecond // 1000 * 1000)  # subscriptions keep milliseconds
    body = {
        "customer_id": customer.id,
        "plan_id": plan_id,
        "currency": currency,
        "billing_period": "DAILY",
        "billing_period_count": 1,
        "start_date": format_timestamp(end - timedelta(days=1)),
        "end_date": format_timestamp(end),
    }
    made = run.call("createSubscription", body, ("currency",))
    run.made("subscription", made["id"])
    usage.catch_up(run.world)  # what the next request would do: the period has ended
    for bill in run.world.invoices.values():
        if bill.subscription_id == made["id"]:
            run.made("invoice", bill.id)


def invoice_settled(outcome: str) -> Callable[[Run], None]:
    """A period closes now (as for ``invoice``), then what its invoice still owes is paid
    (``pay``: invoice.update.payment) or the invoice is voided (``void``: invoice.update.voided),
    as the controls settle it. A policy of the world's may already have settled it in the close."""

    def scenario(run: Run) -> None:
        invoice(run)
        made = [c["id"] for c in run.created if c["type"] == "invoice"]
        if not made:
            return
        bill = run.world.invoices[made[-1]]
        owes = bill.remaining > 0 and bill.payment_status == "PENDING"
        if bill.invoice_status == "FINALIZED" and (outcome == "void" or owes):
            invoices.settle_bill(run.world, bill, outcome)

    return scenario


def payment(update: bool) -> Callable[[Run], None]:
    """A one-off invoice of ``amount`` paid whole by an OFFLINE payment (payment.created, then
    payment.pending and payment.success as it is processed); ``update``: its metadata is then
    changed (payment.updated)."""

    def scenario(run: Run) -> None:
        customer = run.customer()
        currency = str(run.value("currency", "usd")).lower()
        amount = format(money.normalize(Decimal(run.value("amount", "10"))), "f")
        line = {"amount": amount, "quantity": "1", "display_name": "Sandbox trigger payment"}
        body = {
            "customer_id": customer.id,
            "currency": currency,
            "amount_due": amount,
            "subtotal": amount,
            "total": amount,
            "line_items": [line],
        }
        made = run.call("createInvoice", body, ("currency", "amount"))
        run.made("invoice", made["id"])
        body = {
            "destination_type": "INVOICE",
            "destination_id": made["id"],
            "payment_method_type": "OFFLINE",
            "amount": amount,
            "currency": currency,
            "idempotency_key": run.key(),
        }
        paid = run.call("createPayment", body, ("currency", "amount"))
        run.made("payment", paid["id"])
        if update:
            run.call("updatePayment", {"metadata": {"source": "sandbox-trigger"}}, id=paid["id"])

    return scenario


@dataclass(frozen=True)
class Scenario:
    run: Callable[[Run], None]
    takes: tuple[str, ...]
    # Why the event may not come of it (said when it did not); {wallet} is the wallet's id.
    unless: str = ""


ALERT_HINT = (
    "the wallet's {stream} was already at its alert level or has alert settings the trigger cannot "
    "reach (its state: {state})"
)
SCENARIOS: dict[str, Scenario] = {
    "customer.created": Scenario(customer_created, NEW_CUSTOMER),
    "customer.updated": Scenario(customer_updated, (*CUSTOMER, "update.name", "update.email")),
    "customer.deleted": Scenario(customer_deleted, CUSTOMER),
    "wallet.created": Scenario(wallet_created, (*CUSTOMER, *NEW_WALLET)),
    "wallet.updated": Scenario(wallet_updated, (*WALLET, "update.name", "update.description")),
    "wallet.terminated": Scenario(wallet_terminated, WALLET),
    "wallet.transaction.created": Scenario(transaction_created, (*WALLET, "credits")),
    "wallet.transaction.updated": Scenario(
        transaction_updated,
        (*WALLET, "credits"),
        "the world's invoiced_top_ups policy settled the purchase as it was made: nothing pending to update",
    ),
    "wallet.credit_balance.dropped": Scenario(credit_dropped, (*WALLET, "credits", "threshold"), ALERT_HINT),
    "wallet.credit_balance.recovered": Scenario(
        credit_recovered, (*WALLET, "credits", "threshold"), ALERT_HINT
    ),
    "wallet.ongoing_balance.dropped": Scenario(
        ongoing_dropped, (*WALLET, "credits", "threshold"), ALERT_HINT
    ),
    "wallet.ongoing_balance.recovered": Scenario(
        ongoing_recovered, (*WALLET, "credits", "threshold"), ALERT_HINT
    ),
    "wallet.ongoing_balance.updated": Scenario(
        ongoing_updated,
        (*WALLET, "credits", "threshold"),
        "the wallet's ongoing balance is watched only with alert_settings.alert_enabled or an auto top-up",
    ),
    "invoice.update": Scenario(invoice, (*CUSTOMER, "amount", "currency")),
    "invoice.update.finalized": Scenario(invoice, (*CUSTOMER, "amount", "currency")),
    "invoice.update.payment": Scenario(
        invoice_settled("pay"),
        (*CUSTOMER, "amount", "currency"),
        "the world's subscription_invoices policy settled the invoice another way as it was finalized",
    ),
    "invoice.update.voided": Scenario(invoice_settled("void"), (*CUSTOMER, "amount", "currency")),
    "payment.created": Scenario(payment(update=False), (*CUSTOMER, "amount", "currency")),
    "payment.pending": Scenario(payment(update=False), (*CUSTOMER, "amount", "currency")),
    "payment.success": Scenario(payment(update=False), (*CUSTOMER, "amount", "currency")),
    "payment.updated": Scenario(payment(update=True), (*CUSTOMER, "amount", "currency")),
}


# ---- reading the request ------------------------------------------------------------------------


def _flatten(raw: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    for name, value in raw.items():
        if isinstance(value, dict) and value:
            yield from _flatten(value, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", value


def _refused(message: str, cause: str, names: list[str], **details: Any) -> errors.ApiError:
    return errors.validation(message, cause, overrides=names, **details)


def read_overrides(world: World, event: str, raw: Any) -> dict[str, Any]:
    """The overrides of ``event``'s scenario, checked (names, types, existing ids) before
    anything is done; a refusal names every override at fault."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise errors.validation(
            'overrides must be an object such as {"wallet.currency": "eur"}', "overrides is not an object"
        )
    values: dict[str, Any] = {}
    for name, value in _flatten(raw):
        if name in values:
            raise _refused(f"Override {name} is given twice (dotted and nested)", "override repeated", [name])
        values[name] = value
    takes = SCENARIOS[event].takes
    unknown = [name for name in values if name not in takes]
    if unknown:
        raise _refused(
            f"Overrides that do not apply to {event}: {', '.join(unknown)} (it takes: {', '.join(takes)})",
            "unknown override",
            unknown,
            accepted=list(takes),
        )
    problems = {name: p for name, value in values.items() if (p := _problem(OVERRIDES[name], value))}
    if problems:
        said = "; ".join(f"{name} {problem}" for name, problem in problems.items())
        raise _refused(
            f"Invalid overrides: {said}",
            "invalid override",
            list(problems),
            errors=[{"field": f"overrides.{n}", "problem": p} for n, p in problems.items()],
        )
    values = {n: (_decimal_text(v) if OVERRIDES[n].kind == DECIMAL else v) for n, v in values.items()}
    _check_ids(world, values)
    return values


def _problem(override: Override, value: Any) -> str | None:
    if override.kind in (TEXT, ID):
        return None if isinstance(value, str) and value.strip() else "must be a non-empty string"
    number = None
    if isinstance(value, (int, float, Decimal, str)) and not isinstance(value, bool):
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            number = None
    if number is None or not number.is_finite():
        return 'must be a decimal such as "10.5"'
    if override.minimum is not None and (
        number < override.minimum or (override.above and number == override.minimum)
    ):
        return f"must be {'greater than' if override.above else 'at least'} {override.minimum}"
    return None


def _decimal_text(value: Any) -> str:
    return str(money.normalize(Decimal(str(value))))


def _check_ids(world: World, values: dict[str, Any]) -> None:
    wallet_id, customer_id = values.get("wallet_id"), values.get("customer_id")
    if wallet_id is not None:
        clash = [n for n in values if n in (*CUSTOMER, *NEW_WALLET, "threshold")]
        if clash:
            raise _refused(
                f"wallet_id uses an existing wallet, so {', '.join(clash)} cannot apply",
                "override conflicts with wallet_id",
                clash,
            )
        wallet = world.wallets.get(wallet_id)
        if wallet is None or wallet.wallet_status != wallets.ACTIVE:
            state = "names no wallet" if wallet is None else f"names a {wallet.wallet_status} wallet"
            raise _refused(f"wallet_id {state}: {wallet_id}", "override names nothing", ["wallet_id"])
    if customer_id is not None:
        clash = [n for n in values if n in NEW_CUSTOMER]
        if clash:
            raise _refused(
                f"customer_id uses an existing customer, so {', '.join(clash)} cannot apply",
                "override conflicts with customer_id",
                clash,
            )
        customer = world.customers.get(customer_id)
        if customer is None or customer.status != "published":
            raise _refused(
                f"customer_id names no customer: {customer_id}", "override names nothing", ["customer_id"]
            )


def why_not(run: Run, event: str) -> str:
    """Why ``event``'s scenario may not have raised it, as far as the world tells."""
    scenario = SCENARIOS[event]
    if "{" not in scenario.unless:  # a reason of its own, or none
        return scenario.unless or "the scenario did not raise it"
    wallet = next((run.world.wallets[o["id"]] for o in run.created + run.used if o["type"] == "wallet"), None)
    if wallet is None:
        return "the scenario did not raise it"
    kind = alerts.ONGOING if "ongoing" in event else alerts.CREDIT
    state = run.world.alert_states.get((wallet.id, kind), "ok")
    stream = "ongoing balance" if kind == alerts.ONGOING else "credit balance"
    return f"wallet {wallet.id}: " + scenario.unless.format(stream=stream, state=state)
