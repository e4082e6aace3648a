"""docs/triggers.md's examples, run as they are written there (and checked to be there): the
shell block (curl and the command) against the session's sandbox, and the pytest example."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "triggers.md"


# ---- the page's pytest example, verbatim ------------------------------------------------------
# test_low_balance.py
def test_the_app_hears_of_a_drained_wallet(flexprice, flexprice_webhooks):
    answer = flexprice.trigger("wallet.credit_balance.dropped", {"wallet.initial_credits": 25})

    event = flexprice_webhooks.wait_for("wallet.credit_balance.dropped")
    wallet_id = next(o["id"] for o in answer["created"] if o["type"] == "wallet")
    assert (event["wallet"]["id"], event["wallet"]["credit_balance"]) == (wallet_id, "0")


# ---- end of the page's pytest example -----------------------------------------------------------


def test_the_page_shows_this_files_example_verbatim():
    here = Path(__file__).read_text(encoding="utf-8")
    start = here.index("# test_low_balance.py")
    example = here[start : here.index("# ---- end of the page's pytest example")].rstrip()
    assert example in DOC.read_text(encoding="utf-8")


def test_the_pages_shell_example_runs_as_written(flexprice, flexprice_webhooks):
    [block] = re.findall(r"```sh\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    script = (
        block.replace("http://127.0.0.1:8080", flexprice.url)
        .replace("sk_test_docs", flexprice.api_key)  # the test's own world, forgotten after it
        .replace("flexprice-mock trigger", f"{sys.executable} -m mockserver trigger --url {flexprice.url}")
    )

    done = subprocess.run(["bash", "-e", "-c", script], capture_output=True, text=True, timeout=60)

    assert done.returncode == 0, done.stderr
    answer, end = json.JSONDecoder().raw_decode(done.stdout)  # curl's answer, then the command's
    assert answer["events"] == [
        "customer.created",
        "wallet.transaction.created",
        "wallet.created",
        "wallet.transaction.created",
    ]
    topped = flexprice_webhooks.wait_for("wallet.transaction.created", count=2)["transaction"]
    assert (topped["currency"], topped["credit_amount"]) == ("eur", "25")
    printed = done.stdout[end:].splitlines()
    assert printed[0] == "triggered wallet.terminated"
    assert printed[-1].endswith(". wallet.terminated")
    assert flexprice_webhooks.wait_for("wallet.terminated")["wallet"]["currency"] == "usd"
