"""The control plane against a real browser (headless Chromium): a hostile page served by the test
on another site tries what any page can do without asking (form posts, ``no-cors`` fetches) and
the sandbox is unchanged; a page whose name resolves to this machine (DNS rebinding) cannot read
the controls; and the dashboard, opened by a name listed in ``--allowed-hosts``, works through it.

The browser resolves the test's names itself (``--host-resolver-rules``), as the attacker's DNS
would: ``evil.test``, ``attacker.test`` and ``sandbox.test`` all go to 127.0.0.1.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import requests
from selenium.webdriver.support.ui import Select

from mockserver.http.server import BackgroundServer

from .browser import BrowserMissing, Dashboard, masked, start_chrome
from .support import Api, LocalServer, QuietHandler, Suite, make_customer, make_wallet

SUITE = Suite("2026-08-22")
NAMES = {"evil.test": "127.0.0.1", "attacker.test": "127.0.0.1", "sandbox.test": "127.0.0.1"}

# What any web page may do to an address without asking first: simple requests. Each posts to
# the sandbox's controls (SANDBOX is replaced by its address); the title says when all were sent.
HOSTILE_PAGE = """<!doctype html>
<title>loading</title>
<form id="reset" method="POST" action="SANDBOX/_mock/reset?all=true" enctype="text/plain" target="a">
  <input name='{"x":"' value='"}'></form>
<form id="fault" method="POST" action="SANDBOX/_mock/faults" enctype="text/plain" target="b">
  <input name='{"status": 503, "x":"' value='"}'></form>
<form id="form" method="POST" action="SANDBOX/_mock/faults" target="c">
  <input name="status" value="503"></form>
<iframe name="a"></iframe><iframe name="b"></iframe><iframe name="c"></iframe>
<script>
const sandbox = "SANDBOX";
let loaded = 0;
for (const frame of document.querySelectorAll("iframe")) {
  frame.addEventListener("load", () => { if (++loaded === 3) document.title = "sent"; });
}
const attempts = [
  fetch(sandbox + "/_mock/reset?all=true", {method: "POST", mode: "no-cors"}),
  fetch(sandbox + "/_mock/reset?all=true", {method: "POST", mode: "no-cors", credentials: "include"}),
  fetch(sandbox + "/_mock/faults", {method: "POST", mode: "no-cors", body: '{"status": 503}'}),
  fetch(sandbox + "/_mock/faults", {method: "POST", mode: "no-cors", body: new Blob(['{"status": 503}'])}),
  fetch(sandbox + "/_mock/clock/advance", {method: "POST", mode: "no-cors", body: '{"by": "P30D"}'}),
];
Promise.allSettled(attempts).then(() => {
  for (const id of ["reset", "fault", "form"]) document.getElementById(id).submit();
});
</script>
"""


class HostilePage:
    """A web server of another site: serves the page above, pointed at ``target``."""

    def __init__(self) -> None:
        self.target = ""
        hostile = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                page = HOSTILE_PAGE.replace("SANDBOX", hostile.target).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

        self._server = LocalServer(Handler)
        self.origin = self._server.url.replace("127.0.0.1", "evil.test")

    def close(self) -> None:
        self._server.close()


@pytest.fixture(scope="module")
def driver() -> Iterator:
    try:
        browser, missing = start_chrome(1280, 900, resolve=NAMES), ""
    except BrowserMissing as error:  # fail (never skip): without its browser this tests nothing
        browser, missing = None, str(error)
    if missing:
        pytest.fail(missing, pytrace=False)
    yield browser
    browser.quit()


@pytest.fixture
def start() -> Iterator:
    yield from SUITE.sandboxes()


@pytest.fixture
def hostile() -> Iterator[HostilePage]:
    page = HostilePage()
    yield page
    page.close()


def client(sandbox: BackgroundServer, session: requests.Session) -> Api:
    return SUITE.http_client(sandbox.url, session)


def visit(driver, url: str) -> None:
    """Load the hostile page and wait until every request it makes has been sent and answered."""
    driver.get(url)
    Dashboard(driver, url).wait(lambda: driver.title == "sent", "the hostile page's requests")


def test_a_hostile_page_cannot_reset_fault_or_move_the_sandbox(driver, start, hostile):
    sandbox = start()
    hostile.target = sandbox.url
    with requests.Session() as session:
        api = client(sandbox, session)
        customer = make_customer(api, "acme")
        make_wallet(api, customer["id"], initial_credits_to_load="100")
        before = api.get("/_mock/state").json
        visit(driver, hostile.origin)
        assert api.get("/_mock/health").json["worlds"] == 1
        assert api.get("/_mock/faults").json["total"] == 0
        assert api.get(f"/v1/customers/{customer['id']}").status == 200
        after = api.get("/_mock/state").json
        assert (after["customers"], after["wallets"]) == (before["customers"], before["wallets"])
        assert _seconds(after["clock"]["now"]) - _seconds(before["clock"]["now"]) < 600  # not 30 days on


def test_the_same_page_reaches_a_sandbox_that_allows_its_origin_but_never_with_simple_bodies(
    driver, start, hostile
):
    """The control experiment: the page's requests do arrive. Once its origin is allowed, its
    body-less reset works; its text/plain, form and untyped bodies are still refused (415)."""
    sandbox = start(allowed_origins=hostile.origin)
    hostile.target = sandbox.url
    with requests.Session() as session:
        api = client(sandbox, session)
        make_customer(api, "acme")
        assert api.get("/_mock/health").json["worlds"] == 1
        visit(driver, hostile.origin)
        assert api.get("/_mock/health").json["worlds"] == 0  # the no-cors reset went through
        assert api.get("/_mock/faults").json["total"] == 0  # every body it sent was refused


def test_a_page_whose_name_is_rebound_to_this_machine_reads_nothing(driver, start):
    sandbox = start()
    with requests.Session() as session:
        api = client(sandbox, session)
        make_customer(api, "acme")
    port = sandbox.url.rpartition(":")[2]
    for path in ("/_mock/ui/worlds", "/_mock/ui", "/_mock/journal", "/v1/customers"):
        driver.get(f"http://attacker.test:{port}{path}")
        text = driver.find_element("css selector", "body").text
        assert "Requests addressed to 'attacker.test' are refused" in text, (path, text)
        assert api.api_key not in driver.page_source and masked(api.api_key) not in text


def test_the_dashboard_works_by_a_name_listed_in_allowed_hosts(driver, start):
    sandbox = start(allowed_hosts="sandbox.test")
    port = sandbox.url.rpartition(":")[2]
    page = Dashboard(driver, f"http://sandbox.test:{port}")
    with requests.Session() as session:
        api = client(sandbox, session)
        make_customer(api, "acme")
        page.open("worlds")
        page.choose(api.api_key)
        assert page.find("#current").text == f"World: {masked(api.api_key)}"
        page.go("faults")
        Select(page.find("#fault-method")).select_by_visible_text("GET")
        page.find("#fault-path").send_keys("/v1/customers")
        page.find("#fault-status").send_keys("503")
        page.find("#fault-form button[type=submit]").click()
        status = page.wait_status(lambda s: " added" in s or "failed" in s)
        assert re.fullmatch(r"Rule \S+ added", status), status
        assert api.get("/v1/customers").status == 503
        page.go("world")
        page.find("#world-reset").click()
        assert page.wait_status(lambda s: "reset" in s or "failed" in s) == (
            f"World {masked(api.api_key)} reset: it is empty"
        )
        assert api.get("/_mock/health").json["worlds"] <= 1
    assert page.errors() == []


def _seconds(stamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
