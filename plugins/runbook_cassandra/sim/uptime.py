"""Stand-in for ``uptime`` and ``uptime -s`` on a simulated Cassandra host."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from runbook.sim import hosts
from runbook.sim.store import transaction
from runbook_cassandra.sim import cluster


def run(directory: Path, argv: list[str]) -> int:
    with transaction(directory) as state:
        refused = cluster.refuse_if_down(state)
        if refused is not None:
            return refused
        node = cluster.nodes(state).get(hosts.current(state) or "")
        t = float(state["updated"])
    if node is None:
        print("uptime: not on a simulated Cassandra host", file=sys.stderr)
        return 1
    booted = float(node["booted"])
    if argv == ["-s"]:
        print(time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(booted)))
        return 0
    minutes = int(t - booted) // 60
    days, rest = divmod(minutes, 1440)
    span = (f"{days} days, " if days else "") + f"{rest // 60:2d}:{rest % 60:02d}"
    print(f" {time.strftime('%H:%M:%S', time.localtime(t))} up {span},  1 user,  "
          "load average: 0.42, 0.37, 0.35")
    return 0
