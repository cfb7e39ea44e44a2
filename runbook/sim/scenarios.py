"""The scenarios a sandbox can start from, and how their world is built.

A scenario is a set of knob and CFS option overrides on one common estate
(the CFS deployments, the Kafka pods, the ``cfs-session-events`` topic). The
incident is not scripted: the world is built ``warmup_seconds`` in the past
with the scenario's backlog and replayed up to now by the same evolution
code that runs afterwards, so logs, sessions and lag are what that code
produces.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from runbook.sim import cfs, k8s, kafka
from runbook.sim.model import State, new_uuid
from runbook.sim.world import advance

DEFAULT_KNOBS: dict[str, float] = {
    "time_scale": 1.0,             # world speed: every duration below is divided by it
    "cfs_seconds": 1 / 720,        # simulated seconds per second of a CFS timeout or back-off
    "batches": 8,                  # sessions the batcher keeps going at once
    "batch_components": 4,         # nodes per batch (the session's ansible limit)
    "batcher_interval": 5.0,       # pause after a session completes before the next one
    "session_runtime": 3.0,        # a running session completes after this
    "operator_event_seconds": 0.05,  # operator handling a CREATE for a live session
    "operator_stale_seconds": 0.15,  # operator handling a CREATE that ends in a 404
    "pod_start_seconds": 0.5,      # a new pod becomes ready after this
    "drain_seconds": 0.02,         # console consumer pace, per record
    "poll_seconds": 0.1,           # console consumer idle poll (wall seconds, not scaled)
    "never_quiet_interval": 0.5,   # fault consumer_never_quiet: one session every ...
    "partitions": 2,               # partitions of cfs-session-events
    "backlog": 0,                  # stale events queued when the scenario starts
    "warmup_seconds": 30.0,        # history replayed before "now" at creation
    "max_catchup": 600.0,          # longest unobserved stretch replayed (wall seconds)
}
"""Knob -> default. Scenarios override some; ``init_sandbox(knobs=...)`` overrides any."""

FAULTS: dict[str, str] = {
    "consumer_never_quiet": "a session event arrives every never_quiet_interval seconds, "
                            "so a console consumer never goes silent",
}


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    knobs: Mapping[str, float] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)


SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    Scenario(
        "cfs-stuck-sessions",
        "CFS sessions stuck in pending: ~40 events behind on cfs-session-events, the operator "
        "at 1 replica cannot catch up (each stale event ends in a 404) and the batcher keeps "
        "deleting stuck sessions; batcher_max_backoff is already 3600, so purge the queue.",
        knobs={"backlog": 40, "batches": 16, "operator_stale_seconds": 0.4},
    ),
    Scenario(
        "cfs-backoff-changed",
        "Same symptoms, caused by batcher_max_backoff lowered to 120: the batcher retries too "
        "fast for the operator. Setting it back to 3600 lets the operator drain the lag by "
        "itself within seconds.",
        knobs={"backlog": 20, "warmup_seconds": 10.0},
        options={"batcher_max_backoff": 120},
    ),
    Scenario(
        "cfs-healthy",
        "A healthy CFS: sessions are picked up at once, run and complete; no lag, no 404s.",
    ),
)}


def list_scenarios() -> list[tuple[str, str]]:
    """(name, description) of every scenario, by name."""
    return [(s.name, s.description) for s in sorted(SCENARIOS.values(), key=lambda s: s.name)]


def build(name: str, now: float, knobs: Mapping[str, float] | None = None) -> State:
    """A fresh world for scenario ``name``, evolved up to ``now``."""
    if name not in SCENARIOS:
        raise ValueError(f"unknown scenario {name!r}; choose from: {', '.join(sorted(SCENARIOS))}")
    unknown = set(knobs or {}) - set(DEFAULT_KNOBS)
    if unknown:
        raise ValueError(f"unknown knob(s): {', '.join(sorted(unknown))}")
    scenario = SCENARIOS[name]
    merged = {**DEFAULT_KNOBS, **scenario.knobs, **(knobs or {})}
    start = now - merged["warmup_seconds"] / merged["time_scale"]
    state: State = {
        "version": 1, "scenario": name, "created": now, "updated": start,
        "knobs": merged, "faults": dict.fromkeys(FAULTS, False), "fault_next": start,
        "options": {**cfs.DEFAULT_OPTIONS, **scenario.options},
        "namespaces": {}, "logs": {}, "resource_version": random.randint(40_000_000, 49_000_000),
        "kafka": {"topics": {}, "groups": {}},
        "cfs": {"sessions": {}, "batches": [], "configuration": "management-23.7.0"},
    }
    _cluster(state, start)
    _queue(state, start, int(merged["backlog"]), int(merged["partitions"]))
    advance(state, now)
    return state


def _cluster(state: State, start: float) -> None:
    installed = start - 41 * 86400
    registry = "registry.lab.internal/csm"
    k8s.new_deployment(state, cfs.NAMESPACE, cfs.API, image=f"{registry}/cray-cfs-api:1.19.3",
                       replicas=1, created=installed)
    k8s.new_deployment(state, cfs.NAMESPACE, cfs.BATCHER,
                       image=f"{registry}/cray-cfs-batcher:1.19.3", replicas=1, created=installed)
    k8s.new_deployment(state, cfs.NAMESPACE, cfs.OPERATOR,
                       image=f"{registry}/cray-cfs-operator:1.19.3", replicas=1, created=installed,
                       extra={"consumer": {"group": cfs.GROUP, "topic": cfs.TOPIC,
                                           "client_id": "kafka-python-2.0.2"}})
    kafka_image = "registry.lab.internal/strimzi/kafka:0.27.1-kafka-2.8.1"
    for index in range(3):
        k8s.new_pod(state, cfs.NAMESPACE, f"cray-shared-kafka-kafka-{index}",
                    labels={"app.kubernetes.io/name": "kafka",
                            "strimzi.io/cluster": "cray-shared-kafka",
                            "strimzi.io/name": "cray-shared-kafka-kafka"},
                    containers=[("kafka", kafka_image)],
                    owner=("StatefulSet", "cray-shared-kafka-kafka"), created=installed)


def _queue(state: State, start: float, backlog: int, partitions: int) -> None:
    """The topic with a consumed history and ``backlog`` events whose sessions are gone."""
    topic = kafka.new_topic(state, cfs.TOPIC, partitions)
    for index, part in enumerate(topic["partitions"]):
        part["start"] = random.randint(3000, 9000)
        kafka.commit(state, cfs.GROUP, cfs.TOPIC, index, int(part["start"]))
    for index in range(backlog):
        name = f"batcher-{new_uuid()}"
        event = cfs.session_event(name, state["cfs"]["configuration"], "x3000c0s1b0n0")
        kafka.produce(state, cfs.TOPIC, start - (backlog - index) * 2.0, event)
