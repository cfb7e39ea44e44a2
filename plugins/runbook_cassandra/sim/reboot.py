"""Stand-in for ``reboot`` on a simulated Cassandra host: down now, back after reboot_seconds."""

from __future__ import annotations

import sys
from pathlib import Path

from runbook.sim import hosts
from runbook.sim.store import transaction
from runbook_cassandra.sim import cluster


def run(directory: Path, argv: list[str]) -> int:
    with transaction(directory) as state:
        refused = cluster.refuse_if_down(state)
        if refused is not None:
            return refused
        name = hosts.current(state)
        if name not in cluster.nodes(state):
            print("reboot: not on a simulated Cassandra host; refusing to reboot this machine",
                  file=sys.stderr)
            return 1
        cluster.reboot(state, str(name), float(state["updated"]))
    return 0
