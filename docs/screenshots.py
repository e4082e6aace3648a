"""Screenshots of the dashboard (``/_mock/ui``) for the docs: one PNG per view, at 1280 x 900.

    python docs/screenshots.py            # writes docs/ui-worlds.png, ui-world.png, ui-requests.png,
                                          # ui-faults.png and ui-webhooks.png

Starts a sandbox in this process (API 2026-08-22, ids from a fixed seed, the demo world's clock
frozen), fills it through the API as an app would (two customers, wallets with credits, a top-up, a
debit, a fault rule that one request meets, a few reads, a webhook endpoint on a local receiver
with its deliveries), then opens each view in headless Chromium (``apt-get install -y chromium
chromium-driver``) and saves it. The World view is taken with a wallet's ledger open, the
Requests view with an entry open.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import mockserver  # noqa: E402
from mockserver.http.server import BackgroundServer  # noqa: E402
from tests.browser import BrowserMissing, Dashboard, masked, start_chrome  # noqa: E402
from tests.support import LocalServer, QuietHandler  # noqa: E402

KEY = "sk_test_demo_dashboard_7f3a"
OTHER_KEY = "sk_test_ci_run_4821_c0de"
NOW = "2026-09-01T12:00:00Z"


class Receiver:
    """A webhook receiver on a free loopback port: answers 200 to every POST."""

    def __init__(self) -> None:
        class Handler(QuietHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = LocalServer(Handler)
        self.url = self.server.url + "/webhooks/flexprice"

    def close(self) -> None:
        self.server.close()


class Client:
    """The API as one key, failing loudly on an unexpected status."""

    def __init__(self, url: str, key: str, session: requests.Session):
        self.url, self.session = url, session
        self.session.headers["x-api-key"] = key

    def call(self, method: str, path: str, body: Any = None, expect: int | tuple[int, ...] = 200) -> Any:
        reply = self.session.request(method, self.url + path, json=body, timeout=10)
        wanted = expect if isinstance(expect, tuple) else (expect,)
        if reply.status_code not in wanted:
            raise RuntimeError(f"{method} {path} answered {reply.status_code}: {reply.text[:300]}")
        return reply.json() if reply.content else None


def fill(url: str, receiver: Receiver) -> dict[str, str]:
    """The demo world (and a second, smaller one); returns the ids the screenshots need."""
    with requests.Session() as session:
        api = Client(url, KEY, session)
        api.call("PUT", "/_mock/clock", {"now": NOW, "frozen": True})
        api.call("POST", "/_mock/webhooks", {"url": receiver.url}, expect=201)
        acme = api.call("POST", "/v1/customers", {"external_id": "acme", "name": "Acme Inc."}, expect=201)
        globex = api.call("POST", "/v1/customers", {"external_id": "globex", "name": "Globex"}, expect=201)
        wallet = api.call(
            "POST",
            "/v1/wallets",
            {"customer_id": acme["id"], "currency": "usd", "initial_credits_to_load": "100"},
        )
        api.call(
            "POST",
            "/v1/wallets",
            {
                "customer_id": globex["id"],
                "currency": "eur",
                "initial_credits_to_load": "250",
                "initial_credits_expiry_date_utc": "2026-12-31T00:00:00Z",
            },
        )
        api.call("POST", "/_mock/clock/advance", {"by": "PT2H"})
        api.call(
            "POST",
            f"/v1/wallets/{wallet['id']}/top-up",
            {
                "credits_to_add": "50",
                "transaction_reason": "PURCHASED_CREDIT_DIRECT",
                "idempotency_key": "topup-0001",
                "expiry_date_utc": "2026-10-01T00:00:00Z",
            },
        )
        api.call("POST", "/_mock/clock/advance", {"by": "PT30M"})
        api.call(
            "POST",
            f"/v1/wallets/{wallet['id']}/debit",
            {"credits": "30", "transaction_reason": "MANUAL_BALANCE_DEBIT", "idempotency_key": "usage-0001"},
        )
        # a fault rule that the next top-up meets (the app sees a 503 and the journal notes it)
        api.call(
            "POST",
            "/_mock/faults",
            {"method": "POST", "path": "/v1/wallets/*/top-up", "status": 503, "times": 1},
            expect=201,
        )
        api.call(
            "POST",
            f"/v1/wallets/{wallet['id']}/top-up",
            {"credits_to_add": "5", "transaction_reason": "FREE_CREDIT_GRANT", "idempotency_key": "topup-2"},
            expect=503,
        )
        api.call("GET", f"/v1/wallets/{wallet['id']}")
        api.call("GET", f"/v1/wallets/{wallet['id']}/transactions?order=asc&limit=100")
        api.call("GET", "/v1/customers")
        api.call("GET", "/v1/customers/cust_missing", expect=404)
        api.call("POST", "/_mock/webhooks/wait", {"timeout": 10})
    with requests.Session() as session:  # a second world, so the Worlds view lists two
        other = Client(url, OTHER_KEY, session)
        customer = other.call("POST", "/v1/customers", {"external_id": "ci-1", "name": "CI run"}, expect=201)
        other.call("POST", "/v1/wallets", {"customer_id": customer["id"], "currency": "usd"})
    return {"wallet": wallet["id"]}


def shoot(page: Dashboard, out: Path, ids: dict[str, str]) -> list[Path]:
    saved = []

    def save(name: str) -> None:
        path = out / f"ui-{name}.png"
        page.driver.execute_script("document.activeElement && document.activeElement.blur()")
        page.driver.save_screenshot(str(path))
        saved.append(path)

    page.open("worlds")
    page.wait_rows("worlds-table", lambda rows: len(rows) == 2 and rows[0][0] != "", "both worlds")
    save("worlds")

    page.choose(KEY)
    page.wait_rows("wallets-table", lambda rows: len(rows) == 2, "the wallets")
    page.button(f"Ledger of {ids['wallet']}").click()
    try:
        page.wait_rows("ledger-table", lambda rows: len(rows) >= 3, "the ledger")
    except AssertionError as error:  # still take the view, and say what is missing
        print(f"warning: the ledger did not open, ui-world.png is without it: {error}", file=sys.stderr)
    page.driver.execute_script("document.querySelector('#ledger').scrollIntoView({block: 'end'})")
    save("world")

    page.go("requests")
    page.wait_rows("journal-table", lambda rows: len(rows) >= 8, "the journal")
    page.driver.execute_script(
        "Array.from(document.querySelectorAll('#journal-table tbody tr'))"
        ".find((row) => row.cells[3].textContent === '503').querySelector('button').click()"
    )
    page.wait(lambda: page.find("#entry").is_displayed(), "the entry")
    page.driver.execute_script("window.scrollTo(0, 0)")
    save("requests")

    page.go("faults")
    page.wait_rows("faults-table", lambda rows: rows and rows[0][0].startswith("fault_"), "the rule")
    save("faults")

    page.go("webhooks")
    page.wait_rows("deliveries-table", lambda rows: len(rows) >= 3, "the deliveries")
    save("webhooks")
    return saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs", help="directory of the PNGs (docs/)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        driver = start_chrome(1280, 900)
    except BrowserMissing as error:
        raise SystemExit(str(error)) from None
    # the window's size includes the browser's own frame: the page itself gets exactly 1280 x 900
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False},
    )
    receiver = Receiver()
    server = BackgroundServer(mockserver.create_app(api_version="2026-08-22", id_seed=7, log_requests=False))
    try:
        ids = fill(server.url, receiver)
        print(f"sandbox {server.url}: world {masked(KEY)} and {masked(OTHER_KEY)} filled")
        for path in shoot(Dashboard(driver, server.url), args.out, ids):
            print(f"saved {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    finally:
        driver.quit()
        server.stop()
        receiver.close()


if __name__ == "__main__":
    main()
