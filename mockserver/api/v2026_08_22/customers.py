"""Customers in version 2026-08-22: their requests, read with that server's checks and words
(the customer service upstream), their handlers and their view."""

from __future__ import annotations

import zoneinfo
from functools import lru_cache
from typing import Any

from ...domain import customers, errors
from ...domain.clock import format_timestamp
from ...domain.models import ContactPerson, Customer
from ...domain.world import World
from .. import Handler, Result, fields
from .common import expand, owned, page, page_limits

# Operations that add to what a world holds (World.object_count): refused (429) in a full world.
GROWS_WORLD = frozenset({"createCustomer"})

CUSTOMER_TEXT = fields.TEXT_FIELDS + ("timezone", "contact")
CONTACT_PERSON_TEXT = ("last_name", "salutation", "designation", "department", "email", "mobile", "id")

_t = format_timestamp


# ---- requests ----------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones()) | {"UTC"}


def _customer_failures(body: dict[str, Any], creating: bool) -> list[tuple[str, str]]:
    failures = []
    for name in ("external_id", "name"):
        if (creating or name in body) and not body.get(name):
            failures.append((name, "required"))
    failures.extend(fields.contact_failures(body))
    if body.get("timezone") and body["timezone"] not in _timezones():
        failures.append(("timezone", "timezone"))
    return failures


def new_customer(body: dict[str, Any]) -> dict[str, Any]:
    """A CreateCustomerRequest as the customer's fields (timezone UTC unless given)."""
    failures = _customer_failures(body, creating=True)
    if failures:
        raise fields.field_error("CreateCustomerRequest", failures)
    values = {name: body.get(name) or "" for name in CUSTOMER_TEXT}
    values["timezone"] = body.get("timezone") or "UTC"
    values["metadata"] = dict(body.get("metadata") or {})
    values.update(_billing_fields(body))
    return values


def customer_changes(body: dict[str, Any]) -> dict[str, Any]:
    failures = _customer_failures(body, creating=False)
    if failures:
        raise fields.field_error("UpdateCustomerRequest", failures)
    changes = {name: body[name] for name in CUSTOMER_TEXT if body.get(name) is not None}
    if body.get("metadata") is not None:
        changes["metadata"] = dict(body["metadata"])
    changes.update(_billing_fields(body))
    return changes


def _billing_fields(body: dict[str, Any]) -> dict[str, Any]:
    """billing_currency ("" clears it), tax_treatment and contact_persons (the list replaces the
    customer's), as far as the body gives them; checked after the validator's fields."""
    values: dict[str, Any] = {}
    currency = body.get("billing_currency")
    if currency is not None:
        if currency and len(currency) != 3:
            raise errors.validation(
                "Billing currency must be 3 characters long",
                "invalid billing currency code",
                billing_currency=currency,
            )
        values["billing_currency"] = currency.lower()  # stored lower case, as wallets' currencies
    if body.get("tax_treatment") is not None:
        values["tax_treatment"] = body["tax_treatment"]
    if body.get("contact_persons") is not None:
        values["contact_persons"] = _contact_persons(body["contact_persons"])
    return values


def _contact_persons(items: list[dict[str, Any]]) -> list[ContactPerson]:
    """Contact persons: a first name each, a valid e-mail when given, ids (when given) unique,
    at most one primary."""
    persons, ids, primary = [], set(), None
    for index, item in enumerate(items):
        where = f"contact_persons[{index}]"
        if not item.get("first_name"):
            raise errors.validation(
                "Contact person first name is required", "first_name is required", field=f"{where}.first_name"
            )
        if item.get("email") and not fields.EMAIL.match(item["email"]):
            raise errors.validation(
                "Please provide a valid email for the contact person",
                "invalid contact person email",
                field=f"{where}.email",
                email=item["email"],
            )
        if item.get("id"):
            if item["id"] in ids:
                raise errors.validation(
                    "Contact person ids must be unique", "duplicate contact person id", field=f"{where}.id"
                )
            ids.add(item["id"])
        if item.get("is_primary"):
            if primary is not None:
                raise errors.validation(
                    "At most one contact person can be primary",
                    "more than one primary contact person",
                    field=f"{where}.is_primary",
                    primary=primary,
                )
            primary = where
        text = {name: item.get(name) or "" for name in CONTACT_PERSON_TEXT}
        persons.append(
            ContactPerson(first_name=item["first_name"], is_primary=bool(item.get("is_primary")), **text)
        )
    return persons


def customer_query(query: dict[str, Any]) -> customers.CustomerQuery:
    """A CustomerFilter (query string or search body); published customers unless a status is asked."""
    limit, offset = page_limits(query, "Invalid filter parameters")
    external_ids = set(query.get("external_ids") or ())
    if query.get("external_id"):
        external_ids.add(query["external_id"])
    if query.get("email") and not fields.EMAIL.match(query["email"]):
        raise errors.validation("Please provide a valid email", "invalid email", email=query["email"])
    start, end = query.get("start_time"), query.get("end_time")
    conditions = [fields.customer_condition(c) for c in query.get("filters") or ()]
    wanted = dict(query.get("metadata") or {})
    if wanted:  # JSON containment, as the cloud filters metadata
        conditions.append(lambda c: all(c.metadata.get(k) == v for k, v in wanted.items()))
    return customers.CustomerQuery(
        ids=frozenset(query["customer_ids"]) if query.get("customer_ids") else None,
        external_ids=frozenset(external_ids) if external_ids else None,
        email=query.get("email") or None,
        status=query.get("status") or "published",
        # "" is no timestamp (refused, as in the transaction filter), not "no filter"
        created_from=fields.time_value(start, "start_time") if start is not None else None,
        created_to=fields.time_value(end, "end_time") if end is not None else None,
        conditions=tuple(conditions),
        sort=tuple((rule.get("field"), rule.get("direction") == "desc") for rule in query.get("sort") or ()),
        descending=query.get("order", "desc") == "desc",
        offset=offset,
        limit=limit,
    )


# ---- views -------------------------------------------------------------------------------


def customer_view(world: World, c: Customer) -> dict[str, Any]:
    body: dict[str, Any] = {"id": c.id, "external_id": c.external_id, "name": c.name, "email": c.email}
    if c.contact:
        body["contact"] = c.contact
    body.update(
        address_line1=c.address_line1,
        address_line2=c.address_line2,
        address_city=c.address_city,
        address_state=c.address_state,
        address_postal_code=c.address_postal_code,
        address_country=c.address_country,
        timezone=c.timezone,
        metadata=c.metadata,
    )
    # Left out until set, as the cloud's omitempty fields are.
    if c.billing_currency:
        body["billing_currency"] = c.billing_currency
    if c.tax_treatment:
        body["tax_treatment"] = c.tax_treatment
    if c.contact_persons:
        body["contact_persons"] = [contact_person_view(p) for p in c.contact_persons]
    body.update(owned(world))
    body["status"] = c.status
    body["created_at"], body["updated_at"] = _t(c.created_at), _t(c.updated_at)
    return body


def contact_person_view(p: ContactPerson) -> dict[str, Any]:
    body: dict[str, Any] = {"id": p.id, "first_name": p.first_name}
    for name in ("last_name", "salutation", "designation", "department", "email", "mobile"):
        if getattr(p, name):
            body[name] = getattr(p, name)
    body["is_primary"] = p.is_primary
    return body


# ---- handlers ----------------------------------------------------------------------------


def create_customer(world: World, params, body) -> Result:
    return 201, customer_view(world, customers.create(world, new_customer(body)))


def _customer_page(world: World, query: dict[str, Any]) -> Result:
    filters = customer_query(query)
    found, total = customers.search(world, filters)
    return 200, page(
        [customer_view(world, c) for c in found], total, filters.limit, filters.offset + filters.limit
    )


def list_customers(world: World, params, body) -> Result:
    return _customer_page(world, params)


def query_customer(world: World, params, body) -> Result:
    return _customer_page(world, body)


def get_customer(world: World, params, body) -> Result:
    expand(params.get("expand"), ("integrations",))
    return 200, customer_view(world, customers.get(world, params["id"]))


def _update(world: World, customer_id: str | None, external_id: str | None, body: dict) -> Result:
    if not customer_id and not external_id:
        raise errors.validation(
            "Provide id as query parameter (?id=...) or provide external_customer_id as query "
            "parameter (?external_customer_id=...)",
            "customer id is required",
        )
    if external_id:
        found = customers.by_lookup_key(world, external_id)
        if customer_id and customer_id != found.id:
            raise errors.validation(
                "Providing either id or external_customer_id is sufficient. But when providing "
                "both, ensure both identifiers refer to the same customer.",
                "identifiers differ",
            )
        customer_id = found.id
    assert customer_id is not None
    changes = customer_changes(body)
    customer = customers.get(world, customer_id)
    return 200, customer_view(world, customers.update(world, customer, changes))


def update_customer(world: World, params, body) -> Result:
    return _update(world, params.get("id"), params.get("external_customer_id"), body)


def update_customer_by_id(world: World, params, body) -> Result:
    return _update(world, params["id"], params.get("external_customer_id"), body)


def delete_customer(world: World, params, body) -> Result:
    customers.delete(world, customers.get(world, params["id"]))
    return 204, None


def get_customer_by_external_id(world: World, params, body) -> Result:
    return 200, customer_view(world, customers.by_lookup_key(world, params["external_id"]))


def get_customer_by_lookup_key(world: World, params, body) -> Result:
    return 200, customer_view(world, customers.by_lookup_key(world, params["lookup_key"]))


HANDLERS: dict[str, Handler] = {
    "createCustomer": create_customer,
    "listCustomers": list_customers,
    "queryCustomer": query_customer,
    "updateCustomer": update_customer,
    "getCustomer": get_customer,
    "updateCustomerById": update_customer_by_id,
    "deleteCustomer": delete_customer,
    "getCustomerByExternalId": get_customer_by_external_id,
    "getCustomerByLookupKey": get_customer_by_lookup_key,
}
