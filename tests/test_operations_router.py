"""The router that takes the API's operations past Flask (mockserver/http/operations.py) must
route exactly as Flask's own table does, and pass on to Flask whatever it does not take."""

from __future__ import annotations

import re

import pytest

from mockserver import api as versions
from mockserver.http.operations import OperationRouter

from .support import Suite


@pytest.fixture(scope="module", params=list(versions.VERSIONS))
def app(request):
    return Suite(request.param).create_app(log_requests=False)


def router_of(app) -> OperationRouter:
    router = app.wsgi_app.wsgi_app  # ConnectionDrops(OperationRouter(Flask's wsgi_app))
    assert isinstance(router, OperationRouter)
    return router


def test_every_operation_routes_as_in_flask(app):
    sandbox = app.extensions["mockserver"]
    router = router_of(app)
    flask_routes = app.url_map.bind("localhost")
    # Every literal segment of the document too, so that a parameter holding another route's word
    # (GET /v1/customers/lookup/wallets: the lookup, not /customers/{id}/wallets) routes alike.
    words = {w for op in sandbox.spec.operations for w in op.path.split("/") if w and "{" not in w}
    for op in (op for op in sandbox.spec.operations if op.operation_id in sandbox.version.handlers):
        for sample in ("p1", "wallet_01ABC", "ключ", *sorted(words)):
            path = op.base_path + re.sub(r"\{[^}]+\}", sample, op.path)
            endpoint, args = flask_routes.match(path, op.method)
            found = router.match(op.method, path)
            assert found is not None, (op.method, path)
            view, router_args = found
            assert (view.__name__, router_args) == (endpoint, args), (op.method, path)


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/v1//customers"),
        ("GET", "/v1/customers/"),
        ("DELETE", "/v1/customers"),
        ("GET", "/v1/nothing-here"),
        ("GET", "/v2/customers"),
        ("HEAD", "/v1/customers"),
        ("OPTIONS", "/v1/customers"),
    ],
)
def test_what_is_no_operation_goes_on_to_flask(app, method, path):
    assert router_of(app).match(method, path) is None


@pytest.mark.parametrize("method", ["HEAD", "OPTIONS"])
def test_flask_still_answers_what_the_router_passes_on(app, method):
    client = app.test_client()
    headers = {"x-api-key": "k-router", "Host": "localhost"}
    listed = client.get("/v1/customers", headers=headers)
    answer = client.open("/v1/customers", method=method, headers=headers)
    assert answer.status_code == 200 and answer.headers["X-Request-ID"]
    if method == "HEAD":
        assert answer.get_data() == b""
        assert answer.headers["Content-Length"] == listed.headers["Content-Length"]
    else:
        assert "GET" in answer.headers["Allow"]
