"""How SMF on the simulated node evolves: start methods exit, dependencies follow.

The world module of the ``smf`` part. It owns ``state["smf"]``: the node's
name, its instances (see ``smf``) and its log files. Other parts add their
services with ``smf.add_service`` when they build.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from runbook.sim.model import Action, Event, State
from runbook_svcs.sim import smf

if TYPE_CHECKING:
    from runbook.sim.parts import Scenario

BASE = (
    ("svc:/network/ssh:default", "SSH server"),
    ("svc:/system/filesystem/local:default", "local file system mounts"),
)


def build(state: State, scenario: Scenario, start: float) -> None:
    node = next((h.name for h in scenario.hosts), "localhost")
    state["smf"] = {"node": node, "services": {}, "files": {}}
    for fmri, description in BASE:
        smf.add_service(state, fmri, description, since=start - 20 * 86400)


def settle(state: State, t: float) -> None:
    smf.settle(state, t)


def events(state: State, t: float) -> list[Event]:
    """Each pending start method exits at its time (priority 0)."""
    return [(float(svc["start_at"]), 0, _exits(state, fmri))
            for fmri, svc in smf.services(state).items() if svc["start_at"] is not None]


def _exits(state: State, fmri: str) -> Action:
    def run(t: float) -> None:
        smf.start_exits(state, fmri, t)

    return run


def summary(state: State, t: float) -> list[str]:
    lines = [f"smf on {state['smf']['node']}:"]
    for fmri, svc in sorted(smf.services(state).items()):
        pending = " (start method running)" if svc["start_at"] is not None else ""
        lines.append(f"  {fmri}: {svc['state']}{pending}")
    return lines
