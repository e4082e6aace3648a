"""How faithfully the sandbox answers an operation, said on every answer (``X-Mock-Fidelity``).

``modelled``: upstream's rules and state consistent across operations; ``stored``: kept, read back,
listed, updated and archived by upstream's conventions, with no effect on other objects;
``schema``: checked, and answered with a deterministic body the document allows, nothing kept;
``none``: documented, not answered yet (501 ``not_implemented``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from . import Handler


class Fidelity(str, Enum):
    NONE = "none"
    SCHEMA = "schema"
    STORED = "stored"
    MODELLED = "modelled"

    @property
    def rank(self) -> int:
        return _RANKS[self]


_RANKS = {level: rank for rank, level in enumerate(Fidelity)}


@dataclass(frozen=True)
class Binding:
    """An operation's handler and how faithful its answers are."""

    handler: Handler
    fidelity: Fidelity
