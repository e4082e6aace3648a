"""The OpenAPI document, loaded once: operations, their parameters and compiled schemas.

An API version's document is the single source of its HTTP surface. Every ``$ref`` is inlined at load,
and each operation gets validators compiled once, so a request pays only for validation.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fastjsonschema
import yaml
from jsonschema import Draft4Validator

from ..text import yaml_problem

METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class CompiledSchema:
    """A schema checked by fastjsonschema's generated code first, by jsonschema only on failure.

    The happy path costs a couple of microseconds instead of tens; jsonschema remains the
    authority for what is wrong (every error, with its path and keyword).
    """

    def __init__(self, schema: dict[str, Any]):
        self.schema = schema
        # use_default=False: the check must never write defaults into the request body.
        self._fast = fastjsonschema.compile(
            schema, use_default=False, use_formats=False, detailed_exceptions=False
        )
        self._full = Draft4Validator(schema)

    def iter_errors(self, instance: Any):
        try:
            self._fast(instance)
            return iter(())
        except fastjsonschema.JsonSchemaException:
            return self._full.iter_errors(instance)


@dataclass
class Parameter:
    name: str
    location: str  # path | query | header
    required: bool
    schema: dict[str, Any]
    explode: bool = False  # an array sent as repeated keys (?a=1&a=2), not as "1,2"
    validator: CompiledSchema = field(init=False)

    def __post_init__(self):
        self.validator = CompiledSchema(self.schema)

    @property
    def type(self) -> str:
        return self.schema.get("type", "string")

    @property
    def item_type(self) -> str:
        """The type of an array parameter's items."""
        return (self.schema.get("items") or {}).get("type", "string")


@dataclass
class Operation:
    operation_id: str
    method: str  # upper case
    path: str  # as in the spec, e.g. /wallets/{id}
    base_path: str  # the server url, e.g. /v1
    parameters: list[Parameter]
    body_schema: dict[str, Any] | None
    body_required: bool
    responses: dict[str, dict[str, Any] | None]  # status -> JSON schema (None: no body)
    body_validator: CompiledSchema | None = None
    # Compiled on first use: only a sandbox that checks its own answers needs them, and the
    # larger documents' answers (a subscription's) would cost a second of start-up each time.
    response_validators: dict[str, CompiledSchema] = field(default_factory=dict)

    @property
    def url_rule(self) -> str:
        """The path as a Flask/Werkzeug rule: ``/v1/wallets/<id>``."""
        return self.base_path + re.sub(r"\{([^}]+)\}", r"<\1>", self.path)

    def response_validator(self, status: int) -> CompiledSchema | None:
        """The schema of the answer with ``status``; None for one declared without a body."""
        code = str(status) if str(status) in self.responses else "default"
        schema = self.responses.get(code)
        if schema is None:
            return None
        validator = self.response_validators.get(code)
        if validator is None:  # two threads may both compile it: the same validator either way
            validator = self.response_validators[code] = CompiledSchema(schema)
        return validator


class SpecError(Exception):
    """The spec file is missing, unreadable or not the OpenAPI document we expect."""


def _resolve(node: Any, root: dict[str, Any], seen: tuple[str, ...] = ()) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            if ref in seen:
                raise SpecError(f"circular $ref {ref}")
            if not ref.startswith("#/"):
                raise SpecError(f"only local $refs are supported, got {ref}")
            target: Any = root
            for part in ref[2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            return _resolve(target, root, seen + (ref,))
        return {k: _resolve(v, root, seen) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(v, root, seen) for v in node]
    return node


def _json_schema(response_or_body: dict[str, Any] | None) -> dict[str, Any] | None:
    content = (response_or_body or {}).get("content") or {}
    media = content.get("application/json")
    return _nullable(copy.deepcopy(media.get("schema"))) if media else None


def _nullable(node: Any) -> Any:
    """OpenAPI 3.0's ``nullable: true`` as JSON Schema says it (a ``null`` type), in place."""
    if isinstance(node, list):
        for item in node:
            _nullable(item)
    elif isinstance(node, dict):
        for value in node.values():
            _nullable(value)
        if node.pop("nullable", False):
            kind = node.get("type")
            if isinstance(kind, str):
                node["type"] = [kind, "null"]
                if "enum" in node:
                    node["enum"] = [*node["enum"], None]
            elif kind is None:
                inner = {k: node.pop(k) for k in list(node) if k not in ("description", "example")}
                node["anyOf"] = [inner, {"type": "null"}]
    return node


class Spec:
    def __init__(self, document: dict[str, Any], source: str = "<memory>"):
        self.source = source
        self.document = document
        servers = document.get("servers") or [{"url": ""}]
        self.base_path = servers[0].get("url", "").rstrip("/")
        resolved = _resolve(document.get("paths") or {}, document)
        self.operations: list[Operation] = []
        for path, item in resolved.items():
            shared = item.get("parameters", [])
            for method in METHODS:
                if method in item:
                    self.operations.append(self._operation(path, method, item[method], shared))
        self.by_id = {op.operation_id: op for op in self.operations}

    def _operation(self, path: str, method: str, raw: dict[str, Any], shared: list) -> Operation:
        if "operationId" not in raw:
            raise SpecError(f"{method.upper()} {path} has no operationId")
        params = [
            Parameter(
                p["name"],
                p["in"],
                bool(p.get("required")),
                _nullable(copy.deepcopy(p.get("schema") or {})),
                bool(p.get("explode", p.get("style", "form") == "form")),
            )
            for p in shared + raw.get("parameters", [])
        ]
        body = raw.get("requestBody")
        body_schema = _json_schema(body)
        responses = {str(code): _json_schema(r) for code, r in (raw.get("responses") or {}).items()}
        op = Operation(
            raw["operationId"],
            method.upper(),
            path,
            self.base_path,
            params,
            body_schema,
            bool(body and body.get("required")),
            responses,
        )
        if body_schema is not None:
            op.body_validator = CompiledSchema(body_schema)
        return op

    @classmethod
    def load(cls, path: str | Path) -> Spec:
        path = Path(path)
        try:
            document = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
        except OSError as exc:
            raise SpecError(f"cannot read spec {path}: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise SpecError(f"spec {path} is not valid YAML: {yaml_problem(exc)}") from None
        if not isinstance(document, dict) or "paths" not in document:
            raise SpecError(f"spec {path} has no 'paths': is it an OpenAPI document?")
        return cls(document, str(path))
