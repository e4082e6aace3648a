"""JSON out: decimals as exact JSON numbers (never through float), compact separators."""
from __future__ import annotations

from typing import Any

import simplejson


_ENCODER = simplejson.JSONEncoder(use_decimal=True, separators=(",", ":"), ensure_ascii=False)


def dumps(value: Any) -> str:
    return _ENCODER.encode(value)
