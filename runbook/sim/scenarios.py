"""The scenarios a sandbox can start from, gathered from the plugins' parts.

Parts come from the ``runbook_sim_parts`` hook; each may contribute
scenarios, and a scenario names the parts it combines (the CFS incident
needs Kubernetes, Kafka and CFS). ``build`` makes the initial world: the
framework's own keys, then every part's ``build`` in dependency order, then
a replay of ``warmup_seconds`` of history by the same evolution code that
runs afterwards, so logs and counters are what that code produces.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from runbook.sim.model import State
from runbook.sim.parts import Fault, Part, Scenario
from runbook.sim.world import FRAMEWORK_KNOBS, advance, hooks

if TYPE_CHECKING:
    import pluggy

STATE_VERSION = 2


def all_parts(pm: pluggy.PluginManager | None = None) -> dict[str, Part]:
    """Every part the loaded plugins contribute, by name (asked afresh each time)."""
    from runbook.errors import PluginError
    from runbook.plugins import default_registry

    manager = pm or default_registry().pm
    found: dict[str, Part] = {}
    for answer in manager.hook.runbook_sim_parts():
        for part in answer:
            if part.name in found and found[part.name] != part:
                raise PluginError(f"simulated part {part.name!r} is contributed twice")
            found[part.name] = part
    return found


def all_scenarios(pm: pluggy.PluginManager | None = None) -> dict[str, Scenario]:
    """Every scenario of every part, by name."""
    return {s.name: s for part in all_parts(pm).values() for s in part.scenarios}


def all_faults(pm: pluggy.PluginManager | None = None) -> dict[str, str]:
    """Every fault of every part: name -> description."""
    return {f.name: f.description for part in all_parts(pm).values() for f in part.faults}


def default_knobs(pm: pluggy.PluginManager | None = None) -> dict[str, float]:
    """Every knob with its default: the framework's, then every part's."""
    knobs = dict(FRAMEWORK_KNOBS)
    for part in all_parts(pm).values():
        knobs.update(part.knobs)
    return knobs


def list_scenarios() -> list[tuple[str, str]]:
    """(name, description) of every scenario, by name."""
    return [(s.name, s.description) for s in sorted(all_scenarios().values(),
                                                    key=lambda s: s.name)]


def ordered(names: Iterable[str], known: Mapping[str, Part]) -> list[Part]:
    """The named parts and every part they require, each after its requirements."""
    done: list[Part] = []

    def visit(name: str, chain: tuple[str, ...]) -> None:
        if any(p.name == name for p in done):
            return
        if name in chain:
            raise ValueError(f"simulated parts require each other: {' -> '.join((*chain, name))}")
        if name not in known:
            raise ValueError(f"unknown simulated part {name!r}; parts: "
                             f"{', '.join(sorted(known)) or 'none'}")
        for needed in known[name].requires:
            visit(needed, (*chain, name))
        done.append(known[name])

    for name in names:
        visit(name, ())
    return done


def faults_of(used: Iterable[Part]) -> list[Fault]:
    return [fault for part in used for fault in part.faults]


def build(name: str, now: float, knobs: Mapping[str, float] | None = None,
          faults: Iterable[str] = ()) -> State:
    """A fresh world for scenario ``name``, evolved up to ``now``."""
    known = all_parts()
    scenarios = {s.name: s for part in known.values() for s in part.scenarios}
    if name not in scenarios:
        raise ValueError(f"unknown scenario {name!r}; choose from: {', '.join(sorted(scenarios))}")
    scenario = scenarios[name]
    used = ordered(scenario.parts, known)
    merged = _knobs(scenario, used, knobs or {})
    offered = [f.name for f in faults_of(used)]
    switched = _faults(scenario, offered, faults)
    start = now - merged["warmup_seconds"] / merged["time_scale"]
    state: State = {
        "version": STATE_VERSION, "scenario": name, "created": now, "updated": start,
        "knobs": merged, "faults": {f: f in switched for f in offered},
        "parts": [_record(part) for part in used],
        "hosts": {h.name: {"address": h.address, "up": h.up} for h in scenario.hosts},
    }
    for build_part in hooks(state, "build"):
        build_part(state, scenario, start)
    advance(state, now)
    return state


def _knobs(scenario: Scenario, used: list[Part], given: Mapping[str, float]) -> dict[str, float]:
    """The framework's knobs, the parts', the scenario's, then the caller's."""
    defaults = dict(FRAMEWORK_KNOBS)
    for part in used:
        defaults.update(part.knobs)
    unknown = set(given) - set(defaults)
    if unknown:
        raise ValueError(f"unknown knob(s): {', '.join(sorted(unknown))}")
    return {**defaults, **scenario.knobs, **given}


def _faults(scenario: Scenario, offered: list[str], given: Iterable[str]) -> list[str]:
    """The faults on from the start: the scenario's and the caller's, all offered."""
    switched = [*scenario.faults, *given]
    for fault in switched:
        if fault not in offered:
            raise ValueError(f"unknown fault {fault!r} for scenario {scenario.name}; choose "
                             f"from: {', '.join(offered) or 'none'}")
    return switched


def _record(part: Part) -> dict[str, Any]:
    return {"name": part.name, "world": part.world, "tools": dict(part.tools)}

