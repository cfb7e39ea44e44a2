"""Topics, consumer groups and their members in the simulated Kafka cluster.

Records live per partition with the offset of the first kept one; committed
offsets live per group. Members are either pods of a deployment that declares
itself a consumer (the CFS operator) or registered processes (a running
console consumer); a member whose process died is dropped, as Kafka does when
its session times out. Partitions are split between members with Kafka's
range assignor, so a console consumer sharing the operator's group only gets
what the operator does not hold.
"""

from __future__ import annotations

from typing import Any

from runbook_kubectl.sim import k8s

from runbook.procs import pid_alive
from runbook.sim.model import State

Obj = dict[str, Any]
RETAIN = 100
"""Records kept below the slowest committed offset (the topic's retention)."""


def topic(state: State, name: str) -> Obj | None:
    found: Obj | None = state["kafka"]["topics"].get(name)
    return found


def new_topic(state: State, name: str, partitions: int) -> Obj:
    created: Obj = {"partitions": [{"start": 0, "records": []} for _ in range(partitions)],
                    "next_partition": 0}
    state["kafka"]["topics"][name] = created
    return created


def end_offset(part: Obj) -> int:
    return int(part["start"]) + len(part["records"])


def produce(state: State, name: str, ts: float, value: str) -> None:
    """Append a record; keyless records go round-robin over the partitions."""
    top = state["kafka"]["topics"][name]
    index = top["next_partition"] % len(top["partitions"])
    top["next_partition"] = index + 1
    top["partitions"][index]["records"].append([ts, value])


def record_at(part: Obj, offset: int) -> tuple[float, str] | None:
    index = offset - int(part["start"])
    if index < 0 or index >= len(part["records"]):
        return None
    ts, value = part["records"][index]
    return float(ts), str(value)


def group(state: State, name: str) -> Obj | None:
    found: Obj | None = state["kafka"]["groups"].get(name)
    return found


def ensure_group(state: State, name: str) -> Obj:
    groups: dict[str, Obj] = state["kafka"]["groups"]
    return groups.setdefault(name, {"offsets": {}, "members": []})


def committed(state: State, group_name: str, topic_name: str) -> list[int | None]:
    """Committed offsets per partition (None: the group never committed one)."""
    top = state["kafka"]["topics"][topic_name]
    grp = group(state, group_name)
    offsets = (grp or {}).get("offsets", {}).get(topic_name)
    if offsets is None:
        return [None] * len(top["partitions"])
    return list(offsets)


def commit(state: State, group_name: str, topic_name: str, partition: int, offset: int) -> None:
    grp = ensure_group(state, group_name)
    top = state["kafka"]["topics"][topic_name]
    offsets = grp["offsets"].setdefault(topic_name, [None] * len(top["partitions"]))
    offsets[partition] = offset


def position(state: State, group_name: str, topic_name: str, partition: int) -> int:
    """Where a member of the group resumes: the commit, else the log start."""
    top = state["kafka"]["topics"][topic_name]
    part = top["partitions"][partition]
    offset = committed(state, group_name, topic_name)[partition]
    return max(int(part["start"]), int(part["start"]) if offset is None else offset)


def members(state: State, group_name: str, topic_name: str, t: float) -> list[Obj]:
    """Active members of a group subscribed to a topic, as describe shows them."""
    found: list[Obj] = []
    for ns in state["namespaces"].values():
        for dep in ns["deployments"].values():
            consumer = dep.get("consumer")
            if not consumer or consumer["group"] != group_name or consumer["topic"] != topic_name:
                continue
            for pod in k8s.ready_pods(dep, t):
                found.append({"id": f"{consumer['client_id']}-{pod['uid']}",
                              "client_id": consumer["client_id"], "host": pod["ip"],
                              "pod": pod["name"]})
    grp = group(state, group_name) or {}
    found.extend(m for m in grp.get("members", []) if m["topic"] == topic_name)
    return found


def assignment(state: State, group_name: str, topic_name: str, t: float) -> dict[str, list[int]]:
    """Kafka's range assignor: members sorted by id, contiguous partition ranges."""
    ids = sorted(m["id"] for m in members(state, group_name, topic_name, t))
    count = len(state["kafka"]["topics"][topic_name]["partitions"])
    result: dict[str, list[int]] = {}
    start = 0
    for index, member_id in enumerate(ids):
        size = count // len(ids) + (1 if index < count % len(ids) else 0)
        result[member_id] = list(range(start, start + size))
        start += size
    return result


def register(state: State, group_name: str, member: Obj) -> None:
    ensure_group(state, group_name)["members"].append(member)


def leaving(state: State, group_name: str, member: Obj, until: float) -> None:
    """A pod that stopped stays a member until its session times out."""
    register(state, group_name, {**member, "until": until})


def unregister(state: State, group_name: str, member_id: str) -> None:
    grp = group(state, group_name)
    if grp is not None:
        grp["members"] = [m for m in grp["members"] if m["id"] != member_id]


def reap(state: State, now: float) -> None:
    """Drop members whose process is gone (Kafka's session timeout, made instant) and
    members of stopped pods whose session timeout (``until``) has passed.

    A console consumer's throw-away group (no ``--group``) goes with its last member.
    """
    groups: dict[str, Obj] = state["kafka"]["groups"]
    for name, grp in list(groups.items()):
        grp["members"] = [m for m in grp["members"]
                          if (float(m["until"]) > now if "until" in m
                              else pid_alive(int(m["pid"])))]
        if grp.get("ephemeral") and not grp["members"]:
            del groups[name]


def trim(state: State) -> None:
    """Apply retention: drop records every group has long consumed."""
    for name, top in state["kafka"]["topics"].items():
        for index, part in enumerate(top["partitions"]):
            floor = end_offset(part)
            for grp in state["kafka"]["groups"].values():
                offsets = grp["offsets"].get(name)
                if offsets is not None and offsets[index] is not None:
                    floor = min(floor, offsets[index])
            drop = floor - RETAIN - int(part["start"])
            if drop > 0:
                del part["records"][:drop]
                part["start"] = int(part["start"]) + drop
