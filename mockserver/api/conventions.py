"""Stored collections by upstream's conventions, over the document (fidelity ``stored``).

Placeholder: binds nothing yet.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from . import Handler


def bind(op: Any, collections: Any) -> Handler | None:
    """The handler of ``op`` (an ``http.spec.Operation``) if it is one of a stored collection's
    operations in ``collections`` (the version's table), else None."""
    return None
