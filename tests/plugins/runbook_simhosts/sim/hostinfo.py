"""Stand-in ``hostinfo``: prints the host it runs on, its address and role; ``bump`` counts.

``hostinfo`` -> ``db1 127.0.1.11 primary`` (the role is the host's own
``/etc/role``); ``hostinfo bump`` -> how many times this host was bumped.
Without a host it prints ``no host`` and exits 1.
"""

from __future__ import annotations

import sys
from pathlib import Path

from runbook.sim import hosts
from runbook.sim.store import transaction


def run(directory: Path, argv: list[str]) -> int:
    if argv not in ([], ["bump"]):
        print(f"hostinfo: unknown arguments {argv}", file=sys.stderr)
        return 2
    with transaction(directory) as state:
        if state["faults"]["hostinfo_broken"]:
            print("hostinfo: broken", file=sys.stderr)
            return 3
        host = hosts.current(state)
        if host is None:
            print("no host")
            return 1
        if argv == ["bump"]:
            state["hostinfo"]["calls"][host] += 1
            print(state["hostinfo"]["calls"][host])
            return 0
    role = hosts.host_path(directory, host, "/etc/role").read_text().strip()
    print(f"{host} {hosts.hosts(state)[host]['address']} {role}")
    return 0
