"""Stand-in for ``nc -z [-w N] HOST PORT`` from a simulated Cassandra host: 9042 (CQL) accepts
when Cassandra runs with its native transport on; 7000/7199 when it runs; 22 when it answers."""

from __future__ import annotations

import sys
from pathlib import Path

from runbook.sim import hosts
from runbook.sim.store import transaction
from runbook_cassandra.sim import cluster


def run(directory: Path, argv: list[str]) -> int:
    words = list(argv)
    if "-w" in words:
        del words[words.index("-w"):words.index("-w") + 2]
    if "-z" not in words or len([w for w in words if w != "-z"]) != 2:
        print("usage: nc -z [-w timeout] host port", file=sys.stderr)
        return 1
    host, port = [w for w in words if w != "-z"]
    with transaction(directory) as state:
        refused = cluster.refuse_if_down(state)
        if refused is not None:
            return refused
        name = cluster.find_node(state, host) or (
            hosts.current(state) if host in ("localhost", "127.0.0.1") else None)
        node = cluster.nodes(state).get(name or "")
    if node is None or not cluster.answering(node):
        return 1
    open_ports = {"22"} | ({"7000", "7199"} if node["running"] else set()) | \
        ({str(cluster.CQL_PORT)} if node["running"] and node["binary"] else set())
    return 0 if port in open_ports else 1
