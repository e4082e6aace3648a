"""The suite of API version 2026-08-22: every sandbox here serves that version."""
from __future__ import annotations

import pytest

from .. import support
from ..support import Reply, make_customer, make_wallet, new_key

SUITE = support.Suite("2026-08-22")
CONTRACT = SUITE.contract
create_app = SUITE.create_app
client_of = SUITE.client_of

__all__ = ["Api", "Reply", "new_key", "create_app", "client_of", "make_customer", "make_wallet",
           "CONTRACT", "SUITE"]


class Api(support.Api):
    """A client of this suite's version, checking replies against its document."""

    def __init__(self, send, api_key: str | None, contract: support.Contract = CONTRACT):
        super().__init__(send, api_key, contract)


@pytest.fixture(scope="session")
def suite() -> support.Suite:
    return SUITE
