"""The ``lighthouse`` part: the ``lampctl`` stand-in, a fault and a scenario."""

from __future__ import annotations

from runbook.sim.parts import Fault, Part, Scenario

PART = Part(
    name="lighthouse",
    world="runbook_lighthouse.sim.world",
    tools={"lampctl": "runbook_lighthouse.sim.lampctl"},
    faults=(Fault("bulb_broken", "lampctl switch on fails: the bulb is broken"),),
    scenarios=(Scenario(
        "lighthouse-dark",
        "The north tower's lamp went out; the south tower's is on.",
        ("lighthouse",),
        settings={"lamps": {"north": "off", "south": "on"}},
    ),),
)
