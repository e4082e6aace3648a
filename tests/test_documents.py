"""Each version's served document is the sandbox's own joined with upstream's whole operation list,
as tools/documents.py writes it, and the server loads every operation of it on first use."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mockserver import api
from mockserver.http.spec import Spec

ROOT = Path(__file__).resolve().parent.parent
METHODS = ("get", "put", "post", "delete", "patch")


def upstream(version: str) -> dict:
    with gzip.open(ROOT / "tools" / "upstream" / f"flexprice-openapi-{version}.json.gz", "rt") as file:
        return json.load(file)


def test_the_written_documents_are_what_the_step_builds():
    done = subprocess.run(
        [sys.executable, "tools/documents.py", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("version", api.VERSIONS)
def test_every_operation_of_upstreams_document_is_documented(version):
    served = Spec.load(api.load(version).served_spec_path)
    people = yaml.load(api.load(version).spec_path.read_text(), Loader=yaml.CSafeLoader)
    assert json.loads(api.load(version).served_spec_path.read_text()) == people
    where = {(op.method.lower(), op.raw.get("x-mock-published-path", op.path)) for op in served.operations}
    published = [
        (method, path)
        for path, item in upstream(version)["paths"].items()
        for method in METHODS
        if method in item and "Webhook Events" not in item[method].get("tags", ())
    ]
    assert len(published) == {"2025-05-24": 100, "2026-08-22": 201}[version]
    assert [op for op in published if op not in where] == []
    ids = [op.operation_id for op in served.operations]
    assert len(ids) == len(set(ids))
    for op in served.operations:  # every one resolves and compiles (no cycle left, no dangling $ref)
        assert op.responses
        assert op.body_validator is None or op.body_schema is not None


def test_routes_upstream_writes_wrong_are_where_its_server_has_them():
    spec = Spec.load(api.load("2026-08-22").served_spec_path)
    schedule = spec.by_id["getSubscriptionSchedule"]
    assert (schedule.path, schedule.raw["x-mock-published-path"]) == (
        "/subscriptions/schedules/{schedule_id}",
        "/v1/subscription-schedules/{id}",
    )
    assert [p.name for p in schedule.parameters if p.location == "path"] == ["schedule_id"]
    assert spec.by_id["getTenantBillingUsage"].path == "/tenants/billing"
    unrouted = sorted(op.operation_id for op in spec.operations if "x-mock-unrouted" in op.raw)
    assert unrouted == [
        "getHuggingfaceInferenceData",
        "getTaskResult",
        "scheduleDraftFinalization",
        "scheduleUpdateBillingPeriod",
    ]
    assert spec.by_id["createMarketplaceAgreement"].path == "/marketplace/agreements"
