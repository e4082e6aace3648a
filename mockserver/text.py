"""Small text helpers shared by every layer: booleans, field paths, path globs, masked keys, and the
hosts, origins and networks of the access settings."""

from __future__ import annotations

import ipaddress
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


GLOB_MAX_LENGTH = 1000  # characters in a path glob (verification, journal filter, fault rules)


class PathGlob:
    """A path glob: ``*`` matches within one segment (no ``/``), ``**`` any depth, ``?`` one
    character other than ``/``; anything else itself. The whole path must match.

    Matched by following every position of the pattern at once, one bit each in an integer, so a
    match costs len(path) steps of a few integer operations whatever the pattern: a regular
    expression made from ``*****x`` backtracks for seconds on a 30-character path."""

    __slots__ = ("_any", "_chars", "_end", "_literal", "_prefix", "_skip", "_stars", "_suffix", "pattern")

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        tokens: list[str] = []
        for token in re.split(r"(\*\*|\*|\?)", pattern):
            if token in ("*", "**"):
                if tokens and tokens[-1] in ("*", "**"):  # a run of stars is one star, ** if any is
                    tokens[-1] = "**" if "**" in (token, tokens[-1]) else "*"
                else:
                    tokens.append(token)
            elif token == "?":
                tokens.append(token)
            else:
                tokens.extend(token)
        # Bit 0 is "nothing matched yet"; bit i is "the first i tokens matched".
        self._literal = None if any(t in ("*", "**", "?") for t in tokens) else pattern
        # The text before the first wildcard and after the last: most paths are told apart by these
        # alone, and the prefix need not be walked.
        wild = [i for i, t in enumerate(tokens) if t in ("*", "**", "?")]
        self._prefix = "".join(tokens[: wild[0]]) if wild else pattern
        self._suffix = "".join(tokens[wild[-1] + 1 :]) if wild else ""
        self._chars: dict[str, int] = {}
        self._any = 0  # ``?``: one character other than /
        segment_stars = deep_stars = 0
        for i, token in enumerate(tokens, start=1):
            if token == "?":
                self._any |= 1 << i
            elif token == "*":
                segment_stars |= 1 << i
            elif token == "**":
                deep_stars |= 1 << i
            else:
                self._chars[token] = self._chars.get(token, 0) | 1 << i
        self._stars = (segment_stars | deep_stars, deep_stars)  # stay on a star: not / and /
        self._skip = segment_stars | deep_stars  # a star may match nothing (never two in a row)
        self._end = 1 << len(tokens)

    def match(self, path: str) -> bool:
        if self._literal is not None:
            return path == self._literal
        prefix = self._prefix
        if not path.startswith(prefix) or not path.endswith(self._suffix):
            return False
        if len(path) < len(prefix) + len(self._suffix):
            return False
        chars, any_char, skip = self._chars, self._any, self._skip
        stay, stay_slash = self._stars
        state = 1 << len(prefix)
        state |= (state << 1) & skip
        for char in path[len(prefix) :]:
            if char == "/":
                state = ((state << 1) & chars.get(char, 0)) | (state & stay_slash)
            else:
                state = ((state << 1) & (chars.get(char, 0) | any_char)) | (state & stay)
            if not state:
                return False
            state |= (state << 1) & skip
        return bool(state & self._end)

    def __repr__(self) -> str:
        return f"PathGlob({self.pattern!r})"


def glob_problem(pattern: str) -> str | None:
    """Why a path glob is refused (too long), or None."""
    if len(pattern) > GLOB_MAX_LENGTH:
        return f"must be at most {GLOB_MAX_LENGTH} characters, got {len(pattern)}"
    return None


def excerpt(value: Any, limit: int = 100) -> str:
    """``value`` as Python text, cut to ``limit`` characters with an ellipsis and its full size, so
    an error message never echoes a whole request back."""
    text = repr(value)
    if len(text) <= limit:
        return text
    size = f"{len(value)} items" if isinstance(value, (list, dict, tuple, set)) else f"{len(text)} characters"
    return f"{text[:limit]}… ({size})"


def error_message(body: Any) -> Any:
    """The message of either API version's error body (``{"error": {"message"}}`` or
    ``{"message"}``); anything else as it is."""
    if not isinstance(body, dict):
        return body
    inner = body.get("error")
    return inner.get("message") if isinstance(inner, dict) else body.get("message", body)


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


def comma_list(raw: str | None) -> list[str]:
    """``a, b,c`` as ``["a", "b", "c"]`` (a list setting given as one flag or variable)."""
    return [part.strip() for part in (raw or "").split(",") if part.strip()]


def host_name(host: str) -> str | None:
    """The name in a ``Host`` header or a host setting, lowercase, without port or brackets
    (``[::1]:8080`` -> ``::1``); None when it is not a host at all."""
    text = host.strip().lower()
    if text.startswith("["):
        name, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not (rest.startswith(":") and rest[1:].isdigit())):
            return None
    else:
        name, colon, port = text.rpartition(":")
        if not colon:
            name = text
        elif ":" in name or not port.isdigit():
            return None
    name = name.rstrip(".")
    return name if name and re.fullmatch(r"[a-z0-9._:-]+", name) else None


def is_local_name(name: str) -> bool:
    """``localhost`` or a loopback address: a name only this machine answers to, which a web
    page cannot make point elsewhere (no DNS is asked)."""
    address = _address(name)
    return name == "localhost" or (address is not None and address.is_loopback)


def _address(text: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An IP address (an IPv4 one written as IPv6, ``::ffff:127.0.0.1``, as IPv4); None if not one."""
    try:
        address = ipaddress.ip_address(text or "")
    except ValueError:
        return None
    return getattr(address, "ipv4_mapped", None) or address


def host_patterns(raw: str | None) -> frozenset[str]:
    """``--allowed-hosts``: names (``sandbox.test``), a name and its subdomains (``.example.test``)
    or ``*`` (any host); ValueError names an entry that is none of these."""
    patterns = set()
    for entry in comma_list(raw):
        if entry == "*":
            patterns.add(entry)
            continue
        subdomains = entry.startswith(".")
        written = entry[1:] if subdomains else entry
        name = host_name(written)
        if name is None:
            raise ValueError(f"{entry!r} is not a host name such as sandbox.test, .example.test or [::1]")
        if written.lower().rstrip(".").strip("[]") != name:
            raise ValueError(f"{entry!r}: list host names without a port, e.g. {name}")
        patterns.add("." + name if subdomains else name)
    return frozenset(patterns)


def host_matches(name: str, patterns: frozenset[str]) -> bool:
    return "*" in patterns or any(
        name == p or (p.startswith(".") and (name == p[1:] or name.endswith(p))) for p in patterns
    )


def origin(text: str) -> str | None:
    """A web origin as browsers send it, normalised (``HTTP://App.test:80/`` -> ``http://app.test``);
    None when ``text`` is not ``scheme://host[:port]``."""
    scheme, sep, rest = text.strip().lower().partition("://")
    rest = rest.rstrip("/")
    if not sep or not re.fullmatch(r"[a-z][a-z0-9+.-]*", scheme) or not rest or "/" in rest:
        return None
    name = host_name(rest)
    if name is None:
        return None
    tail = rest.rpartition("]")[2] if rest.startswith("[") else rest
    port = tail.rpartition(":")[2] if ":" in tail else ""
    if (scheme, port) in (("http", "80"), ("https", "443")):
        port = ""
    return f"{scheme}://{f'[{name}]' if ':' in name else name}" + (f":{port}" if port else "")


def origins(raw: str | None) -> frozenset[str]:
    """``--allowed-origins``: web origins (``http://localhost:3000``), each listed on its own;
    ValueError names an entry that is not one."""
    found = set()
    for entry in comma_list(raw):
        if entry in ("*", "null"):
            raise ValueError(f"{entry!r} would let pages of any site use the controls: list each origin")
        normal = origin(entry)
        if normal is None:
            raise ValueError(
                f"{entry!r} is not an origin such as http://localhost:3000 (scheme://host[:port])"
            )
        found.add(normal)
    return frozenset(found)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def networks(raw: str | None) -> tuple[Network, ...]:
    """``--admin-from``: networks (``10.0.0.0/8``) or single addresses; ValueError names a bad one."""
    found = []
    for entry in comma_list(raw):
        try:
            found.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"{entry!r} is not a network such as 172.16.0.0/12 or an address") from None
    return tuple(found)


def in_networks(address: str | None, nets: tuple[Network, ...]) -> bool:
    parsed = _address(address)
    return parsed is not None and any(parsed in net for net in nets)
