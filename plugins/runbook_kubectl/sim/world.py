"""How the simulated Kubernetes cluster evolves: pods become ready and start.

The world module of the ``kubernetes`` part (see ``runbook.sim.parts``). It
owns the state keys ``namespaces``, ``logs`` and ``resource_version``; other
parts (CFS) add deployments and pods through ``k8s`` when they build.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from runbook.sim.model import Action, Event, State
from runbook_kubectl.sim import k8s

if TYPE_CHECKING:
    from runbook.sim.parts import Scenario

Obj = dict[str, Any]


def build(state: State, scenario: Scenario, start: float) -> None:
    state.update(namespaces={}, logs={}, resource_version=random.randint(40_000_000, 49_000_000))


def events(state: State, t: float) -> list[Event]:
    """A pod whose start time has come starts (priority 0: before anything it serves)."""
    found: list[Event] = []
    for ns in state["namespaces"].values():
        for dep in ns["deployments"].values():
            for pod in dep["pods"]:
                if not pod["started"]:
                    found.append((float(pod["ready_at"]), 0, _starter(pod)))
    return found


def _starter(pod: Obj) -> Action:
    def start(t: float) -> None:
        pod["started"] = True
        pod["busy_until"] = t  # when the pod's process began; parts read it as "free from"

    return start


def finish(state: State, now: float) -> None:
    for ns in state["namespaces"].values():
        for dep in ns["deployments"].values():
            k8s.refresh_conditions(dep, now)


def summary(state: State, t: float) -> list[str]:
    lines = ["deployments:"]
    for ns_name, ns in sorted(state["namespaces"].items()):
        for name, dep in sorted(ns["deployments"].items()):
            lines.append(f"  {ns_name}/{name}: {len(k8s.ready_pods(dep, t))}/{dep['replicas']} "
                         "ready")
    return lines
