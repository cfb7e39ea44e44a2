"""The ``smf`` part: SMF on one SmartOS node (services, their states and logs)."""

from __future__ import annotations

from runbook.sim.parts import Part

PART = Part(
    name="smf",
    world="runbook_svcs.sim.world",
    tools={"svcs": "runbook_svcs.sim.svcs", "svcadm": "runbook_svcs.sim.svcadm",
           "tail": "runbook_svcs.sim.tail"},
    knobs={
        "smf_start_seconds": 0.4,   # a start method runs this long before it exits
        "smf_fail_window": 10.0,    # three start failures within this: maintenance
    },
)
