"""Answers shaped by the document alone (fidelity ``schema``): deterministic, nothing kept.

Placeholder: answers an empty object.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from . import Handler


def bind(op: Any) -> Handler:
    """A handler answering ``op`` (an ``http.spec.Operation``) with a body built from its
    document: its first 2xx status, ids with ``op``'s prefix, request fields of the same name
    echoed, enums their first value; never random."""

    def answer(world: Any, params: dict[str, Any], body: Any) -> tuple[int, Any]:
        return 200, {}

    return answer
