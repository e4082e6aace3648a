"""Who is calling: the headers that name the API key (the tenant), the environment and the admin."""

from __future__ import annotations

from ..text import mask

API_KEY_HEADER = "x-api-key"
ENVIRONMENT_HEADER = "X-Environment-ID"
ADMIN_TOKEN_HEADER = "X-Mock-Admin-Token"  # required on /_mock/ controls when a token is set
ADMIN_TOKEN_COOKIE = "flexprice_mock_admin_token"  # the dashboard's way of sending it

__all__ = [
    "ADMIN_TOKEN_COOKIE",
    "ADMIN_TOKEN_HEADER",
    "API_KEY_HEADER",
    "ENVIRONMENT_HEADER",
    "mask",
]
