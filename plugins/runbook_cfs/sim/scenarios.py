"""The CFS scenarios.

Each scenario is a set of knob and CFS option overrides on one common estate
(the CFS deployments, the Kafka pods, the ``cfs-session-events`` topic),
combining the ``kubernetes``, ``kafka`` and ``cfs`` parts. How their world is
built is ``setup.build``.
"""

from __future__ import annotations

from runbook.sim.parts import Scenario

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
