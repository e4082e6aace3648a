"""Errors as data: what went wrong, in the cloud's words, and which HTTP status carries it.

The domain and the request checks raise these; each API version turns one into its own error
body (``api.<version>.errors``). ``code`` is the cloud's error code (``validation_error``,
``not_found``, ...), derived from the status unless a rule names another.
"""

from __future__ import annotations

from typing import Any

# The cloud's codes only (clients may match on them): a request the sandbox refuses where the
# cloud has no such check (a wrong method, a body too large or not JSON) is a validation_error.
CODES = {
    400: "validation_error",
    403: "permission_denied",
    404: "not_found",
    405: "validation_error",
    409: "already_exists",
    413: "validation_error",
    415: "validation_error",
    429: "too_many_requests",
    501: "not_implemented",
    503: "service_unavailable",
}


class ApiError(Exception):
    """A client-facing failure: ``message`` is the hint a user reads, ``internal_error`` the raw cause."""

    def __init__(
        self,
        status: int,
        message: str,
        internal_error: str | None = None,
        details: dict[str, Any] | None = None,
        code: str | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.internal_error = internal_error or message
        self.details = details
        self.code = code or CODES.get(status, "internal_error" if status >= 500 else "validation_error")


def validation(message: str, internal_error: str | None = None, **details: Any) -> ApiError:
    return ApiError(400, message, internal_error, details or None)


def invalid_operation(message: str, internal_error: str | None = None, **details: Any) -> ApiError:
    return ApiError(400, message, internal_error, details or None, code="invalid_operation")


def not_found(message: str, internal_error: str | None = None, **details: Any) -> ApiError:
    return ApiError(404, message, internal_error, details or None)


def conflict(message: str, internal_error: str | None = None, **details: Any) -> ApiError:
    return ApiError(409, message, internal_error, details or None)
