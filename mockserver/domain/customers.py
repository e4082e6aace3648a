"""Customer rules: create, read, look up by external id, list and search, update, delete.

As in the cloud, ``external_id`` is unique among a world's published customers and doubles as
the lookup key; deleting archives the customer and is refused while it has an active wallet.
Functions take typed values (attributes of ``Customer``); each API version checks its requests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from . import errors, wallets
from .models import ContactPerson, Customer
from .world import World

SORTABLE = ("created_at", "updated_at", "name", "external_id", "email", "id")
CHANGEABLE = frozenset(
    {
        "external_id",
        "name",
        "email",
        "address_line1",
        "address_line2",
        "address_city",
        "address_state",
        "address_postal_code",
        "address_country",
        "metadata",
        "timezone",
        "contact",
        "billing_currency",
        "tax_treatment",
        "contact_persons",
    }
)


def _claim_external_id(world: World, external_id: str, customer_id: str) -> None:
    holder = world.customer_by_external_id.get(external_id)
    if holder is not None and holder != customer_id:
        raise errors.conflict(
            "A customer with this identifier already exists",
            "customer with this external_id already exists",
            external_id=external_id,
        )


def create(world: World, fields: dict[str, Any]) -> Customer:
    """A new published customer from ``fields`` (names of Customer's attributes)."""
    _claim_external_id(world, fields["external_id"], "")
    now = world.now()
    values = {name: value for name, value in fields.items() if name in CHANGEABLE}
    values["metadata"] = dict(values.get("metadata") or {})
    customer_id = world.new_id("cust_", now)
    values["contact_persons"] = _identified(world, values.get("contact_persons") or [], now)
    customer = Customer(id=customer_id, created_at=now, updated_at=now, **values)
    world.customers[customer.id] = customer
    world.customer_by_external_id[customer.external_id] = customer.id
    world.emit("customer.created", customer.id)
    return customer


def get(world: World, customer_id: str) -> Customer:
    customer = world.customers.get(customer_id)
    if customer is None:
        raise errors.not_found(
            f"Customer with ID {customer_id} was not found",
            "ent: customer not found",
            customer_id=customer_id,
        )
    return customer


def by_lookup_key(world: World, lookup_key: str) -> Customer:
    """The published customer whose external id is ``lookup_key``."""
    customer_id = world.customer_by_external_id.get(lookup_key)
    if customer_id is None:
        raise errors.not_found(
            f"Customer with lookup key {lookup_key} was not found",
            "ent: customer not found",
            lookup_key=lookup_key,
        )
    return world.customers[customer_id]


def update(world: World, customer: Customer, fields: dict[str, Any]) -> Customer:
    new_external_id = fields.get("external_id")
    if new_external_id is not None and new_external_id != customer.external_id:
        _claim_external_id(world, new_external_id, customer.id)
        if world.customer_by_external_id.get(customer.external_id) == customer.id:
            del world.customer_by_external_id[customer.external_id]
        if customer.status == "published":
            world.customer_by_external_id[new_external_id] = customer.id
    now = world.now()
    for name, value in fields.items():
        if name not in CHANGEABLE:
            raise ValueError(f"a customer's {name} cannot be changed")
        if name == "metadata":
            value = dict(value)
        elif name == "contact_persons":  # the list given replaces the old one
            value = _identified(world, value, now)
        setattr(customer, name, value)
    customer.updated_at = now
    world.emit("customer.updated", customer.id)
    return customer


def _identified(world: World, persons: list[ContactPerson], now: datetime) -> list[ContactPerson]:
    """Contact persons, each with an id: one that came without gets ``cp_`` and a ULID."""
    return [person if person.id else replace(person, id=world.new_id("cp_", now)) for person in persons]


def delete(world: World, customer: Customer) -> None:
    """Archive a published customer with no active wallet."""
    if customer.status != "published":
        raise errors.not_found("Customer does not exist", "customer does not exist", customer_id=customer.id)
    if wallets.active_wallets_of(world, customer.id):
        raise errors.invalid_operation(
            "Customer cannot be deleted due to associated wallets",
            "customer has active wallets",
            customer_id=customer.id,
        )
    customer.status = "archived"
    customer.updated_at = world.now()
    del world.customer_by_external_id[customer.external_id]
    world.emit("customer.deleted", customer.id)


# ---- listing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CustomerQuery:
    """Which customers to list: every field set must match (None: any)."""

    ids: frozenset[str] | None = None
    external_ids: frozenset[str] | None = None
    email: str | None = None
    status: str | None = None  # None: any but deleted
    created_from: datetime | None = None
    created_to: datetime | None = None
    conditions: tuple[Callable[[Customer], bool], ...] = ()
    sort: tuple[tuple[str, bool], ...] = ()  # (field, descending), applied first to last
    descending: bool = True
    offset: int = 0
    limit: int = 50

    def keeps(self, c: Customer) -> bool:
        return (
            (c.status == self.status if self.status else c.status != "deleted")
            and (self.ids is None or c.id in self.ids)
            and (self.external_ids is None or c.external_id in self.external_ids)
            and self.email in (None, c.email)
            and (self.created_from is None or c.created_at >= self.created_from)
            and (self.created_to is None or c.created_at <= self.created_to)
            and all(cond(c) for cond in self.conditions)
        )


def search(world: World, query: CustomerQuery) -> tuple[list[Customer], int]:
    """Customers matching ``query``, newest first unless sorted; returns (page, total)."""
    for field, _ in query.sort:
        if field not in SORTABLE:
            raise errors.validation(
                "Invalid filter", f"cannot sort customers by {field!r}", field=field, allowed=list(SORTABLE)
            )
    found = [c for c in world.customers.values() if query.keeps(c)]
    found.sort(key=lambda c: (c.created_at, c.id), reverse=query.descending)
    for field, descending in reversed(query.sort):
        found.sort(key=lambda c: getattr(c, field), reverse=descending)
    return found[query.offset : query.offset + query.limit], len(found)
