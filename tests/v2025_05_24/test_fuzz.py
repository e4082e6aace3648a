"""Spec fuzzing: schemathesis generates valid and invalid requests for every operation of
openapi.yaml, alone and chained through the links it infers (create a customer, then read,
update, top up, terminate what came back), and checks every answer against the same document.

The sandbox runs in process (WSGI) with its own response self-check on, so a reply the spec does
not allow fails twice: here, and as a 500 from the server. Bounded for CI; to fuzz longer:

    FLEXPRICE_FUZZ_EXAMPLES=2000 FLEXPRICE_FUZZ_RANDOM=1 python -m pytest tests/test_fuzz.py
"""

from __future__ import annotations

import os
import threading
import uuid

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import allow_header_conformance, ignored_auth, positive_data_acceptance

from mockserver import api

from .conftest import create_app

DEFAULT_SPEC = api.load("2025-05-24").spec_path

EXAMPLES = int(os.environ.get("FLEXPRICE_FUZZ_EXAMPLES", "200"))
STATEFUL_RUNS = int(os.environ.get("FLEXPRICE_FUZZ_STATEFUL_RUNS", str(EXAMPLES)))
RANDOM = os.environ.get("FLEXPRICE_FUZZ_RANDOM", "") not in ("", "0")

EXCLUDED_CHECKS = [
    # Every API key is accepted: a new key is a new, empty world, by design.
    ignored_auth,
    # Business rules answer 400 to schema-valid input, as the cloud does: a customer needs a name,
    # a currency three letters, customers/wallets exactly one of id or lookup_key.
    positive_data_acceptance,
    # /customers/search also matches /customers/{id}, so its Allow truthfully lists GET, PUT, DELETE.
    allow_header_conformance,
]

FUZZ_APP = create_app(validate_responses=True, log_requests=False)
schema = schemathesis.openapi.from_path(DEFAULT_SPEC)
schema.app = FUZZ_APP
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
    max_examples=EXAMPLES,
    deterministic=not RANDOM,
    database="none",
    with_security_parameters=False,
)
# Chain through the links openapi.yaml declares (customer -> wallet -> top-up ...): the guessed
# ones start from reads of random ids, which only ever find nothing.
schema.config.phases.stateful.inference.algorithms = []


class Tally:
    """How many requests the fuzzers sent, and how each was answered (read by the summary test)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.by_status: dict[int, int] = {}

    def count(self, status: int) -> None:
        with self.lock:
            self.by_status[status] = self.by_status.get(status, 0) + 1

    @property
    def total(self) -> int:
        return sum(self.by_status.values())


TALLY = Tally()


@schema.hook
def after_call(context, case, response):
    TALLY.count(response.status_code)


LIST_PARAMETERS = {
    p.name
    for op in FUZZ_APP.extensions["mockserver"].spec.operations
    for p in op.parameters
    if p.location == "query" and p.type == "array"
}


@schema.hook
def filter_query(context, query):
    """Skip 'invalid' query values that read as valid ones once written in a URL: a scalar for a
    list parameter (``customer_ids=false`` is the list ``["false"]``), or an object (its keys
    become other, unknown parameters). The server cannot tell them apart, nor could the cloud."""
    if not query:
        return True
    return not any(
        isinstance(value, dict) or (name in LIST_PARAMETERS and not isinstance(value, list))
        for name, value in query.items()
    )


@schema.parametrize()
@settings(suppress_health_check=list(HealthCheck), deadline=None)
def test_every_operation_answers_within_the_spec(case):
    """Positive and negative cases: never a 5xx, never an undeclared status or a body off-spec."""
    case.call_and_validate(headers={"x-api-key": "sk_fuzz_stateless"}, excluded_checks=EXCLUDED_CHECKS)


class Workflows(schema.as_state_machine()):
    """Chains of calls on one fresh world, following the links inferred from the spec."""

    def setup(self):
        self.api_key = f"sk_fuzz_{uuid.uuid4().hex}"

    def get_call_kwargs(self, case):
        return {"headers": {"x-api-key": self.api_key}}

    def validate_response(self, response, case, additional_checks=None, **kwargs):
        case.validate_response(
            response,
            additional_checks=additional_checks,
            excluded_checks=EXCLUDED_CHECKS,
            transport_kwargs=kwargs or None,
        )


TestWorkflows = Workflows.TestCase
TestWorkflows.settings = settings(
    max_examples=STATEFUL_RUNS,
    stateful_step_count=8,
    deadline=None,
    derandomize=not RANDOM,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def test_fuzzers_reached_the_server_and_it_never_failed():
    """Runs after the fuzzers in this module: they sent requests, and none got a server error."""
    if TALLY.total == 0:
        pytest.skip("run with the fuzz tests to get a tally")
    server_errors = sum(n for status, n in TALLY.by_status.items() if status >= 500)
    print(f"\nfuzzed {TALLY.total} requests: {dict(sorted(TALLY.by_status.items()))}")
    assert server_errors == 0
    assert any(200 <= status < 300 for status in TALLY.by_status), TALLY.by_status
    assert any(400 <= status < 500 for status in TALLY.by_status), TALLY.by_status
