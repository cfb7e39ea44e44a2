"""Building the CFS part of a world: the services on the cluster, options, the event queue.

The incident is not scripted: the world is built ``warmup_seconds`` in the
past with the scenario's backlog and replayed up to now by the same
evolution code that runs afterwards, so logs, sessions and lag are what that
code produces. (Kept apart from ``scenarios`` so that stand-ins, which load
the world module on every call, do not build the scenario catalogue.)
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from runbook_kafka.sim import kafka
from runbook_kubectl.sim import k8s

from runbook.sim.model import State, new_uuid
from runbook_cfs.sim import cfs

if TYPE_CHECKING:
    from runbook.sim.parts import Scenario


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
