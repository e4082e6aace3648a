"""``POST /_mock/trigger``: make the sandbox raise a webhook event now, as ``stripe trigger`` does.

``{"event": "wallet.terminated", "overrides": {"wallet.currency": "eur"}}`` performs, in the
caller's world, the operations that raise that event (the version's scenarios:
``api/v2026_08_22/scenarios.py``), creating what is missing. The answer lists what was created
and used, and every event raised, in order. A scenario that fails (a step the API refuses, an
event that did not come) is undone whole: the world is as it was.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Blueprint, Response

from ..api.v2026_08_22.scenarios import SCENARIOS, Run, read_overrides, why_not
from ..domain import errors
from ..http import jsonio
from .requests import caller_world, object_body

if TYPE_CHECKING:
    from ..http.app import Sandbox

PATH = "/_mock/trigger"


def trigger_blueprint(sandbox: Sandbox) -> Blueprint:
    bp = Blueprint("mock_trigger", __name__)
    known = sandbox.version.webhook_events

    @bp.post(PATH)
    def trigger() -> Response:
        if not known:
            raise errors.validation(
                f"Triggers raise webhook events, which API version {sandbox.version.name} does not send; "
                "serve 2026-08-22 (--api-version 2026-08-22) to trigger them",
                "webhooks not available",
            )
        body = object_body(("event", "overrides"))
        event = body.get("event")
        if not isinstance(event, str) or event not in SCENARIOS:
            said = "event is required" if event is None else f"Unknown event {event!r}"
            raise errors.validation(
                f"{said}: give one of {', '.join(known)}",
                "unknown event",
                event=event if isinstance(event, str) else repr(event),
                known=list(known),
            )
        with caller_world(sandbox, atomic=True) as world:
            values = read_overrides(world, event, body.get("overrides"))
            run = Run(world, sandbox.version.handlers, sandbox.spec, values)
            world.ensure_room(sandbox.settings.max_objects_per_world)
            raised = _perform(run, event, known)
        status = 201 if run.created else 200
        answer = {"event": event, "created": run.created, "used": run.used, "events": raised}
        return jsonio.response(status, answer)

    return bp


def _perform(run: Run, event: str, known: tuple[str, ...]) -> list[str]:
    """Run ``event``'s scenario; refused when it did not raise the event (the unit of work,
    atomic, then keeps none of it)."""
    world = run.world
    start = len(world.events)
    SCENARIOS[event].run(run)
    raised = [e.name for e in world.events[start:] if e.name in known]
    if event not in raised:
        raise errors.invalid_operation(
            f"{event} was not raised: {why_not(run, event)}; nothing was changed",
            "event not raised",
            event=event,
            raised=raised,
        )
    return raised
