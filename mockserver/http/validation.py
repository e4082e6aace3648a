"""Request validation against the spec: parameters coerced and checked, the body parsed and checked.

Every problem is collected (not only the first); the error names the first one in plain words
(``config.allowed_price_types[0] must be one of: ALL, USAGE, FIXED``) and ``details.errors``
lists them all, each with its field, where it was (body, query, path) and what is wrong.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from jsonschema.exceptions import ValidationError

from ..domain.errors import ApiError
from ..text import boolean, excerpt, field_path
from .spec import CompiledSchema, Operation

_INTEGER = re.compile(r"-?[0-9]{1,18}\Z")  # ASCII digits only, nothing around them
_SURROGATE = re.compile("[\ud800-\udfff]")
MAX_DEPTH = 32  # nesting of a request body; real ones need 4
# An error answers in proportion to the mistake, not to what was sent: a value it shows is cut to
# an excerpt, a field path to MAX_FIELD characters, and details list at most MAX_LISTED problems.
MAX_ECHO = 100
MAX_FIELD = 200
MAX_LISTED = 20
JSON_MEDIA_TYPE = "application/json"
_TYPE_WORDS = {
    "string": "a string",
    "number": "a number",
    "integer": "an integer",
    "boolean": "a boolean",
    "object": "an object",
    "array": "an array",
}


class _Problem(tuple):
    """(location, field, problem, keyword): one thing wrong with the request."""

    def as_dict(self) -> dict[str, str]:
        location, field, problem, _ = self
        return {"field": field, "in": location, "problem": problem}

    def sentence(self) -> str:
        location, field, problem, _ = self
        where = "request body" if location == "body" and not field else field
        if location in ("query", "path", "header"):
            where = f"{location} parameter {field}"
        return f"{where} {problem}"


def _describe(error: ValidationError) -> tuple[str, str]:
    """(field, problem) for a jsonschema error, in words a user reads, never echoing more than an
    excerpt of the value."""
    field, problem = _worded(error)
    if len(field) > MAX_FIELD:
        field = f"{field[:MAX_FIELD]}… ({len(field)} characters)"
    return field, problem


def _worded(error: ValidationError) -> tuple[str, str]:
    field = field_path(error.absolute_path)
    keyword, value = error.validator, error.validator_value
    if keyword == "required":
        missing = re.match(r"'(.*)' is a required property", error.message)
        name = missing.group(1) if missing else str(value)
        return (f"{field}.{name}" if field else name), "is required"
    if keyword == "maxItems":
        count = len(error.instance) if isinstance(error.instance, list) else "more"
        return field, f"must hold at most {value} items, not {count}"
    if keyword == "minItems":
        return field, f"must hold at least {value} item{'s' if value != 1 else ''}"
    if keyword == "uniqueItems":
        return field, "must not hold the same item twice"
    if keyword == "type":
        wanted = value if isinstance(value, str) else value[0]
        return field, f"must be {_TYPE_WORDS.get(wanted, wanted)}, not {_kind(error.instance)}"
    if keyword == "enum":
        return field, "must be one of: " + ", ".join(map(str, value))
    if keyword == "minimum":
        return field, f"must be at least {value}"
    if keyword == "maximum":
        return field, f"must be at most {value}"
    if keyword == "maxLength":
        return field, f"must be at most {value} characters long"
    if keyword == "minLength":
        return field, f"must be at least {value} characters long"
    if keyword in ("oneOf", "anyOf") and _is_decimal(value):
        instance = error.instance
        shown = excerpt(instance, MAX_ECHO) if isinstance(instance, str) else _kind(instance)
        return field, f'must be a decimal: a string such as "10.5" or a number, not {shown}'
    return field, _short(error.message, error.instance)


def _short(message: str, instance: Any) -> str:
    """jsonschema's message with the value it starts with (``[...] is too long``) cut to an
    excerpt; any other long message cut."""
    if len(message) <= 2 * MAX_ECHO:
        return message
    shown = repr(instance)
    if message.startswith(shown):
        message = excerpt(instance, MAX_ECHO) + message[len(shown) :]
    if len(message) > 2 * MAX_ECHO:
        message = f"{message[: 2 * MAX_ECHO]}… ({len(message)} characters)"
    return message


def _kind(instance: Any) -> str:
    """What a JSON value is, in words: ``null``, ``a boolean``, ``an object``."""
    if instance is None:
        return "null"
    name = type(instance).__name__
    return {
        "dict": "an object",
        "list": "an array",
        "str": "a string",
        "bool": "a boolean",
        "int": "an integer",
        "float": "a number",
        "Decimal": "a number",
    }.get(name, name)


def _is_decimal(choices: Any) -> bool:
    """A choice of a numeric string or a number: how a version that sends decimals as strings
    declares one it reads."""
    kinds = {c.get("type") for c in choices or () if isinstance(c, dict)}
    return kinds == {"string", "number"}


def _schema_problems(validator: CompiledSchema, instance: Any, location: str) -> list[_Problem]:
    problems = []
    for error in validator.iter_errors(instance):
        field, problem = _describe(error)
        problems.append(_Problem((location, field, problem, error.validator)))
    # Missing fields first (the cloud's binder reports them first), then in document order.
    problems.sort(key=lambda p: (p[3] != "required", p[1]))
    return problems


def _fail(problems: list[_Problem]) -> ApiError:
    return ApiError(
        400,
        problems[0].sentence(),
        f"request validation failed: {len(problems)} problem(s)",
        {"errors": [p.as_dict() for p in problems[:MAX_LISTED]]},
    )


# ---- body ----------------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a valid JSON number")


def _unusable(value: Any) -> str | None:
    """Why a parsed body cannot be used although it is JSON: nested deeper than MAX_DEPTH, or a
    string holding half of a UTF-16 pair (a lone ``\\ud800`` escape), which no reply could echo."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, (dict, list)):
            if depth > MAX_DEPTH:
                return f"nested too deeply (at most {MAX_DEPTH} levels)"
            children = list(item.items()) if isinstance(item, dict) else [(None, v) for v in item]
            for key, child in children:
                if key is not None and _SURROGATE.search(key):
                    return "a key holds a lone UTF-16 surrogate escape"
                pending.append((child, depth + 1))
        elif isinstance(item, str) and _SURROGATE.search(item):
            return "a string holds a lone UTF-16 surrogate escape"
    return None


def _invalid_json(reason: str) -> ApiError:
    problem = {"field": "", "in": "body", "problem": f"is not valid JSON ({reason})"}
    return ApiError(400, "Invalid request format", reason, {"errors": [problem]})


def parse_json(raw: bytes) -> Any:
    """Parse a JSON body; numbers with a fraction become exact Decimals. Bad JSON is a 400."""
    if not raw.strip():
        raise ApiError(
            400,
            "Invalid request format",
            "EOF",
            {"errors": [{"field": "", "in": "body", "problem": "is empty"}]},
        )
    try:
        value = json.loads(raw, parse_float=Decimal, parse_constant=_reject_constant)
    except (ValueError, RecursionError, InvalidOperation) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise _invalid_json(reason) from None
    # The walk is needed only when the text could hold deep nesting or a \u escape.
    if raw.count(b"{") + raw.count(b"[") > MAX_DEPTH or b"\\u" in raw:
        unusable = _unusable(value)
        if unusable:
            raise _invalid_json(unusable)
    return value


def check_content_type(content_type: str | None) -> None:
    """A body declared as anything but JSON is refused (415); an undeclared one is read as JSON."""
    if not content_type:
        return
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type == JSON_MEDIA_TYPE or media_type.endswith("+json"):
        return
    raise ApiError(
        415,
        f"Content-Type must be {JSON_MEDIA_TYPE}, not {media_type or 'empty'}",
        "unsupported media type",
        {
            "errors": [
                {
                    "field": "Content-Type",
                    "in": "header",
                    "problem": f"must be {JSON_MEDIA_TYPE}, not {media_type or 'empty'}",
                }
            ]
        },
    )


# ---- parameters ----------------------------------------------------------------------------


def _coerce(kind: str, raw: str, item_kind: str = "string") -> Any:
    """A query or path string as a value of the parameter's type; ValueError says what was expected."""
    if kind == "integer":
        if not _INTEGER.match(raw):
            raise ValueError("must be an integer")
        return int(raw)
    if kind == "number":
        try:
            number = Decimal(raw.strip())
        except InvalidOperation:
            raise ValueError("must be a number") from None
        if not number.is_finite():
            raise ValueError("must be a finite number")
        return number
    if kind == "boolean":
        try:
            return boolean(raw)
        except ValueError:
            raise ValueError("must be true or false") from None
    if kind == "array":
        if not raw.strip():
            raise ValueError("must be a comma-separated list of values, not empty")
        return [_coerce(item_kind, part) for part in raw.split(",") if part != ""]
    return raw


def check_parameters(
    op: Operation, path_args: dict[str, str], query: Any, headers: Any = None
) -> dict[str, Any]:
    """Path, query and header parameters, coerced to their types and checked against their schemas."""
    values: dict[str, Any] = {}
    problems: list[_Problem] = []
    sources = {"path": path_args, "query": query, "header": headers}
    for param in op.parameters:
        source = sources.get(param.location)
        if source is None or param.name not in source:
            if param.required:
                problems.append(_Problem((param.location, param.name, "is required", "required")))
            continue
        raw = source.get(param.name)
        try:
            if param.type == "array" and param.explode and param.location == "query":
                value = [_coerce(param.item_type, part) for part in source.getlist(param.name)]
            else:
                value = _coerce(param.type, raw, param.item_type)
        except ValueError as exc:
            problems.append(_Problem((param.location, param.name, str(exc), "type")))
            continue
        for error in param.validator.iter_errors(value):
            _, problem = _describe(error)
            problems.append(_Problem((param.location, param.name, problem, error.validator)))
        values[param.name] = value
    if problems:
        raise _fail(problems)
    return values


def check_body(op: Operation, read: Callable[[], bytes], content_type: str | None = None) -> Any:
    """The parsed body, or None when the operation takes none. Raises ApiError with every problem.

    ``read`` is called only for an operation that takes a body: any other ignores what was sent,
    so a stray body on a GET is neither read nor refused (no 413 or 415 the spec does not declare).
    """
    if op.body_validator is None:
        return None
    check_content_type(content_type)
    raw = read()
    if not raw.strip() and not op.body_required:
        return None
    body = parse_json(raw)
    problems = _schema_problems(op.body_validator, body, "body")
    if problems:
        raise _fail(problems)
    return body
