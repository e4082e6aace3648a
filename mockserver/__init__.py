"""The Flexprice wallet sandbox: a local, stateful, spec-validated stand-in for the Flexprice API."""
from .app import create_app
from .config import Settings

__all__ = ["create_app", "Settings"]
__version__ = "0.1.0"
