"""Stand-in for SmartOS ``vmadm lookup``: the UUIDs of the VMs on the node, one per line.

In the out-of-sync scenario the first lookup coincides with a VM being
created: vmadm lists it at once, vminfod a moment later (the race the guide
warns about).
"""

from __future__ import annotations

import sys
from pathlib import Path

from runbook_svcs.sim import files

from runbook.sim.store import transaction
from runbook_vminfo.sim import daemon


def run(directory: Path, argv: list[str]) -> int:
    if argv != ["lookup"]:
        print("vmadm: only 'vmadm lookup' is simulated", file=sys.stderr)
        return 2
    with transaction(directory) as state:
        d = daemon.daemon(state)
        if d["race_armed"]:
            d["race_armed"] = False
            daemon.new_vm(state, float(state["updated"]))
        uuids = sorted(d["vms"])
        files.sync(directory, state)
    sys.stdout.write("".join(f"{u}\n" for u in uuids))
    return 0
