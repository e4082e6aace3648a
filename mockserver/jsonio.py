"""JSON out: decimals as exact JSON numbers (never through float), compact separators."""
from __future__ import annotations

from typing import Any

import simplejson


def dumps(value: Any) -> str:
    return simplejson.dumps(value, use_decimal=True, separators=(",", ":"), ensure_ascii=False)
