"""Which of this version's documented operations have no handler of their own, and why (see
``v2026_08_22/coverage.py``): ``NOT_MODELLED`` answer 501 ``not_implemented``, ``UNROUTED`` are
listed in the document but not routed by upstream's server (404)."""

from __future__ import annotations

NOT_MODELLED: frozenset[str] = frozenset()
UNROUTED: frozenset[str] = frozenset()
