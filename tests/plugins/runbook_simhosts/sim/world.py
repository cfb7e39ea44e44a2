"""The ``hostinfo`` world: a clock that ticks, and how often each host was asked."""

from __future__ import annotations

from typing import TYPE_CHECKING

from runbook.sim.model import Action, Event, State, dur

if TYPE_CHECKING:
    from runbook.sim.parts import Scenario


def build(state: State, scenario: Scenario, start: float) -> None:
    state["hostinfo"] = {"calls": {h.name: 0 for h in scenario.hosts}, "ticks": 0,
                         "next_tick": start, "fault_switches": 0}


def events(state: State, t: float) -> list[Event]:
    return [(float(state["hostinfo"]["next_tick"]), 0, _tick(state))]


def _tick(state: State) -> Action:
    def tick(t: float) -> None:
        state["hostinfo"]["ticks"] += 1
        state["hostinfo"]["next_tick"] = t + dur(state, "tick_seconds")

    return tick


def fault_changed(state: State, name: str, on: bool, t: float) -> None:
    state["hostinfo"]["fault_switches"] += 1


def summary(state: State, t: float) -> list[str]:
    calls = state["hostinfo"]["calls"]
    return ["hostinfo calls: " + ", ".join(f"{h} {n}" for h, n in sorted(calls.items()))]
