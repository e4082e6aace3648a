"""How a world's pending things settle by themselves (as moto's state transitions do), instead
of waiting for a control call (``POST /_mock/invoices/<id>/pay|fail|void``).

One policy form for every kind of pending thing (``KINDS``):

- ``"manual"``: it waits for a control call (the default);
- ``"immediate"``, ``"fail"``, ``"void"``: paid, its payment failed, or voided as soon as it exists;
- ``{"after": "PT1H", "outcome": "pay" | "fail" | "void"}``: that outcome (pay by default) once the
  world's clock reaches its creation plus the ISO 8601 duration.

The policy in force decides the fate of everything pending of its kind: a new one applies at
once to what already waits (``after`` counted from each one's creation). What a policy failed
stays failed until a control call settles it. Plain data and checks: no HTTP, no world.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import isodate

# invoiced_top_ups: a PURCHASED_CREDIT_INVOICED top-up's invoice (its credits pending);
# subscription_invoices: what a closed period's invoice still owes after the wallets paid.
KINDS = ("invoiced_top_ups", "subscription_invoices")
OUTCOMES = ("pay", "fail", "void")
AT_ONCE = {"immediate": "pay", "fail": "fail", "void": "void"}
MANUAL = "manual"
_SOME_DAY = datetime(2000, 1, 1, tzinfo=timezone.utc)  # to tell a positive duration (P1M has no seconds)


@dataclass(frozen=True, slots=True)
class Policy:
    """What happens to a pending thing: ``outcome`` (None: nothing, it waits for a control call),
    ``after`` its creation (an ISO 8601 duration; "": at once)."""

    outcome: str | None = None
    after: str = ""

    @property
    def at_once(self) -> bool:
        return self.outcome is not None and not self.after

    def due(self, created: datetime) -> datetime | None:
        """When a thing created at ``created`` settles (None: never by itself)."""
        if self.outcome is None:
            return None
        if not self.after:
            return created
        try:
            return created + isodate.parse_duration(self.after)
        except OverflowError:
            return datetime.max.replace(tzinfo=timezone.utc)

    def dump(self) -> str | dict[str, str]:
        """The policy in its shortest form (what GET /_mock/policies answers)."""
        if self.outcome is None:
            return MANUAL
        if not self.after:
            return next(name for name, outcome in AT_ONCE.items() if outcome == self.outcome)
        return {"after": self.after, "outcome": self.outcome}


MANUAL_POLICY = Policy()


def defaults() -> dict[str, Policy]:
    return dict.fromkeys(KINDS, MANUAL_POLICY)


class PolicyError(ValueError):
    """A policy that cannot be taken: which field, and what is wrong with it."""

    def __init__(self, field: str, problem: str):
        super().__init__(f"{field} {problem}")
        self.field = field
        self.problem = problem


def parse_policy(value: Any, where: str) -> Policy:
    """One policy in any of its forms. Raises PolicyError naming ``where``."""
    if isinstance(value, str):
        if value == MANUAL:
            return MANUAL_POLICY
        if value in AT_ONCE:
            return Policy(AT_ONCE[value])
        raise PolicyError(
            where, f"must be manual, immediate, fail, void or an object with after, not {value!r}"
        )
    if not isinstance(value, dict):
        raise PolicyError(
            where, 'must be "manual", "immediate", "fail", "void" or {"after": "PT1H", "outcome": "pay"}'
        )
    for name in value:
        if name not in ("after", "outcome"):
            raise PolicyError(f"{where}.{name}", "is not a field of a policy (expected: after, outcome)")
    outcome = value.get("outcome", "pay")
    if outcome not in OUTCOMES:
        raise PolicyError(f"{where}.outcome", f"must be pay, fail or void, not {outcome!r}")
    if "after" not in value:
        raise PolicyError(f"{where}.after", "is required: an ISO 8601 duration such as PT1H")
    return Policy(outcome, _duration(value["after"], f"{where}.after"))


def _duration(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise PolicyError(where, "must be an ISO 8601 duration such as PT1H (a string)")
    try:
        parsed = isodate.parse_duration(value.strip())
        later = _SOME_DAY + parsed
    except (ValueError, ArithmeticError, isodate.ISO8601Error):
        raise PolicyError(where, f"must be an ISO 8601 duration such as PT1H, not {value!r}") from None
    if later <= _SOME_DAY:
        raise PolicyError(where, "must be more than zero (for at once: immediate, fail or void)")
    if later - _SOME_DAY > timedelta(days=3660):
        raise PolicyError(where, "must be at most ten years")
    return isodate.duration_isoformat(parsed)


def update(current: dict[str, Policy], body: Any, kinds: tuple[str, ...] = KINDS) -> dict[str, Policy]:
    """``current`` with the policies ``body`` names (a partial update); ``kinds``: those the
    world's API version has. Raises PolicyError; nothing is changed before all of it is checked."""
    if not isinstance(body, dict):
        raise PolicyError("<body>", "must be an object of policies by kind (" + ", ".join(kinds) + ")")
    changed = dict(current)
    for kind, value in body.items():
        if kind not in kinds:
            known = ", ".join(kinds) if kinds else "none: nothing waits to be settled in this API version"
            raise PolicyError(kind, f"is not a kind of pending thing (expected: {known})")
        changed[kind] = parse_policy(value, kind)
    return changed


def dump(policies: dict[str, Policy], kinds: tuple[str, ...] = KINDS) -> dict[str, Any]:
    return {kind: policies.get(kind, MANUAL_POLICY).dump() for kind in kinds}
