"""Fixtures: YAML files of customers, their wallets and top-ups (and, on 2026-08-22, the usage
set-up: metered features, plans with their prices, customers' subscriptions), loaded into new worlds.

A fixture is checked against the same request schemas as the API version's document when
it is read, then tried once on a scratch world, so a broken file stops the start with its name, the
line and the problem. It is loaded through the version's own operations, so it obeys the API's rules::

    keys: ["sk_demo_*"]          # optional: only worlds of these API keys (globs); default: all
    customers:
      - external_id: acme
        name: Acme Inc.
        wallets:
          - currency: usd
            initial_credits_to_load: 100
            top_ups:
              - credits_to_add: 50
                transaction_reason: PURCHASED_CREDIT_DIRECT

The usage set-up refers to what it made by lookup key: a price's ``feature`` (a feature's
``lookup_key``) gives its ``meter_id``, a subscription's ``plan`` (a plan's ``lookup_key``) its
``plan_id``; the rest of each item is the body of the operation that makes it::

    features:
      - name: API calls
        type: metered
        lookup_key: api_calls
        meter: {name: Calls, event_name: api_call, aggregation: {type: COUNT}, reset_usage: BILLING_PERIOD}
    plans:
      - name: Pro
        lookup_key: pro
        prices:
          - {type: USAGE, feature: api_calls, billing_model: FLAT_FEE, amount: "0.01", currency: usd,
             billing_period: MONTHLY, billing_period_count: 1, invoice_cadence: ARREAR}
    customers:
      - external_id: acme
        name: Acme Inc.
        subscriptions: [{plan: pro, currency: usd, billing_period: MONTHLY}]

``policies`` (2026-08-22) sets how the world's pending things settle, as ``PUT /_mock/policies``
does, before anything else is made: ``policies: {invoiced_top_ups: {after: PT1H}}``.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft4Validator

from ..api import ApiVersion, Handler
from ..domain import errors, policies, usage
from ..domain.world import World
from ..http.spec import Spec
from ..text import field_path
from ..webhooks import endpoints

TOP_LEVEL = ("description", "keys", "policies", "features", "plans", "customers", "webhooks")
# The operations a fixture goes through, the same in every API version.
FIXTURE_OPERATIONS = ("createCustomer", "createWallet", "topUpWallet", "getWallet")
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"


class FixtureError(Exception):
    """A fixture that cannot be used: ``source:line: item.path: problem``."""

    def __init__(self, source: str, line: int | None, where: str, problem: str):
        place = f"{source}:{line}" if line else source
        super().__init__(f"{place}: {where + ': ' if where else ''}{problem}")
        self.source, self.line, self.where, self.problem = source, line, where, problem


class _Loader(yaml.SafeLoader):
    """Safe YAML where numbers with a fraction are exact Decimals and dates stay strings
    (the API takes RFC 3339 text, and a float would round credits)."""


def _decimal(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    text = loader.construct_scalar(node)
    try:
        number = Decimal(text.replace("_", ""))
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        raise yaml.constructor.ConstructorError(
            None, None, f"{text!r} is not a finite number", node.start_mark
        )
    return number


_Loader.add_constructor("tag:yaml.org,2002:float", _decimal)
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regex) for tag, regex in resolvers if tag != _TIMESTAMP_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass
class Fixture:
    source: str
    customers: list[dict[str, Any]]
    keys: list[str] | None = None
    features: list[dict[str, Any]] = field(default_factory=list)
    plans: list[dict[str, Any]] = field(default_factory=list)
    webhooks: list[dict[str, Any]] = field(default_factory=list)  # endpoint registrations
    policies: dict[str, Any] | None = None  # how the world's pending things settle (PUT /_mock/policies)
    _root: Any = field(default=None, repr=False)  # the YAML node tree, for line numbers

    def applies_to(self, api_key: str) -> bool:
        return self.keys is None or any(fnmatch.fnmatchcase(api_key, k) for k in self.keys)

    def line_of(self, path: tuple) -> int | None:
        """The line (1-based) of the deepest YAML node on ``path`` that exists."""
        node = self._root
        if node is None:
            return None
        for part in path:
            child = None
            if isinstance(node, yaml.MappingNode):
                child = next((v for k, v in node.value if getattr(k, "value", None) == part), None)
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
                child = node.value[part]
            if child is None:
                break
            node = child
        return node.start_mark.line + 1


def item_path(path: tuple) -> str:
    return field_path(path)


# ---- reading ------------------------------------------------------------------------------


def load(path: str | Path, spec: Spec, version: ApiVersion) -> list[Fixture]:
    """Every fixture of a directory (``*.yaml``, ``*.yml``, by name) or of one file, checked."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    elif path.is_file():
        files = [path]
    else:
        raise FixtureError(str(path), None, "", "no such fixture file or directory")
    found = []
    for file in files:
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise FixtureError(str(file), None, "", f"cannot be read: {exc}") from None
        fixture = parse(text, str(file), spec, version.webhook_events)
        try_out(fixture, version)
        found.append(fixture)
    return found


def parse(text: str, source: str, spec: Spec, webhook_events: tuple[str, ...] = ()) -> Fixture:
    """A fixture from YAML (or JSON) text; every item is checked against the API's schemas."""
    try:
        loader = _Loader(text)
        try:
            root = loader.get_single_node()
            document = loader.construct_document(root) if root is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = " ".join(p for p in (exc.context, exc.problem) if p)
        raise FixtureError(source, mark.line + 1 if mark else None, "", problem) from None
    except yaml.YAMLError as exc:
        raise FixtureError(source, None, "", str(exc)) from None
    fixture = Fixture(source, [], None, _root=root)
    if document is None:
        return fixture
    _check(fixture, document, spec)
    fixture.keys = document.get("keys")
    fixture.customers = document.get("customers") or []
    fixture.features = document.get("features") or []
    fixture.plans = document.get("plans") or []
    fixture.webhooks = _webhooks(fixture, document.get("webhooks"), webhook_events)
    fixture.policies = document.get("policies")
    if fixture.policies is not None:
        _policies(fixture, policies.defaults(), policies.KINDS)
    return fixture


def _policies(
    fixture: Fixture, current: dict[str, policies.Policy], kinds: tuple[str, ...]
) -> dict[str, policies.Policy]:
    """The world's policies with those the fixture names (a partial update, as PUT's)."""
    try:
        return policies.update(current, fixture.policies, kinds)
    except policies.PolicyError as error:
        at = ("policies",) + tuple(part for part in error.field.split(".") if part != "<body>")
        raise _fail(fixture, at, error.problem) from None


def _webhooks(fixture: Fixture, items: Any, known_events: tuple[str, ...]) -> list[dict[str, Any]]:
    """Webhook endpoints the fixture gives each world: checked as a registration is."""
    if items is None:
        return []
    if not isinstance(items, list):
        raise _fail(fixture, ("webhooks",), "must be a list of endpoints such as {url: http://...}")
    if items and not known_events:
        raise _fail(fixture, ("webhooks",), "webhooks are sent by API version 2026-08-22 only")
    for i, item in enumerate(items):
        try:
            endpoints.parse(item, "ep_fixture", datetime.now(timezone.utc), known_events)
        except endpoints.WebhookError as error:
            at = ("webhooks", i) + ((error.field,) if isinstance(item, dict) and error.field in item else ())
            raise _fail(fixture, at, str(error)) from None
    return items


def _fail(fixture: Fixture, path: tuple, problem: str) -> FixtureError:
    return FixtureError(fixture.source, fixture.line_of(path), item_path(path), problem)


def _check(fixture: Fixture, document: Any, spec: Spec) -> None:
    if not isinstance(document, dict):
        raise _fail(fixture, (), "must be a mapping with customers (and optionally keys)")
    _no_unknown(fixture, document, TOP_LEVEL, ())
    keys = document.get("keys")
    if keys is not None and not (isinstance(keys, list) and all(isinstance(k, str) and k for k in keys)):
        raise _fail(fixture, ("keys",), "must be a list of API keys (globs such as sk_demo_*)")
    items = document.get("customers") or []
    if not isinstance(items, list):
        raise _fail(fixture, ("customers",), "must be a list")
    _check_usage(fixture, document, spec)
    customer_schema, wallet_schema, top_up_schema = (
        Draft4Validator(spec.by_id[name].body_schema)
        for name in ("createCustomer", "createWallet", "topUpWallet")
    )
    for i, customer in enumerate(items):
        at = ("customers", i)
        _item(fixture, customer, customer_schema, at, extra=("wallets", "subscriptions"))
        for j, sub in enumerate(_list(fixture, customer, "subscriptions", at)):
            _item(
                fixture,
                sub,
                _schema(fixture, spec, "createSubscription", at + ("subscriptions",)),
                at + ("subscriptions", j),
                extra=("plan",),
                implied={"plan_id": "plan_fixture"},
                hidden=("customer_id", "external_customer_id", "plan_id"),
            )
        for j, wallet in enumerate(_list(fixture, customer, "wallets", at)):
            wat = at + ("wallets", j)
            if isinstance(wallet, dict) and "customer_id" in wallet:
                raise _fail(
                    fixture,
                    wat + ("customer_id",),
                    "is taken from the customer the wallet is listed under; leave it out",
                )
            _item(
                fixture,
                wallet,
                wallet_schema,
                wat,
                extra=("top_ups",),
                implied={"customer_id": "cust_fixture"},
                hidden=("customer_id",),
            )
            for k, top_up in enumerate(_list(fixture, wallet, "top_ups", wat)):
                _item(fixture, top_up, top_up_schema, wat + ("top_ups", k), implied={"idempotency_key": ""})


def _schema(fixture: Fixture, spec: Spec, operation: str, at: tuple) -> Draft4Validator:
    """The request schema of a usage operation; refused by a version that has none."""
    op = spec.by_id.get(operation)
    if op is None:
        raise _fail(
            fixture,
            at,
            "usage (features, plans, subscriptions) is served by API version 2026-08-22 only",
        )
    return Draft4Validator(op.body_schema)


def _check_usage(fixture: Fixture, document: dict, spec: Spec) -> None:
    for i, feature in enumerate(_list(fixture, document, "features", ())):
        _item(fixture, feature, _schema(fixture, spec, "createFeature", ("features",)), ("features", i))
    for i, plan in enumerate(_list(fixture, document, "plans", ())):
        at = ("plans", i)
        _item(fixture, plan, _schema(fixture, spec, "createPlan", ("plans",)), at, extra=("prices",))
        for j, price in enumerate(_list(fixture, plan, "prices", at)):
            _item(
                fixture,
                price,
                _schema(fixture, spec, "createPrice", at),
                at + ("prices", j),
                extra=("feature",),
                implied={"entity_type": "PLAN", "entity_id": "plan_fixture", "price_unit_type": "FIAT"},
                hidden=("entity_type", "entity_id"),
            )


def _list(fixture: Fixture, parent: dict, name: str, at: tuple) -> list:
    value = parent.get(name) or []
    if not isinstance(value, list):
        raise _fail(fixture, at + (name,), "must be a list")
    return value


def _no_unknown(fixture: Fixture, item: dict, allowed, at: tuple) -> None:
    for name in item:
        if name not in allowed:
            raise _fail(
                fixture, at + (name,), f"unknown field {name!r} (expected one of: {', '.join(allowed)})"
            )


def _item(fixture: Fixture, item: Any, validator, at: tuple, extra=(), implied=None, hidden=()) -> None:
    """One customer, wallet or top-up: the API's request schema, and no unknown fields."""
    if not isinstance(item, dict):
        raise _fail(fixture, at, "must be a mapping")
    allowed = tuple(p for p in validator.schema["properties"] if p not in hidden) + tuple(extra)
    _no_unknown(fixture, item, allowed, at)
    body = {**(implied or {}), **{k: v for k, v in item.items() if k not in extra}}
    for error in sorted(validator.iter_errors(body), key=lambda e: list(map(str, e.absolute_path))):
        raise _fail(fixture, at + tuple(error.absolute_path), error.message)


# ---- loading into a world ------------------------------------------------------------------


def apply(fixture: Fixture, world: World, version: ApiVersion) -> tuple[list[Any], list[Any]]:
    """Create the fixture's customers, wallets and top-ups in ``world`` through the version's own
    operations, so they obey the API's rules; returns the customers and wallets as it shows them.

    Runs inside the world's unit of work. A refusal raises FixtureError naming the item.
    """
    create_customer, create_wallet, top_up, get_wallet = (
        version.handlers[name] for name in FIXTURE_OPERATIONS
    )
    if fixture.policies is not None:  # first: the fixture's own top-ups settle as they say
        usage.set_policies(world, _policies(fixture, world.policies, version.rules.pending_kinds))
    plans = _apply_catalog(fixture, world, version)
    made_customers, made_wallets = [], []
    for i, item in enumerate(fixture.customers):
        at: tuple = ("customers", i)
        body = {k: v for k, v in item.items() if k not in ("wallets", "subscriptions")}
        customer = _call(fixture, at, create_customer, world, {}, body)
        made_customers.append(customer)
        for j, sub in enumerate(item.get("subscriptions") or ()):
            sat = at + ("subscriptions", j)
            body = {k: v for k, v in sub.items() if k != "plan"}
            body.update(
                customer_id=customer["id"],
                plan_id=_named(fixture, sat + ("plan",), plans, sub.get("plan")),
            )
            _call(fixture, sat, version.handlers["createSubscription"], world, {}, body)
        for j, wallet_item in enumerate(item.get("wallets") or ()):
            wat = at + ("wallets", j)
            body = {k: v for k, v in wallet_item.items() if k != "top_ups"}
            wallet = _call(fixture, wat, create_wallet, world, {}, {**body, "customer_id": customer["id"]})
            for k, top_up_item in enumerate(wallet_item.get("top_ups") or ()):
                _call(
                    fixture,
                    wat + ("top_ups", k),
                    top_up,
                    world,
                    {"id": wallet["id"]},
                    {"idempotency_key": "", **top_up_item},
                )
            made_wallets.append(_call(fixture, wat, get_wallet, world, {"id": wallet["id"]}, None))
    return made_customers, made_wallets


def _apply_catalog(fixture: Fixture, world: World, version: ApiVersion) -> dict[str, str]:
    """Create the fixture's features and plans with their prices; returns each plan's id by its
    lookup key (or name)."""
    meters: dict[str, str] = {}
    plans: dict[str, str] = {}
    for i, item in enumerate(fixture.features):
        feature = _call(fixture, ("features", i), version.handlers["createFeature"], world, {}, item)
        meters[item.get("lookup_key") or item["name"]] = feature.get("meter_id", "")
    for i, item in enumerate(fixture.plans):
        at: tuple = ("plans", i)
        plan = _call(
            fixture,
            at,
            version.handlers["createPlan"],
            world,
            {},
            {k: v for k, v in item.items() if k != "prices"},
        )
        plans[item.get("lookup_key") or item["name"]] = plan["id"]
        for j, price in enumerate(item.get("prices") or ()):
            pat = at + ("prices", j)
            body = {"price_unit_type": "FIAT", **{k: v for k, v in price.items() if k != "feature"}}
            body.update(entity_type="PLAN", entity_id=plan["id"])
            if "feature" in price:
                body["meter_id"] = _named(fixture, pat + ("feature",), meters, price["feature"])
            _call(fixture, pat, version.handlers["createPrice"], world, {}, body)
    return plans


def _named(fixture: Fixture, at: tuple, made: dict[str, str], name: Any) -> str:
    if name not in made:
        known = ", ".join(made) or "none"
        raise _fail(fixture, at, f"names nothing the fixture made: {name!r} (known: {known})")
    return made[name]


def _call(
    fixture: Fixture, at: tuple, handler: Handler, world: World, params: dict[str, Any], body: Any
) -> Any:
    try:
        return handler(world, params, body)[1]
    except errors.ApiError as error:
        details = f" ({error.details})" if error.details else ""
        raise _fail(fixture, at, f"{error.message}{details}") from None


def try_out(fixture: Fixture, version: ApiVersion) -> None:
    """Load the fixture into a throwaway world, so rule violations show up at start."""
    apply(fixture, World("tenant_fixture_check", ""), version)


def apply_matching(fixtures: list[Fixture], world: World, api_key: str, version: ApiVersion) -> None:
    """Fill a new world with every fixture meant for its key (the store's setup hook)."""
    for fixture in fixtures:
        if fixture.applies_to(api_key):
            apply(fixture, world, version)
