"""Stand-in for ``nodetool [-h HOST] [-p PORT] SUBCOMMAND``: status, info, describecluster,
drain, disablebinary, enablebinary, in the real output layouts (4.x status table, 3.11 info,
3.x describecluster)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from runbook.sim import hosts
from runbook.sim.model import State
from runbook.sim.store import transaction
from runbook_cassandra.sim import cluster

_MUTATING = ("drain", "disablebinary", "enablebinary")
_READ = ("status", "info", "describecluster")


def _options(argv: list[str]) -> tuple[str | None, list[str]] | str:
    host: str | None = None
    rest: list[str] = []
    words = list(argv)
    while words:
        word = words.pop(0)
        if word in ("-h", "--host", "-p", "--port"):
            if not words:
                return f"nodetool: Missing argument for option: {word}"
            value = words.pop(0)
            host = value if word in ("-h", "--host") else host
        else:
            rest.append(word)
    return host, rest


def run(directory: Path, argv: list[str]) -> int:
    parsed = _options(argv)
    if isinstance(parsed, str):
        print(parsed, file=sys.stderr)
        return 1
    host, rest = parsed
    if not rest or rest[0] not in _MUTATING + _READ:
        print(f"nodetool: Found unexpected parameters: {rest}\nSee 'nodetool help' for usage.",
              file=sys.stderr)
        return 1
    with transaction(directory) as state:
        refused = cluster.refuse_if_down(state)
        if refused is not None:
            return refused
        name = cluster.find_node(state, host) if host else hosts.current(state)
        node = cluster.nodes(state).get(name or "")
        if node is None or not node["running"] or not cluster.answering(node):
            where = host or "127.0.0.1"
            print(f"nodetool: Failed to connect to '{where}:7199' - ConnectException: "
                  "'Connection refused (Connection refused)'.", file=sys.stderr)
            return 1
        return _command(state, str(name), rest)


def _command(state: State, name: str, rest: list[str]) -> int:
    node = cluster.nodes(state)[name]
    sub, args = rest[0], rest[1:]
    if sub == "drain":
        node.update(gossip=False, binary=False)
    elif sub == "disablebinary":
        node["binary"] = False
    elif sub == "enablebinary":
        if not node["gossip"]:
            print("nodetool: Cannot start the native transport: the node is drained",
                  file=sys.stderr)
            return 1
        node["binary"] = True
    elif sub == "status":
        if args and args[0] != cluster.KEYSPACE and not args[0].startswith("system"):
            print(f"nodetool: Keyspace '{args[0]}' does not exist", file=sys.stderr)
            return 1
        print(status_text(state), end="")
    elif sub == "info":
        print(info_text(state, name), end="")
    else:
        print(describe_text(state), end="")
    return 0


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(r)) for r in rows]


def status_text(state: State) -> str:
    """The 4.x table layout: columns as wide as their longest cell across all datacenters."""
    header = ["--", "Address", "Load", "Tokens", "Owns (effective)", "Host ID", "Rack"]
    by_dc: dict[str, list[list[str]]] = {}
    for name in sorted(cluster.nodes(state)):
        n = cluster.nodes(state)[name]
        by_dc.setdefault(n["dc"], []).append(
            [cluster.code(n), n["address"], f"{n['load']:g} MiB", "256", "100.0%",
             n["host_id"], n["rack"]])
    table = _table([header] + [row for dc in sorted(by_dc) for row in by_dc[dc]])
    out: list[str] = []
    index = 1
    for dc in sorted(by_dc):
        heading = f"Datacenter: {dc}"
        out += [heading, "=" * len(heading), "Status=Up/Down",
                "|/ State=Normal/Leaving/Joining/Moving", table[0]]
        out += table[index:index + len(by_dc[dc])]
        index += len(by_dc[dc])
        out.append("")
    return "\n".join(out) + "\n"


def info_text(state: State, name: str) -> str:
    n: dict[str, Any] = cluster.nodes(state)[name]
    t = float(state["updated"])
    rows = [("ID", n["host_id"]), ("Gossip active", str(n["gossip"]).lower()),
            ("Thrift active", "false"), ("Native Transport active", str(n["binary"]).lower()),
            ("Load", f"{n['load']:g} MiB"),
            ("Generation No", str(int(n["booted"])) if n["gossip"] else "0"),
            ("Uptime (seconds)", str(int(t - n["booted"]))),
            ("Heap Memory (MB)", "2241.57 / 7987.25"), ("Off Heap Memory (MB)", "41.83"),
            ("Data Center", n["dc"]), ("Rack", n["rack"]), ("Exceptions", "0"),
            ("Key Cache", "entries 18342, size 3.41 MiB, capacity 100 MiB, 5120934 hits, "
                          "5398221 requests, 0.949 recent hit rate, 14400 save period in seconds"),
            ("Row Cache", "entries 0, size 0 bytes, capacity 0 bytes, 0 hits, 0 requests, NaN "
                          "recent hit rate, 0 save period in seconds"),
            ("Counter Cache", "entries 0, size 0 bytes, capacity 50 MiB, 0 hits, 0 requests, "
                              "NaN recent hit rate, 7200 save period in seconds"),
            ("Percent Repaired", "100.0%"),
            ("Token", "(invoke with -T/--tokens to see all 256 tokens)")]
    return "".join(f"{key:<23}: {value}\n" for key, value in rows)


def describe_text(state: State) -> str:
    """The 3.x layout; nodes that are down are listed under ``UNREACHABLE``."""
    up = [n["address"] for _, n in sorted(cluster.nodes(state).items())
          if cluster.code(n)[0] == "U"]
    down = [n["address"] for _, n in sorted(cluster.nodes(state).items())
            if cluster.code(n)[0] != "U"]
    versions = f"\t\t{cluster.cass(state)['schema']}: [{', '.join(up)}]\n\n"
    if down:
        versions += f"\t\tUNREACHABLE: [{', '.join(down)}]\n\n"
    return ("Cluster Information:\n\tName: sessionstore\n"
            "\tSnitch: org.apache.cassandra.locator.GossipingPropertyFileSnitch\n"
            "\tDynamicEndPointSnitch: enabled\n"
            "\tPartitioner: org.apache.cassandra.dht.Murmur3Partitioner\n"
            "\tSchema versions:\n" + versions)
