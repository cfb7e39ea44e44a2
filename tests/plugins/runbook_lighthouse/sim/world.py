"""The towers and their lamps; nothing changes unless ``lampctl`` switches a lamp."""

from __future__ import annotations

from typing import TYPE_CHECKING

from runbook.sim.model import State

if TYPE_CHECKING:
    from runbook.sim.parts import Scenario


def build(state: State, scenario: Scenario, start: float) -> None:
    state["lighthouse"] = {"lamps": dict(scenario.settings["lamps"]), "switches": 0}


def summary(state: State, t: float) -> list[str]:
    lamps = state["lighthouse"]["lamps"]
    return ["lamps: " + ", ".join(f"{tower} {lamp}" for tower, lamp in sorted(lamps.items()))]
