"""The clock of the simulated estate: a small event simulation over every part.

Nothing runs in the background. Each stand-in invocation calls ``advance``,
which replays every event due between the last update and now, in time
order, then returns. The parts of the sandbox (recorded in the state at
``init``, in dependency order) each contribute their own events through their
world module (see ``runbook.sim.parts``); the earliest event of any part runs
next, ties by priority and then by part order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

from runbook.sim import loader
from runbook.sim.model import Event, State, knob

MAX_EVENTS = 200_000
FRAMEWORK_KNOBS: dict[str, float] = {
    "time_scale": 1.0,        # world speed: every duration knob is divided by it
    "warmup_seconds": 30.0,   # history replayed before "now" at creation
    "max_catchup": 600.0,     # longest unobserved stretch replayed (wall seconds)
}
"""Knobs every sandbox has; parts add their own."""


def modules(state: State) -> list[ModuleType]:
    """The world modules of the sandbox's parts, in dependency order."""
    return [loader.load(part["world"]) for part in state.get("parts", []) if part.get("world")]


def hooks(state: State, name: str) -> Iterator[Callable[..., Any]]:
    """Every part's world function called ``name``, in part order."""
    for module in modules(state):
        function = getattr(module, name, None)
        if function is not None:
            yield function


def advance(state: State, now: float) -> None:
    """Replay every event due up to ``now`` (at most ``max_catchup`` seconds back)."""
    for prepare in hooks(state, "prepare"):
        prepare(state, now)
    settles = list(hooks(state, "settle"))
    sources = list(hooks(state, "events"))
    t = max(float(state["updated"]), now - knob(state, "max_catchup"))
    for _ in range(MAX_EVENTS):
        for settle in settles:
            settle(state, t)
        upcoming = _next_event(state, t, sources)
        if upcoming is None or upcoming[0] > now:
            break
        t = max(t, upcoming[0])
        upcoming[2](t)
    for settle in settles:
        settle(state, now)
    for finish in hooks(state, "finish"):
        finish(state, now)
    state["updated"] = max(float(state["updated"]), now)


def _next_event(state: State, t: float,
                sources: list[Callable[[State, float], list[Event]]]) -> Event | None:
    events = [event for source in sources for event in source(state, t)]
    return min(events, key=lambda e: (e[0], e[1])) if events else None
