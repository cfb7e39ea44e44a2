"""Stand-in for ``ps -C NAME[,NAME] -o pid=,rss=|pid=,comm=`` and ``ps -e -o ...``."""

from __future__ import annotations

import sys
from pathlib import Path

from runbook.sim import hosts
from runbook.sim.store import transaction
from runbook_stomp.sim import estate

_FIELDS = ("pid=,rss=", "pid=,comm=")


def run(directory: Path, argv: list[str]) -> int:
    if len(argv) not in (3, 4) or argv[-2] != "-o" or argv[-1] not in _FIELDS:
        print("ps: this stand-in knows -C NAMES|-e -o pid=,rss=|pid=,comm=", file=sys.stderr)
        return 1
    names = argv[1].split(",") if argv[0] == "-C" else None
    with transaction(directory) as state:
        procs = dict(estate.host(state, hosts.current(state) or "")["procs"])
    rows = [(pid, p) for pid, p in sorted(procs.items(), key=lambda i: int(i[0]))
            if names is None or p["name"] in names]
    for pid, proc in rows:
        other = proc["rss_kb"] if argv[-1] == "pid=,rss=" else proc["name"]
        print(f"{pid:>7} {other}")
    return 0 if rows else 1
