"""Who is calling: the API key (the tenant) and the environment, and how a key may be printed."""
from __future__ import annotations

API_KEY_HEADER = "x-api-key"
ENVIRONMENT_HEADER = "X-Environment-ID"
ADMIN_TOKEN_HEADER = "X-Mock-Admin-Token"    # required on /_mock/ controls when a token is set
UNAUTHORIZED = {"error": "Unauthorized"}


def mask(api_key: str | None) -> str:
    """Enough of a key to tell keys apart in logs, never the whole key."""
    if not api_key:
        return "-"
    if len(api_key) <= 8:
        return "*" * len(api_key)
    return f"{api_key[:4]}…{api_key[-4:]}"
