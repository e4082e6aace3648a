"""Customer rules: create, read, look up by external id, list and search, update, delete.

As in the cloud, ``external_id`` is unique among a world's published customers and doubles as
the lookup key; deleting archives the customer and is refused while it has an active wallet.
Callers hold ``world.lock``.
"""
from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Callable

from . import errors
from . import wallets
from .clock import parse_timestamp
from .models import Customer
from .world import World

ADDRESS_FIELDS = ("address_line1", "address_line2", "address_city", "address_state",
                  "address_postal_code", "address_country")
TEXT_FIELDS = ("external_id", "name", "email") + ADDRESS_FIELDS
# ISO 3166-1 alpha-2, the codes the cloud's validator accepts for address_country.
COUNTRIES = frozenset("""
AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS
BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE
EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM
HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC
LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA
NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW
SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO
TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW""".split())
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_GO_NAMES = {"external_id": "ExternalID", "email": "Email", "address_country": "AddressCountry",
             "name": "Name"}


def _field_error(struct: str, field: str, tag: str) -> errors.ApiError:
    """The cloud's validator failure: details keyed by the Go field name, as it sends them."""
    go_name = _GO_NAMES[field]
    text = f"Key: '{struct}.{go_name}' Error:Field validation for '{go_name}' failed on the '{tag}' tag"
    return errors.ApiError(400, "Request validation failed", text, {go_name: text})


def _check_fields(struct: str, body: dict[str, Any], creating: bool) -> None:
    if creating or "external_id" in body:
        if not body.get("external_id"):
            raise _field_error(struct, "external_id", "required")
    if creating or "name" in body:
        if not body.get("name"):
            # The cloud's database refuses an empty name (as a 500); the sandbox says why.
            raise errors.validation("Customer name is required", "name must not be empty",
                                    name="is required")
    if body.get("email") and not _EMAIL.match(body["email"]):
        raise _field_error(struct, "email", "email")
    country = body.get("address_country")
    if country:
        if len(country) != 2:
            raise _field_error(struct, "address_country", "len")
        if country not in COUNTRIES:
            raise _field_error(struct, "address_country", "iso3166_1_alpha2")


def _claim_external_id(world: World, external_id: str, customer_id: str) -> None:
    holder = world.customer_by_external_id.get(external_id)
    if holder is not None and holder != customer_id:
        raise errors.conflict("A customer with this identifier already exists",
                              "customer with this external_id already exists",
                              external_id=external_id)


def create(world: World, body: dict[str, Any]) -> Customer:
    _check_fields("CreateCustomerRequest", body, creating=True)
    _claim_external_id(world, body["external_id"], "")
    now = world.now()
    customer = Customer(id=world.new_id("cust_", now), created_at=now, updated_at=now,
                        metadata=dict(body.get("metadata") or {}),
                        **{name: body.get(name, "") for name in TEXT_FIELDS})
    world.customers[customer.id] = customer
    world.customer_by_external_id[customer.external_id] = customer.id
    return customer


def get(world: World, customer_id: str) -> Customer:
    customer = world.customers.get(customer_id)
    if customer is None:
        raise errors.not_found(f"Customer with ID {customer_id} was not found",
                               "ent: customer not found", customer_id=customer_id)
    return customer


def by_lookup_key(world: World, lookup_key: str) -> Customer:
    customer_id = world.customer_by_external_id.get(lookup_key)
    if customer_id is None:
        raise errors.not_found(f"Customer with lookup key {lookup_key} was not found",
                               "ent: customer not found", lookup_key=lookup_key)
    return world.customers[customer_id]


def update(world: World, customer_id: str, body: dict[str, Any]) -> Customer:
    _check_fields("UpdateCustomerRequest", body, creating=False)
    customer = get(world, customer_id)
    new_external_id = body.get("external_id")
    if new_external_id is not None and new_external_id != customer.external_id:
        _claim_external_id(world, new_external_id, customer.id)
        if world.customer_by_external_id.get(customer.external_id) == customer.id:
            del world.customer_by_external_id[customer.external_id]
        if customer.status == "published":
            world.customer_by_external_id[new_external_id] = customer.id
    for name in TEXT_FIELDS:
        if name in body:
            setattr(customer, name, body[name])
    if "metadata" in body:
        customer.metadata = dict(body["metadata"])
    customer.updated_at = world.now()
    return customer


def delete(world: World, customer_id: str) -> None:
    customer = world.customers.get(customer_id)
    if customer is None or customer.status != "published":
        raise errors.not_found("Customer does not exist", "customer does not exist",
                               customer_id=customer_id)
    if wallets.active_wallets_of(world, customer_id):
        raise errors.validation("Customer cannot be deleted due to associated wallets",
                                "customer has active wallets", customer_id=customer_id)
    customer.status = "archived"
    customer.updated_at = world.now()
    del world.customer_by_external_id[customer.external_id]


# ---- listing -------------------------------------------------------------------------------

SORTABLE = ("created_at", "updated_at", "name", "external_id", "email", "id")


def _time(value: Any, name: str) -> datetime:
    try:
        return parse_timestamp(value)
    except (ValueError, TypeError):
        raise errors.validation("Invalid filter parameters", f"{name} must be an RFC 3339 timestamp",
                                **{name: str(value)}) from None


def _condition(cond: dict[str, Any]) -> Callable[[Customer], bool]:
    """One entry of ``filters``: field, operator and a value under the key of its kind."""
    field, operator = cond.get("field"), cond.get("operator", "eq")
    if field not in TEXT_FIELDS + ("id", "status", "created_at", "updated_at"):
        raise errors.validation("Invalid filter", f"cannot filter customers by {field!r}", field=field)
    value = next((v for v in (cond.get("value") or {}).values() if v is not None), None)
    if value is None:
        raise errors.validation("Invalid filter", f"filter on {field!r} has no value", field=field)
    if field in ("created_at", "updated_at"):
        moment = _time(value, field)
        tests = {"before": lambda a: a < moment, "lt": lambda a: a < moment,
                 "after": lambda a: a > moment, "gt": lambda a: a > moment,
                 "eq": lambda a: a == moment}
    else:
        if operator in ("in", "not_in"):
            options = {str(v) for v in value} if isinstance(value, list) else {str(value)}
        text = str(value)
        tests = {"eq": lambda a: a == text, "contains": lambda a: text.lower() in a.lower(),
                 "in": lambda a: a in options, "not_in": lambda a: a not in options,
                 "gt": lambda a: a > text, "lt": lambda a: a < text}
    if operator not in tests:
        raise errors.validation("Invalid filter", f"operator {operator!r} does not apply to {field!r}",
                                field=field, operator=operator)
    test = tests[operator]
    return lambda c: test(getattr(c, field))


def search(world: World, query: dict[str, Any]) -> tuple[list[Customer], int]:
    """Customers matching a CustomerFilter (query string or search body); returns (page, total)."""
    start = _time(query["start_time"], "start_time") if query.get("start_time") else None
    end = _time(query["end_time"], "end_time") if query.get("end_time") else None
    ids = set(query.get("customer_ids") or ())
    status = query.get("status")
    conditions = [_condition(c) for c in query.get("filters") or ()]

    def keep(c: Customer) -> bool:
        return ((c.status == status if status else c.status != "deleted")
                and (not ids or c.id in ids)
                and query.get("external_id") in (None, "", c.external_id)
                and query.get("email") in (None, "", c.email)
                and (start is None or c.created_at >= start)
                and (end is None or c.created_at <= end)
                and all(cond(c) for cond in conditions))

    found = [c for c in world.customers.values() if keep(c)]
    found.sort(key=lambda c: (c.created_at, c.id), reverse=query.get("order", "desc") == "desc")
    for rule in reversed(query.get("sort") or ()):
        field = rule.get("field")
        if field not in SORTABLE:
            raise errors.validation("Invalid filter", f"cannot sort customers by {field!r}",
                                    field=field, allowed=list(SORTABLE))
        found.sort(key=lambda c: getattr(c, field), reverse=rule.get("direction") == "desc")
    offset, limit = query.get("offset", 0), query.get("limit", 50)
    return found[offset:offset + limit], len(found)
