"""The Flexprice wallet sandbox: a local, stateful, spec-validated stand-in for the Flexprice API.

Importing the package loads nothing heavy (the pytest plugin imports it in every pytest run):
``create_app`` brings in Flask and the server only when it is first used.
"""

from __future__ import annotations

from importlib import metadata
from typing import Any

from .config import Settings

__all__ = ["Settings", "create_app"]
try:  # one version number: the package's own (pyproject.toml)
    __version__ = metadata.version("flexprice-wallet-sandbox")
except metadata.PackageNotFoundError:  # imported from a tree that was never installed
    __version__ = "0+unknown"


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from .http.app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
