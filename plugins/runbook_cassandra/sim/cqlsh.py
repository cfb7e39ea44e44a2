"""Stand-in for ``cqlsh HOST -e "CONSISTENCY LEVEL; INSERT ...; SELECT ..."`` (that subset).

LOCAL_QUORUM needs two of the coordinator's datacenter's three nodes ``UN``;
a coordinator whose native transport is off refuses the connection.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from runbook.sim.store import transaction
from runbook_cassandra.sim import cluster

_NEEDED = {"LOCAL_QUORUM": 2, "QUORUM": 4, "EACH_QUORUM": 2, "ONE": 1, "LOCAL_ONE": 1, "ALL": 6}


def _refused(address: str) -> int:
    print(f"Connection error: ('Unable to connect to any servers', {{'{address}:9042': "
          f"ConnectionRefusedError(111, \"Tried connecting to [('{address}', 9042)]. "
          "Last error: Connection refused\")})", file=sys.stderr)
    return 1


def _missing_keyspace(statements: str) -> str | None:
    for keyspace in re.findall(r"(?:INTO|FROM)\s+(\w+)\.\w+", statements, re.I):
        if keyspace != cluster.KEYSPACE:
            return str(keyspace)
    return None


def _alive(directory: Path, host: str, statements: str) -> int:
    """How many nodes of the coordinator's datacenter are UN; negative: an exit status."""
    with transaction(directory) as state:
        refused = cluster.refuse_if_down(state)
        if refused is not None:
            return -refused
        node = cluster.nodes(state).get(cluster.find_node(state, host) or "")
        serving = node is not None and node["binary"] and node["running"] and \
            cluster.answering(node)
        if node is None or not serving:
            return -_refused(node["address"] if node else host)
        missing = _missing_keyspace(statements)
        if missing is not None:
            print(f'<stdin>:1:InvalidRequest: Error from server: code=2200 [Invalid query] '
                  f'message="Keyspace {missing} does not exist"', file=sys.stderr)
            return -2
        return sum(1 for n in cluster.dc_nodes(state, node["dc"])
                   if cluster.code(cluster.nodes(state)[n]) == "UN")


def run(directory: Path, argv: list[str]) -> int:
    if len(argv) != 3 or argv[1] != "-e":
        print("Usage: cqlsh [options] [host [port]] (this stand-in: cqlsh HOST -e STATEMENTS)",
              file=sys.stderr)
        return 2
    host, statements = argv[0], argv[2]
    level = re.search(r"CONSISTENCY\s+(\w+)", statements, re.I)
    consistency = level[1].upper() if level else "ONE"
    alive = _alive(directory, host, statements)
    if alive < 0:
        return -alive
    print(f"Consistency level set to {consistency}.")
    if alive < _NEEDED.get(consistency, 1):
        print(f'<stdin>:2:Unavailable: Error from server: code=1000 [Unavailable exception] '
              f'message="Cannot achieve consistency level {consistency}" '
              f"info={{'consistency': '{consistency}', 'required_replicas': 2, "
              f"'alive_replicas': {alive}}}", file=sys.stderr)
        return 2
    if re.search(r"\bSELECT\b", statements, re.I):
        print("\n value\n-------\n probe\n\n(1 rows)")
    return 0
