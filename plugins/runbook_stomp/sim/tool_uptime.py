"""Stand-in for ``uptime -s`` on a publisher host (the boot time ``host.reboot`` polls for)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from runbook.sim import hosts
from runbook.sim.store import transaction


def run(directory: Path, argv: list[str]) -> int:
    if argv != ["-s"]:
        print("uptime: this stand-in knows only -s", file=sys.stderr)
        return 1
    with transaction(directory) as state:
        h = state.get("publisher", {}).get("hosts", {}).get(hosts.current(state) or "")
    if h is None:
        print("uptime: not on a simulated publisher host", file=sys.stderr)
        return 1
    print(time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(h["booted"]))))
    return 0
