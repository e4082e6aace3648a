"""Document fuzzing, shared by every version's suite: schemathesis generates valid and invalid
requests for every operation of the version's document, alone and chained through the links it
declares, and checks every answer against the same document.

The sandbox runs in process (WSGI) with its own response self-check on, so a reply the document
does not allow fails twice: here, and as a 500 from the server. Bounded for CI (a fixed seed);
to fuzz longer:

    FLEXPRICE_FUZZ_EXAMPLES=2000 FLEXPRICE_FUZZ_RANDOM=1 python -m pytest tests/v2026_08_22/test_fuzz.py
"""

from __future__ import annotations

import json
import os
import re
import threading
import uuid
from typing import Any

import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    allow_header_conformance,
    ignored_auth,
    positive_data_acceptance,
    unsupported_method,
)

from mockserver import api

from .support import Suite

RANDOM = os.environ.get("FLEXPRICE_FUZZ_RANDOM", "") not in ("", "0")
ALL = os.environ.get("FLEXPRICE_FUZZ_ALL", "") not in ("", "0")

EXCLUDED_CHECKS = [
    # Every API key is accepted: a new key is a new, empty world, by design.
    ignored_auth,
    # Business rules answer 400 to schema-valid input, as the cloud does: a customer needs a name
    # (and an external_id), a currency three letters, a top-up positive credits.
    positive_data_acceptance,
    # /customers/search also matches /customers/{id} (and /wallets/search /wallets/{id}), so its
    # Allow truthfully lists the methods of both routes.
    allow_header_conformance,
    # The fuzzed document is part of the served one: a method it leaves out may be another
    # operation the sandbox answers (PUT /plans/{id}: updatePlan).
    unsupported_method,
]


def fuzzed_part(version: api.ApiVersion) -> dict[str, Any]:
    """The version's document cut to the operations fuzzed, and what they reach: those of the
    sandbox's own document (``openapi.sandbox.yaml``), or with ``FLEXPRICE_FUZZ_ALL=1`` every
    modelled one (the newer groups' rules have tests of their own; fuzzing them all at the default
    examples takes several times as long)."""
    document = json.loads(version.served_spec_path.read_text(encoding="utf-8"))
    if ALL:
        fuzzed = set(version.handlers)
    else:
        own = yaml.safe_load(version.spec_path.with_name("openapi.sandbox.yaml").read_text(encoding="utf-8"))
        fuzzed = {
            op["operationId"] for item in own["paths"].values() for op in item.values() if "operationId" in op
        }
    paths = {}
    for path, item in document["paths"].items():
        kept = {k: v for k, v in item.items() if not isinstance(v, dict) or v.get("operationId") in fuzzed}
        if any(isinstance(v, dict) and "operationId" in v for v in kept.values()):
            paths[path] = kept
    document["paths"] = paths
    components = document["components"]
    reached: set[tuple[str, str]] = set()
    todo = [paths, document.get("x-webhook-events", {})]
    while todo:
        text = json.dumps(todo.pop())
        for kind, name in re.findall(r'"#/components/([^/"]+)/([^"]+)"', text):
            if (kind, name) not in reached:
                reached.add((kind, name))
                todo.append(components[kind][name])
    for kind, book in components.items():
        if kind != "securitySchemes":
            components[kind] = {name: value for name, value in book.items() if (kind, name) in reached}
    return document


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


class Fuzzer:
    """The fuzzing of one version: its sandbox, its schemathesis schema and the tests a suite's
    ``test_fuzz.py`` takes as its own."""

    def __init__(self, suite: Suite, default_examples: int):
        examples = int(os.environ.get("FLEXPRICE_FUZZ_EXAMPLES", str(default_examples)))
        self.stateful_runs = int(os.environ.get("FLEXPRICE_FUZZ_STATEFUL_RUNS", str(examples)))
        self.app = suite.create_app(validate_responses=True, log_requests=False)
        self.tally = Tally()
        # The operations the version models (the rest answer by convention or from the document,
        # each tested on its own), with only the schemas they reach: schemathesis works through
        # the whole document it is given on every case.
        schema = schemathesis.openapi.from_dict(fuzzed_part(api.load(suite.version)))
        schema.app = self.app
        schema.config.generation.update(
            modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
            max_examples=examples,
            deterministic=not RANDOM,
            database="none",
            with_security_parameters=False,
        )
        # Chain through the links the document declares (customer -> wallet -> top-up ...): the
        # guessed ones start from reads of random ids, which only ever find nothing.
        schema.config.phases.stateful.inference.algorithms = []
        self.schema = schema
        list_parameters = {
            p.name
            for op in self.app.extensions["mockserver"].spec.operations
            for p in op.parameters
            if p.location == "query" and p.type == "array"
        }

        @schema.hook
        def after_call(context, case, response):
            self.tally.count(response.status_code)

        @schema.hook
        def filter_query(context, query):
            """Skip 'invalid' query values that read as valid ones once written in a URL: a scalar
            for a list parameter (``wallet_ids=false`` is the list ``["false"]``), or an object
            (its keys become other, unknown parameters). The server cannot tell them apart, nor
            could the cloud."""
            if not query:
                return True
            return not any(
                isinstance(value, dict) or (name in list_parameters and not isinstance(value, list))
                for name, value in query.items()
            )

    def operation_test(self) -> Any:
        @self.schema.parametrize()
        @settings(suppress_health_check=list(HealthCheck), deadline=None)
        def test_every_operation_answers_within_the_document(case):
            """Positive and negative cases: never a 5xx, never an undeclared status or a body off
            the document."""
            case.call_and_validate(
                headers={"x-api-key": "sk_fuzz_stateless"}, excluded_checks=EXCLUDED_CHECKS
            )

        return test_every_operation_answers_within_the_document

    def workflows(self) -> Any:
        class Workflows(self.schema.as_state_machine()):  # type: ignore[misc]
            """Chains of calls on one fresh world, following the links the document declares."""

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

        test_case = Workflows.TestCase
        test_case.settings = settings(
            max_examples=self.stateful_runs,
            stateful_step_count=8,
            deadline=None,
            derandomize=not RANDOM,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        return test_case

    def summary_test(self) -> Any:
        tally = self.tally

        def test_fuzzers_reached_the_server_and_it_never_failed():
            """Runs after the fuzzers of its module: they sent requests, none got a server error."""
            if tally.total == 0:
                pytest.skip("run with the fuzz tests to get a tally")
            server_errors = sum(n for status, n in tally.by_status.items() if status >= 500)
            print(f"\nfuzzed {tally.total} requests: {dict(sorted(tally.by_status.items()))}")
            assert server_errors == 0
            assert any(200 <= status < 300 for status in tally.by_status), tally.by_status
            assert any(400 <= status < 500 for status in tally.by_status), tally.by_status

        return test_fuzzers_reached_the_server_and_it_never_failed
