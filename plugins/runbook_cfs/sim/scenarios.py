"""The CFS scenarios, and how the CFS part of their world is built.

Each scenario is a set of knob and CFS option overrides on one common estate
(the CFS deployments, the Kafka pods, the ``cfs-session-events`` topic),
combining the ``kubernetes``, ``kafka`` and ``cfs`` parts. The incident is
not scripted: the world is built ``warmup_seconds`` in the past with the
scenario's backlog and replayed up to now by the same evolution code that
runs afterwards, so logs, sessions and lag are what that code produces.
"""

from __future__ import annotations

import random

from runbook_kafka.sim import kafka
from runbook_kubectl.sim import k8s

from runbook.sim.model import State, new_uuid
from runbook.sim.parts import Scenario
from runbook_cfs.sim import cfs

PARTS = ("kubernetes", "kafka", "cfs")

SCENARIOS = (
    Scenario(
        "cfs-stuck-sessions",
        "CFS sessions stuck in pending: ~40 events behind on cfs-session-events, the operator "
        "at 1 replica cannot catch up (each stale event ends in a 404) and the batcher keeps "
        "deleting stuck sessions; batcher_max_backoff is already 3600, so purge the queue.",
        PARTS,
        knobs={"backlog": 40, "batches": 16, "operator_stale_seconds": 0.4},
    ),
    Scenario(
        "cfs-backoff-changed",
        "Same symptoms, caused by batcher_max_backoff lowered to 120: the batcher retries too "
        "fast for the operator. Setting it back to 3600 lets the operator drain the lag by "
        "itself within seconds.",
        PARTS,
        knobs={"backlog": 20, "warmup_seconds": 10.0},
        settings={"options": {"batcher_max_backoff": 120}},
    ),
    Scenario(
        "cfs-healthy",
        "A healthy CFS: sessions are picked up at once, run and complete; no lag, no 404s.",
        PARTS,
    ),
)


def build(state: State, scenario: Scenario, start: float) -> None:
    """The CFS services on the cluster, their options and their event queue."""
    state["options"] = {**cfs.DEFAULT_OPTIONS, **scenario.settings.get("options", {})}
    state["cfs"] = {"sessions": {}, "batches": [], "configuration": "management-23.7.0",
                    "fault_next": start}
    _cluster(state, start)
    _queue(state, start, int(state["knobs"]["backlog"]), int(state["knobs"]["partitions"]))


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
