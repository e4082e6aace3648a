"""The Flexprice wallet sandbox: a local, stateful, spec-validated stand-in for the Flexprice API.

Importing the package loads nothing heavy (the pytest plugin imports it in every pytest run):
``create_app`` brings in Flask and the server only when it is first used.
"""

from __future__ import annotations

from typing import Any

from .config import Settings

__all__ = ["Settings", "create_app"]
__version__ = "0.2.0"


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from .http.app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
