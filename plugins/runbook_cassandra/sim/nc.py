"""Stand-in for ``nc -z [-w N] HOST PORT`` from a simulated Cassandra host: 9042 (CQL) accepts
when Cassandra runs with its native transport on; 7000/7199 when it runs; 22 when it answers."""

from __future__ import annotations

import sys
from pathlib import Path

from runbook.sim import hosts
from runbook.sim.store import transaction
from runbook_cassandra.sim import cluster


def _target(argv: list[str]) -> tuple[str, str] | None:
    """(host, port) of ``nc -z [-w N] HOST PORT``, None when the arguments are not that."""
    words = list(argv)
    if "-w" in words:
        del words[words.index("-w"):words.index("-w") + 2]
    rest = [w for w in words if w != "-z"]
    return (rest[0], rest[1]) if "-z" in words and len(rest) == 2 else None


def run(directory: Path, argv: list[str]) -> int:
    target = _target(argv)
    if target is None:
        print("usage: nc -z [-w timeout] host port", file=sys.stderr)
        return 1
    host, port = target
    with transaction(directory) as state:
        refused = cluster.refuse_if_down(state)
        if refused is not None:
            return refused
        local = hosts.current(state) if host in ("localhost", "127.0.0.1") else None
        node = cluster.nodes(state).get(cluster.find_node(state, host) or local or "")
    if node is None or not cluster.answering(node):
        return 1
    open_ports = {"22"}
    if node["running"]:
        open_ports |= {"7000", "7199"} | ({str(cluster.CQL_PORT)} if node["binary"] else set())
    return 0 if port in open_ports else 1
