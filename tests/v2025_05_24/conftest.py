"""The suite of API version 2025-05-24: every sandbox here serves that version."""

from __future__ import annotations

import pytest

from ..support import Reply, Suite, make_customer, make_wallet, new_key

SUITE = Suite("2025-05-24")
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
