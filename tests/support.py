"""What every suite shares: a client that checks each reply against its API version's
document (independently of the sandbox's own self-check), and fresh API keys."""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests
import simplejson
from jsonschema import Draft4Validator

import mockserver
from mockserver import Settings, api
from mockserver.http.server import BackgroundServer
from mockserver.http.spec import Operation, Spec


def new_key() -> str:
    return f"sk_test_{uuid.uuid4().hex}"


class Contract:
    """Finds the operation of a request by method and path, and checks a response's status,
    content type and body against what the version's document declares."""

    def __init__(self, version: str):
        self.spec = Spec.load(api.load(version).spec_path)
        routes = []
        for op in self.spec.operations:
            pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(self.spec.base_path + op.path))
            routes.append((op.path.count("{"), re.compile(pattern + "$"), op))
        routes.sort(key=lambda r: r[0])  # static segments win, as in the router
        self._routes = routes

    def operation_for(self, method: str, path: str) -> Operation | None:
        for _, pattern, op in self._routes:
            if op.method == method.upper() and pattern.match(path):
                return op
        return None

    def assert_conforms(
        self, method: str, path: str, status: int, content_type: str | None, raw: bytes
    ) -> None:
        """Fail the test when a response to an API operation is not what the document declares."""
        op = self.operation_for(method, path.split("?")[0])
        if op is None:
            return
        declared = str(status) if str(status) in op.responses else "default"
        assert declared in op.responses, f"{op.operation_id} answered undeclared status {status}"
        schema = op.responses[declared]
        if schema is None and content_type and not content_type.startswith("application/json"):
            return  # bytes the document declares as */* (an invoice's PDF)
        if schema is None:
            assert raw == b"", f"{op.operation_id} {status} must have no body, got {raw[:200]!r}"
            return
        assert content_type and content_type.startswith("application/json"), content_type
        body = json.loads(raw, parse_float=Decimal)
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in Draft4Validator(schema).iter_errors(body)]
        assert not errors, f"{op.operation_id} {status} breaks its document: {errors}"


@dataclass
class Reply:
    status: int
    headers: Any
    raw: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.raw, parse_float=Decimal) if self.raw else None

    @property
    def error(self) -> dict:
        return self.json["error"]


class Api:
    """Calls the sandbox as one API key; every reply is checked against the spec."""

    def __init__(self, send, api_key: str | None, contract: Contract):
        self._send = send
        self.api_key = api_key
        self.contract = contract

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        data: bytes | str | None = None,
        headers: dict[str, str] | None = None,
        key: str | None = "default",
    ) -> Reply:
        sent = {"Content-Type": "application/json"}
        api_key = self.api_key if key == "default" else key
        if api_key is not None:
            sent["x-api-key"] = api_key
        sent.update(headers or {})
        if json_body is not None:
            data = simplejson.dumps(json_body, use_decimal=True)
        reply = self._send(method, path, data, sent)
        self.contract.assert_conforms(
            method, path, reply.status, reply.headers.get("Content-Type"), reply.raw
        )
        return reply

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, json=None, **kw):
        return self.request("POST", path, json_body=json, **kw)

    def put(self, path, json=None, **kw):
        return self.request("PUT", path, json_body=json, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def as_key(self, api_key: str) -> Api:
        return Api(self._send, api_key, self.contract)


class Suite:
    """One API version's test suite: its contract, its sandboxes and its clients."""

    def __init__(self, version: str):
        self.version = version
        self.contract = Contract(version)
        contract = self.contract

        class SuiteApi(Api):
            """A client of this suite's version, checking replies against its document."""

            def __init__(self, send, api_key: str | None, contract: Contract = contract):
                super().__init__(send, api_key, contract)

        self.Api = SuiteApi

    # The store the suite's sandboxes use: "memory", or a Redis URL (each version's suite runs on
    # both; the ``store`` fixture sets it).
    store = "memory"

    def store_settings(self) -> dict[str, Any]:
        """With Redis, every sandbox made gets keys of its own (a prefix), as a fresh process would
        get an empty memory store."""
        if self.store == "memory":
            return {}
        return {"store": self.store, "redis_prefix": f"test-{uuid.uuid4().hex[:12]}:"}

    def create_app(self, **settings: Any):
        """A sandbox of this suite's API version, on the suite's store."""
        return mockserver.create_app(api_version=self.version, **{**self.store_settings(), **settings})

    def settings(self) -> Settings:
        return Settings(
            host="127.0.0.1",
            port=0,
            log_requests=False,
            validate_responses=True,
            api_version=self.version,
            **self.store_settings(),
        )

    def sandboxes(self) -> Iterator[Callable[..., BackgroundServer]]:
        """For a fixture (``yield from``): a function that starts a sandbox of this version on a
        socket, settings as keywords (``host`` is also where it listens); each one it started is
        stopped when the fixture ends."""
        started: list[BackgroundServer] = []

        def start(host: str = "127.0.0.1", **settings: Any) -> BackgroundServer:
            app = self.create_app(validate_responses=True, log_requests=False, host=host, **settings)
            started.append(BackgroundServer(app, host=host))
            return started[-1]

        try:
            yield start
        finally:
            for server in started:
                server.stop()

    def client_of(self, app, environ: dict | None = None) -> Api:
        """An in-process client (Flask test client) of ``app`` with a fresh API key; ``environ``
        sets WSGI values such as REMOTE_ADDR."""
        client = app.test_client()

        def send(method, path, data, headers):
            r = client.open(path, method=method, data=data, headers=headers, environ_base=environ or {})
            return Reply(r.status_code, r.headers, r.get_data())

        return self.Api(send, new_key())

    def http_client(self, url: str, session: requests.Session) -> Api:
        """A client over a real socket (``requests``) with a fresh API key."""

        def send(method, path, data, headers):
            r = session.request(method, url + path, data=data, headers=headers, timeout=10)
            return Reply(r.status_code, r.headers, r.content)

        return self.Api(send, new_key())


def make_customer(api: Api, external_id: str = "acme-1", **fields) -> dict:
    reply = api.post("/v1/customers", {"external_id": external_id, "name": "Acme Inc.", **fields})
    assert reply.status == 201, reply.json
    return reply.json


def make_wallet(api: Api, customer_id: str = "cust_test", **fields) -> dict:
    reply = api.post("/v1/wallets", {"customer_id": customer_id, "currency": "usd", **fields})
    assert reply.status == 200, reply.json
    return reply.json


def ledger(api: Api, wallet_id: str) -> list[dict]:
    """A wallet's transactions, oldest first (2026-08-22: the list takes ``order``)."""
    reply = api.get(f"/v1/wallets/{wallet_id}/transactions?order=asc&limit=1000")
    assert reply.status == 200, reply.json
    return reply.json["items"]


def wallet_of(api: Api, wallet_id: str) -> dict:
    reply = api.get(f"/v1/wallets/{wallet_id}")
    assert reply.status == 200, reply.json
    return reply.json


class QuietHandler(BaseHTTPRequestHandler):
    """A test server's request handler that logs nothing (its lines would bury pytest's)."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


class LocalServer:
    """A threaded HTTP server on 127.0.0.1 (a free port), serving ``handler`` in the background."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def sdk_wallet_flow(base_url: str, api_key: str) -> Any:
    """The official SDK (2.1.x) against ``base_url``: a customer, a wallet with 100 credits, a
    top-up of 50, the real-time balance; every value checked. Returns the wallet (as created)."""
    from flexprice import Flexprice

    with Flexprice(server_url=base_url, api_key_auth=api_key) as fp:
        customer = fp.customers.create_customer(external_id="acme-42", name="Acme Inc.")
        wallet = fp.wallets.create_wallet(
            customer_id=customer.id, currency="usd", initial_credits_to_load="100"
        )
        topped = fp.wallets.top_up_wallet(
            id=wallet.id,
            credits_to_add="50",
            transaction_reason="PURCHASED_CREDIT_DIRECT",
            idempotency_key="order-1001",
        )
        balance = fp.wallets.get_wallet_balance(id=wallet.id)
    assert customer.id.startswith("cust_") and customer.external_id == "acme-42"
    assert wallet.id.startswith("wallet_") and wallet.customer_id == customer.id
    assert (wallet.credit_balance, wallet.currency) == ("100", "usd")
    assert (topped.wallet.credit_balance, topped.wallet_transaction.credit_amount) == ("150", "50")
    assert topped.wallet_transaction.transaction_status == "completed"
    assert balance.real_time_credit_balance == "150"
    return wallet


REPO = Path(__file__).resolve().parents[1]


def docs_example(page: str, name: str) -> str:
    """The fenced code block right after the line ``<!-- example: NAME -->`` in the markdown file
    PAGE (a path from the repository's root), without its fence lines: the example as a reader
    copies it, for a test to compare with the code it runs (or to run it)."""
    text = (REPO / page).read_text(encoding="utf-8")
    marker = f"<!-- example: {name} -->\n"
    assert text.count(marker) == 1, f"{page} must have exactly one {marker.strip()} line"
    after = text[text.index(marker) + len(marker) :]
    assert after.startswith("```"), f"{page}: {marker.strip()} must be followed by a ``` fence"
    body = after[after.index("\n") + 1 :]
    return body[: body.index("\n```")]
