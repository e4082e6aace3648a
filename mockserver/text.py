"""Small text helpers shared by every layer: booleans, field paths, path globs, masked keys."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

TRUE_WORDS = ("true", "1", "yes", "on")
FALSE_WORDS = ("false", "0", "no", "off")


def boolean(
    text: str, words: tuple[tuple[str, ...], tuple[str, ...]] = (("true", "1"), ("false", "0"))
) -> bool:
    """``text`` as a boolean, from the given (true words, false words); ValueError otherwise."""
    lowered = text.strip().lower()
    if lowered in words[0]:
        return True
    if lowered in words[1]:
        return False
    raise ValueError(f"{text!r} is not one of: {', '.join(words[0] + words[1])}")


_DURATION = re.compile(r"^(\d+(?:\.\d*)?|\.\d+)\s*(ms|s)?$")


def duration(value: Any) -> float:
    """``250ms``, ``2s``, ``1.5s`` or a bare number of milliseconds, as seconds; ValueError
    says what is wrong."""
    if isinstance(value, bool):
        raise ValueError("must be a duration such as 250ms or 2s")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError("must not be negative")
        return float(value) / 1000
    match = _DURATION.match(str(value).strip().lower())
    if not match:
        raise ValueError(f"{value!r} is not a duration such as 250ms or 2s")
    number = float(match.group(1))
    return number if match.group(2) == "s" else number / 1000


def field_path(path: Iterable[Any]) -> str:
    """A path into a document as one reads it: ``customers[0].wallets[1].currency``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A path glob: ``*`` matches one segment (no ``/``), ``**`` any depth, ``?`` one character."""
    parts = []
    for token in re.split(r"(\*\*|\*|\?)", pattern):
        parts.append({"**": ".*", "*": "[^/]*", "?": "[^/]"}.get(token, re.escape(token)))
    return re.compile("".join(parts) + r"\Z")


def mask(api_key: str | None) -> str:
    """Enough of a key to tell keys apart in logs, never the whole key."""
    if not api_key:
        return "-"
    if len(api_key) <= 8:
        return "*" * len(api_key)
    return f"{api_key[:4]}…{api_key[-4:]}"


def yaml_problem(error: Exception) -> str:
    """A YAML parser's complaint on one line: ``line 2, column 1: did not find expected ','``."""
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    words = [getattr(error, "context", None), getattr(error, "problem", None)]
    problem = " ".join(w for w in words if w) or " ".join(str(error).split())
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}" if mark else problem
