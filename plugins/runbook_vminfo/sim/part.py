"""The ``vminfod`` part: vminfod on a SmartOS node, its clients, and the vminfod-* scenarios."""

from __future__ import annotations

from runbook.sim.parts import Fault, Part
from runbook_vminfo.sim.scenarios import SCENARIOS

PART = Part(
    name="vminfod",
    world="runbook_vminfo.sim.world",
    tools={"vminfo": "runbook_vminfo.sim.vminfo", "vmadm": "runbook_vminfo.sim.vmadm"},
    requires=("smf",),
    knobs={
        "vminfod_refresh_seconds": 300.0,  # vminfod forces a full refresh this often
        "vminfod_race_seconds": 1.0,       # a new VM reaches vminfod this long after vmadm
    },
    faults=(Fault("vminfod_bad_config",
                  "vminfod's configuration does not parse: its start method fails (switch it "
                  "off to fix the cause, then svcadm clear vminfod)"),
            Fault("vminfo_newer_platform",
                  "vminfo status -j as a newer platform might print it: numVms renamed to "
                  "vmCount, an unknown queueStats field"),
            Fault("vminfo_no_json", "an older vminfo without status -j (usage error, exit 1)")),
    scenarios=SCENARIOS,
)
