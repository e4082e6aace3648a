"""``flexprice-mock trigger``: a separate process posting to the sandbox over a real socket,
printing what was made and raised, exiting 1 with the sandbox's message on a refusal."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from mockserver.trigger_command import scalar

from .conftest import NOW
from .test_webhooks import client_over


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k != "FLEXPRICE_API_KEY"}
    return subprocess.run(
        [sys.executable, "-m", "mockserver", "trigger", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env={**environment, **(env or {})},
    )


def test_the_command_triggers_and_prints_what_it_made(flexprice, flexprice_webhooks):
    flexprice.set_clock(NOW, frozen=True)

    done = run(
        "wallet.transaction.created",
        "--url",
        flexprice.url,
        "--set",
        "wallet.currency=eur",
        "--set",
        "credits=2.5",
        "--set",
        'customer.external_id="42"',
        env={"FLEXPRICE_API_KEY": flexprice.api_key},
    )

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "triggered wallet.transaction.created"
    assert [line.split()[:2] for line in lines[1:4]] == [
        ["created", "customer"],
        ["created", "wallet"],
        ["created", "wallet_transaction"],
    ]
    assert lines[4:] == [
        "events raised, in order:",
        "  1. customer.created",
        "  2. wallet.transaction.created",
        "  3. wallet.created",
        "  4. wallet.transaction.created",
    ]
    wallet_id = lines[2].split()[2]
    event = flexprice_webhooks.wait_for("wallet.transaction.created", count=2)["transaction"]
    assert (event["wallet_id"], event["credit_amount"], event["currency"]) == (wallet_id, "2.5", "eur")
    api = client_over(flexprice)
    assert api.get(f"/v1/wallets/{wallet_id}").json["credit_balance"] == "12.5"  # 10 initial credits
    assert api.get("/v1/customers/external/42").status == 200  # "42" quoted: a string


def test_a_refusal_prints_the_sandboxs_message_and_exits_1(flexprice):
    done = run("customer.created", "--url", flexprice.url, "--key", flexprice.api_key, "--set", "credits=5")

    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith(
        "flexprice-mock trigger: 400: Overrides that do not apply to customer.created: credits (it takes: "
    )
    unknown = run("wallet.exploded", "--url", flexprice.url, "--key", flexprice.api_key)
    assert unknown.returncode == 1 and "Unknown event 'wallet.exploded'" in unknown.stderr


def test_json_output_is_the_sandboxs_answer(flexprice):
    import json

    done = run("customer.created", "--url", flexprice.url, "--key", flexprice.api_key, "--json")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert (answer["event"], answer["events"]) == ("customer.created", ["customer.created"])


def test_without_a_key_or_a_sandbox_it_says_so():
    keyless = run("customer.created")
    assert keyless.returncode == 2
    assert "give --key or set FLEXPRICE_API_KEY: it names the world" in keyless.stderr
    bad = run("customer.created", "--key", "k", "--set", "no-equals-sign")
    assert bad.returncode == 2 and "--set 'no-equals-sign': expected field=value" in bad.stderr
    nobody = run("customer.created", "--key", "k", "--url", "http://127.0.0.1:9")
    assert nobody.returncode == 1 and "nothing answers on http://127.0.0.1:9" in nobody.stderr


@pytest.mark.parametrize(
    "text, value",
    [("5", 5), ("2.50", "2.50"), ("true", True), ("eur", "eur"), ('"42"', "42"), ("[1]", "[1]"), ("", "")],
)
def test_set_values_are_json_scalars_when_they_parse(text, value):
    assert scalar(text) == value
