"""Invoices of version 2026-08-22: every invoice of the world (a subscription's for each closed
period, a top-up's, one-offs) in upstream's InvoiceResponse, the operations on them, and the
subscription reads that show a period's invoice to come. Requests, handlers and views together.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ...domain import charges, customers, errors, invoices, money, usage
from ...domain.clock import format_timestamp
from ...domain.models import CREDIT, ONE_OFF, SUBSCRIPTION, Invoice
from ...domain.world import World
from .. import Binary, Handler, Result
from . import searching
from .catalog import plan_view
from .common import dec, decimal, metadata_of, owned, page, timestamp, trimmed
from .customers import customer_view
from .subscriptions import line_item_view, subscription_view

_t = format_timestamp


def _stamped(world: World, inv: Invoice) -> dict[str, Any]:
    return {
        **owned(world),
        "created_at": _t(inv.created_at),
        "updated_at": _t(inv.updated_at or inv.created_at),
    }


def _line(world: World, inv: Invoice, index: int, line: dict[str, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {
        # a subscription's line is its line item's; a top-up's has no id of its own
        "id": line.get("id") or line["line_item_id"] or f"{inv.id}_{index}",
        "invoice_id": inv.id,
        "customer_id": inv.customer_id,
        "display_name": line["display_name"],
        "amount": dec(Decimal(line["amount"])),
        "quantity": dec(Decimal(line["quantity"])),
        "currency": inv.currency,
        "metadata": {},
        **_stamped(world, inv),
    }
    if inv.subscription_id:
        body["subscription_id"] = inv.subscription_id
    if line["line_item_id"]:
        body["subscription_line_item_id"] = line["line_item_id"]
    for name in ("price_id", "price_type", "meter_id"):
        if line[name]:
            body[name] = line[name]
    if inv.period_start is not None and inv.period_end is not None:
        body["period_start"], body["period_end"] = _t(inv.period_start), _t(inv.period_end)
    return body


def invoice(world: World, inv: Invoice, draft: bool = False) -> dict[str, Any]:
    """An invoice as an InvoiceResponse with its line items; ``draft``: as computed, before the
    wallets paid it and it was finalized (what upstream's ``invoice.update`` shows)."""
    draft = draft or inv.invoice_status == "DRAFT"
    credits = money.ZERO if draft else inv.credits_applied
    paid = money.ZERO if draft else inv.amount_paid
    due = max(inv.total - credits, money.ZERO)
    body: dict[str, Any] = {
        "id": inv.id,
        "customer_id": inv.customer_id,
        "invoice_type": inv.invoice_type,
        "invoice_status": "DRAFT" if draft else inv.invoice_status,
        "payment_status": "PENDING" if draft else inv.payment_status,
        "currency": inv.currency,
        "subtotal": dec(inv.total),
        "total": dec(due),
        "amount_due": dec(due),
        "amount_paid": dec(paid),
        "amount_remaining": dec(max(inv.total - credits - paid, money.ZERO)),  # an overpayment: 0
        "total_prepaid_credits_applied": dec(credits),
        "line_items": [_line(world, inv, n, line) for n, line in enumerate(inv.lines)],
        "metadata": dict(inv.metadata),
        **_stamped(world, inv),
    }
    if inv.subscription_id:
        body["subscription_id"] = inv.subscription_id
    if inv.billing_reason:
        body["billing_reason"] = inv.billing_reason
    if inv.description:
        body["description"] = inv.description
    if inv.period_start is not None and inv.period_end is not None:
        body["period_start"], body["period_end"] = _t(inv.period_start), _t(inv.period_end)
    if inv.due_date is not None:
        body["due_date"] = _t(inv.due_date)
    if not draft:
        body["finalized_at"] = _t(inv.finalized_at or inv.created_at)
        if inv.payment_status == "SUCCEEDED" and inv.settled_at is not None:
            body["paid_at"] = _t(inv.settled_at)
        if inv.invoice_status == "VOIDED" and inv.settled_at is not None:
            body["voided_at"] = _t(inv.settled_at)
        if inv.refunded:
            body["refunded_amount"] = dec(inv.refunded)
    return body


# ---- requests -----------------------------------------------------------------------------

INVOICE_TYPES = (SUBSCRIPTION, ONE_OFF, CREDIT)
DEFAULT_LIMIT = 50
# What an invoice search's filters[] and sort[] may name (fields of the invoice as shown).
FILTERABLE = (
    "id",
    "invoice_type",
    "invoice_status",
    "payment_status",
    "billing_reason",
    "currency",
    "customer_id",
    "subscription_id",
    "amount_due",
    "amount_paid",
    "amount_remaining",
    "subtotal",
    "total",
    "period_start",
    "period_end",
    "finalized_at",
)
COMMUNICATION = "invoice.communication.triggered"
QUERY_TIMES = (
    "start_time",
    "end_time",
    "period_start_gte",
    "period_start_lte",
    "period_end_gte",
    "period_end_lte",
    "finalized_at_gte",
    "voided_at_gte",
)  # upstream's default page (types.GetDefaultFilter)


def _amount(body: dict[str, Any], name: str, where: str = "") -> Decimal | None:
    try:
        return decimal(body, name)
    except errors.ApiError as error:
        if where:  # a line item's field: named with its place
            error.message = error.message.replace(name, f"{where}.{name}", 1)
        raise


def new_invoice(body: dict[str, Any]) -> invoices.NewInvoice:
    """A createInvoice body read, with upstream's checks (CreateInvoiceRequest.Validate)."""
    currency = trimmed(body, "currency")
    if len(currency) != 3 or not currency.isalpha():
        raise errors.validation(
            "invalid currency code: currency must be a 3-letter ISO code",
            "invalid currency",
            currency=body.get("currency"),
        )
    customer_id = trimmed(body, "customer_id")
    if not customer_id:
        raise errors.validation("customer_id is required", "customer_id is required", field="customer_id")
    amounts = {name: _amount(body, name) for name in ("amount_due", "subtotal", "total", "amount_paid")}
    for name in ("amount_due", "subtotal", "total"):
        if amounts[name] is None:
            raise errors.validation(f"{name} is required", f"{name} is required", field=name)
    invoice_type = body.get("invoice_type") or ONE_OFF
    if invoice_type not in INVOICE_TYPES:
        raise errors.validation(
            f"invalid invoice type: {invoice_type}", "invalid invoice type", allowed=list(INVOICE_TYPES)
        )
    lines = []
    for index, item in enumerate(body.get("line_items") or ()):
        where = f"line_items[{index}]"
        amount, quantity = _amount(item, "amount", where), _amount(item, "quantity", where)
        if amount is None or quantity is None:
            missing = "amount" if amount is None else "quantity"
            raise errors.validation(
                f"{where}.{missing} is required", "invalid line item", field=f"{where}.{missing}"
            )
        if amount < 0 and invoice_type != CREDIT:
            raise errors.validation(
                f"{where}.amount must be non-negative", "invalid line item", field=f"{where}.amount"
            )
        if quantity < 0:
            raise errors.validation(
                f"{where}.quantity must be non-negative", "invalid line item", field=f"{where}.quantity"
            )
        lines.append(
            invoices.NewLine(
                amount=amount,
                quantity=quantity,
                display_name=trimmed(item, "display_name"),
                price_id=trimmed(item, "price_id"),
                price_type=trimmed(item, "price_type"),
                meter_id=trimmed(item, "meter_id"),
                line_item_id=trimmed(item, "subscription_line_item_id"),
            )
        )
    amount_due = amounts["amount_due"]
    assert amount_due is not None
    return invoices.NewInvoice(
        customer_id=customer_id,
        currency=currency.lower(),
        amount_due=amount_due,
        invoice_type=invoice_type,
        billing_reason=body.get("billing_reason") or "",
        invoice_status=body.get("invoice_status") or "",
        payment_status=body.get("payment_status") or "PENDING",
        amount_paid=amounts["amount_paid"],
        subscription_id=trimmed(body, "subscription_id"),
        period_start=timestamp(body, "period_start"),
        period_end=timestamp(body, "period_end"),
        due_date=timestamp(body, "due_date"),
        description=trimmed(body, "description"),
        metadata=metadata_of(body.get("metadata")),
        lines=tuple(lines),
    )


def _matches(world: World, inv: Invoice, body: dict[str, Any], customer_id: str) -> bool:
    """Upstream's InvoiceFilter (what the sandbox's invoices hold of it)."""
    if customer_id and inv.customer_id != customer_id:
        return False
    ids = body.get("invoice_ids")
    if ids and inv.id not in ids:
        return False
    for name in ("subscription_id", "invoice_type", "billing_reason"):
        if body.get(name) and getattr(inv, name) != body[name]:
            return False
    if body.get("currency") and inv.currency.lower() != str(body["currency"]).lower():
        return False
    for name in ("invoice_status", "payment_status"):
        if body.get(name) and getattr(inv, name) not in body[name]:
            return False
    parents = body.get("subscription_customer_id")
    if parents:
        sub = world.subscriptions.get(inv.subscription_id)
        if sub is None or sub.customer_id not in parents:
            return False
    if body.get("amount_due_gt") is not None and not inv.due > Decimal(str(body["amount_due_gt"])):
        return False
    if body.get("amount_remaining_gt") is not None and not inv.remaining > Decimal(
        str(body["amount_remaining_gt"])
    ):
        return False
    finalized = None if inv.invoice_status in ("DRAFT", "SKIPPED") else inv.finalized_at or inv.created_at
    voided = inv.settled_at if inv.invoice_status == "VOIDED" else None
    bounds = (
        ("finalized_at_gte", finalized, False),  # (SDK 2.1.43's newer filters)
        ("voided_at_gte", voided, False),
        ("start_time", inv.created_at, False),
        ("end_time", inv.created_at, True),
        ("period_start_gte", inv.period_start, False),
        ("period_start_lte", inv.period_start, True),
        ("period_end_gte", inv.period_end, False),
        ("period_end_lte", inv.period_end, True),
    )
    for name, value, upper in bounds:
        bound = timestamp(body, name)
        if bound is not None and (value is None or (value > bound if upper else value < bound)):
            return False
    return True


# ---- handlers -----------------------------------------------------------------------------


def create_invoice(world: World, params: dict[str, Any], body: Any) -> Result:
    return 201, invoice(world, invoices.create(world, new_invoice(body)))


def get_invoice(world: World, params: dict[str, Any], body: Any) -> Result:
    return 200, invoice(world, invoices.lookup(world, params["id"]))


def update_invoice(world: World, params: dict[str, Any], body: Any) -> Result:
    found = invoices.lookup(world, params["id"])
    due_date = timestamp(body, "due_date")
    invoices.update(world, found, due_date, metadata_of(body["metadata"]) if "metadata" in body else None)
    return 200, invoice(world, found)


def query_invoice(world: World, params: dict[str, Any], body: Any) -> Result:
    for name in QUERY_TIMES:
        timestamp(body, name)  # each checked before any is used
    customer_id = trimmed(body, "customer_id")
    external = trimmed(body, "external_customer_id")
    if external:
        customer_id = customers.by_lookup_key(world, external).id
    matching = [i for i in world.invoices.values() if _matches(world, i, body, customer_id)]
    matching.sort(key=lambda i: (i.created_at, i.id), reverse=body.get("order", "desc") != "asc")
    limit, offset = body.get("limit") or DEFAULT_LIMIT, body.get("offset") or 0
    if body.get("filters") or body.get("sort"):  # upstream's filters[] and sort[], on what is shown
        shown = searching.refine([invoice(world, i) for i in matching], body, FILTERABLE, "invoices")
        items, total = shown[offset : offset + limit], len(shown)
    else:
        items, total = [invoice(world, i) for i in matching[offset : offset + limit]], len(matching)
    if body.get("skip_line_items"):
        for item in items:
            item.pop("line_items", None)
    return 200, page(items, total, limit, offset)


def get_invoice_preview(world: World, params: dict[str, Any], body: Any) -> Result:
    for name in ("period_start", "period_end"):
        timestamp(body, name)  # the sandbox previews the current period
    sub = usage.subscription(world, trimmed(body, "subscription_id"))
    draft = usage.preview(world, sub)
    if body.get("hide_zero_charges_line_items"):
        draft.lines = [line for line in draft.lines if Decimal(line["amount"]) != 0]
    return 200, invoice(world, draft)


def finalize_invoice(world: World, params: dict[str, Any], body: Any) -> Result:
    invoices.finalize(world, invoices.lookup(world, params["id"]))
    return 200, {"message": "invoice finalized successfully"}


def void_invoice(world: World, params: dict[str, Any], body: Any) -> Result:
    found = invoices.lookup(world, params["id"])
    metadata = body.get("metadata") if isinstance(body, dict) else None
    invoices.void(world, found, metadata_of(metadata) if metadata else None)
    return 200, {"message": "invoice voided successfully"}


def update_invoice_payment_status(world: World, params: dict[str, Any], body: Any) -> Result:
    found = invoices.lookup(world, params["id"])
    amount = decimal(body, "amount")
    invoices.update_payment_status(world, found, body["payment_status"], amount)
    return 200, invoice(world, found)


def attempt_invoice_payment(world: World, params: dict[str, Any], body: Any) -> Result:
    invoices.attempt_payment(world, invoices.lookup(world, params["id"]))
    return 200, {"message": "payment processed successfully"}


def get_invoice_pdf(world: World, params: dict[str, Any], body: Any) -> Result:
    found = invoices.lookup(world, params["id"])
    return 200, Binary(pdf(found), "application/pdf")


def recalculate_invoice(world: World, params: dict[str, Any], body: Any) -> Result:
    found = invoices.lookup(world, params["id"])
    again = invoices.recalculate(world, found)
    return 202, {
        "message": "recalculate invoice workflow started",
        "workflow_id": f"RecalculateInvoiceWorkflow-{found.id}",
        "run_id": again.id,
    }


def recalculate_invoice_v2(world: World, params: dict[str, Any], body: Any) -> Result:
    found = invoices.lookup(world, params["id"])
    if found.invoice_status != "DRAFT":
        raise errors.validation(
            "Only draft invoices can be recalculated",
            "invoice is not in draft status",
            invoice_id=found.id,
            current_status=found.invoice_status,
        )
    if found.invoice_type != SUBSCRIPTION or not found.subscription_id:
        raise errors.validation(
            "Only subscription invoices can be recalculated",
            "invoice is not a subscription invoice",
            invoice_id=found.id,
            invoice_type=found.invoice_type,
        )
    # The sandbox keeps no subscription invoice as a draft (a period's is finalized as it closes).
    raise errors.validation("Only draft invoices can be recalculated", "invoice is not in draft status")


def trigger_invoice_comms_webhook(world: World, params: dict[str, Any], body: Any) -> Result:
    from .webhooks import EVENT_TYPES  # (it shows invoices with this module's view)

    found = invoices.lookup(world, params["id"])
    if COMMUNICATION in EVENT_TYPES:  # sent only where the version's webhooks have it
        invoices.trigger_communication(world, found)
    return 200, {"message": "communication triggered successfully"}


def get_customer_invoice_summary(world: World, params: dict[str, Any], body: Any) -> Result:
    found = invoices.summaries(world, params["id"])
    return 200, {
        "customer_id": params["id"],
        "default_currency": found[0].currency if found else "",
        "summaries": [
            {
                "customer_id": params["id"],
                "currency": s.currency,
                "total_revenue_amount": dec(s.total_revenue),
                "total_unpaid_amount": dec(s.total_unpaid),
                "total_overdue_amount": dec(s.total_overdue),
                "total_invoice_count": s.total_count,
                "unpaid_invoice_count": s.unpaid_count,
                "overdue_invoice_count": s.overdue_count,
                "unpaid_usage_charges": dec(s.unpaid_usage),
                "unpaid_fixed_charges": dec(s.unpaid_fixed),
            }
            for s in found
        ],
    }


# ---- the subscription reads: what a period owes so far -----------------------------------

V2_EXPANDS = ("subscription_line_items", "prices", "plan", "customer", "coupon_associations", "credit_grants")


def get_subscription_usage(world: World, params: dict[str, Any], body: Any) -> Result:
    """The current period's usage charges of a subscription (upstream's GetUsageBySubscription:
    its USAGE line items with a meter; amounts as JSON numbers)."""
    start, end = timestamp(body, "start_time"), timestamp(body, "end_time")
    sub = usage.subscription(world, trimmed(body, "subscription_id"))
    found = []
    total = money.ZERO
    for item, units, charge in usage.usage_of(world, sub):
        if item.price_type != "USAGE" or not item.meter_id:
            continue
        meter = world.meters.get(item.meter_id)
        total += charge
        found.append(
            {
                "subscription_line_item_id": item.id,
                "meter_id": item.meter_id,
                "meter_display_name": meter.name if meter is not None else item.display_name,
                "quantity": money.normalize(units),
                "amount": money.normalize(charge),
                "display_amount": dec(charges.rounded(charge, sub.currency)),
                "currency": sub.currency,
                "is_overage": False,
                "overage_factor": 1,
            }
        )
    if body.get("lifetime_usage"):  # the sandbox keeps the current period's usage only
        start, end = None, world.now()
    return 200, {
        "amount": money.normalize(total),
        "currency": sub.currency,
        "display_amount": dec(charges.rounded(total, sub.currency)),
        "start_time": _t(start or sub.current_period_start),
        "end_time": _t(end or sub.current_period_end),
        "charges": found,
        "has_overage": False,
    }


def get_subscription_v2(world: World, params: dict[str, Any], body: Any) -> Result:
    wanted = {part.strip().split(".")[0] for part in (params.get("expand") or "").split(",") if part.strip()}
    for name in sorted(wanted - set(V2_EXPANDS)):
        raise errors.validation(
            "Field is not allowed to be expanded", "field not allowed to be expanded", field=name
        )
    sub = usage.subscription(world, params["id"])
    view = subscription_view(world, sub)
    if "subscription_line_items" not in wanted:
        del view["line_items"]
    if "plan" in wanted and sub.plan_id in world.plans:
        view["plan"] = plan_view(world, world.plans[sub.plan_id])
    if "customer" in wanted and sub.customer_id in world.customers:
        view["customer"] = customer_view(world, world.customers[sub.customer_id])
    return 200, view


def update_subscription(world: World, params: dict[str, Any], body: Any) -> Result:
    cancel_at = timestamp(body, "cancel_at")
    sub = usage.subscription(world, params["id"])
    parent = body.get("parent_subscription_id")
    usage.update(
        world,
        sub,
        status=body.get("status") or "",
        cancel_at=cancel_at,
        cancel_at_period_end=bool(body.get("cancel_at_period_end")),
        parent_id=parent.strip() if isinstance(parent, str) else None,
    )
    return 200, subscription_view(world, sub)


def query_subscription_line_items(world: World, params: dict[str, Any], body: Any) -> Result:
    """Line items of the world's subscriptions by upstream's SubscriptionLineItemFilter."""
    for name in ("start_time", "end_time", "current_period_start"):
        timestamp(body, name)
    lists = {
        "subscription_ids": lambda sub, item: sub.id,
        "customer_ids": lambda sub, item: sub.customer_id,
        "price_ids": lambda sub, item: item.price_id,
        "meter_ids": lambda sub, item: item.meter_id,
        "subscription_line_item_ids": lambda sub, item: item.id,
        "currencies": lambda sub, item: sub.currency,
        "billing_periods": lambda sub, item: sub.billing_period,
        "entity_ids": lambda sub, item: sub.plan_id,
    }
    wanted = {name: set(body[name]) for name in lists if body.get(name)}
    if body.get("entity_type") and body["entity_type"] != "plan":
        wanted["entity_ids"] = set()  # the sandbox's line items all come from plans
    found = [
        (sub, world.line_items[item_id])
        for sub in world.subscriptions.values()
        for item_id in sub.line_items
        if all(lists[name](sub, world.line_items[item_id]) in values for name, values in wanted.items())
    ]
    found.sort(key=lambda pair: (pair[1].created_at, pair[1].id), reverse=body.get("order", "desc") != "asc")
    limit, offset = body.get("limit") or DEFAULT_LIMIT, body.get("offset") or 0
    items = [line_item_view(world, sub, item) for sub, item in found[offset : offset + limit]]
    return 200, page(items, len(found), limit, offset)


def pdf(inv: Invoice) -> bytes:
    """A one-page PDF naming the invoice and what it asks: small, but valid (a cross-reference
    table with each object's offset), so a client that parses it can."""
    text = f"Invoice {inv.id} {inv.currency.upper()} {format(money.normalize(inv.due), 'f')}"
    escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    stream = f"BT /F1 12 Tf 72 720 Td ({escaped}) Tj ET".encode("latin-1", "replace")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, content in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, content)
    table = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, table)
    return bytes(out)


HANDLERS: dict[str, Handler] = {
    "createInvoice": create_invoice,
    "getInvoice": get_invoice,
    "updateInvoice": update_invoice,
    "queryInvoice": query_invoice,
    "getInvoicePreview": get_invoice_preview,
    "finalizeInvoice": finalize_invoice,
    "voidInvoice": void_invoice,
    "updateInvoicePaymentStatus": update_invoice_payment_status,
    "attemptInvoicePayment": attempt_invoice_payment,
    "getInvoicePdf": get_invoice_pdf,
    "recalculateInvoice": recalculate_invoice,
    "recalculateInvoiceV2": recalculate_invoice_v2,
    "triggerInvoiceCommsWebhook": trigger_invoice_comms_webhook,
    "getCustomerInvoiceSummary": get_customer_invoice_summary,
    "getSubscriptionUsage": get_subscription_usage,
    "getSubscriptionV2": get_subscription_v2,
    "updateSubscription": update_subscription,
    "querySubscriptionLineItems": query_subscription_line_items,
}
# Operations that add to what a world holds: refused (429) in a full world.
# (what they may write: an invoice, a debit or refund, a wallet a refund opens, an auto top-up)
GROWS_WORLD = frozenset(
    {
        "createInvoice",
        "recalculateInvoice",
        "attemptInvoicePayment",
        "finalizeInvoice",
        "voidInvoice",
        "updateInvoicePaymentStatus",
    }
)
