"""A request's head as the server limits and words it: the limits, and what was wrong with a head
the parser refused, in our words.

The wording runs only after httptools has refused a head, on bytes a client chose, on the event
loop every client shares: so it reads them in one pass each (partitions and single-character
class searches, nothing that can backtrack), and never more of them than the limits let in.
"""

from __future__ import annotations

import re

# Limits of a request's head (a cloud load balancer's usual ones): past them 414 and 431.
MAX_URL_BYTES = 8 * 1024
MAX_HEADER_BYTES = 64 * 1024
# The raw bytes a head may take before it is complete: the URL and header limits plus room for
# the request line's other words, the line ends and whitespace around values. A head still
# arriving past it gets 431 (a header line that never ends is refused, not held).
MAX_HEAD_BYTES = MAX_URL_BYTES + MAX_HEADER_BYTES + 4 * 1024

_NOT_TOKEN = re.compile(rb"[^!#$%&'*+.^_`|~0-9A-Za-z-]")
_NOT_VISIBLE = re.compile(rb"[^!-~]")  # the request target: anything else must be percent-encoded
_NOT_WORD = re.compile(rb"[ \t\n\r\f\v]")  # a word of the request line has no whitespace
_NOT_VALUE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")  # tab and bytes from 0x80 are allowed
_VERSIONS = (b"HTTP/1.0", b"HTTP/1.1")


def is_token(text: bytes) -> bool:
    return bool(text) and _NOT_TOKEN.search(text) is None


def request_line(data: bytes) -> tuple[bytes, bytes, bytes] | None:
    """The method, target and version of a head's first line, when it has that shape."""
    first = data[:MAX_HEAD_BYTES].partition(b"\n")[0].removesuffix(b"\r")
    words = first.split(b" ")
    if len(words) != 3 or not is_token(words[0]):
        return None
    if any(not word or _NOT_WORD.search(word) for word in words[1:]):
        return None
    return words[0], words[1], words[2]


def describe_bad_head(data: bytes) -> str:
    """Why a request's head (the bytes it came in) is not HTTP/1.1, read by our own rules.

    Called only after the parser has refused it, so one of these is the cause; when none is
    found (the head arrived over several reads), the answer says so in general terms. Linear in
    the bytes read, and it reads at most ``MAX_HEAD_BYTES`` of them.
    """
    head = data[:MAX_HEAD_BYTES].partition(b"\r\n\r\n")[0].replace(b"\r\n", b"\n")
    first, *lines = head.split(b"\n")
    line = request_line(first)
    if line is None:
        return "the request line is not: METHOD target HTTP/version"
    _, target, version = line
    if version not in _VERSIONS:
        return "the HTTP version is not HTTP/1.0 or HTTP/1.1"
    if _NOT_VISIBLE.search(target):
        return "the request target has a character that must be percent-encoded"
    lengths: list[bytes] = []
    chunked = False
    for number, text in enumerate(lines, start=1):
        raw_name, colon, value = text.partition(b":")
        if not colon:
            return f"header line {number} is not: Name: value"
        name = raw_name.decode("latin-1")
        if not is_token(raw_name):
            return f"the header name {name!r} has a character a header name cannot have"
        if _NOT_VALUE.search(value):
            return f"the value of header {name!r} has a character a header value cannot have"
        field = raw_name.lower()
        if field == b"content-length":
            lengths.append(value.strip(b" \t"))
        elif field == b"transfer-encoding":
            chunked = True
    if len(lengths) > 1:
        return "Content-Length is given more than once"
    if lengths and not lengths[0].isdigit():
        return "Content-Length is not a whole number of bytes"
    if lengths and chunked:
        return "Content-Length and Transfer-Encoding are both given"
    return "the request's head is not valid HTTP/1.1"
