"""A store's errors as the API answers them: the one place that gives them a status and words.

The stores (``mockserver/state/``) raise their own exceptions and know nothing of HTTP; the app
answers each one with the error below (its errorhandler, the API's hot path, the health check
and the request journal all come here).
"""

from __future__ import annotations

from ..domain.errors import ApiError
from ..state.errors import LockExpired, StoreError, StoreUnavailable, TooManyWorlds, WorldBusy


def api_error(error: StoreError) -> ApiError:
    """The API's answer to a store that could not do what was asked."""
    if isinstance(error, TooManyWorlds):
        return ApiError(
            429,
            f"Sandbox limit reached: at most {error.limit} worlds (API key and environment pairs) at "
            "once; reset the sandbox or reuse a key",
            "too many worlds",
            {"limit": "max_worlds", "max": error.limit},
        )
    if isinstance(error, WorldBusy):
        return ApiError(
            503,
            f"The sandbox is busy: this world stayed locked by another request for {error.waited:g} s; "
            "try again",
            "lock wait timed out",
            {"store": "redis", "reason": "world busy"},
        )
    if isinstance(error, LockExpired):
        return ApiError(
            503,
            "The sandbox could not keep this change: its hold on the world ran out; try again",
            "lock expired before commit",
            {"store": "redis", "reason": "lock expired"},
        )
    cause = error.cause if isinstance(error, StoreUnavailable) else str(error)
    return ApiError(
        503,
        "The sandbox's shared store (Redis) is unavailable; try again shortly",
        f"redis: {cause}",
        {"store": "redis", "reason": "store unavailable"},
    )
