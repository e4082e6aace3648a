"""docs/verification.md: its pytest example run as written there, its failure message as shown, and
its curl example run by bash against a live sandbox."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from .test_plugin import checked_against_the_spec  # noqa: F401  (autouse: every reply checked)

PAGE = Path(__file__).resolve().parents[2] / "docs" / "verification.md"

# ---- the docs/verification.md example, verbatim ---------------------------------------------
# test_verified.py
from flexprice import Flexprice  # noqa: E402


def test_the_app_tops_up_once_per_order(flexprice_sandbox):
    with Flexprice(server_url=flexprice_sandbox.base_url, api_key_auth=flexprice_sandbox.api_key) as fp:
        customer = fp.customers.create_customer(external_id="acme", name="Acme Inc.")
        wallet = fp.wallets.create_wallet(customer_id=customer.id, currency="usd")
        fp.wallets.top_up_wallet(id=wallet.id, credits_to_add="50", idempotency_key="order-1",
                                 transaction_reason="PURCHASED_CREDIT_DIRECT")  # fmt: skip

    flexprice_sandbox.assert_called(
        "POST", "/v1/wallets/*/top-up", body={"idempotency_key": "order-1"}, times=1
    )
    flexprice_sandbox.assert_sequence([("POST", "/v1/customers"), ("POST", "/v1/wallets"),
                                       ("POST", "/v1/wallets/*/top-up", {"status": 200})])  # fmt: skip
    flexprice_sandbox.assert_no_unexpected()


# ---- end of the docs/verification.md example --------------------------------------------------


def _block(start: str) -> str:
    text = PAGE.read_text(encoding="utf-8")
    begin = text.index(start)
    return text[begin : text.index("```", begin)]


def test_the_page_shows_this_files_example_verbatim():
    here = Path(__file__).read_text(encoding="utf-8")
    example = here[here.index("# test_verified.py") : here.index("# ---- end of the docs")].rstrip()
    example = example.replace("  # noqa: E402", "")
    assert example in PAGE.read_text(encoding="utf-8")


def test_the_failure_the_page_shows_is_the_one_a_test_gets(flexprice_sandbox):
    with Flexprice(server_url=flexprice_sandbox.base_url, api_key_auth=flexprice_sandbox.api_key) as fp:
        customer = fp.customers.create_customer(external_id="acme", name="Acme Inc.")
        wallet = fp.wallets.create_wallet(customer_id=customer.id, currency="usd")
        fp.wallets.top_up_wallet(id=wallet.id, credits_to_add="50", idempotency_key="order-2",
                                 transaction_reason="PURCHASED_CREDIT_DIRECT")  # fmt: skip
    with pytest.raises(AssertionError) as failed:
        flexprice_sandbox.assert_called(
            "POST", "/v1/wallets/*/top-up", body={"idempotency_key": "order-1"}, times=1
        )
    shown = _block("POST /v1/wallets/*/top-up with body").rstrip("\n").splitlines()
    got = str(failed.value).splitlines()
    assert len(got) >= len(shown)
    for line, documented in zip(got, shown, strict=False):
        # The page abbreviates ids and shows a time of its own.
        pattern = re.escape(documented).replace(r"wallet_01M8K2F9\.\.\.", "wallet_[0-9A-Z]+")
        pattern = re.sub(r"2026\\-12\\-05T12:00:01\\.\d+Z", r"\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z", pattern)
        assert re.fullmatch(pattern, line), (line, documented)


@pytest.mark.skipif(shutil.which("curl") is None, reason="the example is a curl script")
def test_the_curl_example_answers_as_the_page_shows(flexprice_server):
    script = _block("K='x-api-key: sk_test_verify'").replace("http://127.0.0.1:8080", flexprice_server.url)
    commands = "\n".join(line for line in script.splitlines() if not line.startswith("#"))
    try:
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", commands], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stderr
        answer = json.loads(done.stdout)
        assert (answer["ok"], answer["count"], answer["expected"]) == (False, 0, {"exactly": 1})
        assert answer["request"] == 'POST /v1/wallets/*/top-up with body {"idempotency_key": "order-1"}'
        nearest = answer["near_misses"][0]
        assert nearest["differences"] == [
            {"field": "body.idempotency_key", "expected": "order-1", "actual": "order-2"}
        ]
        assert re.fullmatch(r"/v1/wallets/wallet_\w+/top-up", nearest["request"]["path"])
        assert answer["journal"] == {"requests": 3, "capacity": 1000, "complete": True}
    finally:
        subprocess.run(
            [
                "curl",
                "-s",
                "-X",
                "POST",
                flexprice_server.url + "/_mock/reset",
                "-H",
                "x-api-key: sk_test_verify",
            ],
            capture_output=True,
            check=False,
        )
