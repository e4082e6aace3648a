"""Headless Chromium for the dashboard's tests (and ``docs/screenshots.py``): start it, open the
page, wait for what a person would wait for, read tables as text.

Needs Debian's ``chromium`` and ``chromium-driver`` (``apt-get install -y chromium chromium-driver``)
and the ``selenium`` package (the project's test extra). ``CHROMIUM`` and ``CHROMEDRIVER`` name
other binaries.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from typing import Any

from mockserver.text import mask

INSTALL = "apt-get install -y chromium chromium-driver"
WAIT = 10.0  # seconds an explicit wait gives the page (they return as soon as the condition holds)


class BrowserMissing(RuntimeError):
    """Chromium, its driver or selenium is not installed: says how to install them."""


def _binary(variable: str, *names: str) -> str | None:
    given = os.environ.get(variable)
    if given:
        return given if os.access(given, os.X_OK) else None
    return next((found for name in names if (found := shutil.which(name))), None)


def start_chrome(width: int = 1280, height: int = 900, resolve: dict[str, str] | None = None) -> Any:
    """A headless Chromium of ``width`` x ``height``; BrowserMissing names what to install.
    ``resolve`` maps host names to addresses in the browser alone (``{"evil.test": "127.0.0.1"}``),
    as a DNS server of the page's owner would."""
    try:
        from selenium import webdriver
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.chrome.service import Service
    except ImportError as error:
        raise BrowserMissing(f"selenium is not installed ({error}): pip install -e '.[test]'") from None
    chromium = _binary("CHROMIUM", "chromium", "chromium-browser")
    driver = _binary("CHROMEDRIVER", "chromedriver")
    missing = [name for name, path in (("chromium", chromium), ("chromedriver", driver)) if path is None]
    if missing:
        raise BrowserMissing(
            f"the dashboard tests need a headless Chromium: {' and '.join(missing)} not found "
            f"(Debian: {INSTALL})"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = str(chromium)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(argument)
    options.add_argument(f"--window-size={width},{height}")
    if resolve:
        rules = ", ".join(f"MAP {name} {address}" for name, address in resolve.items())
        options.add_argument(f"--host-resolver-rules={rules}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    try:
        return webdriver.Chrome(service=Service(str(driver)), options=options)
    except WebDriverException as error:
        raise BrowserMissing(
            f"Chromium ({chromium}) or its driver ({driver}) would not start: {error.msg} "
            f"(Debian: {INSTALL}; the two must be the same version)"
        ) from None


class Dashboard:
    """The page at ``/_mock/ui`` in one browser, driven as a person would."""

    def __init__(self, driver: Any, base_url: str):
        self.driver = driver
        self.base_url = base_url

    # ---- getting around ---------------------------------------------------------------------

    def open(self, view: str = "worlds") -> None:
        """Load the page afresh (no world chosen) on ``view``; waits for the worlds table."""
        # another path of the same origin first: the page then loads afresh, not a fragment move
        self.driver.get(self.base_url + "/_mock/health")
        self.driver.execute_script("sessionStorage.clear()")
        self.driver.get(self.base_url + "/_mock/ui#" + view)
        self.wait(lambda: self.driver.execute_script("return document.readyState") == "complete")

    def choose(self, api_key: str) -> None:
        """Open the world of ``api_key`` from the Worlds view (by its masked key, as shown)."""
        self.button(f"Open world {masked(api_key)}").click()
        self.wait(lambda: not self.find("#world").get_attribute("hidden"), "the World view")

    def go(self, view: str) -> None:
        """Follow the nav link to ``view`` and wait until it is the one shown."""
        self.find(f'nav a[data-view="{view}"]').click()
        self.wait(lambda: self.find(f"#{view}").is_displayed(), f"the {view} view")

    def reload(self) -> None:
        """Reload the page (the chosen world is kept for the tab, the view is the URL's)."""
        self.driver.refresh()
        self.wait(lambda: self.driver.execute_script("return document.readyState") == "complete")

    # ---- reading ------------------------------------------------------------------------------

    def find(self, selector: str) -> Any:
        from selenium.webdriver.common.by import By

        found = self.driver.find_elements(By.CSS_SELECTOR, selector)
        return found[0] if found else None

    def find_all(self, selector: str) -> list[Any]:
        from selenium.webdriver.common.by import By

        return self.driver.find_elements(By.CSS_SELECTOR, selector)

    def button(self, name: str) -> Any:
        """The button whose accessible name (aria-label) is ``name``, once the page shows it."""
        return self.wait(lambda: self.find(f'button[aria-label="{name}"]'), f"the button {name!r}")

    def rows(self, table: str) -> list[list[str]]:
        """The body rows of table ``#table``, each a list of its cells' text (one script call)."""
        return self.driver.execute_script(
            "return Array.from(document.querySelectorAll(arguments[0] + ' tbody tr'))"
            ".map((r) => Array.from(r.cells).map((c) => c.textContent.trim()));",
            f"#{table}",
        )

    def status(self) -> str:
        return self.find("#status").text

    def wait(self, condition: Callable[[], Any], what: str = "", timeout: float = WAIT) -> Any:
        """Wait until ``condition()`` is truthy and return it; fails naming ``what`` and the status line."""
        from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
        from selenium.webdriver.support.ui import WebDriverWait

        def check(_driver: Any) -> Any:
            try:
                return condition()
            except StaleElementReferenceException:  # the script replaced the rows: look again
                return False

        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=0.05).until(check)
        except TimeoutException:
            status = self.find("#status")
            raise AssertionError(
                f"waited {timeout:g} s for {what or condition}; status line: "
                f"{status.text if status else '(none)'!r}"
            ) from None

    def wait_rows(
        self, table: str, predicate: Callable[[list[list[str]]], Any], what: str = ""
    ) -> list[list[str]]:
        """Wait until the rows of ``#table`` satisfy ``predicate``; returns them."""
        seen: list[list[list[str]]] = []

        def check() -> Any:
            seen[:] = [self.rows(table)]
            return seen[0] if predicate(seen[0]) else None

        try:
            return self.wait(check, what or f"rows of #{table}")
        except AssertionError as error:
            raise AssertionError(f"{error}; rows of #{table}: {seen[0] if seen else None}") from None

    def wait_status(self, predicate: Callable[[str], Any], what: str = "") -> str:
        return self.wait(lambda: (text := self.status()) and predicate(text) and text, what or "the status")

    def errors(self) -> list[str]:
        """Uncaught script errors the page logged since the last call (network errors aside)."""
        return [
            entry["message"]
            for entry in self.driver.get_log("browser")
            if entry["level"] == "SEVERE" and "Uncaught" in entry["message"]
        ]


def masked(api_key: str) -> str:
    """An API key as the dashboard shows it."""
    return mask(api_key)
