"""The ``kubernetes`` part of the simulated estate: the ``kubectl`` stand-in and its cluster."""

from __future__ import annotations

from runbook.sim.parts import Part

PART = Part(
    name="kubernetes",
    world="runbook_kubectl.sim.world",
    tools={"kubectl": "runbook_kubectl.sim.kubectl"},
    knobs={"pod_start_seconds": 0.5},  # a new pod becomes ready after this
)
