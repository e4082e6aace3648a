"""The OpenAPI document, loaded once: operations, their parameters and compiled schemas.

An API version's document is the single source of its HTTP surface. Each operation's ``$ref``s are
inlined and its validators compiled once, on its first use, so a request pays only for validation.
"""

from __future__ import annotations

import copy
import json
import re
import threading
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


class Operation:
    """One documented operation. Its parameters, body and answers are resolved and compiled on
    first use: a document of two hundred operations would otherwise cost seconds at every start,
    for operations a run may never call."""

    def __init__(
        self,
        operation_id: str,
        method: str,
        path: str,
        base_path: str,
        raw: dict[str, Any],
        shared: list[Any],
        root: dict[str, Any],
    ):
        self.operation_id = operation_id
        self.method = method  # upper case
        self.path = path  # as in the spec, e.g. /wallets/{id}
        self.base_path = base_path  # the server url, e.g. /v1
        self.raw = raw  # as written, $refs and all
        self._shared = shared
        self._root = root
        self._lock = threading.Lock()
        self._resolved = False
        # Answers' validators: only a sandbox that checks its own answers needs them.
        self.response_validators: dict[str, CompiledSchema] = {}

    def _load(self) -> None:
        with self._lock:
            if self._resolved:
                return
            raw = self.raw
            params = [
                Parameter(
                    p["name"],
                    p["in"],
                    bool(p.get("required")),
                    _nullable(copy.deepcopy(p.get("schema") or {})),
                    bool(p.get("explode", p.get("style", "form") == "form")),
                )
                for p in _resolve(self._shared + raw.get("parameters", []), self._root)
            ]
            body = _resolve(raw.get("requestBody"), self._root)
            body_schema = _json_schema(body)
            self._parameters = params
            self._body_schema = body_schema
            self._body_required = bool(body and body.get("required"))
            self._body_validator = CompiledSchema(body_schema) if body_schema is not None else None
            self._responses = {
                str(code): _json_schema(_resolve(answer, self._root))
                for code, answer in (raw.get("responses") or {}).items()
            }
            self._resolved = True

    @property
    def parameters(self) -> list[Parameter]:
        if not self._resolved:
            self._load()
        return self._parameters

    @property
    def body_schema(self) -> dict[str, Any] | None:
        if not self._resolved:
            self._load()
        return self._body_schema

    @property
    def body_required(self) -> bool:
        if not self._resolved:
            self._load()
        return self._body_required

    @property
    def body_validator(self) -> CompiledSchema | None:
        if not self._resolved:
            self._load()
        return self._body_validator

    @property
    def responses(self) -> dict[str, dict[str, Any] | None]:
        """Status -> JSON schema (None: no body)."""
        if not self._resolved:
            self._load()
        return self._responses

    @property
    def url_rule(self) -> str:
        """The path as a Flask/Werkzeug rule: ``/v1/wallets/<id>``."""
        return self.base_path + re.sub(r"\{([^}]+)\}", r"<\1>", self.path)

    def response_validator(self, status: int) -> CompiledSchema | None:
        """The schema of the answer with ``status``; None for one declared without a body."""
        responses = self.responses
        code = str(status) if str(status) in responses else "default"
        schema = responses.get(code)
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
        self.operations: list[Operation] = []
        for path, item in (document.get("paths") or {}).items():
            shared = item.get("parameters", [])
            for method in METHODS:
                if method in item:
                    raw = item[method]
                    if "operationId" not in raw:
                        raise SpecError(f"{method.upper()} {path} has no operationId")
                    self.operations.append(
                        Operation(
                            raw["operationId"], method.upper(), path, self.base_path, raw, shared, document
                        )
                    )
        self.by_id = {op.operation_id: op for op in self.operations}

    @classmethod
    def load(cls, path: str | Path) -> Spec:
        """The document at ``path``: JSON when it ends in ``.json`` (what a version's server loads:
        parsed in milliseconds, where YAML takes most of a second), YAML otherwise. A document
        already loaded by this process, unchanged since, is not read again (its operations are
        never changed by their users, so apps in one process share them)."""
        path = Path(path)
        try:
            stat = path.stat()
            key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
            if key in _LOADED:
                return _LOADED[key]
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise SpecError(f"cannot read spec {path}: {exc.strerror}") from None
        try:
            document = json.loads(text) if path.suffix == ".json" else yaml.load(text, Loader=_Loader)
        except json.JSONDecodeError as exc:
            raise SpecError(f"spec {path} is not valid JSON: {exc}") from None
        except yaml.YAMLError as exc:
            raise SpecError(f"spec {path} is not valid YAML: {yaml_problem(exc)}") from None
        if not isinstance(document, dict) or "paths" not in document:
            raise SpecError(f"spec {path} has no 'paths': is it an OpenAPI document?")
        spec = _LOADED[key] = cls(document, str(path))
        return spec


_LOADED: dict[tuple[str, int, int], Spec] = {}
