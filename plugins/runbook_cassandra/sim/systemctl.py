"""Stand-in for ``systemctl start|stop|restart|is-active|show cassandra`` on a Cassandra host."""

from __future__ import annotations

import sys
from pathlib import Path

from runbook.sim import hosts
from runbook.sim.store import transaction
from runbook_cassandra.sim import cluster

_VERBS = ("start", "stop", "restart", "is-active", "show")


def run(directory: Path, argv: list[str]) -> int:
    words = [w for w in argv if not w.startswith("--")]
    if len(words) != 2 or words[0] not in _VERBS:
        print("systemctl: this stand-in knows start|stop|restart|is-active|show UNIT",
              file=sys.stderr)
        return 1
    verb, unit = words[0], words[1].removesuffix(".service")
    with transaction(directory) as state:
        refused = cluster.refuse_if_down(state)
        if refused is not None:
            return refused
        name = hosts.current(state)
        if unit != "cassandra" or name not in cluster.nodes(state):
            if verb == "is-active":
                print("inactive")
                return 3
            print(f"Failed to {verb} {unit}.service: Unit {unit}.service not found.",
                  file=sys.stderr)
            return 5
        node = cluster.nodes(state)[name]
        t = float(state["updated"])
        if verb in ("stop", "restart"):
            cluster.stop(state, name)
        if verb in ("start", "restart") and not node["running"]:
            cluster.start(state, name, t)
        active = "active" if node["running"] else "inactive"
    if verb == "is-active":
        print(active)
        return 0 if active == "active" else 3
    if verb == "show":
        print(f"ActiveState={active}\nSubState={'running' if active == 'active' else 'dead'}")
    return 0
