"""How the session store evolves: hosts boot, nodes rejoin, broken Kask pods log errors.

The world module of the ``cassandra`` part. It owns the state key
``cassandra`` and adds the Kask deployments through the kubernetes part.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from runbook_kubectl.sim import k8s

from runbook.sim.model import Action, Event, State, dur, new_uuid
from runbook_cassandra.sim import cluster

if TYPE_CHECKING:
    from runbook.sim.parts import Scenario


def build(state: State, scenario: Scenario, start: float) -> None:
    nodes = {}
    for host in scenario.hosts:
        dc = "eqiad" if host.name.startswith("sessionstore1") else "codfw"
        rack = f"rack{host.name[-1]}"
        nodes[host.name] = cluster.new_node(dc, host.address, rack,
                                            start - random.uniform(5, 60) * 86400)
    state["cassandra"] = {"cluster": "sessionstore", "schema": new_uuid(), "nodes": nodes,
                          "pooled": {"eqiad": True, "codfw": True}, "broken": {},
                          "next_error": start}
    for dc in ("eqiad", "codfw"):
        k8s.new_deployment(state, cluster.NAMESPACE, cluster.kask(dc),
                           image="docker-registry.wikimedia.org/wikimedia/mediawiki-services-"
                                 "kask:2023-01-10", replicas=int(state["knobs"]["kask_replicas"]),
                           created=start - 3600, extra={"pod_logs": True})
    rejoined = scenario.settings.get("rejoined")
    if rejoined:
        cluster.break_pods(state, str(rejoined), start)


def events(state: State, t: float) -> list[Event]:
    found: list[Event] = []
    for name, node in cluster.nodes(state).items():
        if node["down_until"] is not None and node["down_until"] >= 0:
            found.append((float(node["down_until"]), 1, _boot(state, name)))
        if node["normal_at"] is not None:
            found.append((float(node["normal_at"]), 2, _normal(state, name)))
    if cluster.cass(state)["broken"]:
        found.append((max(float(cluster.cass(state)["next_error"]), t), 3, _errors(state)))
    return found


def _boot(state: State, name: str) -> Action:
    def boot(t: float) -> None:
        node = cluster.nodes(state)[name]
        node.update(down_until=None, booted=t)
        cluster.start(state, name, t)

    return boot


def _normal(state: State, name: str) -> Action:
    def normal(t: float) -> None:
        cluster.nodes(state)[name].update(state="N", normal_at=None)
        cluster.break_pods(state, name, t)

    return normal


def _errors(state: State) -> Action:
    def errors(t: float) -> None:
        cluster.log_errors(state, t)
        cluster.cass(state)["next_error"] = t + dur(state, "kask_error_interval")

    return errors


def fault_changed(state: State, name: str, on: bool, t: float) -> None:
    """Switching a fault off lets a stuck host boot, or a stuck joiner finish joining."""
    for node in cluster.nodes(state).values():
        if name == "node_stays_down" and not on and node["down_until"] == -1.0:
            node["down_until"] = t
        if name == "node_rejoins_joining" and not on and node["running"] and \
                node["state"] == "J" and node["normal_at"] is None:
            node["normal_at"] = t


def summary(state: State, t: float) -> list[str]:
    lines = ["cassandra:"]
    for name, node in sorted(cluster.nodes(state).items()):
        lines.append(f"  {name} {node['address']} {node['dc']}: {cluster.code(node)}"
                     + ("" if node["binary"] else " (native transport off)")
                     + ("" if cluster.answering(node) else " (host down)"))
    pooled = cluster.cass(state)["pooled"]
    lines.append("pooled: " + ", ".join(f"{dc} {'yes' if p else 'no'}"
                                        for dc, p in sorted(pooled.items())))
    broken = cluster.cass(state)["broken"]
    lines.append(f"kask pods logging LOCAL_QUORUM errors: {len(broken)}")
    return lines
