"""Stand-in for ``confctl --object-type discovery select 'dnsdisc=sessionstore,name=DC'
get|set/pooled=true|false``: the discovery pool of each datacenter."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from runbook.sim.store import transaction
from runbook_cassandra.sim import cluster


def run(directory: Path, argv: list[str]) -> int:
    if len(argv) != 5 or argv[:2] != ["--object-type", "discovery"] or argv[2] != "select":
        print("usage: confctl --object-type discovery select SELECTOR get|set/pooled=BOOL",
              file=sys.stderr)
        return 2
    tags = dict(part.partition("=")[::2] for part in argv[3].split(","))
    action = argv[4]
    with transaction(directory) as state:
        pooled = cluster.cass(state)["pooled"]
        dc = tags.get("name", "")
        if tags.get("dnsdisc") != "sessionstore" or dc not in pooled:
            print(f"No objects found for selection {argv[3]}", file=sys.stderr)
            return 1
        if action == "get":
            print(json.dumps({dc: {"pooled": pooled[dc], "references": [], "ttl": 300},
                              "tags": "dnsdisc=sessionstore"}))
            return 0
        if action not in ("set/pooled=true", "set/pooled=false"):
            print(f"confctl: unknown action {action}", file=sys.stderr)
            return 2
        new = action.endswith("true")
        if pooled[dc] != new:
            print(f"{dc}: pooled changed {pooled[dc]} => {new}")
        pooled[dc] = new
    return 0
