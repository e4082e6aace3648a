"""The 2025-05-24 document's contract, checked on every reply this suite receives."""

from __future__ import annotations

from .conftest import CONTRACT

assert_conforms = CONTRACT.assert_conforms
operation_for = CONTRACT.operation_for
