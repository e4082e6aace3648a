"""docs/api-versions.md's official SDK example, run as written there against a live sandbox: each
line it prints is the one its comment shows."""

from __future__ import annotations

import re
import subprocess
import sys

import requests

from ..support import docs_example


def test_the_sdk_example_prints_what_its_comments_say(flexprice_server):
    example = docs_example("docs/api-versions.md", "sdk")
    script = example.replace("http://127.0.0.1:8080", flexprice_server.url)
    try:
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        expected = re.findall(r"^\s*print\(.*\)  # (.+)$", example, re.M)
        assert len(expected) == 3
        assert done.stdout.splitlines() == expected
    finally:
        requests.post(flexprice_server.url + "/_mock/reset", headers={"x-api-key": "sk_test_sdk"}, timeout=10)
