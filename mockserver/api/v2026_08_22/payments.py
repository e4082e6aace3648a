"""Payments of version 2026-08-22 (upstream's ``internal/api/v1/payment.go``): create (and
process), list with upstream's filters, get, update, delete (archive) and process, in upstream's
PaymentResponse. Requests, handlers and views together; the rules are ``domain.payments``'.
"""

from __future__ import annotations

from typing import Any

from ...domain import errors, payments
from ...domain.clock import format_timestamp
from ...domain.models import SYSTEM_USER
from ...domain.world import World
from .. import Handler, Result
from .common import dec, decimal, page, timestamp

_t = format_timestamp
DEFAULT_LIMIT = 50  # upstream's default page (types.GetDefaultFilter)


def payment(world: World, p: payments.Payment) -> dict[str, Any]:
    """A payment as upstream's PaymentResponse (Go's omitempty fields only when set; no
    ``invoice_number``: the sandbox's invoices have none)."""
    body: dict[str, Any] = {
        "id": p.id,
        "idempotency_key": p.idempotency_key,
        "destination_type": p.destination_type,
        "destination_id": p.destination_id,
        "payment_method_type": p.payment_method_type,
        "payment_method_id": p.payment_method_id,
        "amount": dec(p.amount),
        "currency": p.currency,
        "payment_status": p.payment_status,
        "track_attempts": p.track_attempts,
    }
    if p.payment_gateway is not None:
        body["payment_gateway"] = p.payment_gateway
    if p.gateway_payment_id is not None:
        body["gateway_payment_id"] = p.gateway_payment_id
    if p.gateway_metadata:
        body["gateway_metadata"] = dict(p.gateway_metadata)
        if p.payment_method_type == payments.PAYMENT_LINK and "payment_url" in p.gateway_metadata:
            body["payment_url"] = p.gateway_metadata["payment_url"]
    if p.metadata:
        body["metadata"] = dict(p.metadata)
    for name in ("succeeded_at", "failed_at", "refunded_at", "voided_at"):
        moment = getattr(p, name)
        if moment is not None:
            body[name] = _t(moment)
    if p.error_message is not None:
        body["error_message"] = p.error_message
    body.update(
        tenant_id=world.tenant_id,
        save_card_and_make_default=p.gateway_metadata.get("save_card_and_make_default") == "true",
        created_at=_t(p.created_at),
        updated_at=_t(p.updated_at),
        created_by=SYSTEM_USER,
        updated_by=SYSTEM_USER,
        environment_id=world.environment_id,
    )
    return body


# ---- requests -----------------------------------------------------------------------------


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    return value.strip() if isinstance(value, str) else ""


def _optional_text(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    return value if isinstance(value, str) else None


def _metadata(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in (value or {}).items()} if isinstance(value, dict) else {}


def new_payment(body: dict[str, Any]) -> payments.NewPayment:
    """A CreatePaymentRequest (the document checked its types, required fields and enums)."""
    for name in ("destination_type", "destination_id", "payment_method_type", "currency"):
        if not _text(body, name):
            raise errors.validation("Invalid request format", f"{name} is required", **{name: "is required"})
    amount = decimal(body, "amount")
    if amount is None:
        raise errors.validation("Invalid request format", "amount is required", amount="is required")
    options = body.get("gateway_options") or {}
    stripe = options.get("stripe") or {} if isinstance(options, dict) else {}
    process = body.get("process_payment")
    return payments.NewPayment(
        destination_type=_text(body, "destination_type"),
        destination_id=_text(body, "destination_id"),
        payment_method_type=_text(body, "payment_method_type"),
        amount=amount,
        currency=_text(body, "currency"),
        payment_method_id=_text(body, "payment_method_id"),
        payment_gateway=_text(body, "payment_gateway") or None,
        idempotency_key=_text(body, "idempotency_key"),
        success_url=_text(body, "success_url"),
        cancel_url=_text(body, "cancel_url"),
        save_card_and_make_default=body.get("save_card_and_make_default") is True,
        tax_id_collection_enabled=isinstance(stripe, dict)
        and stripe.get("tax_id_collection_enabled") is True,
        metadata=_metadata(body.get("metadata")),
        process=process is not False,  # upstream's default: processed at once
    )


def changes(body: dict[str, Any]) -> payments.Changes:
    """An UpdatePaymentRequest: only the fields it names change."""
    metadata = body.get("metadata")
    return payments.Changes(
        payment_status=_optional_text(body, "payment_status"),
        payment_gateway=_optional_text(body, "payment_gateway"),
        gateway_payment_id=_optional_text(body, "gateway_payment_id"),
        payment_method_id=_optional_text(body, "payment_method_id"),
        metadata=None if metadata is None else _metadata(metadata),
        succeeded_at=timestamp(body, "succeeded_at"),
        failed_at=timestamp(body, "failed_at"),
        voided_at=timestamp(body, "voided_at"),
        refunded_at=timestamp(body, "refunded_at"),
        error_message=_optional_text(body, "error_message"),
    )


def payment_filter(params: dict[str, Any]) -> tuple[payments.Filter, int, int]:
    """GET /payments's query (upstream's PaymentFilter): the filter, limit and offset."""
    limit, offset = params.get("limit") or DEFAULT_LIMIT, params.get("offset") or 0
    start, end = timestamp(params, "start_time"), timestamp(params, "end_time")
    if start is not None and end is not None and end < start:
        raise errors.validation(
            "Invalid filter parameters",
            "end_time must be after start_time",
            end_time="must be after start_time",
        )
    ids = params.get("payment_ids") or ()
    if isinstance(ids, str):
        ids = [part for part in ids.split(",") if part]
    currency = params.get("currency")
    return (
        payments.Filter(
            payment_ids=tuple(ids),
            destination_type=params.get("destination_type") or None,
            destination_id=params.get("destination_id") or None,
            payment_method_type=params.get("payment_method_type") or None,
            payment_status=params.get("payment_status") or None,
            payment_gateway=params.get("payment_gateway") or None,
            currency=currency or None,
            gateway_payment_id=params.get("gateway_payment_id") or None,
            status=params.get("status") or "published",
            start_time=start,
            end_time=end,
            sort=params.get("sort") or "created_at",
            descending=(params.get("order") or "desc") != "asc",
        ),
        limit,
        offset,
    )


# ---- handlers -----------------------------------------------------------------------------


def create_payment(world: World, params: dict[str, Any], body: Any) -> Result:
    made, _ = payments.create(world, new_payment(body or {}))
    return 201, payment(world, made)


def list_payments(world: World, params: dict[str, Any], body: Any) -> Result:
    wanted, limit, offset = payment_filter(params)
    found = payments.search(world, wanted)
    items = [payment(world, p) for p in found[offset : offset + limit]]
    return 200, page(items, len(found), limit, offset)


def get_payment(world: World, params: dict[str, Any], body: Any) -> Result:
    return 200, payment(world, payments.get(world, params["id"]))


def update_payment(world: World, params: dict[str, Any], body: Any) -> Result:
    return 200, payment(world, payments.update(world, params["id"], changes(body or {})))


def delete_payment(world: World, params: dict[str, Any], body: Any) -> Result:
    payments.delete(world, params["id"])
    return 200, {"message": "payment deleted successfully"}


def process_payment(world: World, params: dict[str, Any], body: Any) -> Result:
    return 200, payment(world, payments.process(world, params["id"]))


HANDLERS: dict[str, Handler] = {
    "createPayment": create_payment,
    "listPayments": list_payments,
    "getPayment": get_payment,
    "updatePayment": update_payment,
    "deletePayment": delete_payment,
    "processPayment": process_payment,
}

GROWS_WORLD = frozenset({"createPayment"})
