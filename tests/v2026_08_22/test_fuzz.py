"""Document fuzzing of API version 2026-08-22 (the harness: tests/fuzzing.py): every operation,
alone and chained through the links of its document (create a customer, then a wallet for it,
then read, update, top up, debit, modify, terminate what came back); never a 5xx, never an
answer off the document."""

from __future__ import annotations

from ..fuzzing import Fuzzer
from .conftest import SUITE

# 24 operations here against 16 in 2025-05-24: a smaller default keeps the module well under a
# minute; the environment variables are the same.
FUZZ = Fuzzer(SUITE, default_examples=50)
FUZZ_APP = FUZZ.app

test_every_operation_answers_within_the_document = FUZZ.operation_test()
TestWorkflows = FUZZ.workflows()


def test_the_document_declares_links_for_the_stateful_runs():
    """The workflows have something to follow: the links of createCustomer and createWallet."""
    document = FUZZ_APP.extensions["mockserver"].spec.document
    links = {
        operation["operationId"]: {
            link["operationId"]
            for response in operation["responses"].values()
            for link in (response.get("links") or {}).values()
        }
        for item in document["paths"].values()
        for operation in item.values()
        if isinstance(operation, dict) and "operationId" in operation
    }
    assert "createWallet" in links["createCustomer"]
    assert {"topUpWallet", "debitWallet", "terminateWallet"} <= links["createWallet"]


test_fuzzers_reached_the_server_and_it_never_failed = FUZZ.summary_test()
