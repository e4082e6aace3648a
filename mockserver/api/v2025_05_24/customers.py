"""Customers in version 2025-05-24: their requests (with that server's checks and words),
handlers and view (CustomerResponse)."""

from __future__ import annotations

from typing import Any

from ...domain import customers, errors
from ...domain.clock import format_timestamp
from ...domain.models import SYSTEM_USER, Customer
from ...domain.world import World
from .. import Handler, Result, fields
from .common import page

# Operations that add to what a world holds (World.object_count): refused (429) in a full world.
GROWS_WORLD = frozenset({"createCustomer"})

_t = format_timestamp


def _check_customer(struct: str, body: dict[str, Any], creating: bool) -> None:
    if (creating or "external_id" in body) and not body.get("external_id"):
        raise fields.field_error(struct, [("external_id", "required")])
    if (creating or "name" in body) and not body.get("name"):
        # The cloud's database refuses an empty name (as a 500); the sandbox says why.
        raise errors.validation("Customer name is required", "name must not be empty", name="is required")
    failures = fields.contact_failures(body)
    if failures:
        raise fields.field_error(struct, failures[:1])


def new_customer(body: dict[str, Any]) -> dict[str, Any]:
    _check_customer("CreateCustomerRequest", body, creating=True)
    values = {name: body.get(name, "") for name in fields.TEXT_FIELDS}
    values["metadata"] = dict(body.get("metadata") or {})
    return values


def customer_changes(body: dict[str, Any]) -> dict[str, Any]:
    _check_customer("UpdateCustomerRequest", body, creating=False)
    return {name: body[name] for name in fields.TEXT_FIELDS + ("metadata",) if name in body}


def customer_query(query: dict[str, Any]) -> customers.CustomerQuery:
    """A CustomerFilter (query string or search body)."""
    start, end = query.get("start_time"), query.get("end_time")
    return customers.CustomerQuery(
        ids=frozenset(query["customer_ids"]) if query.get("customer_ids") else None,
        external_ids=frozenset([query["external_id"]]) if query.get("external_id") else None,
        email=query.get("email") or None,
        status=query.get("status"),
        created_from=fields.time_value(start, "start_time") if start else None,
        created_to=fields.time_value(end, "end_time") if end else None,
        conditions=tuple(fields.customer_condition(c) for c in query.get("filters") or ()),
        sort=tuple((rule.get("field"), rule.get("direction") == "desc") for rule in query.get("sort") or ()),
        descending=query.get("order", "desc") == "desc",
        offset=query.get("offset", 0),
        limit=query.get("limit", 50),
    )


# ---- view --------------------------------------------------------------------------------


def customer_view(world: World, c: Customer) -> dict[str, Any]:
    return {
        "id": c.id,
        "external_id": c.external_id,
        "name": c.name,
        "email": c.email,
        "address_line1": c.address_line1,
        "address_line2": c.address_line2,
        "address_city": c.address_city,
        "address_state": c.address_state,
        "address_postal_code": c.address_postal_code,
        "address_country": c.address_country,
        "metadata": c.metadata,
        "environment_id": world.environment_id,
        "tenant_id": world.tenant_id,
        "status": c.status,
        "created_at": _t(c.created_at),
        "updated_at": _t(c.updated_at),
        "created_by": SYSTEM_USER,
        "updated_by": SYSTEM_USER,
    }


# ---- handlers ----------------------------------------------------------------------------


def create_customer(world: World, params, body) -> Result:
    return 201, customer_view(world, customers.create(world, new_customer(body)))


def _customer_page(world: World, query: dict[str, Any]) -> Result:
    found, total = customers.search(world, customer_query(query))
    return 200, page(
        [customer_view(world, c) for c in found], total, query.get("limit", 50), query.get("offset", 0)
    )


def list_customers(world: World, params, body) -> Result:
    return _customer_page(world, params)


def search_customers(world: World, params, body) -> Result:
    return _customer_page(world, body)


def get_customer(world: World, params, body) -> Result:
    return 200, customer_view(world, customers.get(world, params["id"]))


def update_customer(world: World, params, body) -> Result:
    changes = customer_changes(body)
    return 200, customer_view(world, customers.update(world, customers.get(world, params["id"]), changes))


def delete_customer(world: World, params, body) -> Result:
    customer = world.customers.get(params["id"])
    if customer is None:
        raise errors.not_found("Customer does not exist", "customer does not exist", customer_id=params["id"])
    customers.delete(world, customer)
    return 204, None


def get_customer_by_lookup_key(world: World, params, body) -> Result:
    return 200, customer_view(world, customers.by_lookup_key(world, params["lookup_key"]))


HANDLERS: dict[str, Handler] = {
    "createCustomer": create_customer,
    "listCustomers": list_customers,
    "searchCustomers": search_customers,
    "getCustomer": get_customer,
    "updateCustomer": update_customer,
    "deleteCustomer": delete_customer,
    "getCustomerByLookupKey": get_customer_by_lookup_key,
}
