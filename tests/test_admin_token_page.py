"""Two edges of the guard, over real sockets: the dashboard's ``?admin_token=`` leaves the
address at once, and on a non-loopback address without ``--allowed-hosts`` the Host check is off
(as docs/security.md says)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from .support import Suite

DOCS = Path(__file__).resolve().parent.parent / "docs"


@pytest.fixture
def start(suite: Suite) -> Iterator:
    yield from suite.sandboxes()


def test_the_admin_token_in_the_dashboards_address_becomes_a_cookie_and_leaves_the_address(start):
    """``/_mock/ui?admin_token=...`` answers 303 to the page without the token (other parameters
    kept), sets the cookie and asks for no Referer; the page then opens on the cookie alone."""
    sandbox = start(host="127.0.0.1", admin_token="s3cret")
    with requests.Session() as session:
        reply = session.get(f"{sandbox.url}/_mock/ui?offset=0&admin_token=s3cret", allow_redirects=False)
        assert reply.status_code == 303
        assert reply.headers["Location"] == "/_mock/ui?offset=0"
        assert reply.headers["Referrer-Policy"] == "no-referrer"
        cookie = reply.headers["Set-Cookie"]
        assert cookie.startswith("flexprice_mock_admin_token=s3cret;")
        assert {"HttpOnly", "SameSite=Strict", "Path=/_mock"} <= {part.strip() for part in cookie.split(";")}
        page = session.get(f"{sandbox.url}{reply.headers['Location']}", allow_redirects=False)
        assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
        assert "s3cret" not in page.text
        bare = session.get(f"{sandbox.url}/_mock/ui?admin_token=s3cret", allow_redirects=False)
        assert bare.headers["Location"] == "/_mock/ui"
    assert requests.get(f"{sandbox.url}/_mock/ui?admin_token=wrong", allow_redirects=False).status_code == 403


def test_on_every_address_without_allowed_hosts_any_host_reaches_the_api(suite, start):
    """Listening on 0.0.0.0 without --allowed-hosts, a request addressed to any name (a page's,
    rebound to this machine) reaches /v1; given --allowed-hosts, it is refused. The security
    page says so in as many words."""
    open_sandbox = start(host="0.0.0.0")
    checked = start(host="0.0.0.0", allowed_hosts="sandbox.test")
    rebound = {"Host": "attacker.example"}
    with requests.Session() as session:
        for sandbox, status in ((open_sandbox, 200), (checked, 403)):
            port = sandbox.url.rpartition(":")[2]
            api = suite.http_client(f"http://127.0.0.1:{port}", session)
            assert api.get("/v1/customers", headers=rebound).status == status
    text = " ".join((DOCS / "security.md").read_text().split())
    assert "without `--allowed-hosts`, the Host check is off" in text
