"""Verification on API version 2025-05-24: the shared cases, each reply checked against its document."""

from __future__ import annotations

from ..verification_cases import *  # noqa: F403  (the tests, collected here for this version)
from .test_plugin import checked_against_the_spec  # noqa: F401  (autouse: every reply checked)
