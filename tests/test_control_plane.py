"""The control plane no web page can drive, over real sockets, on both API versions.

What a browser may send to any address without asking first (a form post, a ``no-cors`` fetch,
``text/plain``, forms and multipart bodies) is refused by every control and changes nothing; a
request addressed to a name that could have been rebound to 127.0.0.1 is refused on ``/v1``,
``/_mock`` and the dashboard; ``--allowed-origins``, ``--allowed-hosts`` and ``--admin-from``
each admit what they name and nothing else; the dashboard never lists every key at once.
The browser itself is in ``test_control_plane_browser.py``.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from mockserver.cli import main
from mockserver.domain.world import world_id
from mockserver.http.server import BackgroundServer
from mockserver.text import mask

from .support import Api, Reply, Suite, make_customer, make_wallet, new_key

VERSIONS = ("2025-05-24", "2026-08-22")
EVIL = "http://evil.example"
FROZEN = {"now": "2026-09-01T12:00:00Z", "frozen": True}


@pytest.fixture(scope="module", params=VERSIONS)
def suite(request) -> Suite:
    return Suite(request.param)


@pytest.fixture
def start(suite) -> Iterator:
    """Start a sandbox of the module's version (``host`` is where it listens)."""
    yield from suite.sandboxes()


@pytest.fixture
def sandbox(start) -> BackgroundServer:
    return start()


@pytest.fixture
def api(suite, sandbox) -> Iterator[Api]:
    with requests.Session() as session:
        yield suite.http_client(sandbox.url, session)


def message(reply: Reply) -> str:
    """The message of either version's error body."""
    body = reply.json
    return (
        body["error"]["message"] if "error" in body and isinstance(body["error"], dict) else body["message"]
    )


def raw(url: str, method: str, path: str, data: bytes | None = None, **headers: str) -> requests.Response:
    """A request exactly as given: no header added but what ``requests`` always sends."""
    return requests.request(method, url + path, data=data, headers=headers, timeout=10)


def global_address() -> str:
    """This machine's own non-loopback address: a client connecting to it is not on loopback."""
    lines = subprocess.run(
        ["ip", "-o", "-4", "addr", "show", "scope", "global"], capture_output=True, text=True
    ).stdout
    found = [line.split()[3].split("/")[0] for line in lines.splitlines() if line.split()]
    assert found, "these tests need a non-loopback IPv4 address on this machine (ip -4 addr)"
    return found[0]


# ---- what a page of another site may send, to every control -------------------------------------


def world_with_everything(api: Api) -> dict[str, Any]:
    """A world with a customer, a wallet, a fault rule, a journal and a frozen clock; returns
    what the controls below would change."""
    assert api.put("/_mock/clock", FROZEN).status == 200
    customer = make_customer(api, "acme-1")
    make_wallet(api, customer["id"], initial_credits_to_load=100)
    assert api.post("/_mock/faults", {"path": "/v1/nothing-here", "status": 418}).status == 201
    return snapshot(api)


def snapshot(api: Api) -> dict[str, Any]:
    return {
        "state": api.get("/_mock/state").json,
        "faults": api.get("/_mock/faults").json,
        "journal": api.get("/_mock/journal").json["count"],
        "invoices": api.get("/_mock/invoices").json,
        "webhooks": api.get("/_mock/webhooks").json if api.get("/_mock/webhooks").status == 200 else None,
        "worlds": api.get("/_mock/health").json["worlds"],
    }


# Every control that changes something, with a body a page would send to it.
CHANGING = [
    ("POST", "/_mock/reset?all=true", b""),
    ("POST", "/_mock/reset", b""),
    ("POST", "/_mock/faults", b'{"status": 503}'),
    ("DELETE", "/_mock/faults", b""),
    ("DELETE", "/_mock/faults/fault_1", b""),
    ("PUT", "/_mock/state", b'{"customers": []}'),
    ("POST", "/_mock/fixtures", b"customers: [{external_id: planted, name: Planted}]"),
    ("PUT", "/_mock/clock", b'{"now": "2030-01-01T00:00:00Z"}'),
    ("POST", "/_mock/clock/advance", b'{"by": "P30D"}'),
    ("DELETE", "/_mock/clock", b""),
    ("PUT", "/_mock/ids", b'{"seed": 1}'),
    ("POST", "/_mock/invoices/inv_any/pay", b""),
    ("POST", "/_mock/invoices/inv_any/void", b""),
    ("POST", "/_mock/invoices/inv_any/fail", b""),
    ("PUT", "/_mock/policies", b'{"invoiced_top_ups": "immediate"}'),
    ("POST", "/_mock/webhooks", b'{"url": "http://127.0.0.1:9/hooks"}'),
    ("POST", "/_mock/webhooks/deliveries/msg_any/redeliver", b""),
    ("DELETE", "/_mock/journal", b""),
    ("PUT", "/_mock/usage", b'{"alert_delay": 0}'),
    ("POST", "/_mock/trigger", b'{"event": "customer.created"}'),
    # Verification changes nothing, but its answers show what the app sent: refused alike.
    ("POST", "/_mock/verify", b'{"method": "POST", "path": "/v1/**"}'),
    ("POST", "/_mock/verify/sequence", b'{"requests": [{"path": "/v1/**"}]}'),
]
SIMPLE_TYPES = ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x")


@pytest.mark.parametrize("method, path, body", CHANGING, ids=[f"{m} {p}" for m, p, _ in CHANGING])
def test_a_cross_site_simple_request_to_any_control_is_refused_and_changes_nothing(
    api, sandbox, method, path, body
):
    before = world_with_everything(api)
    for content_type in SIMPLE_TYPES:
        reply = raw(sandbox.url, method, path, body, Origin=EVIL, **{"Content-Type": content_type})
        refused = Reply(reply.status_code, reply.headers, reply.content)
        assert refused.status == 403, (content_type, reply.text)
        assert message(refused) == (
            f"Cross-site request refused: a page at {EVIL} may not use the sandbox's controls; to let "
            "a page of yours use them, start the sandbox with --allowed-origins ORIGIN "
            "(FLEXPRICE_MOCK_ALLOWED_ORIGINS)"
        )
    # Without Origin, the browser's own word for a page of another site.
    reply = raw(
        sandbox.url,
        method,
        path,
        body,
        **{"Sec-Fetch-Site": "cross-site", "Content-Type": "text/plain", "x-api-key": api.api_key},
    )
    assert reply.status_code == 403 and "Sec-Fetch-Site: cross-site" in reply.text
    # A page of a sandboxed frame or a file sends Origin: null.
    assert (
        raw(sandbox.url, method, path, body, Origin="null", **{"x-api-key": api.api_key}).status_code == 403
    )
    assert snapshot(api) == before


def test_cross_site_reads_of_controls_and_the_dashboard_are_refused_too(api, sandbox):
    make_customer(api)
    one_world = f"/_mock/ui/worlds/{world_id((api.api_key, ''))}"  # the control that hands out a key
    assert api.get(one_world).json["api_key"] == api.api_key
    for path in (
        "/_mock/state",
        "/_mock/journal",
        "/_mock/usage",
        "/_mock/verify/unexpected",
        "/_mock/policies",
        "/_mock/ui/worlds",
        one_world,
        "/_mock/ui",
    ):
        reply = raw(sandbox.url, "GET", path, Origin=EVIL, **{"x-api-key": api.api_key})
        assert reply.status_code == 403 and api.api_key not in reply.text, path
        reply = raw(sandbox.url, "GET", path, **{"Sec-Fetch-Site": "cross-site", "x-api-key": api.api_key})
        assert reply.status_code == 403 and api.api_key not in reply.text, path
    # A link to the dashboard followed from another site opens the page, which shows no key.
    page = raw(
        sandbox.url,
        "GET",
        "/_mock/ui",
        **{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"},
    )
    assert page.status_code == 200 and api.api_key not in page.text
    fetched = raw(sandbox.url, "GET", "/_mock/ui/worlds", **{"Sec-Fetch-Site": "cross-site"})
    assert fetched.status_code == 403


def test_the_sandboxs_own_pages_and_clients_without_origin_use_the_controls(api, sandbox):
    """The dashboard sends its own origin (any of the names it was opened by); curl, SDKs and the
    plugin send none; a browser on the same page says same-origin."""
    host = sandbox.url.removeprefix("http://")
    port = host.rpartition(":")[2]
    for own in (f"http://{host}", f"http://localhost:{port}"):
        reply = api.post("/_mock/faults", {"status": 503, "path": "/v1/none"}, headers={"Origin": own})
        if own.endswith(host):
            assert reply.status == 201, reply.json
        else:  # a page at localhost:port, sending to 127.0.0.1:port: another origin to a browser
            assert reply.status == 403
    reply = api.post(
        "/_mock/clock/advance",
        {"by": "PT1S"},
        headers={"Origin": f"http://localhost:{port}", "Host": f"localhost:{port}"},
    )
    assert reply.status == 200, reply.json
    assert (
        api.post("/_mock/clock/advance", {"by": "PT1S"}, headers={"Sec-Fetch-Site": "same-origin"}).status
        == 200
    )
    assert api.post("/_mock/clock/advance", {"by": "PT1S"}).status == 200


def test_allowed_origins_admit_the_pages_they_name_and_no_other(api, start, suite):
    sandbox = start(allowed_origins="http://localhost:3000, https://app.example.test")
    with requests.Session() as session:
        api = suite.http_client(sandbox.url, session)
        make_customer(api)
        for origin in ("http://localhost:3000", "https://app.example.test", "HTTPS://APP.example.test:443"):
            reply = api.post("/_mock/clock/advance", {"by": "PT1S"}, headers={"Origin": origin})
            assert reply.status == 200, (origin, reply.json)
        for origin in (
            "http://localhost:3001",
            "https://app.example.test:8443",
            EVIL,
            "http://app.example.test",
        ):
            reply = api.post("/_mock/reset", headers={"Origin": origin})
            assert reply.status == 403 and origin in message(reply), origin
        assert api.get("/_mock/health").json["worlds"] == 1
        # An allowed page is still held to JSON bodies: a simple request stays refused.
        reply = raw(
            sandbox.url,
            "POST",
            "/_mock/faults",
            b'{"status": 503}',
            Origin="http://localhost:3000",
            **{"Content-Type": "text/plain", "x-api-key": api.api_key},
        )
        assert reply.status_code == 415
        assert api.get("/_mock/faults").json["total"] == 0


# ---- bodies by declared type ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method, path, body",
    [c for c in CHANGING if c[2]],
    ids=[f"{m} {p}" for m, p, b in CHANGING if b],
)
def test_a_control_body_that_is_not_json_by_its_type_is_415_and_changes_nothing(
    api, sandbox, method, path, body
):
    before = world_with_everything(api)
    reads_yaml = path == "/_mock/fixtures"
    for content_type in (*SIMPLE_TYPES, "application/octet-stream", None):
        headers = {"x-api-key": api.api_key}
        if content_type:
            headers["Content-Type"] = content_type
        reply = raw(sandbox.url, method, path, body, **headers)
        refused = Reply(reply.status_code, reply.headers, reply.content)
        assert refused.status == 415, (content_type, reply.text)
        wanted = "a JSON or YAML body" if reads_yaml else "a JSON body"
        declared = content_type.split(";")[0] if content_type else "no Content-Type"
        types = "application/json or application/yaml" if reads_yaml else "application/json"
        assert message(refused) == (
            f"{method} {path} takes {wanted}: send it with Content-Type: {types}, not {declared}"
        )
    yaml = raw(
        sandbox.url, method, path, body, **{"x-api-key": api.api_key, "Content-Type": "application/yaml"}
    )
    assert (yaml.status_code == 415) is not reads_yaml
    if not reads_yaml:
        assert snapshot(api) == before


def test_json_and_yaml_bodies_by_their_type_reach_the_controls(api, sandbox):
    headers = {"x-api-key": api.api_key}
    fixture = b"customers:\n  - external_id: planted\n    name: Planted\n"
    for content_type in ("application/yaml", "text/yaml", "application/x-yaml"):
        api.post("/_mock/reset")
        reply = raw(
            sandbox.url, "POST", "/_mock/fixtures", fixture, **headers, **{"Content-Type": content_type}
        )
        assert reply.status_code == 201, reply.text
    reply = raw(
        sandbox.url,
        "POST",
        "/_mock/faults",
        b'{"status": 503, "path": "/v1/none"}',
        **headers,
        **{"Content-Type": "application/json; charset=utf-8"},
    )
    assert reply.status_code == 201, reply.text
    # A write without a body needs no type, as curl -X POST sends it.
    assert raw(sandbox.url, "POST", "/_mock/reset", **headers).status_code == 200


# ---- DNS rebinding: the Host a request is addressed to ------------------------------------------------


def rebound(api: Api, sandbox: BackgroundServer, host: str) -> None:
    """Every kind of route refuses a request addressed to ``host``; the health check answers."""
    port = sandbox.url.rpartition(":")[2]
    one_world = f"/_mock/ui/worlds/{world_id((api.api_key, ''))}"
    for path in (
        "/v1/customers",
        "/_mock/journal",
        "/_mock/state",
        "/_mock/usage",
        "/_mock/verify/unexpected",
        "/_mock/policies",
        "/_mock/ui",
        "/_mock/ui/worlds",
        one_world,
    ):
        reply = api.get(path, headers={"Host": f"{host}:{port}"})  # /v1 replies checked by the document
        assert reply.status == 403, path
        assert message(reply) == (
            f"Requests addressed to '{host}' are refused: the sandbox answers requests addressed to "
            f"localhost, 127.0.0.1, [::1] or a name in --allowed-hosts (none); to reach it as "
            f"'{host}', start it with --allowed-hosts {host} (FLEXPRICE_MOCK_ALLOWED_HOSTS)"
        )
        assert api.api_key not in reply.raw.decode()
    assert api.post("/_mock/reset?all=true", headers={"Host": host}).status == 403
    event = {"event_name": "api_call", "external_customer_id": "acme"}  # a usage route, written to
    assert api.post("/v1/events", event, headers={"Host": f"{host}:{port}"}).status == 403
    assert api.get("/_mock/health", headers={"Host": f"{host}:{port}"}).status == 200


@pytest.mark.parametrize("method, path, body", CHANGING, ids=[f"{m} {p}" for m, p, _ in CHANGING])
def test_a_rebinding_page_cannot_change_anything_through_any_control(api, sandbox, method, path, body):
    """After DNS rebinding a page is same-origin with its own name: its requests carry that name
    as Host (and as Origin), a JSON type and any key it likes. Every control refuses them."""
    before = world_with_everything(api)
    port = sandbox.url.rpartition(":")[2]
    host = f"attacker.example:{port}"
    headers = {"Host": host, "Origin": f"http://{host}", "Content-Type": "application/json"}
    reply = raw(sandbox.url, method, path, body, **headers, **{"x-api-key": api.api_key})
    assert reply.status_code == 403, reply.text
    assert "Requests addressed to 'attacker.example' are refused" in reply.text
    assert snapshot(api) == before


def test_a_rebinding_host_is_refused_on_the_api_the_controls_and_the_dashboard(api, sandbox):
    make_customer(api)
    rebound(api, sandbox, "attacker.example")
    assert api.get("/_mock/health").json["worlds"] == 1
    port = sandbox.url.rpartition(":")[2]
    for local in (f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}", "localhost", "127.0.0.2"):
        assert api.get("/v1/customers", headers={"Host": local}).status == 200, local
        assert api.get("/_mock/journal", headers={"Host": local}).status == 200, local


def test_allowed_hosts_admit_the_names_they_list_and_no_other(suite, start):
    sandbox = start(allowed_hosts="sandbox.test,.example.test")
    with requests.Session() as session:
        api = suite.http_client(sandbox.url, session)
        for name in ("sandbox.test", "example.test", "api.example.test", "SANDBOX.TEST."):
            assert api.get("/v1/customers", headers={"Host": f"{name}:8080"}).status == 200, name
            assert api.get("/_mock/journal", headers={"Host": name}).status == 200, name
        for name in ("other.test", "sandbox.test.evil", "notexample.test"):
            reply = api.get("/v1/customers", headers={"Host": name})
            assert reply.status == 403 and "(.example.test, sandbox.test)" in message(reply), name
    anything = start(allowed_hosts="*")
    with requests.Session() as session:
        api = suite.http_client(anything.url, session)
        assert api.get("/_mock/journal", headers={"Host": "whatever.example"}).status == 200


# ---- listening on another address: the admin gate ------------------------------------------------------


def test_on_another_address_the_api_answers_any_host_and_controls_answer_no_one_by_default(suite, start):
    address = global_address()
    sandbox = start(host="0.0.0.0")
    port = sandbox.url.rpartition(":")[2]
    with requests.Session() as session:
        api = suite.http_client(f"http://{address}:{port}", session)
        assert (
            api.post(
                "/v1/customers", {"external_id": "a", "name": "A"}, headers={"Host": "sandbox.internal"}
            ).status
            == 201
        )
        reply = api.post("/_mock/reset?all=true")
        assert reply.status == 403
        assert message(reply) == (
            f"Sandbox controls refuse {address}: they answer loopback clients, clients from the "
            "--admin-from networks (none set), or, once --admin-token is set, requests that send it"
        )
        local = suite.http_client(f"http://127.0.0.1:{port}", session).as_key(api.api_key)
        assert local.get("/_mock/journal").status == 200
        # A loopback client addressing it by a name that is not local: the browser of a page whose
        # name was rebound to this machine. Its API calls are served; the controls refuse it.
        assert local.get("/v1/customers", headers={"Host": "attacker.example"}).status == 200
        assert local.get("/_mock/state", headers={"Host": "attacker.example"}).status == 403
        assert local.get("/_mock/health").json["worlds"] == 1


def test_admin_from_admits_the_networks_it_names_and_no_other(suite, start):
    address = global_address()
    near = start(host="0.0.0.0", admin_from=f"{address}/32")
    far = start(host="0.0.0.0", admin_from="10.255.0.0/16, fd00:dead::/32")
    with requests.Session() as session:
        for sandbox, admitted in ((near, True), (far, False)):
            port = sandbox.url.rpartition(":")[2]
            api = suite.http_client(f"http://{address}:{port}", session)
            make_customer(api)
            reply = api.post("/_mock/reset?all=true")
            if admitted:
                assert reply.status == 200 and reply.json["reset"] == 1
            else:
                assert reply.status == 403
                assert "--admin-from networks (10.255.0.0/16, fd00:dead::/32)" in message(reply)
                assert api.get("/_mock/health").json["worlds"] == 1


def test_with_a_token_and_admin_from_each_admits_on_its_own(suite, start):
    address = global_address()
    sandbox = start(host="0.0.0.0", admin_token="s3cret", admin_from="10.255.0.0/16")
    port = sandbox.url.rpartition(":")[2]
    with requests.Session() as session:
        remote = suite.http_client(f"http://{address}:{port}", session)
        local = suite.http_client(f"http://127.0.0.1:{port}", session).as_key(remote.api_key)
        for client in (remote, local):
            reply = client.get("/_mock/journal")
            assert reply.status == 403
            assert "send the --admin-token in the X-Mock-Admin-Token header" in message(reply)
            assert client.get("/_mock/journal", headers={"X-Mock-Admin-Token": "s3cret"}).status == 200
    sandbox = start(host="0.0.0.0", admin_token="s3cret", admin_from=f"{address}/24")
    port = sandbox.url.rpartition(":")[2]
    with requests.Session() as session:
        assert suite.http_client(f"http://{address}:{port}", session).get("/_mock/journal").status == 200


def test_allowed_hosts_are_honoured_on_another_address_when_given(suite, start):
    address = global_address()
    sandbox = start(host="0.0.0.0", allowed_hosts="sandbox.internal", admin_from=f"{address}/32")
    port = sandbox.url.rpartition(":")[2]
    with requests.Session() as session:
        api = suite.http_client(f"http://{address}:{port}", session)
        assert api.get("/v1/customers", headers={"Host": "sandbox.internal"}).status == 200
        assert api.get("/_mock/journal", headers={"Host": f"sandbox.internal:{port}"}).status == 200
        assert api.get("/v1/customers", headers={"Host": f"localhost:{port}"}).status == 200
        assert api.get("/v1/customers").status == 403  # addressed by its IP, which is not listed
        assert api.get("/v1/customers", headers={"Host": "attacker.example"}).status == 403


# ---- settings ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "flag, value, problem",
    [
        ("--admin-from", "10.0.0/8x", "'10.0.0/8x' is not a network such as 172.16.0.0/12 or an address"),
        ("--allowed-hosts", "sandbox.test:8080", "'sandbox.test:8080': list host names without a port"),
        ("--allowed-hosts", "a b", "'a b' is not a host name"),
        ("--allowed-origins", "*", "'*' would let pages of any site use the controls: list each origin"),
        (
            "--allowed-origins",
            "localhost:3000",
            "'localhost:3000' is not an origin such as http://localhost:3000",
        ),
        ("--allowed-origins", "http://a.test/app", "'http://a.test/app' is not an origin"),
    ],
)
def test_a_bad_access_setting_stops_the_start_in_one_line_naming_it(capsys, flag, value, problem):
    assert main([flag, value, "--port", "0"]) == 2
    error = capsys.readouterr().err
    variable = "FLEXPRICE_MOCK_" + flag[2:].upper().replace("-", "_")
    assert error.startswith(f"flexprice-mock: {flag} ({variable}): {problem}") and error.count("\n") == 1


def test_the_access_settings_come_from_the_environment(start, suite, monkeypatch):
    monkeypatch.setenv("FLEXPRICE_MOCK_ALLOWED_HOSTS", "sandbox.test")
    monkeypatch.setenv("FLEXPRICE_MOCK_ALLOWED_ORIGINS", "http://localhost:3000")
    from mockserver.config import Settings

    settings = Settings.from_env()
    assert (settings.allowed_hosts, settings.allowed_origins) == ("sandbox.test", "http://localhost:3000")
    assert Settings.from_env({"FLEXPRICE_MOCK_ADMIN_FROM": "10.88.0.0/16"}).admin_from == "10.88.0.0/16"


def test_admin_from_every_network_is_allowed_but_said_at_start(tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "mockserver", "--port", "0", "--no-fixtures", "--admin-from", "0.0.0.0/0"],
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        lines = []
        assert process.stderr is not None
        for line in process.stderr:
            lines.append(line)
            if "serving Flexprice API" in line:
                break
        warning = next(line for line in lines if "WARNING" in line)
        assert (
            "--admin-from 0.0.0.0/0 lets every client that reaches the port use the sandbox controls"
            in warning
        )
    finally:
        process.terminate()
        process.wait(10)


# ---- the dashboard never lists every key ------------------------------------------------------------------


def test_the_worlds_list_masks_keys_and_a_key_is_given_for_one_world_asked_for(api, sandbox):
    make_customer(api)
    other = api.as_key(new_key())
    staged = other.post(
        "/v1/customers", {"external_id": "o-1", "name": "Other"}, headers={"X-Environment-ID": "staging"}
    )
    assert staged.status == 201
    listed = api.get("/_mock/ui/worlds")
    assert listed.status == 200
    text = listed.raw.decode()
    assert api.api_key not in text and other.api_key not in text
    lines = {line["masked"]: line for line in listed.json["items"]}
    assert set(lines) == {mask(api.api_key), mask(other.api_key)}
    assert "api_key" not in lines[mask(api.api_key)]
    staged = lines[mask(other.api_key)]
    opened = api.get(f"/_mock/ui/worlds/{staged['world']}")
    assert opened.json == {
        "world": staged["world"],
        "api_key": other.api_key,
        "environment_id": "staging",
        "masked": mask(other.api_key),
    }
    assert api.get("/_mock/ui/worlds/0123456789abcdef").status == 404
    page = api.get("/_mock/ui")
    assert api.api_key not in page.raw.decode() and other.api_key not in page.raw.decode()
