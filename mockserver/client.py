"""A client of a running sandbox's ``/_mock/`` controls, for one API key (its world): faults,
journal, clock, ids, fixtures, state, invoices, webhooks, triggered events, reset. The pytest
plugin's ``flexprice`` fixture is one; ``mockserver.testing.FlexpriceSandbox.controls()`` gives
one for a container. Needs ``requests`` (imported when a client is made), not pytest.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import simplejson

from .http.auth import ADMIN_TOKEN_HEADER, API_KEY_HEADER
from .text import error_message

__all__ = ["FlexpriceClient", "FlexpriceControlError", "SandboxControls", "new_api_key"]


class FlexpriceControlError(AssertionError):
    """A sandbox control refused the call (a bad fault rule, fixture, clock move, ...)."""

    def __init__(self, method: str, path: str, status: int, body: Any):
        super().__init__(f"{method} {path} answered {status}: {error_message(body)}")
        self.status, self.body = status, body


def new_api_key() -> str:
    return f"sk_test_{uuid.uuid4().hex}"


class SandboxControls:
    """The ``/_mock/`` controls for one API key; subclasses say how a request is sent."""

    api_key: str

    def _send(self, method: str, path: str, body: Any, headers: dict[str, str]) -> tuple[int, bytes]:
        raise NotImplementedError

    def control(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        text: str | None = None,
        content_type: str = "application/json",
    ) -> Any:
        """Call a control as this key and return its JSON; a refusal raises FlexpriceControlError."""
        headers = {API_KEY_HEADER: self.api_key, "Content-Type": content_type}
        data = (
            text if text is not None else (None if body is None else simplejson.dumps(body, use_decimal=True))
        )
        status, raw = self._send(method, path, data, headers)
        parsed = json.loads(raw, parse_float=Decimal) if raw else None
        if status >= 400:
            raise FlexpriceControlError(method, path, status, parsed)
        return parsed

    # faults
    def add_fault(self, rule: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
        """Add a fault rule for this key, e.g. ``add_fault(path="/v1/wallets/*", status=503, first=1)``."""
        return self.control("POST", "/_mock/faults", {**(rule or {}), **fields})

    def clear_faults(self) -> Any:
        return self.control("DELETE", "/_mock/faults")

    # journal
    def journal(
        self,
        method: str | None = None,
        path: str | None = None,
        status: int | str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Requests this key made, newest first; ``path`` is a glob, ``status`` 404 or ``"4xx"``."""
        filters = {"method": method, "path": path, "status": status, "limit": limit}
        query = urlencode({k: v for k, v in filters.items() if v is not None})
        return self.control("GET", "/_mock/journal" + (f"?{query}" if query else ""))["items"]

    def clear_journal(self) -> int:
        return self.control("DELETE", "/_mock/journal")["cleared"]

    # clock and ids
    def clock(self) -> dict[str, Any]:
        return self.control("GET", "/_mock/clock")

    def set_clock(self, now: str | None = None, frozen: bool | None = None) -> dict[str, Any]:
        """Put this world's clock at ``now`` (RFC 3339) and/or freeze it; returns what expired."""
        body = {k: v for k, v in (("now", now), ("frozen", frozen)) if v is not None}
        return self.control("PUT", "/_mock/clock", body)

    def advance_clock(self, by: str | int | float | timedelta) -> dict[str, Any]:
        """Move the clock forward (``"P30D"``, seconds, or a timedelta); returns what expired."""
        if isinstance(by, timedelta):
            by = by.total_seconds()
        return self.control("POST", "/_mock/clock/advance", {"by": by})

    def seed_ids(self, seed: int | None) -> None:
        self.control("PUT", "/_mock/ids", {"seed": seed})

    # fixtures and state
    def load_fixture(self, fixture: str | Path | dict[str, Any]) -> dict[str, Any]:
        """Load a fixture (a YAML file path, YAML text or a dict) into this world."""
        if isinstance(fixture, dict):
            return self.control("POST", "/_mock/fixtures", fixture)
        if isinstance(fixture, Path) or (
            isinstance(fixture, str) and "\n" not in fixture and fixture.endswith((".yaml", ".yml"))
        ):
            fixture = Path(fixture).read_text(encoding="utf-8")
        return self.control("POST", "/_mock/fixtures", text=fixture, content_type="application/yaml")

    def state(self) -> dict[str, Any]:
        return self.control("GET", "/_mock/state")

    def load_state(self, document: dict[str, Any]) -> dict[str, Any]:
        return self.control("PUT", "/_mock/state", document)

    # every invoice of the world: closed periods', top-ups' paid later, one-offs
    def invoices(self) -> list[dict[str, Any]]:
        return self.control("GET", "/_mock/invoices")["items"]

    def pay_invoice(self, invoice_id: str) -> dict[str, Any]:
        """Settle an invoice as paid: a top-up's pending credit completes, a period's is paid."""
        return self.control("POST", f"/_mock/invoices/{invoice_id}/pay")

    def void_invoice(self, invoice_id: str) -> dict[str, Any]:
        """Void an invoice: a top-up's pending credit fails and the balance stays; a period's
        payments and credits go back to a prepaid wallet."""
        return self.control("POST", f"/_mock/invoices/{invoice_id}/void")

    def fail_invoice(self, invoice_id: str) -> dict[str, Any]:
        """Fail an invoice's payment: it stays due (a top-up's credit stays pending)."""
        return self.control("POST", f"/_mock/invoices/{invoice_id}/fail")

    # policies: how pending things settle by themselves
    def policies(self) -> dict[str, Any]:
        return self.control("GET", "/_mock/policies")

    def set_policies(self, **policies: Any) -> dict[str, Any]:
        """Put policies in force, e.g. ``set_policies(invoiced_top_ups={"after": "PT1H"})``;
        answers them all."""
        return self.control("PUT", "/_mock/policies", policies)

    # webhooks
    def add_webhook(self, url: str, **fields: Any) -> dict[str, Any]:
        """Register a webhook endpoint for this world (``secret``, ``events``, ``faults``, ...)."""
        return self.control("POST", "/_mock/webhooks", {"url": url, **fields})

    def webhook_deliveries(self, **filters: str) -> list[dict[str, Any]]:
        """This world's deliveries, newest first, with every attempt (filters: event_type,
        status, endpoint)."""
        query = urlencode(filters)
        return self.control("GET", "/_mock/webhooks/deliveries" + (f"?{query}" if query else ""))["items"]

    def drain_webhooks(self, timeout: float = 5.0) -> dict[str, Any]:
        """Wait until nothing of this world's outbox is due or in flight."""
        return self.control("POST", "/_mock/webhooks/wait", {"timeout": timeout})

    # triggered scenarios
    def trigger(self, event: str, overrides: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
        """Make the sandbox raise webhook ``event`` now, performing the operations that raise it;
        overrides as dotted names (``{"wallet.currency": "eur"}``) or keywords
        (``credits=5, wallet={"currency": "eur"}``). Returns what was created and used, and the
        events raised."""
        merged = {**(overrides or {}), **fields}
        body: dict[str, Any] = {"event": event}
        if merged:
            body["overrides"] = merged
        return self.control("POST", "/_mock/trigger", body)

    def reset(self) -> None:
        """Empty this key's world (fixtures, if configured, fill it again on next use)."""
        self.control("POST", "/_mock/reset")

    # verification: what this key's app sent, read from the journal
    def verify(
        self,
        method: str | None,
        path: str,
        *,
        query: dict[str, Any] | None = None,
        body: Any = None,
        status: int | str | None = None,
        times: int | None = None,
        at_least: int | None = None,
        at_most: int | None = None,
    ) -> dict[str, Any]:
        """``POST /_mock/verify``: ``{ok, count, expected, near_misses | matches, journal}``.

        ``path`` is a glob (``*`` one segment, ``**`` any depth); ``body`` a subset the request's
        JSON must contain (None: not looked at); ``times``, or ``at_least``/``at_most`` (at
        least once when none is given)."""
        pattern = _pattern(method, path, query, body, status)
        count = {"exactly": times} if times is not None else {"at_least": at_least, "at_most": at_most}
        count = {k: v for k, v in count.items() if v is not None}
        return self.control("POST", "/_mock/verify", {**pattern, **({"count": count} if count else {})})

    def verify_sequence(self, requests: list[Any]) -> dict[str, Any]:
        """``POST /_mock/verify/sequence``: each item ``(method, path)``, ``(method, path, {"body":
        ...})`` or a dict of ``method``, ``path``, ``query``, ``body``, ``status``."""
        return self.control("POST", "/_mock/verify/sequence", {"requests": [_step(r) for r in requests]})

    def unexpected(self, below: str | None = None) -> list[dict[str, Any]]:
        """Requests that hit no route or were refused as invalid, newest first; with ``below``
        (``"modelled"``, ``"stored"``, ``"schema"``), also those answered at a lower fidelity."""
        query = f"?{urlencode({'below': below})}" if below is not None else ""
        return self.control("GET", "/_mock/verify/unexpected" + query)["items"]

    def assert_called(
        self,
        method: str | None,
        path: str,
        *,
        query: dict[str, Any] | None = None,
        body: Any = None,
        status: int | str | None = None,
        times: int | None = None,
        at_least: int | None = None,
        at_most: int | None = None,
    ) -> dict[str, Any]:
        """Fail the test unless this key made such a request (``times`` times, or at least
        ``at_least``, at most ``at_most``; once or more by default). The message shows the
        nearest requests and where each differs. Returns the verification."""
        answer = self.verify(
            method,
            path,
            query=query,
            body=body,
            status=status,
            times=times,
            at_least=at_least,
            at_most=at_most,
        )
        if not answer["ok"]:
            raise AssertionError(explain_verification(answer))
        return answer

    def assert_sequence(self, requests: list[Any]) -> dict[str, Any]:
        """Fail the test unless this key made these requests in this order (others may come
        between them); the message says which step is missing and what came nearest."""
        answer = self.verify_sequence(requests)
        if not answer["ok"]:
            raise AssertionError(explain_sequence(answer))
        return answer

    def assert_no_unexpected(self, below: str | None = None) -> None:
        """Fail the test if this key sent a request that hit no route or was refused as invalid;
        with ``below="modelled"`` (or ``"stored"``, ``"schema"``), also one answered at a lower
        fidelity than that, a 501 of an operation not modelled included."""
        found = self.unexpected(below)
        if found:
            raise AssertionError(explain_unexpected(found))


class FlexpriceClient(SandboxControls):
    """One test's handle on a sandbox over HTTP: its own API key, a session that sends it."""

    def __init__(self, url: str, api_key: str, admin_token: str | None = None):
        import requests  # loaded when a client is made: the plugin itself loads in every pytest run

        self.url = url.rstrip("/")
        self.base_url = self.url + "/v1"
        self.api_key = api_key
        self.session = requests.Session()
        self.session.headers[API_KEY_HEADER] = api_key
        self._admin_headers = {ADMIN_TOKEN_HEADER: admin_token} if admin_token else {}

    def _send(self, method, path, body, headers):
        reply = self.session.request(
            method, self.url + path, data=body, headers={**headers, **self._admin_headers}, timeout=30
        )
        return reply.status_code, reply.content

    def close(self) -> None:
        self.session.close()


# ---- verification's requests and its messages, for people -------------------------------------


def _pattern(
    method: str | None, path: str, query: dict[str, Any] | None, body: Any, status: int | str | None
) -> dict[str, Any]:
    pattern: dict[str, Any] = {"method": method or "ANY", "path": path}
    for name, value in (("query", query), ("body", body), ("status", status)):
        if value is not None:
            pattern[name] = value
    return pattern


def _step(request: Any) -> dict[str, Any]:
    if isinstance(request, dict):
        return request
    method, path, *more = request
    return {"method": method, "path": path, **(more[0] if more else {})}


def explain_verification(answer: dict[str, Any]) -> str:
    expected = answer["expected"]
    wanted = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in expected.items())
    lines = [f"{answer['request']}: expected {wanted}, found {answer['count']}."]
    if "matches" in answer:
        lines.append("The matching requests (newest first):")
        lines += [f"  {_one_line(r)}" for r in answer["matches"]]
    else:
        lines += _near_misses(answer["near_misses"])
    return "\n".join(lines + _journal_note(answer))


def explain_sequence(answer: dict[str, Any]) -> str:
    step = answer["failed_at"]
    lines = [
        f"Expected {answer['expected']} requests in order; step {step + 1} is not found after those before."
    ]
    for number, request in enumerate(answer["matched"], 1):
        lines.append(f"  {number}. found: {_one_line(request)}")
    lines.append(f"  {step + 1}. missing: {answer['request']}")
    lines += _near_misses(answer["near_misses"])
    return "\n".join(lines + _journal_note(answer))


def explain_unexpected(found: list[dict[str, Any]]) -> str:
    lines = [f"{len(found)} request(s) the API could not take (newest first):"]
    lines += [f"  {_one_line(r)}: {r['unexpected']}" for r in found]
    return "\n".join(lines)


def _near_misses(near: list[dict[str, Any]]) -> list[str]:
    if not near:
        return ["No request in the journal comes near it."]
    lines = ["Nearest requests:"]
    for miss in near:
        lines.append(f"  {_one_line(miss['request'])}")
        for d in miss["differences"]:
            got = "missing" if d.get("problem") == "missing" else json.dumps(d["actual"], default=str)
            lines.append(f"      {d['field']}: expected {json.dumps(d['expected'], default=str)}, got {got}")
    return lines


def _one_line(request: dict[str, Any]) -> str:
    query = "?" + urlencode(request["query"], doseq=True) if request.get("query") else ""
    return f"{request['method']} {request['path']}{query} -> {request['status']} at {request['time']}"


def _journal_note(answer: dict[str, Any]) -> list[str]:
    kept = answer.get("journal", {})
    if kept.get("complete", True):
        return []
    return [
        f"(The journal keeps the newest {kept['capacity']} requests and is full: older ones were dropped.)"
    ]
