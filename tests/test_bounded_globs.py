"""Path globs cost time in proportion to the path, whatever the pattern: a pattern of many stars
given to verification, the journal's filter or a fault rule (matched on every API request) answers
at once while another client is served, and the matcher agrees with a regular expression's reading
of the same globs."""

from __future__ import annotations

import re
import threading
import time
from urllib.parse import quote

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from mockserver.text import GLOB_MAX_LENGTH, PathGlob

from .support import new_key

HOSTILE = "/v1/" + "*" * 40 + "x"
LONG_PATH = "/v1/customers/" + "a" * 30
BOUND = 2.0  # seconds; the backtracking translation took 7-18 s with far fewer stars, or never ended


def _while_another_is_served(live_url: str, send) -> tuple[requests.Response, float]:
    """Run ``send`` on its own thread and time another client's request meanwhile; returns the
    hostile reply and how long the other client waited."""
    answer: dict[str, requests.Response] = {}
    started = time.monotonic()
    worker = threading.Thread(target=lambda: answer.setdefault("reply", send()), daemon=True)
    worker.start()
    time.sleep(0.1)
    other = time.monotonic()
    reply = requests.get(live_url + "/v1/customers", headers={"x-api-key": new_key()}, timeout=BOUND * 2)
    waited = time.monotonic() - other
    worker.join(BOUND * 2)
    assert not worker.is_alive(), "the hostile request was not answered"
    assert reply.status_code == 200
    assert time.monotonic() - started < BOUND + 0.5
    return answer["reply"], waited


def _journal_with_long_path(live_url: str, key: str) -> None:
    reply = requests.get(live_url + LONG_PATH, headers={"x-api-key": key}, timeout=5)
    assert reply.status_code == 404


def test_verify_with_a_pattern_of_many_stars_answers_at_once(live_url):
    key = new_key()
    _journal_with_long_path(live_url, key)

    def send() -> requests.Response:
        body = {"method": "GET", "path": HOSTILE}
        return requests.post(live_url + "/_mock/verify", json=body, headers={"x-api-key": key}, timeout=30)

    reply, waited = _while_another_is_served(live_url, send)
    assert reply.status_code == 200, reply.text
    assert reply.json()["count"] == 0
    assert waited < BOUND


def test_journal_filter_with_many_stars_answers_at_once(live_url):
    key = new_key()
    _journal_with_long_path(live_url, key)

    def send() -> requests.Response:
        url = f"{live_url}/_mock/journal?path={quote(HOSTILE)}"
        return requests.get(url, headers={"x-api-key": key}, timeout=30)

    reply, waited = _while_another_is_served(live_url, send)
    assert reply.status_code == 200, reply.text
    assert reply.json()["items"] == []
    assert waited < BOUND


def test_fault_rule_with_many_stars_does_not_stall_api_requests(live_url):
    key = new_key()
    rule = requests.post(
        live_url + "/_mock/faults",
        json={"path": HOSTILE, "status": 503},
        headers={"x-api-key": key},
        timeout=5,
    )
    assert rule.status_code == 201, rule.text

    def send() -> requests.Response:
        return requests.get(live_url + LONG_PATH, headers={"x-api-key": key}, timeout=30)

    reply, waited = _while_another_is_served(live_url, send)
    assert reply.status_code == 404  # the rule did not match, and was decided at once
    assert waited < BOUND


def test_a_pattern_over_the_limit_is_refused_naming_the_field(http):
    too_long = "/v1/" + "a" * GLOB_MAX_LENGTH
    reply = http.post("/_mock/verify", {"path": too_long})
    assert reply.status == 400
    assert "path must be at most 1000 characters" in str(reply.json)
    reply = http.get(f"/_mock/journal?path={too_long}")
    assert reply.status == 400
    assert "query parameter path must be at most 1000 characters" in str(reply.json)
    reply = http.post("/_mock/faults", {"path": too_long, "status": 503})
    assert reply.status == 400
    assert "path" in str(reply.json) and "at most 1000 characters" in str(reply.json)
    assert http.get("/_mock/faults").json["items"] == []


def _translated(pattern: str) -> re.Pattern[str]:
    """The regular-expression reading of a glob the matcher replaced (with DOTALL, so ``**``
    matches a newline as well)."""
    parts = [
        {"**": ".*", "*": "[^/]*", "?": "[^/]"}.get(token, re.escape(token))
        for token in re.split(r"(\*\*|\*|\?)", pattern)
    ]
    return re.compile("".join(parts) + r"\Z", re.DOTALL)


@settings(max_examples=2000, deadline=None)
@given(
    pattern=st.text(alphabet="ab/*?.", max_size=10),
    path=st.text(alphabet="ab/.\n", max_size=12),
)
def test_the_matcher_agrees_with_the_regular_expression(pattern, path):
    assert PathGlob(pattern).match(path) == bool(_translated(pattern).match(path))


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("/v1/wallets/*/top-up", "/v1/wallets/w_1/top-up", True),
        ("/v1/wallets/*/top-up", "/v1/wallets/a/b/top-up", False),
        ("/v1/**", "/v1/wallets/a/b", True),
        ("/v1/**/top-up", "/v1/wallets/w/top-up", True),
        ("/v1/wallet?", "/v1/wallets", True),
        ("/v1/wallet?", "/v1/wallet/", False),
        ("/v1/*", "/v1/", True),
        ("/v1/customers", "/v1/customers", True),
        ("/v1/customers", "/v1/customers/x", False),
        ("/" + "*a" * 500, "/" + "a" * 8000 + "b", False),
    ],
)
def test_globs(pattern, path, expected):
    assert PathGlob(pattern).match(path) is expected
