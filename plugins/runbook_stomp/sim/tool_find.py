"""Stand-in for ``find QUEUE -mindepth 2 -maxdepth 2 -printf '%P %T@\\n'`` on stompclt's
Directory::Queue: one line per message still in the queue, as the real
layout names them (``<8 hex minutes>/<14 hex>``)."""

from __future__ import annotations

import sys
from pathlib import Path

from runbook.sim import hosts
from runbook.sim.store import transaction
from runbook_stomp.sim import estate


def run(directory: Path, argv: list[str]) -> int:
    if argv[1:] != ["-mindepth", "2", "-maxdepth", "2", "-printf", "%P %T@\\n"]:
        print("find: this stand-in only lists a Directory::Queue", file=sys.stderr)
        return 1
    if argv[0].rstrip("/") != estate.QUEUE:
        print(f"find: '{argv[0]}': No such file or directory", file=sys.stderr)
        return 1
    with transaction(directory) as state:
        queue = list(estate.host(state, hosts.current(state) or "")["queue"])
    out = [f"{int(t) // 60:08x}/{int(t * 1000) % 16 ** 10:010x}{n % 65536:04x} {t:.3f}"
           for n, t in enumerate(queue)]
    sys.stdout.write("".join(line + "\n" for line in out))
    return 0
