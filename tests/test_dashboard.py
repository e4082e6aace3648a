"""The dashboard at ``/_mock/ui`` in a real browser (headless Chromium, driven by Selenium).

What a person sees and does there: data made through the API shows up, and the page's forms
steer the sandbox the API then answers from (a fault rule, the clock, a redelivery); the journal
grows without a reload; wallets come a page at a time; every control has a label, the nav says
where you are, and a phone-wide window needs no sideways scrolling.

One browser and one sandbox for the module, a fresh API key (world) per test. Every API call
goes through the suite's client, so each reply is checked against the 2026-08-22 document.
Nothing sleeps: every wait is an explicit WebDriverWait on what the page shows. Without
Chromium and its driver the tests fail, naming ``apt-get install -y chromium chromium-driver``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import requests
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

from mockserver.http.server import BackgroundServer

from .browser import BrowserMissing, Dashboard, masked, start_chrome
from .support import Api, Suite, ledger, make_customer, make_wallet, new_key, wallet_of
from .v2026_08_22.test_webhooks import Catcher

SUITE = Suite("2026-08-22")
NOW = "2026-09-01T12:00:00Z"
VIEWS = ("worlds", "world", "requests", "faults", "webhooks")


@pytest.fixture(scope="module")
def driver() -> Iterator:
    try:
        browser, missing = start_chrome(1280, 900), ""
    except BrowserMissing as error:  # fail (never skip): a suite without its browser tests nothing here
        browser, missing = None, str(error)
    if missing:
        pytest.fail(missing, pytrace=False)
    yield browser
    browser.quit()


@pytest.fixture(scope="module")
def sandbox() -> Iterator[BackgroundServer]:
    server = BackgroundServer(SUITE.create_app(validate_responses=True, log_requests=False))
    yield server
    server.stop()


@pytest.fixture
def api(sandbox) -> Iterator[Api]:
    """A client of its own world (a fresh API key), over a socket."""
    with requests.Session() as session:
        yield SUITE.http_client(sandbox.url, session)


@pytest.fixture
def page(driver, sandbox) -> Iterator[Dashboard]:
    """The dashboard in the module's browser, at 1280 x 900; no script error may be left behind."""
    driver.set_window_size(1280, 900)
    dashboard = Dashboard(driver, sandbox.url)
    dashboard.errors()  # what earlier tests left in the log
    yield dashboard
    errors = dashboard.errors()
    assert errors == []


def drained(api: Api) -> dict:
    reply = api.post("/_mock/webhooks/wait", {"timeout": 5})
    assert reply.status == 200 and reply.json["drained"], reply.json
    return reply.json


def pager(page: Dashboard, which: str) -> tuple[str, bool, bool]:
    """A pager's text and whether its Previous and Next buttons are enabled."""
    box = page.find(f"#{which}-pager")
    previous, following = (page.find(f"#{which}-pager button:nth-of-type({n})") for n in (1, 2))
    return box.find_element("css selector", "span").text, previous.is_enabled(), following.is_enabled()


# ---- what the API made, the page shows ----------------------------------------------------------


def test_a_world_made_through_the_api_shows_its_wallets_and_customers(api, page):
    customer = make_customer(api, "acme", name="Acme")
    wallet = make_wallet(api, customer["id"], initial_credits_to_load="100")
    page.open("worlds")

    # the world is listed by its masked key, with its counts; the key itself is never shown
    shown = masked(api.api_key)
    rows = page.wait_rows("worlds-table", lambda rows: any(r[0] == shown for r in rows))
    assert next(r for r in rows if r[0] == shown)[1:5] == ["(none)", "1", "1", "1"]
    assert api.api_key not in page.find("main").text

    page.choose(api.api_key)
    assert page.find("#current").text == f"World: {shown}"
    assert page.driver.current_url.endswith("#world")
    wallets = page.wait_rows("wallets-table", lambda rows: rows and rows[0][0] == wallet["id"])
    assert wallets == [[wallet["id"], "Acme (acme)", "usd", "active", "100", "100", "Ledger"]]
    assert page.rows("customers-table") == [[customer["id"], "acme", "Acme", "1"]]
    assert pager(page, "wallets") == ("wallets 1–1 of 1", False, False)
    assert pager(page, "customers") == ("customers 1–1 of 1", False, False)


def test_the_ledger_button_shows_the_wallets_transactions_newest_first(api, page):
    customer = make_customer(api, "acme", name="Acme")
    wallet = make_wallet(api, customer["id"], initial_credits_to_load="100")
    page.open("worlds")
    page.choose(api.api_key)
    page.button(f"Ledger of {wallet['id']}").click()

    # the initial credit, as the API reports it; the focus moves to the ledger
    entries = page.wait_rows("ledger-table", lambda rows: len(rows) == 1, "the ledger")
    (credit,) = ledger(api, wallet["id"])
    assert credit["type"] == "credit" and credit["credit_amount"] == "100"
    assert entries == [
        [credit["created_at"], "credit", "100", credit["transaction_reason"], "completed", "100", ""]
    ]
    assert page.find("#ledger-title").text == f"Ledger of {wallet['id']}, newest first"
    assert page.driver.switch_to.active_element.get_attribute("id") == "ledger-title"

    # a top-up and a debit later, the button shows them above it
    top_up = api.post(
        f"/v1/wallets/{wallet['id']}/top-up",
        {"credits_to_add": "10", "transaction_reason": "FREE_CREDIT_GRANT", "idempotency_key": "k1"},
    )
    assert top_up.status == 200, top_up.json
    debit = api.post(
        f"/v1/wallets/{wallet['id']}/debit",
        {"credits": "3", "transaction_reason": "MANUAL_BALANCE_DEBIT", "idempotency_key": "d1"},
    )
    assert debit.status == 200, debit.json
    page.button(f"Ledger of {wallet['id']}").click()
    entries = page.wait_rows("ledger-table", lambda rows: len(rows) == 3, "the ledger")
    expected = [
        [t["type"], t["credit_amount"], t["transaction_reason"], t["credit_balance_after"]]
        for t in reversed(ledger(api, wallet["id"]))
    ]
    assert [[e[1], e[2], e[3], e[5]] for e in entries] == expected
    assert [e[5] for e in entries] == ["107", "110", "100"]


# ---- what the page does, the API answers with ------------------------------------------------


def test_a_fault_added_on_the_page_answers_the_next_api_call_and_counts_its_hit(api, page):
    make_customer(api, "acme")
    page.open("worlds")
    page.choose(api.api_key)
    page.go("faults")
    page.wait_rows("faults-table", lambda rows: rows == [["No rules."]])

    Select(page.find("#fault-method")).select_by_visible_text("GET")
    page.find("#fault-path").send_keys("/v1/customers")
    page.find("#fault-status").send_keys("503")
    page.find("#fault-form button[type=submit]").click()
    status = page.wait_status(lambda s: " added" in s or "failed" in s)
    added = re.fullmatch(r"Rule (\S+) added", status)
    assert added, status
    rule_id = added.group(1)
    rows = page.wait_rows("faults-table", lambda rows: rows and rows[0][0].startswith(rule_id))
    assert '"method":"GET"' in rows[0][0] and '"path":"/v1/customers"' in rows[0][0]
    assert '"status":503' in rows[0][0]
    assert rows[0][1:4] == [f"key {masked(api.api_key)}", "0", "0"]

    # the rule is this key's alone and GET's alone
    assert api.get("/v1/customers").status == 503
    assert api.as_key(new_key()).get("/v1/customers").status == 200
    assert api.post("/v1/customers", {"external_id": "other", "name": "Other"}).status == 201

    page.reload()  # the Faults view again, same world
    rows = page.wait_rows("faults-table", lambda rows: rows and rows[0][3] == "1")
    assert rows[0][1:4] == [f"key {masked(api.api_key)}", "1", "1"]

    # Remove takes it away: the API answers again
    page.button(f"Remove rule {rule_id}").click()
    assert page.wait_status(lambda s: "removed" in s or "failed" in s) == f"Rule {rule_id} removed"
    page.wait_rows("faults-table", lambda rows: rows == [["No rules."]])
    assert api.get("/v1/customers").status == 200


def test_advancing_the_clock_on_the_page_expires_credits_the_api_then_reports(api, page):
    assert api.put("/_mock/clock", {"now": NOW, "frozen": True}).status == 200
    customer = make_customer(api, "acme")
    wallet = make_wallet(api, customer["id"], initial_credits_to_load="100")
    top_up = api.post(
        f"/v1/wallets/{wallet['id']}/top-up",
        {
            "credits_to_add": "10",
            "transaction_reason": "FREE_CREDIT_GRANT",
            "idempotency_key": "k1",
            "expiry_date_utc": "2026-09-03T12:00:00Z",  # in two days
        },
    )
    assert top_up.status == 200, top_up.json
    assert wallet_of(api, wallet["id"])["credit_balance"] == "110"

    page.open("worlds")
    page.choose(api.api_key)
    page.wait(lambda: page.find("#clock-now").text.startswith("2026-09-01T12:00:00"), "the world's clock")
    assert page.find("#clock-frozen").text == "frozen"
    page.wait_rows("wallets-table", lambda rows: rows and rows[0][5] == "110")

    page.find("#clock-by").send_keys("P3D")
    page.find("#clock-advance").click()
    status = page.wait_status(lambda s: s.startswith("Clock advanced") or "failed" in s)

    # the API reports the expiry: a CREDIT_EXPIRED debit of the 10 credits, the balance back at 100
    expired = [t for t in ledger(api, wallet["id"]) if t["transaction_reason"] == "CREDIT_EXPIRED"]
    assert [(t["type"], t["credit_amount"]) for t in expired] == [("debit", "10")]
    assert wallet_of(api, wallet["id"])["credit_balance"] == "100"
    assert api.get("/_mock/clock").json == {"now": "2026-09-04T12:00:00.000000Z", "frozen": True}
    # The status line counts the expiry transactions (one per grant), which it calls "credits".
    assert status == "Clock advanced to 2026-09-04T12:00:00.000000Z; 10 credits expired (1 grant)"
    # and the page shows the world as it is now
    page.wait_rows("wallets-table", lambda rows: rows and rows[0][5] == "100")
    assert page.find("#clock-now").text == "2026-09-04T12:00:00.000000Z"


def test_the_journal_shows_a_request_made_after_the_page_opened(api, page):
    customer = make_customer(api, "acme")
    page.open("worlds")
    page.choose(api.api_key)
    page.go("requests")
    page.wait_rows("journal-table", lambda rows: rows and rows[0][1:4] == ["POST", "/v1/customers", "201"])
    page.driver.execute_script("window.notReloaded = true")

    reply = api.get(f"/v1/customers/{customer['id']}")
    assert reply.status == 200
    rows = page.wait_rows("journal-table", lambda rows: rows[0][2] == f"/v1/customers/{customer['id']}")
    assert [r[1:4] for r in rows] == [
        ["GET", f"/v1/customers/{customer['id']}", "200"],
        ["POST", "/v1/customers", "201"],
    ]
    assert page.driver.execute_script("return window.notReloaded") is True

    # a request the API could not take says why, as verification's unexpected list does
    assert api.post("/v1/customer", {"external_id": "x"}).status == 404
    rows = page.wait_rows("journal-table", lambda rows: rows[0][2] == "/v1/customer")
    assert rows[0][1:4] == ["POST", "/v1/customer", "404"] and rows[0][7] == "unexpected: no route"
    assert rows[1][7] == ""
    # each request names the operation that answered it and how faithfully; none for no route
    assert rows[1][5:7] == ["getCustomer", "modelled"]
    assert rows[0][5:7] == ["", ""]

    # the path opens the whole entry: its request id is the one the API answered with
    page.find("#journal-table tbody tr:nth-child(2) button").click()
    page.wait(lambda: page.find("#entry").is_displayed(), "the entry")
    assert page.find("#entry-title").text == f"GET /v1/customers/{customer['id']}: 200"
    body = page.find("#entry-body").text
    assert f'"request_id": "{reply.headers["X-Request-ID"]}"' in body
    assert api.api_key not in body and f'"api_key": "{masked(api.api_key)}"' in body


def test_webhooks_view_lists_endpoint_and_delivery_and_redelivers_it(api, page):
    receiver = Catcher()
    try:
        endpoint = api.post("/_mock/webhooks", {"url": receiver.url})
        assert endpoint.status == 201, endpoint.json
        make_customer(api, "acme")
        assert drained(api)["delivered"] == 1
        (first,) = receiver.wait(1)

        page.open("worlds")
        page.choose(api.api_key)
        page.go("webhooks")
        endpoints = page.wait_rows("endpoints-table", lambda rows: rows and rows[0][0].startswith("ep"))
        assert endpoints == [[endpoint.json["id"], receiver.url, "all", endpoint.json["mode"]]]
        assert endpoint.json["secret"] not in page.find("#webhooks").text
        deliveries = page.wait_rows("deliveries-table", lambda rows: rows and rows[0][0].startswith("msg"))
        (delivery,) = api.get("/_mock/webhooks/deliveries").json["items"]
        assert deliveries == [[delivery["id"], "customer.created", "delivered", "200", "Redeliver"]]

        page.button(f"Redeliver {delivery['id']}").click()
        status = page.wait_status(lambda s: "queued" in s or "failed" in s)
        assert status == f"Delivery {delivery['id']} queued again"
        assert drained(api)["delivered"] == 1
        requests_seen = receiver.wait(2)
        assert len(requests_seen) == 2
        assert requests_seen[1][0]["svix-id"] == first[0]["svix-id"] == delivery["id"]

        page.reload()
        page.wait_rows("deliveries-table", lambda rows: rows and rows[0][3] == "200; 200")
    finally:
        receiver.close()


# ---- paging ---------------------------------------------------------------------------------------


def test_wallets_come_fifty_at_a_time(api, page):
    ids = [make_wallet(api, f"cust_page_{i:03}")["id"] for i in range(120)]
    page.open("worlds")
    page.choose(api.api_key)
    first = page.wait_rows("wallets-table", lambda rows: len(rows) == 50)
    assert [r[0] for r in first] == ids[:50]
    assert pager(page, "wallets") == ("wallets 1–50 of 120", False, True)
    assert pager(page, "customers") == ("no customers", False, False)

    page.find("#wallets-pager button:nth-of-type(2)").click()  # Next wallets
    second = page.wait_rows("wallets-table", lambda rows: rows[0][0] == ids[50])
    assert [r[0] for r in second] == ids[50:100]
    assert pager(page, "wallets") == ("wallets 51–100 of 120", True, True)

    page.find("#wallets-pager button:nth-of-type(2)").click()
    last = page.wait_rows("wallets-table", lambda rows: rows[0][0] == ids[100])
    assert [r[0] for r in last] == ids[100:]
    assert pager(page, "wallets") == ("wallets 101–120 of 120", True, False)

    page.find("#wallets-pager button:nth-of-type(1)").click()  # Previous wallets
    page.wait_rows("wallets-table", lambda rows: rows[0][0] == ids[50])
    assert pager(page, "wallets")[0] == "wallets 51–100 of 120"


# ---- keyboard, screen readers, narrow windows ----------------------------------------------------

UNLABELLED = """
return Array.from(document.querySelectorAll("input, select, textarea"))
  .filter((el) => !(Array.from(el.labels || []).some((l) => l.textContent.trim())
                    || (el.getAttribute("aria-label") || "").trim()))
  .map((el) => el.outerHTML);
"""
NAMELESS_BUTTONS = """
return Array.from(document.querySelectorAll("button"))
  .filter((b) => !(b.textContent.trim() || (b.getAttribute("aria-label") || "").trim()))
  .map((b) => b.outerHTML);
"""
OVERFLOW = "return [document.body.scrollWidth, window.innerWidth, document.documentElement.scrollWidth];"


def test_every_control_is_labelled_and_the_nav_says_where_you_are(api, page):
    make_customer(api, "acme")
    page.open("worlds")
    status = page.find("#status")
    assert (status.get_attribute("role"), status.get_attribute("aria-live")) == ("status", "polite")

    for view in VIEWS:
        if view == "world":
            page.choose(api.api_key)
        else:
            page.go(view)
        current = [a.get_attribute("data-view") for a in page.find_all('nav a[aria-current="page"]')]
        assert current == [view]
        shown = [s.get_attribute("id") for s in page.find_all("main > section") if s.is_displayed()]
        assert shown == [view]
    assert page.driver.execute_script(UNLABELLED) == []
    assert page.driver.execute_script(NAMELESS_BUTTONS) == []


def test_the_keyboard_alone_opens_a_world_and_moves_its_clock(api, page):
    assert api.put("/_mock/clock", {"now": NOW, "frozen": True}).status == 200
    page.open("worlds")
    label = f"Open world {masked(api.api_key)}"
    page.button(label)  # the script has listed the worlds
    tab_to(page, lambda el: el.get_attribute("aria-label") == label).send_keys(Keys.ENTER)
    page.wait(lambda: page.find("#world").is_displayed(), "the World view")
    page.wait(lambda: page.find("#clock-now").text.startswith("2026-09-01T12:00:00"), "the world's clock")

    tab_to(page, lambda el: el.get_attribute("id") == "clock-by").send_keys("P1D")
    tab_to(page, lambda el: el.get_attribute("id") == "clock-advance").send_keys(Keys.ENTER)
    status = page.wait_status(lambda s: s.startswith("Clock advanced") or "failed" in s)
    assert status == "Clock advanced to 2026-09-02T12:00:00.000000Z; no credits expired"
    assert api.get("/_mock/clock").json["now"] == "2026-09-02T12:00:00.000000Z"


def tab_to(page: Dashboard, wanted, presses: int = 80):
    """Press Tab from where the focus is until ``wanted(element)`` holds for the focused element."""
    for _ in range(presses):
        focused = page.driver.switch_to.active_element
        if wanted(focused):
            return focused
        focused.send_keys(Keys.TAB)
    raise AssertionError("Tab never reached the element")


def narrow_page(api: Api, page: Dashboard) -> None:
    """A world with something in every view, its dashboard in a 400 px window."""
    customer = make_customer(api, "a-customer-with-a-rather-long-external-id", name="Acme Incorporated")
    wallet = make_wallet(api, customer["id"], initial_credits_to_load="100")
    rule = {"method": "POST", "path": "/v1/wallets/*/top-up", "status": 503, "times": 3}
    assert api.post("/_mock/faults", rule).status == 201
    assert api.post("/_mock/webhooks", {"url": "http://127.0.0.1:9/a/rather/long/path/hooks"}).status == 201
    api.get(f"/v1/wallets/{wallet['id']}/transactions?order=asc&limit=1000")
    page.driver.set_window_size(400, 800)
    page.open("worlds")
    page.wait_rows("worlds-table", lambda rows: any(r[0] == masked(api.api_key) for r in rows))


def visit_every_view(api: Api, page: Dashboard, open_entry: bool = False):
    """Each view in turn, filled in (with ``open_entry``, the newest journal entry open)."""
    for view in VIEWS:
        if view == "world":
            page.choose(api.api_key)
            page.wait_rows("wallets-table", lambda rows: rows and rows[0][0].startswith("wallet_"))
        elif view != "worlds":
            page.go(view)
        if view == "requests":
            page.wait_rows("journal-table", lambda rows: len(rows) >= 3)
            if open_entry:
                page.find("#journal-table tbody tr:first-child button").click()
                page.wait(lambda: page.find("#entry").is_displayed(), "the entry")
        if view == "faults":
            page.wait_rows("faults-table", lambda rows: rows and rows[0][0].startswith("fault_"))
        if view == "webhooks":
            page.wait_rows("endpoints-table", lambda rows: rows and rows[0][0].startswith("ep"))
        yield view


def test_a_phone_wide_window_needs_no_sideways_scrolling_of_the_body(api, page):
    narrow_page(api, page)
    for view in visit_every_view(api, page):
        body_width, window_width, _ = page.driver.execute_script(OVERFLOW)
        assert window_width <= 420, window_width
        assert body_width <= window_width, f"{view}: body {body_width} px wide in a {window_width} px window"


def test_a_phone_wide_window_never_scrolls_sideways_even_with_an_entry_open(api, page):
    """Stricter than ``body``: the document itself must not scroll either."""
    narrow_page(api, page)
    for view in visit_every_view(api, page, open_entry=True):
        body_width, window_width, page_width = page.driver.execute_script(OVERFLOW)
        scrolled = page.driver.execute_script("window.scrollTo(10000, 0); return window.scrollX;")
        assert (body_width <= window_width, page_width <= window_width, scrolled) == (True, True, 0), (
            f"{view}: body {body_width} px, page {page_width} px wide in a {window_width} px window"
        )


def test_a_world_chosen_after_arriving_at_the_world_address_is_shown(api, page):
    """A bookmark (or a new tab) of ``/_mock/ui#world``: no world is chosen in this tab yet."""
    make_customer(api, "acme")
    page.open("world")
    assert page.wait_status(lambda s: s) == "Choose a world first."
    assert page.find("#worlds").is_displayed()
    page.button(f"Open world {masked(api.api_key)}").click()
    page.wait(lambda: page.find("#world").is_displayed(), "the World view", timeout=3)
