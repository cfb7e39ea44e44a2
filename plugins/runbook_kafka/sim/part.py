"""The ``kafka`` part of the simulated estate: Kafka's scripts and the cluster they talk to."""

from __future__ import annotations

from runbook.sim.parts import Part

PART = Part(
    name="kafka",
    world="runbook_kafka.sim.world",
    tools={"kafka-consumer-groups.sh": "runbook_kafka.sim.kafka_groups",
           "kafka-console-consumer.sh": "runbook_kafka.sim.kafka_console"},
    requires=("kubernetes",),  # brokers run in pods; consumers can be a deployment's pods
    knobs={
        "drain_seconds": 0.02,  # console consumer pace, per record
        "poll_seconds": 0.1,    # console consumer idle poll (wall seconds, not scaled)
    },
)
