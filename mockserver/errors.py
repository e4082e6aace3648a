"""Errors as data: what went wrong, in the cloud's words, and which HTTP status carries it.

The domain raises these; the HTTP layer turns them into the upstream envelope
``{"success": false, "error": {"message", "internal_error", "details"}}``.
"""
from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """A client-facing failure: ``message`` is the hint a user reads, ``internal_error`` the raw cause."""

    def __init__(self, status: int, message: str, internal_error: str | None = None,
                 details: dict[str, Any] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.internal_error = internal_error or message
        self.details = details

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"message": self.message, "internal_error": self.internal_error}
        if self.details:
            error["details"] = self.details
        return {"success": False, "error": error}


def validation(message: str, internal_error: str | None = None, **details: Any) -> ApiError:
    return ApiError(400, message, internal_error, details or None)


def not_found(message: str, internal_error: str | None = None, **details: Any) -> ApiError:
    return ApiError(404, message, internal_error, details or None)


def conflict(message: str, internal_error: str | None = None, **details: Any) -> ApiError:
    return ApiError(409, message, internal_error, details or None)
