"""Document fuzzing of API version 2025-05-24 (the harness: tests/fuzzing.py): every operation,
alone and chained through the links of its document (create a customer, then read, update, top
up, terminate what came back); never a 5xx, never an answer off the document."""

from __future__ import annotations

from ..fuzzing import Fuzzer
from .conftest import SUITE

FUZZ = Fuzzer(SUITE, default_examples=200)
FUZZ_APP = FUZZ.app

test_every_operation_answers_within_the_document = FUZZ.operation_test()
TestWorkflows = FUZZ.workflows()
test_fuzzers_reached_the_server_and_it_never_failed = FUZZ.summary_test()
