"""The Cassandra cluster, the Kask pods and the discovery pool, as state the stand-ins share.

One node per simulated host. A node's code in ``nodetool status`` is
derived from what the host is doing (running, drained, rebooting, joining),
so it can never disagree with them. Stdlib only.
"""

from __future__ import annotations

import json
import random
import sys
from typing import Any

from runbook_kubectl.sim import k8s

from runbook.sim import hosts
from runbook.sim.model import State, dur, new_uuid, rfc3339

Obj = dict[str, Any]
NAMESPACE = "sessionstore"
KEYSPACE = "sessionstore"
TABLES = ("values",)
CQL_PORT = 9042
LOG_MESSAGES = ("Error writing to storage (Cannot achieve consistency level LOCAL_QUORUM)",
                "Error reading from storage (Cannot achieve consistency level LOCAL_QUORUM)")


def kask(dc: str) -> str:
    """The Kask deployment serving datacenter ``dc``."""
    return f"kask-{dc}"


def cass(state: State) -> Obj:
    found: Obj = state["cassandra"]
    return found


def nodes(state: State) -> dict[str, Obj]:
    found: dict[str, Obj] = cass(state)["nodes"]
    return found


def dc_nodes(state: State, dc: str) -> list[str]:
    return sorted(name for name, n in nodes(state).items() if n["dc"] == dc)


def code(node: Obj) -> str:
    """``UN``, ``UJ`` or ``DN`` as the other nodes see this one."""
    if not (node["running"] and node["gossip"]) or node["down_until"] is not None:
        return "DN"
    return "U" + str(node["state"])


def answering(node: Obj) -> bool:
    """The host answers (it is not in the middle of a reboot, or stuck down)."""
    return node["down_until"] is None


def find_node(state: State, name_or_address: str) -> str | None:
    if name_or_address in ("localhost", "127.0.0.1"):
        return None
    found = hosts.find(state, name_or_address)
    return found if found in nodes(state) else None


def refuse_if_down(state: State) -> int | None:
    """A stand-in on a host that is rebooting fails as ssh would (exit 255)."""
    host = hosts.current(state)
    node = nodes(state).get(host or "")
    if node is not None and not answering(node):
        print(f"ssh: connect to host {node['address']} port 22: Connection refused",
              file=sys.stderr)
        return 255
    return None


def coordinator(state: State, dc: str, index: int) -> str:
    """The Cassandra host the ``index``-th Kask pod of ``dc`` uses as coordinator."""
    names = dc_nodes(state, dc)
    return names[index % len(names)]


def pods(state: State, dc: str) -> list[Obj]:
    dep = k8s.get_deployment(state, NAMESPACE, kask(dc))
    return [] if dep is None else list(dep["pods"])


def break_pods(state: State, node_name: str, t: float) -> None:
    """The incident: pods that coordinate through a node that just rejoined start failing."""
    dc = nodes(state)[node_name]["dc"]
    broken = cass(state)["broken"]
    for index, pod in enumerate(pods(state, dc)):
        if pod["ready_at"] <= t and coordinator(state, dc, index) == node_name:
            broken[pod["name"]] = node_name


def log_errors(state: State, t: float) -> None:
    """Each broken Kask pod still running logs a failed write and a failed read."""
    live = {pod["name"]: dc for dc in cass(state)["pooled"] for pod in pods(state, dc)}
    broken = cass(state)["broken"]
    for name in list(broken):
        if name not in live:
            del broken[name]
            continue
        for msg in LOG_MESSAGES:
            line = json.dumps({"msg": msg, "appname": "sessionstore", "time": rfc3339(t),
                               "level": "ERROR", "request_id": new_uuid()},
                              separators=(",", ":"))
            k8s.append_log(state, f"{NAMESPACE}/pod/{name}", t, line)
            k8s.append_log(state, f"{NAMESPACE}/{kask(live[name])}", t, line)


def reboot(state: State, name: str, t: float) -> None:
    """The host goes down at once and boots after ``reboot_seconds`` (or never)."""
    node = nodes(state)[name]
    node.update(running=False, gossip=False, binary=False, normal_at=None)
    node["down_until"] = -1.0 if state["faults"].get("node_stays_down") else \
        t + dur(state, "reboot_seconds")


def start(state: State, name: str, t: float) -> None:
    """Cassandra starts: it joins (``UJ``) and becomes ``UN`` after ``rejoin_seconds``."""
    node = nodes(state)[name]
    node.update(running=True, gossip=True, binary=True, state="J")
    node["normal_at"] = None if state["faults"].get("node_rejoins_joining") else \
        t + dur(state, "rejoin_seconds")


def stop(state: State, name: str) -> None:
    nodes(state)[name].update(running=False, gossip=False, binary=False, normal_at=None)


def new_node(dc: str, address: str, rack: str, booted: float) -> Obj:
    return {"dc": dc, "address": address, "rack": rack, "host_id": new_uuid(),
            "load": round(random.uniform(700, 1100), 2), "running": True, "gossip": True,
            "binary": True, "state": "N", "booted": booted, "down_until": None,
            "normal_at": None}
