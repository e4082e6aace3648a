"""What the SDK users install today (``flexprice`` 2.1.43) sends and reads, on version 2026-08-22:
fields the cloud added after 2026-08-22, accepted and honoured where their behaviour is known
(the rest is the sandbox's choice, listed in the README's differences table).

- customers: ``billing_currency`` ("" clears it), ``tax_treatment``, ``contact_persons`` (at most
  one primary, the list replaces the old one, ids given to those without);
- top-ups: ``effective_date`` (the credit's ``created_at``, never in the future) and ``coupons``
  (the sandbox knows no coupon: a code is a 404, as the cloud answers a code it cannot find);
- transactions: a debit's ``consumption_breakdown``, an invoiced credit's ``source_type``/``source_id``;
- alerts: ``alert_threshold_type`` percentage, and ``*.dropped`` on warning and info;
- wallet webhooks: the ``customer`` object.

The SDK drives every request it can build; plain HTTP (the suite's ``http`` client, the same API
key) sends the bad input. Every reply is checked against the version's document.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import pytest
from flexprice import Flexprice, models
from flexprice.models import errors

from mockserver.pytest_plugin import FlexpriceClient, WebhookReceiver

from ..support import Api
from .conftest import NOW, advance, freeze
from .test_sdk_flow import assert_error_response, debit, error_json, settle, transactions
from .test_webhooks import Inbox, client_over


@pytest.fixture
def fp(live_url: str, http: Api) -> Iterator[Flexprice]:
    """The SDK against the session's live sandbox, as the API key of ``http`` (a fresh world)."""
    with Flexprice(server_url=f"{live_url}/v1", api_key_auth=http.api_key, timeout_ms=10_000) as sdk:
        yield sdk


@pytest.fixture
def client(flexprice: FlexpriceClient) -> Api:
    """The plugin's sandbox (the one webhooks are caught from), as the test's world."""
    return client_over(flexprice)


@pytest.fixture
def sdk(flexprice: FlexpriceClient) -> Iterator[Flexprice]:
    """The SDK against the plugin's sandbox, as the test's world (that of ``client``)."""
    with Flexprice(server_url=flexprice.base_url, api_key_auth=flexprice.api_key, timeout_ms=10_000) as made:
        yield made


@pytest.fixture
def inbox(flexprice: FlexpriceClient) -> Iterator[Inbox]:
    """What a receiver registered for the test's world gets, each event checked against its schema."""
    receiver = WebhookReceiver(flexprice)
    yield Inbox(flexprice, receiver)
    receiver.close()


def breakdown(txn) -> list[tuple[str, str]] | None:
    """(credit transaction id, credits) of a debit's consumption_breakdown, as the SDK read it."""
    if txn.consumption_breakdown is None:
        return None
    return [(c.credit_transaction_id, c.credits) for c in txn.consumption_breakdown]


def refused(reply, status: int, message: str) -> dict:
    """The details of a refusal in the version's error body."""
    body = reply.json
    assert (reply.status, body["http_status_code"], body["message"]) == (status, status, message), body
    return body.get("details") or {}


# ---- customers ------------------------------------------------------------------------------


def test_customer_billing_currency_tax_treatment_and_contact_persons(fp: Flexprice, http: Api):
    customers = fp.customers
    cust = customers.create_customer(
        external_id="acme-42",
        name="Acme Inc.",
        billing_currency="EUR",
        tax_treatment="exempt",
        contact_persons=[
            {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@acme.example", "is_primary": True},
            {"first_name": "Bob", "id": "crm-7", "designation": "CFO"},
        ],
    )
    assert (cust.billing_currency, cust.tax_treatment) == ("eur", "exempt")
    ada, bob = cust.contact_persons
    assert ada.id.startswith("cp_") and len(ada.id) == 29  # cp_ and a ULID, given by the sandbox
    assert (ada.first_name, ada.last_name, ada.email, ada.is_primary) == (
        "Ada",
        "Lovelace",
        "ada@acme.example",
        True,
    )
    assert (bob.id, bob.designation, bob.is_primary) == ("crm-7", "CFO", False)
    assert customers.get_customer(id=cust.id).contact_persons == cust.contact_persons

    # The list given replaces the old one; "" clears the billing currency; the rest stays.
    updated = customers.update_customer(
        id=cust.id, billing_currency="", contact_persons=[{"first_name": "Cy", "is_primary": True}]
    )
    assert updated.billing_currency is None  # left out once cleared
    assert updated.tax_treatment == "exempt"
    assert [(p.first_name, p.is_primary) for p in updated.contact_persons] == [("Cy", True)]
    assert updated.contact_persons[0].id not in (ada.id, bob.id)
    assert customers.update_customer(id=cust.id, tax_treatment="taxable").contact_persons == (
        updated.contact_persons
    )
    emptied = customers.update_customer(id=cust.id, contact_persons=[])
    assert (emptied.contact_persons, emptied.tax_treatment) == (None, "taxable")

    # Unset, they are left out.
    plain = customers.create_customer(external_id="globex", name="Globex")
    assert (plain.billing_currency, plain.tax_treatment, plain.contact_persons) == (None, None, None)


def test_two_primary_contact_persons_are_a_400_and_change_nothing(fp: Flexprice, http: Api):
    two = [{"first_name": "Ada", "is_primary": True}, {"first_name": "Bob", "is_primary": True}]
    with pytest.raises(errors.FlexpriceError) as exc:
        fp.customers.create_customer(external_id="acme", name="Acme", contact_persons=two)
    assert_error_response(exc.value, 400, "validation_error", "At most one contact person can be primary")
    assert error_json(exc.value)["details"] == {
        "field": "contact_persons[1].is_primary",
        "primary": "contact_persons[0]",
    }
    assert fp.customers.query_customer(limit=5).pagination.total == 0

    cust = fp.customers.create_customer(
        external_id="acme", name="Acme", contact_persons=[{"first_name": "Ada", "is_primary": True}]
    )
    before = http.get(f"/v1/customers/{cust.id}").json
    with pytest.raises(errors.FlexpriceError) as exc:
        fp.customers.update_customer(id=cust.id, billing_currency="", contact_persons=two)
    assert_error_response(exc.value, 400, "validation_error", "At most one contact person can be primary")
    assert http.get(f"/v1/customers/{cust.id}").json == before  # nothing half-written


@pytest.mark.parametrize(
    "fields, status, message, details",
    [
        (
            {"contact_persons": [{"last_name": "Lovelace"}]},
            400,
            "contact_persons[0].first_name is required",
            None,
        ),
        (
            {"contact_persons": [{"first_name": ""}]},
            400,
            "Contact person first name is required",
            {"field": "contact_persons[0].first_name"},
        ),
        (
            {"contact_persons": [{"first_name": "Ada", "email": "not-an-address"}]},
            400,
            "Please provide a valid email for the contact person",
            {"field": "contact_persons[0].email", "email": "not-an-address"},
        ),
        (
            {"contact_persons": [{"first_name": "A", "id": "x"}, {"first_name": "B", "id": "x"}]},
            400,
            "Contact person ids must be unique",
            {"field": "contact_persons[1].id"},
        ),
        (
            {"billing_currency": "euros"},
            400,
            "Billing currency must be 3 characters long",
            {"billing_currency": "euros"},
        ),
        ({"tax_treatment": "zero-rated"}, 400, "tax_treatment must be one of: taxable, exempt", None),
    ],
)
def test_bad_customer_fields_are_a_400_naming_the_field(http: Api, fields, status, message, details):
    reply = http.post("/v1/customers", {"external_id": "acme", "name": "Acme", **fields})
    shown = refused(reply, status, message)
    if details is not None:
        assert shown == details
    else:  # the document's check: every problem listed, each naming its field
        assert shown["errors"][0]["field"] in message
    assert http.get("/v1/customers").json["pagination"]["total"] == 0
    made = http.post("/v1/customers", {"external_id": "acme", "name": "Acme"}).json
    reply = http.put(f"/v1/customers/{made['id']}", fields)
    assert reply.status == status
    assert http.get(f"/v1/customers/{made['id']}").json == made


# ---- transactions: what a debit drew, where a credit came from -------------------------------


def test_debits_list_the_credits_they_drew_from_each_credit(fp: Flexprice, http: Api):
    freeze(http)
    cust = fp.customers.create_customer(external_id="acme", name="Acme")
    w = fp.wallets.create_wallet(customer_id=cust.id, currency="usd", initial_credits_to_load="10")
    free = transactions(fp, w.id).items[0]
    first = fp.wallets.top_up_wallet(
        id=w.id, credits_to_add="5", transaction_reason="PURCHASED_CREDIT_DIRECT", priority=1
    ).wallet_transaction
    soon = fp.wallets.top_up_wallet(
        id=w.id,
        credits_to_add="20",
        transaction_reason="PURCHASED_CREDIT_DIRECT",
        expiry_date_utc="2026-10-01T00:00:00Z",
    ).wallet_transaction
    assert [breakdown(t) for t in (free, first, soon)] == [None, None, None]  # credits draw nothing

    # Priority first, then the soonest expiry: 5 from the first, 7 from the expiring grant.
    debit(http, w.id, "12", "d-1")
    drawn = transactions(fp, w.id).items[0]
    assert (drawn.transaction_reason, drawn.credit_amount) == ("MANUAL_BALANCE_DEBIT", "12")
    assert breakdown(drawn) == [(first.id, "5"), (soon.id, "7")]

    # What is left of a grant when it expires is a debit drawn from that grant alone.
    advance(http, "P31D")
    expired = transactions(fp, w.id).items[0]
    assert (expired.transaction_reason, expired.credit_amount) == ("CREDIT_EXPIRED", "13")
    assert breakdown(expired) == [(soon.id, "13")]

    # An overdraft draws on what there is; the rest comes from no credit.
    debit(http, w.id, "15", "d-2")
    overdrawn = transactions(fp, w.id).items[0]
    assert (overdrawn.credit_amount, overdrawn.credit_balance_after) == ("15", "-5")
    assert breakdown(overdrawn) == [(free.id, "10")]
    debit(http, w.id, "1", "d-3")
    assert breakdown(transactions(fp, w.id).items[0]) is None  # nothing to draw on: left out

    # A termination's debit too.
    eur = fp.wallets.create_wallet(customer_id=cust.id, currency="eur", initial_credits_to_load="3")
    grant = transactions(fp, eur.id).items[0]
    fp.wallets.terminate_wallet(id=eur.id)
    closing = transactions(fp, eur.id).items[0]
    assert (closing.transaction_reason, breakdown(closing)) == ("WALLET_TERMINATION", [(grant.id, "3")])


def test_an_invoiced_top_ups_credits_name_their_invoice(fp: Flexprice, http: Api):
    cust = fp.customers.create_customer(external_id="acme", name="Acme")
    w = fp.wallets.create_wallet(customer_id=cust.id, currency="usd")
    top = fp.wallets.top_up_wallet(
        id=w.id,
        credits_to_add="20",
        bonus_credits_to_add="5",
        transaction_reason="PURCHASED_CREDIT_INVOICED",
        idempotency_key="inv-1",
    )
    pending = top.wallet_transaction
    assert (pending.transaction_status, pending.source_type, pending.source_id) == (
        "pending",
        "INVOICE",
        top.invoice_id,
    )
    settle(http, top.invoice_id, "pay")
    direct = fp.wallets.top_up_wallet(
        id=w.id, credits_to_add="1", transaction_reason="PURCHASED_CREDIT_DIRECT"
    ).wallet_transaction
    assert (direct.source_type, direct.source_id) == (None, None)
    by_reason = {t.transaction_reason: t for t in transactions(fp, w.id).items}
    for reason in ("PURCHASED_CREDIT_INVOICED", "PURCHASED_CREDIT_BONUS"):  # the bonus came with it
        row = by_reason[reason]
        assert (row.transaction_status, row.source_type, row.source_id) == (
            "completed",
            "INVOICE",
            top.invoice_id,
        )


def test_transaction_webhooks_carry_the_breakdown_and_the_source(client: Api, sdk: Flexprice, inbox: Inbox):
    cust = sdk.customers.create_customer(external_id="acme", name="Acme")
    w = sdk.wallets.create_wallet(customer_id=cust.id, currency="usd", initial_credits_to_load="10")
    top = sdk.wallets.top_up_wallet(
        id=w.id, credits_to_add="5", transaction_reason="PURCHASED_CREDIT_INVOICED", idempotency_key="i"
    )
    inbox.take()
    settle(client, top.invoice_id, "pay")
    debit(client, w.id, "12", "d-1")
    events = inbox.take()
    assert [e["event_type"] for e in events] == ["wallet.transaction.updated", "wallet.transaction.created"]
    updated = models.WebhookDtoTransactionUpdatedWebhookPayload.model_validate(events[0])
    assert (updated.updated_transaction.source_type, updated.updated_transaction.source_id) == (
        "INVOICE",
        top.invoice_id,
    )
    created = models.WebhookDtoTransactionWebhookPayload.model_validate(events[1])
    grant = transactions(sdk, w.id, type_="credit", order="asc").items[0]
    assert breakdown(created.transaction) == [(grant.id, "10"), (top.wallet_transaction.id, "2")]
    assert created.transaction.source_type is None
    raw: dict[str, Any] = events[1]["transaction"]
    assert raw["consumption_breakdown"][0] == {"credit_transaction_id": grant.id, "credits": "10"}


# ---- top-ups: effective_date, coupons ---------------------------------------------------------


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_a_top_ups_effective_date_is_its_credits_created_at(fp: Flexprice, http: Api):
    freeze(http)
    cust = fp.customers.create_customer(external_id="acme", name="Acme")
    w = fp.wallets.create_wallet(customer_id=cust.id, currency="usd")
    august = datetime(2026, 8, 1, 9, 30, tzinfo=timezone.utc)
    top = fp.wallets.top_up_wallet(
        id=w.id,
        credits_to_add="20",
        bonus_credits_to_add="2",
        transaction_reason="PURCHASED_CREDIT_DIRECT",
        effective_date=august,
    )
    assert (top.wallet_transaction.created_at, top.wallet_transaction.updated_at) == (august, at(NOW))
    assert top.wallet.credit_balance == "22"  # counted at once, whatever its date
    now = fp.wallets.top_up_wallet(
        id=w.id, credits_to_add="1", transaction_reason="PURCHASED_CREDIT_DIRECT"
    ).wallet_transaction
    assert now.created_at == now.updated_at == at(NOW)  # no effective date: now

    # Newest first by created_at; the bonus has its purchase's date; the time filters see it.
    listed = transactions(fp, w.id).items
    assert [(t.transaction_reason, t.created_at) for t in listed] == [
        ("PURCHASED_CREDIT_DIRECT", at(NOW)),
        ("PURCHASED_CREDIT_BONUS", august),
        ("PURCHASED_CREDIT_DIRECT", august),
    ]
    found = fp.wallets.query_wallet_transaction(id=w.id, end_time="2026-08-15T00:00:00Z", limit=10)
    assert [t.credit_amount for t in found.items] == ["2", "20"]

    # An invoiced one keeps its date when its invoice is paid.
    pending = fp.wallets.top_up_wallet(
        id=w.id, credits_to_add="5", transaction_reason="PURCHASED_CREDIT_INVOICED", effective_date=august
    )
    advance(http, "PT1H")
    paid = settle(http, pending.invoice_id, "pay")["wallet_transaction"]
    assert (at(paid["created_at"]), paid["transaction_status"]) == (august, "completed")


def test_an_effective_date_in_the_future_is_a_400_naming_it(fp: Flexprice, http: Api):
    freeze(http)
    w = fp.wallets.create_wallet(customer_id="cust_1", currency="usd")
    with pytest.raises(errors.FlexpriceError) as exc:
        fp.wallets.top_up_wallet(
            id=w.id,
            credits_to_add="5",
            transaction_reason="PURCHASED_CREDIT_DIRECT",
            effective_date=datetime(2026, 9, 1, 12, 0, 1, tzinfo=timezone.utc),
        )
    assert_error_response(exc.value, 400, "validation_error", "Effective date must not be in the future")
    assert at(error_json(exc.value)["details"]["effective_date"]) == at("2026-09-01T12:00:01Z")
    reply = http.post(
        f"/v1/wallets/{w.id}/top-up",
        {"credits_to_add": "5", "transaction_reason": "FREE_CREDIT_GRANT", "effective_date": "yesterday"},
    )
    message = "effective_date must be an RFC 3339 timestamp such as 2027-01-01T00:00:00Z"
    assert refused(reply, 400, message) == {"effective_date": "yesterday"}
    assert transactions(fp, w.id).items == [] and fp.wallets.get_wallet(id=w.id).credit_balance == "0"
    # Exactly now is not in the future.
    top = fp.wallets.top_up_wallet(
        id=w.id, credits_to_add="5", transaction_reason="PURCHASED_CREDIT_DIRECT", effective_date=at(NOW)
    )
    assert top.wallet_transaction.created_at == at(NOW)


def test_a_coupon_code_is_a_404_as_the_sandbox_knows_no_coupon(fp: Flexprice, http: Api):
    w = fp.wallets.create_wallet(customer_id="cust_1", currency="usd", initial_credits_to_load="5")
    before = http.get(f"/v1/wallets/{w.id}/transactions").json
    with pytest.raises(errors.FlexpriceError) as exc:
        fp.wallets.top_up_wallet(
            id=w.id,
            credits_to_add="10",
            transaction_reason="PURCHASED_CREDIT_INVOICED",
            coupons=[{"coupon_code": "WELCOME10"}],
        )
    assert_error_response(exc.value, 404, "not_found", "Coupon with code 'WELCOME10' not found")
    assert error_json(exc.value)["details"] == {"coupon_code": "WELCOME10", "field": "coupons[0].coupon_code"}

    path = f"/v1/wallets/{w.id}/top-up"
    top = {"credits_to_add": "10", "transaction_reason": "PURCHASED_CREDIT_DIRECT"}
    empty = http.post(path, {**top, "coupons": [{"coupon_code": "A"}, {"coupon_code": ""}]})
    assert refused(empty, 400, "Provide a valid coupon code") == {"field": "coupons[1].coupon_code"}
    missing = http.post(path, {**top, "coupons": [{"code": "A"}]})
    assert refused(missing, 400, "coupons[0].coupon_code is required")["errors"][0]["field"] == (
        "coupons[0].coupon_code"
    )
    assert http.get(f"/v1/wallets/{w.id}/transactions").json == before  # nothing written

    # No coupon at all is a top-up like any other.
    assert fp.wallets.top_up_wallet(id=w.id, coupons=[], **top).wallet.credit_balance == "15"


# ---- alerts: percentage thresholds, warning and info drop --------------------------------------

PERCENT = {
    "alert_threshold_type": "percentage",
    "critical": {"threshold": "10", "condition": "below"},
    "warning": {"threshold": "50", "condition": "below"},
    "alert_enabled": True,
}


def alerts_of(events: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """(event type, alert state, credit balance shown) of each alert event, as the SDK reads them."""
    found = []
    for event in events:
        if event["event_type"].endswith((".dropped", ".recovered")):
            payload = models.WebhookDtoWalletWebhookPayload.model_validate(event)
            assert payload.alert.alert_settings.alert_threshold_type == "percentage"
            found.append((event["event_type"], payload.alert.state, payload.wallet.credit_balance))
    return found


def test_percentage_thresholds_compare_the_ongoing_balance_with_the_credits_granted(
    client: Api, sdk: Flexprice, inbox: Inbox
):
    w = sdk.wallets.create_wallet(customer_id="cust_1", currency="usd", alert_settings=PERCENT)
    assert w.alert_settings.alert_threshold_type == "percentage"
    assert (w.alert_settings.critical.threshold, w.alert_settings.warning.threshold) == ("10", "50")
    inbox.take()

    # Nothing granted yet: nothing to compare with, no alert (and no credit-balance alert either:
    # percentages apply to the ongoing balance only).
    debit(client, w.id, "1", "d-0")
    assert inbox.names() == ["wallet.transaction.created", "wallet.ongoing_balance.updated"]
    assert sdk.wallets.get_wallet(id=w.id).alert_state == "ok"

    sdk.wallets.top_up_wallet(id=w.id, credits_to_add="101", transaction_reason="PURCHASED_CREDIT_DIRECT")
    assert alerts_of(inbox.take()) == []  # 100 of 101 granted: ok
    debit(client, w.id, "60", "d-1")  # 40 of 101: 39.6%, warning
    assert alerts_of(inbox.take()) == [("wallet.ongoing_balance.dropped", "warning", "40")]
    debit(client, w.id, "35", "d-2")  # 5 of 101: 4.95%, in alarm
    assert alerts_of(inbox.take()) == [("wallet.ongoing_balance.dropped", "in_alarm", "5")]
    assert sdk.wallets.get_wallet(id=w.id).alert_state == "in_alarm"
    sdk.wallets.top_up_wallet(id=w.id, credits_to_add="100", transaction_reason="FREE_CREDIT_GRANT")
    assert alerts_of(inbox.take()) == [("wallet.ongoing_balance.recovered", "ok", "105")]  # 105 of 201


def test_thresholds_stay_absolute_unless_said_otherwise(sdk: Flexprice):
    absolute = {**PERCENT, "alert_threshold_type": "absolute"}
    w = sdk.wallets.create_wallet(customer_id="cust_1", currency="usd", alert_settings=absolute)
    assert w.alert_settings.alert_threshold_type == "absolute"
    unsaid = {k: v for k, v in PERCENT.items() if k != "alert_threshold_type"}
    plain = sdk.wallets.create_wallet(customer_id="cust_1", currency="eur", alert_settings=unsaid)
    assert plain.alert_settings.alert_threshold_type is None  # absolute, not shown until given
    updated = sdk.wallets.update_wallet(id=plain.id, alert_settings=PERCENT)
    assert updated.alert_settings.alert_threshold_type == "percentage"


def below(threshold: str) -> dict[str, str]:
    return {"threshold": threshold, "condition": "below"}


@pytest.mark.parametrize(
    "level, threshold, levels",
    [
        ("critical", "-1", {"critical": below("-1")}),
        ("warning", "100.5", {"critical": below("10"), "warning": below("100.5")}),
        ("info", "150", {"critical": below("10"), "warning": below("50"), "info": below("150")}),
    ],
    ids=["critical", "warning", "info"],
)
def test_a_percentage_outside_0_to_100_is_a_400_naming_it(fp: Flexprice, http: Api, level, threshold, levels):
    settings = {"alert_threshold_type": "percentage", "alert_enabled": True, **levels}
    message = f"Please provide a valid {level} threshold: a percentage between 0 and 100"
    named = {"field": f"alert_settings.{level}.threshold", "threshold": threshold}
    with pytest.raises(errors.FlexpriceError) as exc:
        fp.wallets.create_wallet(customer_id="cust_1", currency="usd", alert_settings=settings)
    assert_error_response(exc.value, 400, "validation_error", message)
    assert error_json(exc.value)["details"] == named
    assert fp.wallets.query_wallet(limit=10).pagination.total == 0

    # An update stores alert settings unchecked, as the cloud does, but a percentage stays in 0-100.
    w = fp.wallets.create_wallet(customer_id="cust_1", currency="usd", alert_settings=PERCENT)
    before = http.get(f"/v1/wallets/{w.id}").json
    reply = http.put(f"/v1/wallets/{w.id}", {"alert_settings": settings})
    assert refused(reply, 400, message) == named
    assert http.get(f"/v1/wallets/{w.id}").json == before
    odd = {**PERCENT, "alert_threshold_type": "%"}
    wrong = http.post("/v1/wallets", {"customer_id": "cust_1", "currency": "eur", "alert_settings": odd})
    assert refused(wrong, 400, "alert_settings.alert_threshold_type must be one of: absolute, percentage")


# ---- wallet webhooks: the customer ------------------------------------------------------------


def test_wallet_webhooks_carry_the_wallets_customer(client: Api, sdk: Flexprice, inbox: Inbox):
    cust = sdk.customers.create_customer(
        external_id="acme-42",
        name="Acme Inc.",
        email="billing@acme.example",
        address_line1="Unter den Linden 1",
        address_city="Berlin",
        address_country="DE",
        timezone="Europe/Berlin",
        metadata={"tier": "gold"},
        billing_currency="eur",  # not in the webhook's projection of a customer
    )
    w = sdk.wallets.create_wallet(customer_id=cust.id, currency="usd", initial_credits_to_load="5")
    events = inbox.take()
    assert [e["event_type"] for e in events] == [
        "customer.created",
        "wallet.transaction.created",
        "wallet.created",
    ]
    shown = {
        "id": cust.id,
        "external_id": "acme-42",
        "environment_id": "",
        "name": "Acme Inc.",
        "email": "billing@acme.example",
        "address_line1": "Unter den Linden 1",
        "address_city": "Berlin",
        "address_country": "DE",
        "timezone": "Europe/Berlin",
        "metadata": {"tier": "gold"},
    }
    assert events[2]["customer"] == events[0]["customer"] == shown
    created = models.WebhookDtoWalletWebhookPayload.model_validate(events[2])
    assert (created.customer.id, created.customer.timezone, created.wallet.id) == (
        cust.id,
        shown["timezone"],
        w.id,
    )
    assert "customer" not in events[1]  # transaction events carry none

    # Read when delivered: a renamed customer shows its new name; alert events carry it too.
    sdk.customers.update_customer(id=cust.id, name="Acme GmbH")
    debit(client, w.id, "5", "to-zero")
    events = inbox.take()
    assert [e["event_type"] for e in events] == [
        "customer.updated",
        "wallet.transaction.created",
        "wallet.credit_balance.dropped",
    ]
    assert events[2]["customer"] == {**shown, "name": "Acme GmbH"}

    # A wallet whose customer_id names no customer (never checked on create) has none.
    orphan = sdk.wallets.create_wallet(customer_id="cust_nobody", currency="usd")
    [event] = inbox.take()
    assert (event["event_type"], event["wallet"]["id"]) == ("wallet.created", orphan.id)
    assert "customer" not in event
