"""The ``cfs`` part of the simulated estate: the ``cray`` CLI and the CFS services."""

from __future__ import annotations

from runbook.sim.parts import Fault, Part
from runbook_cfs.sim.scenarios import SCENARIOS

PART = Part(
    name="cfs",
    world="runbook_cfs.sim.world",
    tools={"cray": "runbook_cfs.sim.cray"},
    requires=("kubernetes", "kafka"),
    knobs={
        "cfs_seconds": 1 / 720,        # simulated seconds per second of a CFS timeout or back-off
        "batches": 8,                  # sessions the batcher keeps going at once
        "batch_components": 4,         # nodes per batch (the session's ansible limit)
        "batcher_interval": 5.0,       # pause after a session completes before the next one
        "session_runtime": 3.0,        # a running session completes after this
        "operator_event_seconds": 0.05,  # operator handling a CREATE for a live session
        "operator_stale_seconds": 0.15,  # operator handling a CREATE that ends in a 404
        "never_quiet_interval": 0.5,   # fault consumer_never_quiet: one session every ...
        "partitions": 2,               # partitions of cfs-session-events
        "backlog": 0,                  # stale events queued when the scenario starts
    },
    faults=(Fault("consumer_never_quiet",
                  "a session event arrives every never_quiet_interval seconds, so a console "
                  "consumer never goes silent"),),
    scenarios=SCENARIOS,
)
