"""Fault injection: rules that make the sandbox fail the ways the cloud can, on demand, reproducibly.

A rule is *match -> action*, with a schedule, written as one flat mapping (YAML, JSON or the
``X-Mock-Fault`` header all give the same dict):

- match: ``method``, ``path`` (glob: ``*`` one segment, ``**`` any depth), ``operation``
  (operationId), ``api_key`` (a rule with a key applies to that key alone);
- action: one of ``status`` (+ ``retry_after``, ``message``), ``timeout``, ``reset``, ``empty``,
  ``malformed``, ``lost_response``; ``latency`` alone or before any of them;
- schedule: always, or ``nth`` / ``first`` / ``every`` call, with a ``probability`` drawn from the
  rule's own seeded generator; ``times`` expires the rule after that many hits.

Pure Python, no Flask: ``FaultEngine.decide`` says which ``Fault`` a request gets, the HTTP layer
applies it.
"""

from __future__ import annotations

import http
import random
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml

from ..draws import Draws
from ..text import PathGlob, duration, excerpt, glob_problem, mask, yaml_problem

ACTIONS = ("status", "timeout", "reset", "empty", "malformed", "lost_response")
MATCH_FIELDS = ("method", "path", "operation", "api_key")
SCHEDULE_FIELDS = ("probability", "seed", "nth", "first", "every", "times")
ACTION_OPTIONS = ("latency", "retry_after", "message")
KNOWN_FIELDS = ("id", "description") + MATCH_FIELDS + ACTIONS + ACTION_OPTIONS + SCHEDULE_FIELDS
ONE_OFF_FIELDS = ACTIONS + ACTION_OPTIONS
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
MALFORMED_KINDS = ("truncated", "not-json")
DEFAULT_RETRY_AFTER = 1  # seconds, sent with 429 when the rule names none

# Messages that sound like the cloud (or the gateway in front of it) for each injected status.
STATUS_MESSAGES = {
    400: ("Invalid request format", "bad request"),
    403: ("Permission denied", "permission denied"),
    404: ("Resource not found", "not found"),
    408: ("Request timeout", "request timeout"),
    409: ("Resource already exists", "already exists"),
    422: ("Unprocessable entity", "unprocessable entity"),
    429: ("Too many requests", "rate limit exceeded"),
    500: ("An unexpected error occurred", "internal server error"),
    502: ("Bad gateway", "upstream connect error or disconnect/reset before headers"),
    503: ("Service temporarily unavailable", "service unavailable"),
    504: ("Gateway timeout", "upstream request timeout"),
}


class FaultError(ValueError):
    """A fault definition is wrong: ``field`` says where, ``problem`` says what."""

    def __init__(self, field: str, problem: str):
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class FaultFileError(Exception):
    """The fault file given at start is missing, unreadable or holds a bad rule."""


def error_message(status: int) -> tuple[str, str]:
    """(message, internal_error) for an injected status."""
    if status in STATUS_MESSAGES:
        return STATUS_MESSAGES[status]
    try:
        phrase = http.HTTPStatus(status).phrase
    except ValueError:
        phrase = "Request failed"
    return phrase, phrase.lower()


@dataclass(frozen=True)
class Fault:
    """What the HTTP layer must do to one request."""

    kind: str  # latency | status | timeout | reset | empty | malformed | lost_response
    rule_id: str | None = None  # None: a one-off fault from a request header
    delay: float = 0.0  # seconds to wait before anything else
    status: int | None = None
    retry_after: int | None = None
    message: str | None = None
    hold: float = 0.0  # seconds a timeout keeps the request open
    malformed: str | None = None

    def describe(self) -> dict[str, Any]:
        described: dict[str, Any] = {"kind": self.kind, "rule": self.rule_id}
        if self.delay:
            described["delay_ms"] = round(self.delay * 1000, 3)
        for name in ("status", "retry_after", "malformed"):
            if getattr(self, name) is not None:
                described[name] = getattr(self, name)
        if self.kind == "timeout":
            described["hold_ms"] = round(self.hold * 1000, 3)
        return described


# ---------------------------------------------------------------- parsing values


def parse_duration(value: Any, name: str) -> float:
    """``250ms``, ``2s``, ``1.5s`` or a bare number of milliseconds, as seconds."""
    try:
        return duration(value)
    except ValueError as exc:
        raise FaultError(name, str(exc)) from None


def _latency(value: Any) -> tuple[float, float]:
    if isinstance(value, (list, tuple)):
        if len(value) != 2:
            raise FaultError("latency", "a range needs exactly two durations, e.g. [100ms, 500ms]")
        low, high = (parse_duration(v, "latency") for v in value)
    elif isinstance(value, str) and ".." in value:
        low_text, _, high_text = value.partition("..")
        low, high = parse_duration(low_text, "latency"), parse_duration(high_text, "latency")
    else:
        low = high = parse_duration(value, "latency")
    if low > high:
        raise FaultError("latency", "the range must go from low to high, e.g. 100ms..500ms")
    return low, high


def _integer(value: Any, name: str, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise FaultError(name, f"must be an integer, got {value!r}")
    try:
        number = int(value)
    except ValueError:
        raise FaultError(name, f"must be an integer, got {value!r}") from None
    if number < low or (high is not None and number > high):
        bound = f"from {low} to {high}" if high is not None else f"at least {low}"
        raise FaultError(name, f"must be {bound}, got {number}")
    return number


def _probability(value: Any) -> float:
    if isinstance(value, bool):
        raise FaultError("probability", "must be a number from 0 to 1")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise FaultError("probability", f"must be a number from 0 to 1, got {value!r}") from None
    if not 0 <= number <= 1:
        raise FaultError("probability", f"must be from 0 to 1, got {number}")
    return number


def _flag(value: Any, name: str) -> bool:
    if value is True or (isinstance(value, str) and value.lower() == "true"):
        return True
    raise FaultError(name, "must be true (leave it out for no such fault)")


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise FaultError(name, "must be a non-empty string")
    return value


def _methods(value: Any) -> frozenset[str]:
    names = value if isinstance(value, list) else [value]
    methods = set()
    for name in names:
        method = _text(name, "method").upper()
        if method not in HTTP_METHODS:
            raise FaultError("method", f"{name!r} is not one of {', '.join(HTTP_METHODS)}")
        methods.add(method)
    if not methods:
        raise FaultError("method", "must name at least one method")
    return frozenset(methods)


def _normalise_keys(raw: dict[str, Any]) -> dict[str, Any]:
    # ``lost-response`` and ``retry-after`` read better in a header; both spellings are one field.
    normalised = {}
    for key, value in raw.items():
        if not isinstance(key, str):
            raise FaultError(str(key), "field names must be strings")
        normalised[key.strip().lower().replace("-", "_")] = value
    return normalised


# ---------------------------------------------------------------- rules


@dataclass
class Rule:
    """One parsed rule and its counters (changed only under the engine's lock)."""

    id: str
    action: str | None  # one of ACTIONS, or None for latency alone
    description: str | None = None
    methods: frozenset[str] | None = None
    path: str | None = None
    operation: str | None = None
    api_key: str | None = None
    status: int | None = None
    retry_after: int | None = None
    message: str | None = None
    timeout: float | None = None  # hold in seconds (already capped)
    malformed: str | None = None
    latency: tuple[float, float] | None = None
    probability: float | None = None
    seed: int = 0
    nth: int | None = None
    first: int | None = None
    every: int | None = None
    times: int | None = None
    matches: int = 0
    hits: int = 0
    _path_glob: PathGlob | None = field(default=None, repr=False)
    _rng: Draws = field(default_factory=Draws, repr=False)

    def __post_init__(self):
        self._path_glob = PathGlob(self.path) if self.path else None
        self._rng = Draws(self.seed)

    @property
    def draws(self) -> int:
        """Numbers drawn so far from the rule's generator (where its sequence is)."""
        return self._rng.made

    def go_on_from(self, draws: int) -> None:
        self._rng = Draws(self.seed, draws)

    @property
    def expired(self) -> bool:
        return self.times is not None and self.hits >= self.times

    def matches_request(self, method: str, path: str, operation: str | None, api_key: str | None) -> bool:
        return (
            (self.api_key is None or self.api_key == api_key)
            and (self.methods is None or method.upper() in self.methods)
            and (self.operation is None or self.operation == operation)
            and (self._path_glob is None or self._path_glob.match(path))
        )

    def _scheduled(self, call: int) -> bool:
        if self.nth is not None:
            return call == self.nth
        if self.first is not None:
            return call <= self.first
        if self.every is not None:
            return call % self.every == 0
        return True

    def fires(self) -> bool:
        """Count one more matching call and say whether the rule fires on it."""
        self.matches += 1
        scheduled = self._scheduled(self.matches)
        if self.probability is not None:
            # One draw per matching call, fired or not: the k-th call always gets the k-th number.
            scheduled = self._rng.random() < self.probability and scheduled
        return scheduled

    def fault(self) -> Fault:
        delay = self._rng.uniform(*self.latency) if self.latency else 0.0
        kind = self.action or "latency"
        retry_after = self.retry_after
        if kind == "status" and self.status == 429 and retry_after is None:
            retry_after = DEFAULT_RETRY_AFTER
        return Fault(
            kind=kind,
            rule_id=self.id,
            delay=delay,
            status=self.status,
            retry_after=retry_after,
            message=self.message,
            hold=self.timeout or 0.0,
            malformed=self.malformed,
        )

    def to_dict(self) -> dict[str, Any]:
        """The rule as it would be written, plus its counters; the key is masked."""
        out: dict[str, Any] = {"id": self.id}
        if self.description:
            out["description"] = self.description
        if self.methods:
            out["method"] = sorted(self.methods) if len(self.methods) > 1 else next(iter(self.methods))
        for name in ("path", "operation"):
            if getattr(self, name):
                out[name] = getattr(self, name)
        if self.api_key:
            out["api_key"] = mask(self.api_key)
        if self.latency:
            low, high = self.latency
            out["latency"] = _format_ms(low) if low == high else f"{_format_ms(low)}..{_format_ms(high)}"
        if self.action == "timeout":
            out["timeout"] = _format_ms(self.timeout or 0.0)
        elif self.action == "malformed":
            out["malformed"] = self.malformed
        elif self.action in ("reset", "empty", "lost_response"):
            out[self.action] = True
        for name in ("status", "retry_after", "message", "probability"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        out["seed"] = self.seed
        for name in ("nth", "first", "every", "times"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        out.update(matches=self.matches, hits=self.hits, expired=self.expired)
        return out


def _format_ms(seconds: float) -> str:
    return f"{round(seconds * 1000, 3):g}ms"


def parse_rule(
    raw: Any, *, rule_id: str, max_hold: float, known_operations: Iterable[str] = (), one_off: bool = False
) -> Rule:
    """Check one rule mapping and build the Rule; a FaultError names the first wrong field."""
    if not isinstance(raw, dict):
        raise FaultError("rule", "must be a mapping of fields, e.g. {status: 503}")
    raw = _normalise_keys(raw)
    allowed = ONE_OFF_FIELDS if one_off else KNOWN_FIELDS
    for name in raw:
        if name not in allowed:
            if one_off and name in KNOWN_FIELDS:
                raise FaultError(name, "cannot be used in a one-off fault; add a rule under /_mock/faults")
            raise FaultError(name, f"unknown field (known: {', '.join(allowed)})")
    actions = [name for name in ACTIONS if name in raw]
    if len(actions) > 1:
        raise FaultError(
            actions[1], f"a rule has one action, and {actions[0]} is already set (latency may go with any)"
        )
    if not actions and "latency" not in raw:
        raise FaultError("action", f"a rule needs an action: latency or one of {', '.join(ACTIONS)}")
    action = actions[0] if actions else None
    if action != "status":
        for name in ("retry_after", "message"):
            if name in raw:
                raise FaultError(name, "only goes with a status fault")

    rule: dict[str, Any] = {"id": rule_id, "action": action}
    if "id" in raw:
        rule["id"] = _rule_id(raw["id"])
    if "description" in raw:
        rule["description"] = _text(raw["description"], "description")
    if "method" in raw:
        rule["methods"] = _methods(raw["method"])
    if "path" in raw:
        path = _text(raw["path"], "path")
        if not path.startswith("/"):
            raise FaultError("path", f"must start with '/', e.g. /v1/wallets/*/top-up, got {excerpt(path)}")
        if problem := glob_problem(path):
            raise FaultError("path", problem)
        rule["path"] = path
    if "operation" in raw:
        operation = _text(raw["operation"], "operation")
        known = sorted(known_operations)
        if known and operation not in known:
            raise FaultError(
                "operation", f"{operation!r} is not an operationId of the spec (known: {', '.join(known)})"
            )
        rule["operation"] = operation
    if "api_key" in raw:
        rule["api_key"] = _text(raw["api_key"], "api_key")
    _parse_action(raw, action, rule, max_hold)
    _parse_schedule(raw, rule)
    return Rule(**rule)


def _rule_id(value: Any) -> str:
    text = _text(value, "id")
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", text):
        raise FaultError("id", "may hold only letters, digits, '_', '.' and '-' (at most 64)")
    return text


def _parse_action(raw: dict[str, Any], action: str | None, rule: dict[str, Any], max_hold: float) -> None:
    if "latency" in raw:
        low, high = _latency(raw["latency"])
        rule["latency"] = (min(low, max_hold), min(high, max_hold))
    if action == "status":
        rule["status"] = _integer(raw["status"], "status", 400, 599)
        if "retry_after" in raw:
            rule["retry_after"] = _integer(raw["retry_after"], "retry_after", 0)
        if "message" in raw:
            rule["message"] = _text(raw["message"], "message")
    elif action == "timeout":
        # A bare ``timeout`` (or ``true``) holds as long as allowed; any hold is capped.
        value = raw["timeout"]
        hold = max_hold if value is True or value == "" else parse_duration(value, "timeout")
        rule["timeout"] = min(hold, max_hold)
    elif action == "malformed":
        value = raw["malformed"]
        kind = "truncated" if value is True or value == "" else str(value).lower()
        if kind not in MALFORMED_KINDS:
            raise FaultError("malformed", f"must be one of {', '.join(MALFORMED_KINDS)}, got {value!r}")
        rule["malformed"] = kind
    elif action is not None:
        _flag(raw[action], action)


def _parse_schedule(raw: dict[str, Any], rule: dict[str, Any]) -> None:
    chosen = [name for name in ("nth", "first", "every") if name in raw]
    if len(chosen) > 1:
        raise FaultError(chosen[1], f"cannot be combined with {chosen[0]}; pick one schedule")
    for name in chosen + (["times"] if "times" in raw else []):
        rule[name] = _integer(raw[name], name, 1)
    if "probability" in raw:
        rule["probability"] = _probability(raw["probability"])
    # Every rule has a seed, given or drawn, and shows it: any run can be replayed exactly.
    rule["seed"] = (
        _integer(raw["seed"], "seed", 0) if "seed" in raw else random.SystemRandom().randrange(2**32)
    )


def parse_header(value: str) -> dict[str, Any]:
    """``X-Mock-Fault: status=503; retry_after=2`` (``;`` or ``,`` between ``key[=value]`` items)."""
    raw: dict[str, Any] = {}
    for item in re.split(r"[;,]", value):
        key, sep, text = item.strip().partition("=")
        if key.strip():
            raw[key.strip()] = text.strip() if sep else True
    if not raw:
        raise FaultError("action", "the header is empty; e.g. status=503, latency=200ms, reset")
    return raw


def parse_prefer(value: str | None) -> int | None:
    """The status asked for with Prism's ``Prefer: code=NNN`` (other preferences are ignored)."""
    for item in re.split(r"[;,]", value or ""):
        key, sep, text = item.strip().partition("=")
        if key.strip().lower() == "code" and sep:
            return _integer(text.strip(), "code", 100, 599)
    return None


# ---------------------------------------------------------------- the engine


class FaultLimitError(FaultError):
    """Adding the rules would pass the engine's limit."""


@dataclass
class RuleBook:
    """What an engine keeps: its rules in the order they were added, and the next rule number."""

    rules: list[Rule] = field(default_factory=list)
    next_id: int = 1


class RuleHolder(Protocol):
    """Where an engine keeps its rule book: this process's memory, or a shared store."""

    def hold(self, fingerprint: Callable[[RuleBook], Any] | None = None) -> AbstractContextManager[RuleBook]:
        """The book, this holder's alone. ``fingerprint``: a cheap summary that moves with every
        change the block may make (a store that writes the book elsewhere skips the write when
        it has not moved)."""
        ...

    def empty(self) -> bool: ...


class LocalRules:
    """The rule book in this process's memory, behind a lock."""

    def __init__(self) -> None:
        self.book = RuleBook()
        self._lock = threading.Lock()

    @contextmanager
    def hold(self, fingerprint: Callable[[RuleBook], Any] | None = None) -> Iterator[RuleBook]:
        with self._lock:
            yield self.book

    def empty(self) -> bool:
        return not self.book.rules


class FaultEngine:
    """The rules of one sandbox, in the order they were added; thread-safe.

    Every API request is checked against every rule, so there are at most ``max_rules`` per API
    key (and as many for every key): used-up rules stay, with their hits, until deleted. The rules
    live in a holder (``LocalRules``, or one in a shared store that every process sees).
    """

    def __init__(
        self,
        known_operations: Iterable[str] = (),
        max_hold: float = 30.0,
        max_rules: int = 1000,
        rules: RuleHolder | None = None,
    ):
        self.known_operations = frozenset(known_operations)
        self.max_hold = max_hold
        self.max_rules = max_rules
        self.held: RuleHolder = rules if rules is not None else LocalRules()

    def parse(self, raw: Any, api_key: str | None = None) -> Rule:
        """A checked rule; its id is given when it is added, unless it names its own."""
        rule = parse_rule(raw, rule_id="", max_hold=self.max_hold, known_operations=self.known_operations)
        if api_key is not None:
            rule.api_key = api_key
        return rule

    def add(self, raws: list[Any], api_key: str | None = None) -> list[Rule]:
        """Add every rule or none: a FaultError names the rule (``rules[1].status``) and the problem."""
        rules = []
        for index, raw in enumerate(raws):
            try:
                rules.append(self.parse(raw, api_key))
            except FaultError as error:
                raise (
                    FaultError(f"rules[{index}].{error.field}", error.problem) if len(raws) > 1 else error
                ) from None
        with self.held.hold() as book:
            held = sum(rule.api_key == api_key for rule in book.rules)
            if held + len(rules) > self.max_rules:
                owner = "this API key" if api_key is not None else "every key"
                raise FaultLimitError(
                    "rules",
                    f"at most {self.max_rules} rules for {owner}, and {held} are there; "
                    "delete some first (DELETE /_mock/faults)",
                )
            taken = {rule.id for rule in book.rules}
            number = book.next_id
            for rule in rules:
                if not rule.id:
                    rule.id, number = f"fault_{number}", number + 1
                if rule.id in taken:
                    raise FaultError("id", f"{rule.id!r} is already the id of a rule")
                taken.add(rule.id)
            book.rules.extend(rules)
            book.next_id = number
        return rules

    def load_file(self, path: str | Path) -> list[Rule]:
        """Rules from YAML: a list of rules, or a mapping with the list under ``faults``."""
        try:
            document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except OSError as error:
            raise FaultFileError(f"fault file {path}: cannot be read ({error.strerror})") from None
        except yaml.YAMLError as error:
            raise FaultFileError(f"fault file {path}: not valid YAML ({yaml_problem(error)})") from None
        if isinstance(document, dict) and set(document) == {"faults"}:
            document = document["faults"]
        if document is None:
            return []
        if not isinstance(document, list):
            raise FaultFileError(
                f"fault file {path}: must hold a list of rules (or 'faults:' with a list under it)"
            )
        try:
            return self.add(document)
        except FaultError as error:
            raise FaultFileError(f"fault file {path}: {error}") from None

    def one_off(self, header: str) -> Fault:
        """The fault a single request asks for in its ``X-Mock-Fault`` header."""
        rule = parse_rule(parse_header(header), rule_id="", max_hold=self.max_hold, one_off=True)
        fault = rule.fault()
        return Fault(**{**fault.__dict__, "rule_id": None})

    def decide(self, method: str, path: str, operation: str | None, api_key: str | None) -> Fault | None:
        """The fault for this call: every matching live rule counts it, the first that fires wins
        (only that one counts a hit)."""
        if self.held.empty():
            return None  # the common case takes no lock
        chosen: Rule | None = None
        with self.held.hold(_counted) as book:
            for rule in book.rules:
                if rule.expired or not rule.matches_request(method, path, operation, api_key):
                    continue
                if rule.fires() and chosen is None:
                    chosen = rule
            if chosen is None:
                return None
            chosen.hits += 1
            return chosen.fault()

    def rules(self, api_key: str | None = None) -> list[dict[str, Any]]:
        """Every rule (or those of one key) with its counters, in order."""
        with self.held.hold(_unchanged) as book:
            return [rule.to_dict() for rule in book.rules if api_key is None or rule.api_key == api_key]

    def get(self, rule_id: str) -> dict[str, Any] | None:
        with self.held.hold(_unchanged) as book:
            rule = _find(book, rule_id)
            return rule.to_dict() if rule else None

    def remove(self, rule_id: str) -> dict[str, Any] | None:
        with self.held.hold() as book:
            rule = _find(book, rule_id)
            if rule is None:
                return None
            book.rules.remove(rule)
            return rule.to_dict()

    def clear(self, api_key: str | None = None) -> int:
        """Remove every rule, or only those of one key; returns how many went."""
        with self.held.hold() as book:
            kept = [rule for rule in book.rules if api_key is not None and rule.api_key != api_key]
            removed = len(book.rules) - len(kept)
            book.rules = kept
            return removed

    def __len__(self) -> int:
        with self.held.hold(_unchanged) as book:
            return len(book.rules)


def _counted(book: RuleBook) -> tuple[int, int]:
    """Deciding changes a book only by counting the calls its rules match."""
    return len(book.rules), sum(rule.matches for rule in book.rules)


def _unchanged(book: RuleBook) -> None:
    """Reading a book changes nothing."""


def _find(book: RuleBook, rule_id: str) -> Rule | None:
    return next((rule for rule in book.rules if rule.id == rule_id), None)
