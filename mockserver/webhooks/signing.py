"""Svix signatures, as Flexprice's cloud sends them: ``svix-id``, ``svix-timestamp`` and
``svix-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`` keyed by the endpoint's
``whsec_`` secret (the base64 after the prefix), so a receiver's ``svix`` or
``standardwebhooks`` code verifies the sandbox's deliveries unchanged."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os

PREFIX = "whsec_"


def new_secret() -> str:
    return PREFIX + base64.b64encode(os.urandom(24)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_`` secret; ValueError when it is not one."""
    if not secret.startswith(PREFIX):
        raise ValueError(f"must start with {PREFIX}")
    try:
        key = base64.b64decode(secret[len(PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"must be {PREFIX} followed by base64") from None
    if len(key) < 16:
        raise ValueError("must hold at least 16 bytes of key (24 or more base64 characters)")
    return key


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(secret: str, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "svix-id": message_id,
        "svix-timestamp": str(timestamp),
        "svix-signature": signature(secret, message_id, timestamp, body),
    }
