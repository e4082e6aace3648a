"""The suite of API version 2026-08-22: every sandbox here serves that version."""

from __future__ import annotations

import pytest

from ..support import Reply, Suite, make_customer, make_wallet, new_key

SUITE = Suite("2026-08-22")
CONTRACT, Api, create_app, client_of = SUITE.contract, SUITE.Api, SUITE.create_app, SUITE.client_of

__all__ = [
    "CONTRACT",
    "SUITE",
    "Api",
    "Reply",
    "client_of",
    "create_app",
    "make_customer",
    "make_wallet",
    "new_key",
]


@pytest.fixture(scope="package")
def suite() -> Suite:
    return SUITE


@pytest.fixture(autouse=True)
def _on_each_store(store):
    """Every test of the suite runs on the memory store and on Redis."""


# ---- helpers the behaviour suites share -------------------------------------------------------

NOW = "2026-09-01T12:00:00Z"


def freeze(client: Api, now: str = NOW) -> None:
    """Freeze the client's world's clock at ``now``."""
    reply = client.put("/_mock/clock", {"now": now, "frozen": True})
    assert reply.status == 200, reply.json


def advance(client: Api, by) -> None:
    reply = client.post("/_mock/clock/advance", {"by": by})
    assert reply.status == 200, reply.json


def refusal(reply) -> tuple:
    """(status, code, message, details) of an error answer; the body repeats the status."""
    body = reply.json
    assert body["http_status_code"] == reply.status, body
    return reply.status, body["code"], body["message"], body.get("details")
