"""The ``puptoo`` part: a consumer that stopped committing, its producer and downstream.

Scenarios ``kafka-commits-stalled``, ``kafka-lagging``, ``kafka-healthy``;
fault ``reset_fails_midway`` (read by the ``kafka-consumer-groups.sh``
stand-in: ``--execute`` commits some partitions, then dies).
"""

from __future__ import annotations

from runbook.sim.parts import Fault, Part, Scenario

PARTS = ("kubernetes", "kafka", "puptoo")
RESET_FAILS = "reset_fails_midway"

PART = Part(
    name="puptoo",
    world="runbook_kafka.sim.puptoo",
    requires=("kubernetes", "kafka"),
    knobs={
        "produce_interval": 0.25,  # one upload every ... (round-robin over 4 partitions)
        "process_seconds": 0.01,   # a pod's time per record
        "poll_batch": 5,           # records per partition per poll
        "replicas": 2,             # puptoo pods
        "crash_every": 0.0,        # a broken consumer's pods crash every ... (0: never)
        "restart_seconds": 1.0,    # a crashed pod rejoins after ...
        "leave_seconds": 1.0,      # a stopped pod stays a group member (session timeout)
    },
    faults=(Fault(RESET_FAILS, "the first kafka-consumer-groups.sh --reset-offsets --execute "
                               "commits half of the partitions, then fails"),),
    scenarios=(
        Scenario("kafka-commits-stalled",
                 "puptoo runs a client library (image tag 2.4.0) that never commits: every "
                 "poll re-serves the same records, downstream gets each upload again and "
                 "again, pods crash and the group rebalances, lag grows. The fix: stop the "
                 "consumer, reset the group's offsets, roll out tag 2.3.1.",
                 PARTS, knobs={"crash_every": 4.0, "process_seconds": 0.05},
                 settings={"puptoo": {"tag": "2.4.0"}}),
        Scenario("kafka-lagging",
                 "puptoo commits, but more slowly than uploads arrive: the lag grows while "
                 "commits advance (Burrow's WARN, not an error).",
                 PARTS, knobs={"process_seconds": 0.8, "poll_batch": 1}),
        Scenario("kafka-healthy", "puptoo keeps up with the uploads and commits.", PARTS),
    ),
)
