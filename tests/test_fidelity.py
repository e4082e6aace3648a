"""Every answer of an operation says which operation gave it and how faithfully
(``X-Mock-Operation``, ``X-Mock-Fidelity``); operations not modelled answer 501 without touching
a world; ``--min-fidelity`` refuses what is answered below it; ``/_mock/coverage`` lists every
documented operation; the journal records both marks; and two operations whose paths collide
stop the start."""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import pytest
import yaml

from mockserver import api as versions
from mockserver.config import ConfigError, Settings
from mockserver.http.app import create_app
from mockserver.http.operations import RouteClash
from mockserver.pytest_plugin import FlexpriceInProcess

from .support import new_key

HERE = Path(__file__).parent
LATEST_SPEC = Path(versions.__file__).parent / "v2026_08_22" / "openapi.yaml"
FOUND = {"200": {"description": "ok", "content": {"application/json": {"schema": {"type": "object"}}}}}
ERROR = {"$ref": "#/components/responses/Error"}
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def operation(operation_id: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    op: dict[str, Any] = {"operationId": operation_id, "responses": {**FOUND, "default": ERROR}}
    if body is not None:
        schema = {"type": "object", "required": list(body), "properties": body}
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": schema}}}
    return op


# Documented here, beside three of the version's own: a credit note's creation (not modelled on
# purpose: 501), a widget (no handler and no convention: a schema answer), and the 404 of one of
# the paths upstream's document lists but its server does not route.
EXTRA_PATHS: dict[str, Any] = {
    "/creditnotes": {"post": operation("createCreditNote", {"invoice_id": {"type": "string"}})},
    "/widgets/units": {"get": operation("listWidgetUnits")},
    "/widgets/{id}": {
        "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
        "get": operation("getWidget"),
    },
    "/tasks/result": {"get": operation("getTaskResult")},
}
OWN_PATHS = ("/customers", "/customers/{id}")


@functools.cache
def latest_document() -> dict[str, Any]:
    return yaml.load(LATEST_SPEC.read_text(encoding="utf-8"), Loader=LOADER)


def small_spec(tmp_path: Path, extra: dict[str, Any] = EXTRA_PATHS) -> str:
    """The 2026-08-22 document cut down to the customers' paths, plus ``extra``."""
    document = copy.deepcopy(latest_document())
    document["paths"] = {path: document["paths"][path] for path in OWN_PATHS} | copy.deepcopy(extra)
    spec = tmp_path / "openapi.yaml"
    spec.write_text(yaml.dump(document, Dumper=DUMPER), encoding="utf-8")
    return str(spec)


@pytest.fixture(scope="module")
def spec(tmp_path_factory) -> str:
    return small_spec(tmp_path_factory.mktemp("spec"))


@pytest.fixture(scope="module")
def small_app(spec):
    return create_app(spec=spec, validate_responses=True, log_requests=False)


@pytest.fixture
def client(small_app):
    client = small_app.test_client()
    client.environ_base["HTTP_X_API_KEY"] = new_key()
    return client


def marks(reply) -> tuple[str | None, str | None]:
    return reply.headers.get("X-Mock-Operation"), reply.headers.get("X-Mock-Fidelity")


def test_a_modelled_operation_marks_its_successes_and_its_errors(client):
    made = client.post("/v1/customers", json={"external_id": "acme", "name": "Acme"})
    assert made.status_code == 201
    assert marks(made) == ("createCustomer", "modelled")
    missing = client.get("/v1/customers/cust_nope")
    assert missing.status_code == 404
    assert marks(missing) == ("getCustomer", "modelled")
    invalid = client.post("/v1/customers", json={"external_id": 7})
    assert invalid.status_code == 400
    assert marks(invalid) == ("createCustomer", "modelled")
    # without a key, the 401 says which operation refused it
    anonymous = client.get("/v1/customers/cust_nope", environ_base={"HTTP_X_API_KEY": ""})
    assert anonymous.status_code == 401
    assert marks(anonymous) == ("getCustomer", "modelled")
    # no operation, no marks
    nowhere = client.get("/v1/nowhere")
    assert nowhere.status_code == 404 and marks(nowhere) == (None, None)


def test_a_fault_injected_is_marked_too(client):
    key = client.environ_base["HTTP_X_API_KEY"]
    rule = {"method": "GET", "path": "/v1/customers/*", "status": 503}
    assert client.post("/_mock/faults", json=rule, headers={"x-api-key": key}).status_code == 201
    faulted = client.get("/v1/customers/cust_1")
    assert faulted.status_code == 503
    assert marks(faulted) == ("getCustomer", "modelled")


def test_an_operation_not_modelled_answers_501_after_checking_and_touches_nothing(small_app, client):
    # its request is checked first: a bad body is the usual 400
    invalid = client.post("/v1/creditnotes", json={})
    assert invalid.status_code == 400
    assert marks(invalid) == ("createCreditNote", "none")
    sandbox = small_app.extensions["mockserver"]
    worlds = sandbox.store.describe()["worlds"]
    refused = client.post("/v1/creditnotes", json={"invoice_id": "inv_1"})
    assert refused.status_code == 501
    assert marks(refused) == ("createCreditNote", "none")
    assert refused.get_json() == {
        "code": "not_implemented",
        "message": "createCreditNote is documented but not modelled by the sandbox",
        "http_status_code": 501,
        "details": {"operation": "createCreditNote"},
    }
    # no world was made for the key, nothing counted
    assert sandbox.store.describe()["worlds"] == worlds
    # and in a world that exists, nothing changes
    assert client.post("/v1/customers", json={"external_id": "acme", "name": "Acme"}).status_code == 201
    before = client.get("/_mock/state").get_json()
    assert client.post("/v1/creditnotes", json={"invoice_id": "inv_1"}).status_code == 501
    after = client.get("/_mock/state").get_json()
    before.pop("clock"), after.pop("clock")  # the wall clock runs on; nothing else may move
    assert after == before


def test_the_2025_version_refuses_in_its_own_error_body(tmp_path):
    older = LATEST_SPEC.parent.parent / "v2025_05_24" / "openapi.yaml"
    document = yaml.load(older.read_text(encoding="utf-8"), Loader=LOADER)
    document["paths"] = {"/widgets": {"post": operation("createWidget")}}
    document["components"]["responses"]["Error"] = {"description": "an error"}
    spec = tmp_path / "openapi.yaml"
    spec.write_text(yaml.dump(document, Dumper=DUMPER), encoding="utf-8")
    app = create_app(spec=str(spec), api_version="2025-05-24", log_requests=False, min_fidelity="stored")
    reply = app.test_client().post("/v1/widgets", json={}, headers={"x-api-key": new_key()})
    assert reply.status_code == 501
    assert marks(reply) == ("createWidget", "schema")
    assert reply.get_json() == {
        "success": False,
        "error": {
            "message": "createWidget is answered at fidelity schema, below the minimum stored this "
            "sandbox was started with (--min-fidelity)",
            "internal_error": "createWidget: not implemented",
            "details": {"operation": "createWidget"},
        },
    }


def test_a_schema_answer_and_literal_paths_before_templates(client):
    units = client.get("/v1/widgets/units")
    assert marks(units) == ("listWidgetUnits", "schema")
    one = client.get("/v1/widgets/w_1")
    assert marks(one) == ("getWidget", "schema")


def test_min_fidelity_refuses_answers_below_it(spec):
    app = create_app(spec=spec, validate_responses=True, log_requests=False, min_fidelity="modelled")
    client = app.test_client()
    client.environ_base["HTTP_X_API_KEY"] = new_key()
    refused = client.get("/v1/widgets/w_1")
    assert refused.status_code == 501
    assert marks(refused) == ("getWidget", "schema")
    body = refused.get_json()
    assert body["code"] == "not_implemented" and body["details"] == {"operation": "getWidget"}
    assert body["message"] == (
        "getWidget is answered at fidelity schema, below the minimum modelled this sandbox was "
        "started with (--min-fidelity)"
    )
    # not modelled says so whatever the minimum; modelled answers as ever
    assert "not modelled" in client.post("/v1/creditnotes", json={"invoice_id": "i"}).get_json()["message"]
    assert client.post("/v1/customers", json={"external_id": "acme", "name": "Acme"}).status_code == 201
    # schema is enough at --min-fidelity schema
    lenient = create_app(spec=spec, log_requests=False, min_fidelity="schema").test_client()
    assert lenient.get("/v1/widgets/w_1", headers={"x-api-key": new_key()}).status_code == 200


def test_min_fidelity_is_a_setting_with_its_variable():
    assert Settings().min_fidelity == "none"
    assert Settings.from_env({"FLEXPRICE_MOCK_MIN_FIDELITY": "stored"}).min_fidelity == "stored"
    with pytest.raises(ConfigError, match=r"--min-fidelity \(FLEXPRICE_MOCK_MIN_FIDELITY\)"):
        Settings(min_fidelity="perfect")


def test_coverage_lists_every_documented_operation(client):
    reply = client.get("/_mock/coverage")
    assert reply.status_code == 200
    listing = reply.get_json()
    assert listing["api_version"] == "2026-08-22" and listing["min_fidelity"] == "none"
    by_id = {line["operation_id"]: line for line in listing["operations"]}
    assert by_id["getCustomer"] == {
        "method": "GET",
        "path": "/v1/customers/{id}",
        "operation_id": "getCustomer",
        "fidelity": "modelled",
        "routed": True,
    }
    assert by_id["createCreditNote"]["fidelity"] == "none"
    assert by_id["getWidget"]["fidelity"] == "schema"
    unrouted = by_id["getTaskResult"]
    assert (unrouted["routed"], unrouted["fidelity"]) == (False, None)
    assert "upstream's server does not route it" in unrouted["reason"]
    modelled = sum(1 for op in listing["operations"] if op["fidelity"] == "modelled")
    assert listing["counts"] == {"modelled": modelled, "stored": 0, "schema": 2, "none": 1, "unrouted": 1}
    assert listing["total"] == len(listing["operations"]) == modelled + 4
    # an operation upstream does not route is not routed here either
    gone = client.get("/v1/tasks/result")
    assert gone.status_code == 404 and gone.get_json()["message"] == "Route not found"
    # a control like the others: refused from another site's page
    assert client.get("/_mock/coverage", headers={"Origin": "https://evil.example"}).status_code == 403
    assert client.get("/_mock/coverage", headers={"Host": "evil.example"}).status_code == 403


@pytest.mark.parametrize("name", versions.VERSIONS)
def test_each_served_document_binds_every_operation_it_routes(name):
    app = create_app(api_version=name, log_requests=False)
    sandbox = app.extensions["mockserver"]
    listing = app.test_client().get("/_mock/coverage").get_json()
    documented = {op.operation_id for op in sandbox.spec.operations}
    assert {line["operation_id"] for line in listing["operations"]} == documented
    # what the version lists as unrouted is what its document marks so, and nothing else
    marked = {op.operation_id for op in sandbox.spec.operations if "x-mock-unrouted" in op.raw}
    assert sandbox.version.unrouted == marked
    assert {line["operation_id"] for line in listing["operations"] if not line["routed"]} == marked
    # every operation listed as not modelled is documented (a name gone stale would hide nothing)
    assert sandbox.version.not_modelled <= documented
    assert sum(listing["counts"].values()) == listing["total"] == len(documented)


def test_the_served_document_refuses_a_credit_note_and_routes_published_paths_upstreams_way(api):
    refused = api.post("/v1/creditnotes", {"invoice_id": "inv_1", "reason": "DUPLICATE"})
    assert refused.status == 501
    assert (refused.headers["X-Mock-Operation"], refused.headers["X-Mock-Fidelity"]) == (
        "createCreditNote",
        "none",
    )
    assert refused.json["message"] == "createCreditNote is documented but not modelled by the sandbox"
    # a literal path is its own operation, not the template beside it
    units = api.get("/v1/prices/units")
    assert units.headers["X-Mock-Operation"] == "listPriceUnits"
    # served where upstream routes it; its published path is upstream's 404
    assert api.get("/v1/tenants/billing").headers["X-Mock-Operation"] == "getTenantBillingUsage"
    assert api.get("/v1/tenant/billing").status == 404
    assert api.post("/v1/tasks/scheduled/schedule-draft-finalization", {}).status == 404


def test_the_journal_records_the_operation_and_its_fidelity(suite, store, spec):
    app = suite.create_app(spec=spec, log_requests=False)
    client = app.test_client()
    client.environ_base["HTTP_X_API_KEY"] = new_key()
    client.post("/v1/customers", json={"external_id": "acme", "name": "Acme"})
    client.post("/v1/creditnotes", json={"invoice_id": "inv_1"})
    client.get("/v1/nowhere")
    entries = client.get("/_mock/journal").get_json()["items"]
    assert [(e["path"], e["operation_id"], e["fidelity"]) for e in entries] == [
        ("/v1/nowhere", None, None),
        ("/v1/creditnotes", "createCreditNote", "none"),
        ("/v1/customers", "createCustomer", "modelled"),
    ]


def test_assert_no_unexpected_can_insist_on_a_fidelity(small_app):
    handle = FlexpriceInProcess(small_app, new_key())
    made = handle.client.post("/v1/customers", json={"external_id": "acme", "name": "Acme"})
    assert made.status_code == 201
    handle.assert_no_unexpected(below="modelled")
    assert handle.client.get("/v1/widgets/w_1").status_code == 200
    handle.assert_no_unexpected()
    handle.assert_no_unexpected(below="schema")
    with pytest.raises(AssertionError) as failed:
        handle.assert_no_unexpected(below="modelled")
    assert "GET /v1/widgets/w_1 -> 200" in str(failed.value)
    assert "getWidget answered at fidelity schema, below modelled" in str(failed.value)
    assert handle.client.get("/_mock/verify/unexpected?below=perfect").status_code == 400


def test_two_operations_whose_paths_collide_stop_the_start(tmp_path):
    clash = {
        "/widgets/{id}": EXTRA_PATHS["/widgets/{id}"],
        "/widgets/{name}": {
            "parameters": [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}],
            "get": operation("getWidgetByName"),
        },
    }
    with pytest.raises(RouteClash) as refused:
        create_app(spec=small_spec(tmp_path, clash), log_requests=False)
    message = str(refused.value)
    assert "GET /v1/widgets/{name} (getWidgetByName) is never reached" in message
    assert "getWidget (GET /v1/widgets/{id})" in message
