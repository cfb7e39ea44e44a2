"""Stand-in for ``systemctl start|stop|restart|is-active|show cassandra`` on a Cassandra host."""

from __future__ import annotations

import sys
from pathlib import Path

from runbook.sim import hosts
from runbook.sim.store import transaction
from runbook_cassandra.sim import cluster

_VERBS = ("start", "stop", "restart", "is-active", "show")


def _act(directory: Path, verb: str, unit: str) -> str | int:
    """The unit's state after ``verb`` ("active"/"inactive"), or an exit status."""
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
        if verb in ("stop", "restart"):
            cluster.stop(state, name)
        if verb in ("start", "restart") and not node["running"]:
            cluster.start(state, name, float(state["updated"]))
        return "active" if node["running"] else "inactive"


def run(directory: Path, argv: list[str]) -> int:
    words = [w for w in argv if not w.startswith("--")]
    if len(words) != 2 or words[0] not in _VERBS:
        print("systemctl: this stand-in knows start|stop|restart|is-active|show UNIT",
              file=sys.stderr)
        return 1
    verb = words[0]
    active = _act(directory, verb, words[1].removesuffix(".service"))
    if isinstance(active, int):
        return active
    if verb == "is-active":
        print(active)
        return 0 if active == "active" else 3
    if verb == "show":
        print(f"ActiveState={active}\nSubState={'running' if active == 'active' else 'dead'}")
    return 0
